"""buildlog: docker buildx / BuildKit output in, typed events and verdicts out.

``import buildlog`` loads the events and the parser; the summary, the rules and the verdicts are loaded the first
time one of their names is asked for (``buildlog.summarize_path``, ``from buildlog import RuleSet``): a script
that only parses does not pay for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .events import Event, event_to_dict
from .parser import Parser
from .sources import parse_async, parse_bytes, parse_file, parse_iter, parse_path

if TYPE_CHECKING:
    from .rules import DEFAULT_RULES, Rule, RuleSet, load_rules, rules_from_toml
    from .summary import (
        BuildSummary,
        Failure,
        LogSummary,
        Summarizer,
        summarize_bytes,
        summarize_events,
        summarize_path,
    )
    from .verdict import exit_code_for

# the names loaded on first use, and the module each comes from
_LATER = {
    **dict.fromkeys(("DEFAULT_RULES", "Rule", "RuleSet", "load_rules", "rules_from_toml"), "rules"),
    **dict.fromkeys(("BuildSummary", "Failure", "LogSummary", "Summarizer", "summarize_bytes", "summarize_events",
                     "summarize_path"), "summary"),
    "exit_code_for": "verdict",
}


def __getattr__(name: str) -> Any:
    module = _LATER.get(name)
    if module is None:
        raise AttributeError(f"module 'buildlog' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next look-up finds it without this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LATER})


__all__ = [
    "DEFAULT_RULES",
    "BuildSummary",
    "Event",
    "Failure",
    "LogSummary",
    "Parser",
    "Rule",
    "RuleSet",
    "Summarizer",
    "event_to_dict",
    "exit_code_for",
    "load_rules",
    "parse_async",
    "parse_bytes",
    "parse_file",
    "parse_iter",
    "parse_path",
    "rules_from_toml",
    "summarize_bytes",
    "summarize_events",
    "summarize_path",
]
__version__ = "0.1.0"
