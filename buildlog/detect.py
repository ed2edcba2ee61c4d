"""Which shape a build's text has, and what copying a log from a CI web page did to it.

A build's format is told by the first line that only one format writes (``DECIDING_LINES``): a JSON
``SolveStatus`` (rawjson), a ``[+] Building`` frame header (tty), ``Sending build context to Docker daemon`` or
``Step N/M :`` (the legacy builder), ``#N `` (plain). Lines are matched once their CI prefix and colours are off,
so a GitHub, GitLab or Buildkite copy is told as the bare log is. The parser applies this line by line, so each
build of a log gets its own format (see ``Parser.formats``); ``detect_format`` tells a whole text's first one.

Text copied from a web page (``WebCopy``): GitHub links ``#20`` to ``owner/repo#20`` and its log viewer can put line
numbers in front of the lines. Both are undone once the first deciding line shows them, and only then: a number
is taken off only while the lines keep counting up from it. A paste quoted or indented as a whole
(``cleaning.PASTE_PREFIXES``) loses that prefix on every line that has it, once the first deciding line shows it;
a console prompt glued to that line (``cleaning.PROMPTS``) is taken off it. Hard-wrapped lines and GitLab's
duration lines are left alone (they parse as what they look like, or as unrecognized text).
"""

from __future__ import annotations

import re

from .cleaning import PASTE_PREFIXES, PROMPTS, clean_line
from .legacy import DECIDING as LEGACY_DECIDING

FORMATS = ("auto", "plain", "rawjson", "tty", "legacy")

# (format, pattern matched at the start of a cleaned line). First match wins.
DECIDING_LINES: list[tuple[str, re.Pattern[str]]] = [
    ("rawjson", re.compile(r'\{"(?:vertexes|statuses|logs|warnings)":')),
    ("tty", re.compile(r".*?\[\+\] Building \d")),
    ("legacy", LEGACY_DECIDING),
    ("plain", re.compile(r"#\d+ ")),
]

# A GitHub link in front of a vertex number, and a line number in front of a line (glued on, or with a space
# or a tab between).
REPO_LINK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+(?=#\d+ )")
LINE_NUMBER = re.compile(r" *(?P<n>\d{1,7})(?P<sep>\t| ?)")


def line_format(text: str) -> str | None:
    """The format a cleaned line decides, or None for a line any format can hold."""
    for fmt, pattern in DECIDING_LINES:
        if pattern.match(text) is not None:
            return fmt
    return None


def detect_format(data: bytes | str, *, max_lines: int = 10_000) -> str:
    """The format of the first build in ``data`` (``plain`` when no line decides within ``max_lines``)."""
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    web = WebCopy()
    for i, body in enumerate(text.split("\n")):
        if i >= max_lines:
            break
        body = web.number(body.removesuffix("\r"))
        cleaned, _ = clean_line(body)
        fmt = line_format(web.links(cleaned))
        if fmt is not None:
            return fmt
    return "plain"


class WebCopy:
    """Takes off the line numbers and ``owner/repo`` links of a log copied from a web page, once seen."""

    __slots__ = ("_decided", "_links", "_next", "_paste", "_sep")

    def __init__(self) -> None:
        self._decided = False  # a deciding line was seen: no more guessing
        self._next: int | None = None  # the line number expected next, while numbers are taken off
        self._sep = ""
        self._links = False
        self._paste: str | None = None  # the quote or indentation of a pasted log, once seen

    @property
    def active(self) -> bool:
        return not self._decided or self._next is not None or self._links or self._paste is not None

    def number(self, body: str) -> str:
        """``body`` without the paste's quote or indentation and the line number a web page put in front of it."""
        paste = self._paste
        if paste is not None:
            if body.startswith(paste):
                body = body[len(paste):]
            elif body == paste.rstrip():
                body = ""  # a quoted blank line: ">"
        elif not self._decided and (body[:1] in (">", " ", "\t") or body[1:3] == ":\\" or body[:3] == "PS "):
            body = self._unpaste(body)
        expected = self._next
        if expected is not None:
            head = str(expected)
            stripped = body.lstrip(" ")
            if stripped.startswith(head):
                self._next = expected + 1
                rest = stripped[len(head):]
                return rest[len(self._sep):] if rest.startswith(self._sep) else rest
            self._next = None  # the numbers stopped: the rest is as it was written
            return body
        if self._decided or not body or not (body[0].isdigit() or body[0] == " "):
            return body
        m = LINE_NUMBER.match(body)
        if m is None or line_format(clean_line(body)[0]) is not None:
            return body
        rest = body[m.end():]
        cleaned = clean_line(rest)[0]
        link = REPO_LINK.match(cleaned)
        if line_format(cleaned[link.end():] if link is not None else cleaned) is None:
            return body
        self._next = int(m["n"]) + 1
        self._sep = m["sep"]
        return rest

    def _unpaste(self, body: str) -> str:
        """The first lines of a paste: its quote or indentation, or a prompt glued to the first line, is found when
        the rest of a line decides a format that the line itself does not (or not from its first character)."""
        if line_format(clean_line(body)[0]) not in (None, "tty"):
            return body
        for _name, pattern in PASTE_PREFIXES:
            m = pattern.match(body)
            if m is not None and m.end() and _decides(body[m.end():]):
                self._paste = m.group(0)
                return body[m.end():]
        for _name, pattern in PROMPTS:
            m = pattern.match(body)
            if m is not None and _decides(body[m.end():]):
                return body[m.end():]
        return body

    def links(self, text: str) -> str:
        """``text`` with ``owner/repo#N`` turned back into ``#N``."""
        if self._links:
            m = REPO_LINK.match(text)
            return text[m.end():] if m is not None else text
        if self._decided:
            return text
        m = REPO_LINK.match(text)
        if m is not None and line_format(text[m.end():]) == "plain":
            self._links = self._decided = True
            return text[m.end():]
        if line_format(text) is not None:
            self._decided = True
        return text


# Lines an excerpt of a failed build often begins with, before any line that decides a format: an error block's
# rule, the final error. A paste's quote or indentation is found on these too.
EXCERPT_STARTS = re.compile(r"------$|ERROR: ")


def _decides(rest: str) -> bool:
    """Whether ``rest`` decides a format from its first character on (or begins an excerpt)."""
    if not rest or rest[0].isspace():
        return False
    cleaned = clean_line(rest)[0]
    return line_format(cleaned) is not None or EXCERPT_STARTS.match(cleaned) is not None
