"""buildlog: docker buildx / BuildKit output in, typed events and verdicts out."""

from __future__ import annotations

from .events import Event, event_to_dict
from .parser import Parser
from .rules import DEFAULT_RULES, Rule, RuleSet, load_rules, rules_from_toml
from .sources import parse_async, parse_bytes, parse_file, parse_iter, parse_path
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
