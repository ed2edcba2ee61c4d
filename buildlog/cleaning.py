"""From a raw line to the text that grammars match: CI prefixes taken off (kept as metadata), ANSI removed.

The prefixes are data: ``CI_PREFIXES`` lists each CI system's shape, ``VIEWER_PREFIXES`` the job and step names a
log downloader puts in front of those (``gh run view --log``), ``PASTE_PREFIXES`` what pasting a log into an issue or
a console does to every line; a user can add to each.
"""

from __future__ import annotations

import re

from .events import CIPrefix

# Escape sequences: CSI (colours, cursor movement, erase), OSC (titles, hyperlinks), APC (Buildkite's
# timestamps, when not at the start of the line), and two-byte escapes. Removed before any matching.
ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC
    r"|\x1b_[^\x07\x1b]*(?:\x07|\x1b\\)?"  # APC
    r"|\x1b[()*+#%][0-9A-Za-z@]"  # charset selection and DEC line attributes: three bytes
    r"|\x1b[0-?@-Z\\-_]"  # two bytes: DECSC/DECRC (ESC 7, ESC 8), keypad modes (ESC =, ESC >), ESC M, ...
)

# (marker name, pattern). Tried in order, repeatedly, at the start of the line; each captures what it tells.
CI_PREFIXES: list[tuple[str, re.Pattern[str]]] = [
    # GitHub Actions and Azure Pipelines raw logs: an ISO timestamp and a space (blank lines keep it); GitLab's
    # timestamped logs add a stream tag ("00O ", "01E+ ").
    ("timestamp", re.compile(r"(?P<timestamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)(?: \d\d[OE]\+?)?(?: |$)")),
    # Jenkins (Timestamper plugin): "[2024-03-01T12:00:00.123Z] " or a bare "12:00:00  " time.
    ("timestamp",
     re.compile(r"\[(?P<timestamp>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\] ")),
    ("timestamp", re.compile(r"(?P<timestamp>\d\d:\d\d:\d\d(?:\.\d+)?)(?:  | *$)")),
    # TeamCity build logs: "[12:00:00] :\t [Step 1/2] " and the like.
    ("timestamp", re.compile(r"\[(?P<timestamp>\d\d:\d\d:\d\d)\](?:[WIEi]:)?\s*(?::\s*)?(?:\[Step \d+/\d+\] )?")),
    # Google Cloud Build: every line of a step is prefixed with the step's number and id.
    ("step", re.compile(r"Step #\d+(?: - \"(?P<section>[^\"]*)\")?: ")),
    # Buildkite: an APC sequence carrying epoch milliseconds.
    ("timestamp", re.compile(r"\x1b_bk;t=(?P<timestamp>\d+)\x07")),
    # GitLab: section markers, then "\r\x1b[0K" and (sometimes) the header text on the same line.
    (
        "section",
        re.compile(r"(?P<marker>section_(?:start|end)):(?P<timestamp>\d+):(?P<section>[^\r\x1b\s\[]+)"
                      r"(?:\[[^\]]*\])?\r?(?:\x1b\[0K)?"),
    ),
    # GitHub Actions workflow commands as rendered in raw logs.
    ("github", re.compile(r"##\[(?P<marker>group|endgroup|error|warning|notice|debug|command|section)\]")),
]


# GitHub's raw logs start each step with a byte-order mark, which downloads keep in front of the first timestamp.
_BOM = "\ufeff"
_TIMESTAMP_AHEAD = r"(?=\ufeff?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z(?: |$))"

# (name, text the line must hold, pattern). Tried once, before ``CI_PREFIXES``: a downloaded log names the job and
# the step in front of each raw line, which still begins with its timestamp (required, so that text with tabs or
# slashes in it is never taken for a prefix). The text is a cheap test that spares the pattern most lines.
VIEWER_PREFIXES: list[tuple[str, str, re.Pattern[str]]] = [
    # `gh run view --log` / `--log-failed`: "JOB<TAB>STEP<TAB>2024-03-01T12:00:00.1234567Z ..."
    ("gh", "\t", re.compile(r"(?P<job>[^\t]*)\t(?P<section>[^\t]*)\t" + _TIMESTAMP_AHEAD)),
    # other viewers: "JOB / STEP 2024-03-01T12:00:00.1234567Z ..." (a job name does not begin like a timestamp or a
    # vertex line: " / " in a timestamped line's own text is no prefix)
    ("viewer", " / ", re.compile(r"(?P<job>[^\t/\d#][^\t/]*?) / (?P<section>[^\t]*?) " + _TIMESTAMP_AHEAD)),
]


# What pasting a log into an issue or a chat does to every line: a quote (``> ``, nested ``> > ``), a code block's
# indentation (four spaces, a tab). Found on the first line that decides a format, then taken off every line that
# has it, and only then (``detect.WebCopy``): a log's own lines begin with spaces too (`` > NAME:``, `` => ``).
PASTE_PREFIXES: list[tuple[str, re.Pattern[str]]] = [
    ("quote", re.compile(r"(?:> ?)+")),
    ("indent", re.compile(r"(?: {4}|\t)+")),
]
# A console prompt the first line of output was glued to, with the command typed after it (Windows ``cmd`` and
# PowerShell): taken off the line it is on.
PROMPTS: list[tuple[str, re.Pattern[str]]] = [
    ("windows", re.compile(r"(?:PS )?[A-Za-z]:\\[^>\n]*> ?(?:docker(?:\.exe)? [^#\[]*)?")),
]


def clean_line(body: str) -> tuple[str, CIPrefix | None]:
    """``body`` is a line without its terminator. Returns the text to match and the CI prefix, if any."""
    prefix: CIPrefix | None = None
    first = body[:1]
    if first == "#":
        # the hot path: a plain progress line, unless it is a GitHub "##[...]" command
        if body.startswith("##["):
            prefix, body = _strip_prefixes(body)
    elif first and (first.isdigit() or first in "\x1bs[S" or "\t" in body or " / " in body or first == _BOM):
        prefix, body = _strip_prefixes(body)
    if "\x1b" in body:
        body = ANSI.sub("", body)
    return body, prefix


def split_ci_prefix(body: str) -> tuple[CIPrefix | None, str]:
    """The CI prefix of ``body`` and the rest with its escape sequences kept: tty frames need their colours and
    cursor movement, which ``clean_line`` removes."""
    return _strip_prefixes(body)


def _strip_prefixes(body: str) -> tuple[CIPrefix | None, str]:
    timestamp = marker = section = job = None
    found = False
    for _name, needle, pattern in VIEWER_PREFIXES:
        m = pattern.match(body) if needle in body else None
        if m is not None:
            job, section = m["job"], m["section"]
            body = body[m.end() :]
            found = True
            break
    if body[:1] == _BOM:
        body = body[1:]
    progress = True
    while progress:
        progress = False
        for _name, pattern in CI_PREFIXES:
            m = pattern.match(body)
            if m is None:
                continue
            groups = m.groupdict()
            timestamp = groups.get("timestamp") or timestamp
            marker = groups.get("marker") or marker
            section = groups.get("section") or section
            body = body[m.end() :]
            found = progress = True
            # An ANSI colour reset often sits between two prefixes.
            while body.startswith("\x1b[0m") or body.startswith("\x1b[0K"):
                body = body[4:]
    if not found:
        return None, body
    return CIPrefix(timestamp=timestamp, marker=marker, section=section, job=job), body
