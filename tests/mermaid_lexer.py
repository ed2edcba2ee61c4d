"""Mermaid's gantt lexer, rule for rule (mermaid 11/12, ``gantt.jison``; jison takes the first rule that matches),
enough to check that every line buildlog writes is read as the statement it means. tests/test_pictures_browser.py
renders the same charts with Mermaid itself (``mmdc``)."""

from __future__ import annotations

import re

# (token, pattern) in the lexer's order, INITIAL state. Case-insensitive, as in the grammar.
RULES: list[tuple[str, str]] = [
    ("directive", r"%%\{"),
    ("acc_title", r"accTitle\s*:\s*"),
    ("acc_descr", r"accDescr\s*:\s*"),
    ("acc_descr_multiline", r"accDescr\s*\{\s*"),
    ("comment", r"%%[^\n]*"),
    ("comment", r"[^\}]%%*[^\n]*"),
    ("comment", r"%%*[^\n]*[\n]*"),
    ("NL", r"[\n]+"),
    ("SPACE", r"\s+"),
    ("comment", r"%[^\n]*"),
    ("href", r"href[\s]+[\"]"),
    ("call", r"call[\s]+"),
    ("click", r"click[\s]+"),
    ("gantt", r"gantt\b"),
    ("dateFormat", r"dateFormat\s[^#\n;]+"),
    ("inclusiveEndDates", r"inclusiveEndDates\b"),
    ("topAxis", r"topAxis\b"),
    ("axisFormat", r"axisFormat\s[^#\n;]+"),
    ("tickInterval", r"tickInterval\s[^#\n;]+"),
    ("includes", r"includes\s[^#\n;]+"),
    ("excludes", r"excludes\s[^#\n;]+"),
    ("todayMarker", r"todayMarker\s[^\n;]+"),
    ("weekday", r"weekday\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"),
    ("weekend", r"weekend\s+(?:friday|saturday)\b"),
    ("date", r"\d\d\d\d-\d\d-\d\d\b"),
    ("title", r"title\s[^\n]+"),
    ("accDescription", r"accDescription\s[^#\n;]+"),
    ("section", r"section\s[^\n]+"),
    ("taskTxt", r"[^:\n]+"),
    ("taskData", r":[^#\n;]+"),
    ("colon", r":"),
    ("INVALID", r"."),
]
_COMPILED = [(name, re.compile(pattern, re.IGNORECASE)) for name, pattern in RULES]


def tokens(line: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(line):
        for name, rx in _COMPILED:
            m = rx.match(line, pos)
            if m is not None and m.end() > pos:
                out.append((name, m.group(0)))
                pos = m.end()
                break
        else:  # pragma: no cover - "." matches anything
            raise AssertionError(line)
    return [t for t in out if t[0] != "SPACE"]


STATEMENTS = {("gantt",), ("title",), ("dateFormat",), ("axisFormat",), ("todayMarker",), ("section",),
              ("taskTxt", "taskData")}


def statements(source: str) -> list[list[tuple[str, str]]]:
    """Each line's tokens; raises AssertionError for a line that is not one whole statement."""
    out = []
    for line in source.splitlines():
        toks = tokens(line)
        kinds = tuple(k for k, _ in toks)
        assert kinds in STATEMENTS, f"not one statement: {line!r} -> {toks}"
        out.append(toks)
    return out
