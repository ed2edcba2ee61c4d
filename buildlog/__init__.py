"""buildlog: docker buildx / BuildKit output in, typed events and verdicts out."""

from __future__ import annotations

from .events import Event, event_to_dict
from .parser import Parser
from .sources import parse_async, parse_bytes, parse_file, parse_iter, parse_path

__all__ = [
    "Event",
    "Parser",
    "event_to_dict",
    "parse_async",
    "parse_bytes",
    "parse_file",
    "parse_iter",
    "parse_path",
]
__version__ = "0.1.0"
