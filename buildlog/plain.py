"""The grammar of ``--progress=plain`` output: one cleaned line in, events out.

The grammar keeps the little state the format needs: which vertices the current build has shown (to tell a repeated
header from a status line), whether we are inside an error block / source excerpt / warnings block, and an error
message that may continue on the next lines (a registry's HTML body after ``ERROR: ...``). It does no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from . import domain
from . import events as ev
from .derived import DOMAIN_HEADER_KINDS, header_event, make_status
from .lazyre import later
from .vertex_names import parse_vertex_name

# The events of the hot paths, made from their fields in ``attrs.fields`` order (see ``events.builders``).
_OUTPUT: Callable[..., ev.StepOutput]
_CACHED: Callable[..., ev.VertexCached]
_CANCELED: Callable[..., ev.VertexCanceled]
_DONE: Callable[..., ev.VertexDone]
_BLANK: Callable[..., ev.BlankLine]
_HEADER: Callable[..., ev.VertexHeader]
_OUTPUT, _CACHED, _CANCELED, _DONE, _BLANK, _HEADER = ev.builders(
    ev.StepOutput, ev.VertexCached, ev.VertexCanceled, ev.VertexDone, ev.BlankLine, ev.VertexHeader)
# The events of lines outside vertices (``PlainGrammar._top_level``), made the same way: a failed build's error
# block and excerpt are a tenth of its lines. Their builders are made when the first such line comes.
_RULE: Callable[..., ev.ErrorBlockRule]
_BLOCK_HEADER: Callable[..., ev.ErrorBlockHeader]
_BLOCK_OUTPUT: Callable[..., ev.ErrorBlockOutput]
_SOURCE_RULE: Callable[..., ev.SourceRule]
_EXCERPT: Callable[..., ev.SourceExcerptLine]
_LOCATION: Callable[..., ev.SourceLocation]
_CHECK_WARNING: Callable[..., ev.BuildCheckWarning]
_PUSH_STARTED: Callable[..., ev.PushStarted]
_CI_MARKER: Callable[..., ev.CIMarker]
_PUSH_DIGEST: Callable[..., ev.PushDigest]
_PUSH_LAYER: Callable[..., ev.PushLayerStatus]
_UNRECOGNIZED: Callable[..., ev.UnrecognizedLine]
_FAILED: Callable[..., ev.BuildFailed]
_WARNINGS: Callable[..., ev.WarningsSummary]
_CLIENT_WARNING: Callable[..., ev.ClientWarning]
_DETAILS: Callable[..., ev.BuildDetailsLink]
_CLIENT_LOG: Callable[..., ev.ClientLogLine]
(_RULE, _BLOCK_HEADER, _BLOCK_OUTPUT, _SOURCE_RULE, _EXCERPT, _LOCATION, _CHECK_WARNING, _PUSH_STARTED, _CI_MARKER,
 _PUSH_DIGEST, _PUSH_LAYER, _UNRECOGNIZED, _FAILED, _WARNINGS, _CLIENT_WARNING, _DETAILS,
 _CLIENT_LOG) = ev.builders_on_first_use(
    globals(), _RULE=ev.ErrorBlockRule, _BLOCK_HEADER=ev.ErrorBlockHeader, _BLOCK_OUTPUT=ev.ErrorBlockOutput,
    _SOURCE_RULE=ev.SourceRule, _EXCERPT=ev.SourceExcerptLine, _LOCATION=ev.SourceLocation,
    _CHECK_WARNING=ev.BuildCheckWarning, _PUSH_STARTED=ev.PushStarted, _CI_MARKER=ev.CIMarker,
    _PUSH_DIGEST=ev.PushDigest, _PUSH_LAYER=ev.PushLayerStatus, _UNRECOGNIZED=ev.UnrecognizedLine,
    _FAILED=ev.BuildFailed, _WARNINGS=ev.WarningsSummary, _CLIENT_WARNING=ev.ClientWarning,
    _DETAILS=ev.BuildDetailsLink, _CLIENT_LOG=ev.ClientLogLine)

# ---------------------------------------------------------------------------------------------------------------
# Line shapes. Vertex lines are "#N REST"; REST is then told apart by the shapes below, cheapest first.

DONE = re.compile(r"DONE (\d+(?:\.\d+)?)s")
OUTPUT = re.compile(r"(\d+\.\d{1,3})(?: (.*))?", re.DOTALL)
# Only the head of an output line is matched: the text after it can be tens of thousands of characters.
OUTPUT_HEAD = re.compile(r"(\d+\.\d{1,3})(?: |$)")
CLIPPED_START = "[output clipped, "
# The head of each line of a run of output lines (see ``output_run``).
RUN_ELAPSED = re.compile(r"#[0-9]+ (\d+\.\d{1,3})")
# The shape of a whole line, for the hot path (``PlainGrammar.take_lines``): a vertex line "#N " then DONE, CACHED
# or CANCELED, the head of step output, or any other text; or a blank line. Which group closed last tells the
# shape. ``.*`` rather than a class without "\r" and escape: the engine runs it twice as fast, and a substring
# search for those two afterwards costs less than the difference.
HOT_LINE = re.compile(
    r"#([0-9]+) (?:(DONE (\d+(?:\.\d+)?)s\n)|(CACHED\n|CANCELED\n)|(\d+\.\d{1,3}[ \r\n])|(.*)\n)|(\n)")
_DONE_SHAPE, _ENDED_SHAPE, _OUTPUT_SHAPE, _REST_SHAPE, _BLANK_SHAPE = 2, 4, 5, 6, 7
# Vertex lines beginning so need the full grammar: an error (may continue on the next lines), a warning, "...",
# "#", a "C" or "D" line that is not CACHED, CANCELED or DONE, and (as "" is in any string) an empty one.
_FULL_GRAMMAR_FIRST = "EW.#CD"
OLD_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# A status about one layer, running or done: "sha256:…", "extracting sha256:…", "pulling sha256:…" (Docker 20.10).
LAYER_STATUS = re.compile(r"(?:[a-z]+ )?sha256:[0-9a-f]{64}(?: |$)")
SIZE = r"\d+(?:\.\d+)?\s?[kKMGTP]?i?B"
STATUS = later(
    r"(?P<id>.*?)(?: (?P<cur>" + SIZE + r")(?: / (?P<total>" + SIZE + r"))?)?(?: (?P<secs>\d+(?:\.\d+)?)s)?"
    r"(?P<done> done)?",
    re.DOTALL,
)
CLIPPED = re.compile(r"\[output clipped, (?P<limit>log limit [^\]]*?) reached\]")
BUILD_CHECK = later(r"(?P<rule>[A-Z][A-Za-z0-9]+): (?P<message>.*?)(?: \(line (?P<line>\d+)\))?", re.DOTALL)

BUILDING_WITH = re.compile(r'#0 building with "(?P<builder>[^"]*)" instance using (?P<driver>\S+) driver')

# The client's final error line, every generation (see docs/events.md). First match wins.
FINAL_ERRORS: list[tuple[str, re.Pattern[str]]] = [
    # docker/build-push-action: "Error: ..." as the web page shows it, "##[error]buildx failed with: ..." in raw
    # GitHub logs, where the marker is taken off as a CI prefix.
    ("wrapper", later(r"(?:Error: )?buildx (?:call )?failed with: (?:ERROR: |error: )?(?P<message>.*)",
                              re.DOTALL)),
    ("bake", later(r"ERROR: target (?P<target>[^\s:]+): (?P<message>.*)", re.DOTALL)),
    ("buildx", later(r"ERROR: (?P<message>failed to build: .*)", re.DOTALL)),
    ("buildx-solve", later(r"ERROR: (?P<message>failed to solve: .*)", re.DOTALL)),
    ("lowercase", later(r"error: (?P<message>.*)", re.DOTALL)),
    ("frontend-v0", later(r"(?P<message>failed to solve with frontend \S+: .*)", re.DOTALL)),
    ("client-eof", later(r"(?P<message>unexpected EOF)\s*")),
    # Docker 20.10's client prints the bare cause, without "ERROR:" or "failed to solve:"
    ("bare", later(r"(?P<message>executor failed running \[.*\]: exit code: \d+.*)", re.DOTALL)),
    ("bare", later(
        r"(?P<message>(?:failed to (?:compute cache key|solve|build|push|export|load metadata|read dockerfile|resolve"
        r"|create LLB definition|copy|fetch|do request|dial|mount|commit|prepare|receive status|get status)"
        r"|rpc error: code = \w+ desc = )\b.*)", re.DOTALL)),
    ("other", later(r"ERROR: (?P<message>.*)", re.DOTALL)),
]
# The characters a line that one of FINAL_ERRORS matches can begin with: other lines are spared the table
# (tests/test_plain_grammar.py derives them from the patterns).
FINAL_ERRORS_FIRST = "Eberfu"

# BuildKit's final-error families. A top-level line (never a step's output) that carries one is the build's verdict,
# whatever a tool that runs buildx printed before it: ``target api: failed to solve: ...`` (compose, bake),
# ``build failed: failed to solve: ...``, ``Error: executor failed running [...]: exit code: 100``. Tried after every
# other top-level shape (a ``WARNING:`` line that mentions one stays a warning; a JSON line is data). The message
# begins at the family (at the quoted process a ``did not complete successfully`` names, at the legacy builder's
# ``The command '...'``).
FINAL_ERROR_FAMILIES = later(
    r"(?<![\w-])(?:failed to solve\b|failed to build\b|failed to receive status\b|failed to compute cache key\b"
    r"|failed to get status\b|executor failed running \[|(?:process \".*\" )?did not complete successfully: exit code:"
    r"|failed to dial gRPC\b|Cannot connect to the Docker daemon\b|error during connect:|error for bootstrap\b"
    r"|(?:The command '.*' )?returned a non-zero code: \d+)",
    re.DOTALL)
# Lines that mention a family without being an error: a log line of a lower level (``time="…" level=debug
# msg="…"``, ``[INFO] …``). Matched at the start of the line.
FINAL_ERROR_NOT_VERDICT = later(
    r'(?:time="[^"]*" )?level=(?:trace|debug|info|warn(?:ing)?)\b|\[?(?:TRACE|DEBUG|INFO|WARN(?:ING)?)\b')
# (style, pattern on the text before the family): who wrapped it. First match wins.
FINAL_ERROR_WRAPPERS: list[tuple[str, re.Pattern[str]]] = [
    ("bake", later(r".*?\btarget (?P<target>[^\s:]+): ", re.DOTALL)),
    ("wrapped", later(r".*", re.DOTALL)),
]
# A final error's last line at least this long may have been hard-wrapped by a web view (none is narrower).
HARD_WRAP_MIN = 60
# What a tool that ran the build prints when the build command failed, without the build's own error: the
# verdict only of a log that has no other (``summary`` reads style ``wrapper-exit`` so), never over a final error.
WRAPPER_EXITS = later(
    r"(?:Error: )?Command failed with (?:status|exit code) \d+: .*\bdocker\b.*"  # Node's execa and the like
    r"|make(?:\[\d+\])?: \*\*\* \[[^\]]*\] Error \d+.*",
    re.DOTALL)
# `docker buildx build --check` / `--call=check`: the frontend lints, nothing is built. Failing checks give exit 1
# (a ``BuildFailed`` of style ``check``), none a clean end (a ``WarningsSummary`` of count 0).
CHECK_COMPLETE = later(
    r"Check complete, (?:(?P<count>\d+) warnings? ha(?:ve|s) been found!?|no warnings found\.?)\s*")

# What a CI runner prints about the job (not the build) at its end: never a build's verdict.
CI_JOB_LINES = later(
    r"ERROR: Job failed: .*"  # GitLab
    r"|ERROR: script returned exit code \d+.*"  # Jenkins
    r"|(?:Error: )?Process completed with exit code \d+\.?"  # GitHub Actions
    r"|\[Pipeline\] .*"  # Jenkins pipeline steps
    r"|Cleaning up (?:project directory|file based variables).*|Job succeeded",  # GitLab
    re.DOTALL,
)
CI_JOB_LINES_FIRST = "EP[CJ"  # what they begin with (checked against the pattern as FINAL_ERRORS_FIRST is)

ERROR_BLOCK_RULE = "------"
ERROR_BLOCK_HEADER = re.compile(r" > (?P<name>.*):", re.DOTALL)
SOURCE_RULE = "--------------------"
SOURCE_LOCATION = later(r"(?P<file>[^\s:#][^\s:]*):(?P<line>\d+)")
SOURCE_EXCERPT = later(r"\s*(?P<line>\d+) \|(?: (?P<text>.*))?", re.DOTALL)
WARNINGS_SUMMARY = later(r"\s*(?P<count>\d+) warnings? found\b.*", re.DOTALL)
CHECK_WARNING = later(
    r" - (?P<rule>[A-Z][A-Za-z0-9]+): (?P<message>.*?)(?: \(line (?P<line>\d+)\))?", re.DOTALL
)
CLIENT_WARNING = later(r"WARNING: (?P<text>.*)", re.DOTALL)
DETAILS_LINK = later(r"View build details: (?P<url>\S+)")
PUSH_STARTED = later(r"The push refers to repository \[(?P<repo>[^\]]+)\]")
PUSH_LAYER = later(
    r"(?P<layer>[0-9a-f]{12}): (?P<status>Preparing|Waiting|Pushing|Pushed|Layer already exists|Already exists"
    r"|Mounted from \S+|Retrying in \d+ seconds?|Image already exists)\b.*", re.DOTALL)
PUSH_DIGEST = later(r"(?P<tag>[^\s:]+): digest: (?P<digest>sha256:[0-9a-f]{64}) size: (?P<size>\d+)")
# The same line cut by a web view's hard wrap: the push completed, its digest is not whole.
PUSH_DIGEST_CUT = later(r"[^\s:]+: digest: sha256:[0-9a-f]{0,63}")
CLIENT_LOG = later(r"(?P<ts>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) (?P<text>.*)", re.DOTALL)

# CI markers that are lines of their own, not a prefix of log text.
STANDALONE_MARKERS = frozenset({"group", "endgroup", "section_start", "section_end", "command", "debug", "section"})

# Pending error messages stop growing here (the rest becomes UnrecognizedLine events).
MAX_CONTINUATION_LINES = 200
MAX_CONTINUATION_CHARS = 1 << 16

_UNITS = {"": 1, "k": 1000, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4, "P": 1000**5}
_IUNITS = {"k": 1024, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}


def parse_size(text: str | None) -> int | None:
    """``1.03kB`` -> 1030 (BuildKit prints decimal units; ``KiB`` style is binary)."""
    if not text:
        return None
    try:
        return _SIZES[text]  # a layer's total comes back on every line of its progress
    except KeyError:
        pass
    if len(_SIZES) >= 4096:
        _SIZES.clear()
    value = _SIZES[text] = _parse_size(text)
    return value


_SIZES: dict[str, int | None] = {}
_cached_size = _SIZES.get


def _parse_size(text: str) -> int | None:
    text = text.replace(" ", "")
    unit = text[-1]
    if unit != "B":
        return None
    body = text[:-1]
    binary = body.endswith("i")
    if binary:
        body = body[:-1]
    prefix = body[-1] if body and not body[-1].isdigit() else ""
    number = body[: len(body) - len(prefix)]
    try:
        value = float(number)
    except ValueError:
        return None
    scale = _IUNITS.get(prefix, 1) if binary else _UNITS.get(prefix, 1)
    return round(value * scale)


# The tail of a status without its " done": " CUR[ / TOTAL][ SECSs]" or " SECSs" at the end. Searched from the
# left, the first match is the longest tail, the same split as reading tokens from the right. An optional group is
# written "(?:X|)", the same as "(?:X)?", which the engine runs as a costlier repeat that saves its states.
_SIZE_P = r"\d+(?:\.\d+|)[kKMGTP]?i?B"
_SECONDS_P = r"(\d+(?:\.\d+|))s"
_STATUS_TAIL = re.compile(rf" (?:({_SIZE_P})(?: / ({_SIZE_P})|)(?: {_SECONDS_P}|)|{_SECONDS_P})\Z")


def split_status(text: str) -> tuple[str, str | None, str | None, str | None, bool]:
    """``ID [CUR[ / TOTAL]][ SECSs][ done]`` -> (id, cur, total, secs, done), read from the right.

    The same split as the ``STATUS`` pattern, without its backtracking (statuses are a large share of a log)."""
    done = text.endswith(" done")
    if done:
        text = text[:-5]
    if text[-1:] not in "sB":
        # the last word is neither a size nor a time: most statuses ("writing image sha256:… done")
        return text, None, None, None, done
    m = _STATUS_TAIL.search(text)
    if m is None:
        return text, None, None, None, done
    cur, total, secs, secs_alone = m.groups()
    return text[: m.start()], cur, total, secs if secs_alone is None else secs_alone, done


class _Build:
    """What the grammar knows about the build being read."""

    __slots__ = ("finished", "has_vertices", "index", "kinds", "max_vertex", "names", "over", "run_vertices")

    def __init__(self, index: int) -> None:
        self.index = index
        self.names: dict[int, str] = {}
        self.kinds: dict[int, str] = {}
        self.run_vertices: set[int] = set()
        self.finished: set[int] = set()
        self.max_vertex = 0
        self.has_vertices = False
        self.over = False  # a final error was printed: the next vertex line starts another build


class PlainGrammar:
    """Turns cleaned plain-progress lines into events. ``line()`` takes one line; ``flush()`` ends the input."""

    def __init__(self) -> None:
        self._build = _Build(0)
        self._block: str | None = None  # "error" | "source" | "warnings" | "push"
        self._pending: ev.Event | None = None  # an error that may continue on the next lines
        self._pending_lines = 0
        self._last_header: int | None = None  # vertex whose header was the previous line
        self._push_repo = ""  # repository of the `docker push` being read
        self._current: int | None = None  # vertex the previous line belonged to (None after a non-vertex line)

    @property
    def build_index(self) -> int:
        return self._build.index

    def join_build(self, index: int) -> None:
        """Build ``index`` is read by another format's grammar (rawjson, tty, legacy): the plain lines that come
        next belong to it (a failed build's final text), and a vertex line or ``#0`` banner starts the next one."""
        self._build = _Build(index)
        self._build.over = True
        self._block = None
        self._last_header = None
        self._current = None

    # -----------------------------------------------------------------------------------------------------------

    def line(self, number: int, raw: str, text: str, ci: ev.CIPrefix | None, whole: bool = True) -> list[ev.Event]:
        """One line: its number, raw text, cleaned text and CI prefix. ``whole`` is false for the first piece of
        an over-long line."""
        out: list[ev.Event] = []
        event = self._classify(number, raw, text, ci, whole, out)
        pending = self._pending
        if pending is not None:
            if (
                type(event) is ev.UnrecognizedLine
                and (ci is None or ci.marker is None)
                and self._pending_lines < MAX_CONTINUATION_LINES
                and len(pending.raw) + len(raw) < MAX_CONTINUATION_CHARS
                and whole
            ):
                self._pending = self._extend(pending, number, raw, text)
                self._pending_lines += 1
                return out
            self._pending = None
            out.insert(0, pending)
        if isinstance(event, (ev.VertexError, ev.BuildFailed)) and whole:
            self._pending = event
            self._pending_lines = 0
        else:
            out.append(event)
        return out

    @property
    def idle(self) -> bool:
        """No error message waits for its continuation: a line can be read on its own."""
        return self._pending is None

    def step_output(self, number: int, raw: str, text: str, ci: ev.CIPrefix | None) -> ev.StepOutput | None:
        """The hot path: ``text`` as a whole line of step output (``#N SECS TEXT``, most lines of a real log) of the
        build being read, or None when it is anything else. Call it only when ``idle``."""
        space = text.find(" ")
        number_text = text[1:space]
        if space < 2 or not number_text.isdigit() or not number_text.isascii():
            return None
        b = self._build
        n = int(number_text)
        if n < 2 or not b.index or b.over:  # "#1" may start another build, "#0" is the banner
            return None
        m = OUTPUT_HEAD.match(text, space + 1)
        if m is None or text.startswith(CLIPPED_START, m.end()):
            return None
        self._last_header = None
        self._enter(b, n)
        elapsed = float(m.group(1))
        return _OUTPUT(number, number, raw, b.index, ci, n, elapsed, text[m.end() :], False, elapsed)

    def _enter(self, b: _Build, n: int) -> None:
        """A line of vertex ``n`` of build ``b``: the vertex the next lines belong to."""
        self._current = n
        self._block = None
        b.has_vertices = True
        if n > b.max_vertex:
            b.max_vertex = n

    def vertex_event(self, number: int, raw: str, text: str, ci: ev.CIPrefix | None) -> ev.Event | None:
        """The hot path for a whole ``#N REST`` line (``text``, cleaned, without its line end) when ``idle``: its
        event, or None when the line needs the full grammar (``take_lines`` on this one line)."""
        out: list[ev.Event] = []
        self.take_lines(text + "\n", 0, number, len(text), out, raw, ci)
        return out[0] if out else None

    def take_lines(self, buf: str, pos: int, number: int, max_line: int, out: list[ev.Event],
                   raw: str | None = None, ci: ev.CIPrefix | None = None) -> tuple[int, int]:
        """The hot path of plain progress, when ``idle``: reads the whole lines of ``buf`` from ``pos`` (the first
        numbered ``number``) for as long as each is a blank line or a vertex line with an event of its own (DONE,
        CACHED, CANCELED, a header, a status), appending their events to ``out``. Stops at the first line that is
        anything else (step output, an error that may continue, a line that may open another build, a partial or
        over-long line, one with a carriage return or escape sequence): that line is the caller's. Returns where it
        stopped and that line's number. With ``raw`` (and ``ci``), ``buf`` is one cleaned line and ``raw`` its text
        as read.

        One compiled pattern (``HOT_LINE``) tells each line's shape; the grammar's state is kept in locals while
        lines go by and written back once."""
        b = self._build
        index = b.index
        open_build = index > 0 and not b.over
        names = b.names
        finished = b.finished
        run_vertices = b.run_vertices
        current = self._current
        last_header = self._last_header
        block = self._block
        match = HOT_LINE.match
        event: ev.Event
        while True:
            m = match(buf, pos)
            if m is None:
                break
            end = m.end()
            shape = m.lastindex
            if shape == _BLANK_SHAPE:
                last_header = current = None
                if block == "warnings":
                    block = None
                out.append(_BLANK(number, number, "\n", index, None))
                number += 1
                pos = end
                continue
            if not open_build or shape == _OUTPUT_SHAPE or end - pos > max_line + 1:
                break
            n = int(m.group(1))
            if n == 0:
                break
            line_raw = buf[pos:end] if raw is None else raw
            if shape == _DONE_SHAPE:
                finished.add(n)
                event = _DONE(number, number, line_raw, index, ci, n, float(m.group(3)))
                last_header = None
            elif shape == _ENDED_SHAPE:
                finished.add(n)
                event = (_CACHED if m.group(4)[2] == "C" else _CANCELED)(number, number, line_raw, index, ci, n)
                last_header = None
            else:
                rest = m.group(_REST_SHAPE)
                first = rest[:1]
                if (first in _FULL_GRAMMAR_FIRST or "\x1b" in rest or "\r" in rest
                        or (n == 1 and self._restarts_numbering(n, rest, current))):
                    break
                known = names.get(n)
                if known is None or rest == known:
                    event = self._header(n, rest, known is not None, number, line_raw, ci, index)
                    last_header = n
                elif ((last_header == n and OLD_DIGEST.fullmatch(rest) is not None)
                      or (n in run_vertices and not rest.endswith(" done") and LAYER_STATUS.match(rest) is None)):
                    break  # an old digest line, or output without times
                else:
                    event = self._status_event(n, rest, number, line_raw, ci, index)
                    last_header = None
            # the vertex the next lines belong to
            current = n
            block = None
            b.has_vertices = True
            if n > b.max_vertex:
                b.max_vertex = n
            out.append(event)
            number += 1
            pos = end
        self._current = current
        self._last_header = last_header
        self._block = block
        return pos, number

    def can_take_run(self, n: int) -> bool:
        """Whether output lines of vertex ``n`` here are step output of the build being read (what
        ``step_output`` would say of each of them)."""
        b = self._build
        return n >= 2 and b.index > 0 and not b.over

    def output_run(self, number: int, raw: str, n: int, count: int) -> ev.StepOutput:
        """The event of a run of ``count`` whole output lines of vertex ``n`` (``raw``, from line ``number``), as the
        parser's scanner matched them: ``#N SECS[ TEXT]`` each, no escape sequence, no CI prefix. Call it only when
        ``can_take_run(n)`` and ``idle``."""
        b = self._build
        self._last_header = None
        self._enter(b, n)
        first = RUN_ELAPSED.match(raw)
        assert first is not None
        elapsed = float(first.group(1))
        if count > 1:
            last = RUN_ELAPSED.match(raw, raw.rindex("\n", 0, len(raw) - 1) + 1)
            assert last is not None
            last_elapsed = float(last.group(1))
        else:
            last_elapsed = elapsed
        # the text is made from raw when first read (events.run_text)
        return _OUTPUT(number, number + count - 1, raw, b.index, None, n, elapsed, None, False, last_elapsed)

    def fragment(self, event: ev.Event) -> list[ev.Event]:
        """A later piece of an over-long line: passed through, after anything pending."""
        out = self.flush()
        out.append(event)
        return out

    def flush(self) -> list[ev.Event]:
        pending, self._pending = self._pending, None
        return [pending] if pending is not None else []

    # -----------------------------------------------------------------------------------------------------------

    def _classify(
        self, number: int, raw: str, text: str, ci: ev.CIPrefix | None, whole: bool, out: list[ev.Event]
    ) -> ev.Event:
        b = self._build
        if text[:1] == "#":
            space = text.find(" ")
            number_text = text[1:space]
            if space > 1 and number_text.isdigit() and number_text.isascii():
                if whole:
                    output = self.step_output(number, raw, text, ci)
                    if output is not None:
                        return output
                n = int(number_text)
                rest = text[space + 1 :]
                common: dict[str, Any] = {"line": number, "end_line": number, "raw": raw, "ci": ci}
                if n == 0:
                    bw = BUILDING_WITH.fullmatch(text)
                    if bw is not None:
                        if b.has_vertices or b.index == 0 or b.over:
                            self._new_build()
                        common["build"] = self._build.index
                        self._block = None
                        return ev.BuildStarted(builder=bw["builder"], driver=bw["driver"], **common)
                return self._vertex_line(n, rest, common, whole, out)
        self._last_header = None
        self._current = None
        index = b.index
        if ci is not None and ci.marker in STANDALONE_MARKERS:
            return _CI_MARKER(number, number, raw, index, ci, ci.marker, text)
        if not text or text.isspace():
            if self._block == "warnings":
                self._block = None
            return _BLANK(number, number, raw, index, ci)
        return self._top_level(text, number, raw, ci, index)

    def _new_build(self, inferred_at: int | None = None, out: list[ev.Event] | None = None) -> None:
        self._build = _Build(self._build.index + 1)
        self._block = None
        self._last_header = None
        if inferred_at is not None and out is not None:
            out.extend(self.flush())
            out.append(ev.BuildStarted(line=inferred_at, end_line=inferred_at, raw="", build=self._build.index,
                                       inferred=True))

    def _vertex_line(self, n: int, rest: str, common: dict[str, Any], whole: bool, out: list[ev.Event]) -> ev.Event:
        b = self._build
        current, self._current = self._current, n
        # Is this line the start of another build?
        if b.index == 0 or b.over or self._restarts_numbering(n, rest, current):
            self._new_build(common["line"], out)
            b = self._build
        self._enter(b, n)
        common["build"] = b.index
        common["vertex"] = n
        last_header, self._last_header = self._last_header, None

        first = rest[:1]
        if first.isdigit():
            m = OUTPUT_HEAD.match(rest)
            if m is not None:
                out_text = rest[m.end() :]
                clipped = CLIPPED.fullmatch(out_text) if out_text.startswith(CLIPPED_START) else None
                if clipped is not None:
                    return ev.OutputClipped(elapsed=float(m.group(1)), text=out_text, limit=clipped["limit"],
                                            **common)
                return ev.StepOutput(elapsed=float(m.group(1)), text=out_text, truncated=not whole, **common)
        elif first == "C":
            if rest == "CACHED":
                b.finished.add(n)
                return ev.VertexCached(**common)
            if rest == "CANCELED":
                b.finished.add(n)
                return ev.VertexCanceled(**common)
        elif first == "D":
            m = DONE.fullmatch(rest)
            if m is not None:
                b.finished.add(n)
                return ev.VertexDone(seconds=float(m.group(1)), **common)
        elif first == "E":
            if rest.startswith("ERROR: ") or rest == "ERROR":
                b.finished.add(n)
                message = rest[7:]
                kind = b.kinds.get(n, "other")
                special = domain.error_event_class(kind, message)
                if special is not None:
                    cls, fields = special
                    if cls is ev.CacheImportFailed:
                        fields["ref"] = parse_vertex_name(b.names.get(n, "")).ref
                    return cls(message=message, exit_code=domain.exit_code_of(message), **fields, **common)
                return ev.VertexError(message=message, exit_code=domain.exit_code_of(message), **common)
        elif first == "W":
            if rest.startswith("WARN: "):
                warning = rest[6:]
                check = BUILD_CHECK.fullmatch(warning)
                if check is not None:
                    line_no = check["line"]
                    return ev.VertexWarning(text=warning, rule=check["rule"], message=check["message"],
                                            source_line=int(line_no) if line_no else None, **common)
                return ev.VertexWarning(text=warning, **common)
        elif first == "." and rest == "...":
            return ev.VertexInterrupted(**common)

        known = b.names.get(n)
        if known is None:
            if not (rest.endswith(" done") and b.index > 0 and n <= b.max_vertex and n in b.names):
                return self._header(n, rest, False, common["line"], common["raw"], common["ci"], b.index)
        elif rest == known:
            return self._header(n, rest, True, common["line"], common["raw"], common["ci"], b.index)
        if last_header == n and OLD_DIGEST.fullmatch(rest):
            return ev.VertexDigest(digest=rest, **common)
        if n in b.run_vertices and not rest.endswith(" done") and LAYER_STATUS.match(rest) is None:
            # BuildKit <= 0.8 and some CI copies print step output without the time column. A RUN step also gets
            # layer statuses still running, with no "done" yet: "#14 pulling sha256:…" when a cache hit fetches its
            # layers (docker20-cache-from-found.log), "#11 extracting sha256:…" (s08-proxy-reset-transient-plain.log
            # line 52); those stay statuses.
            clipped = CLIPPED.fullmatch(rest)
            if clipped is not None:
                return ev.OutputClipped(elapsed=None, text=rest, limit=clipped["limit"], **common)
            return ev.StepOutput(elapsed=None, text=rest, truncated=not whole, **common)
        return self._status(n, rest, common)

    def _restarts_numbering(self, n: int, rest: str, current: int | None) -> bool:
        """A ``#1`` line that begins another build printed without its ``#0 building with`` line.

        Within one build, lines of vertex 1 other than its header only follow its header (statuses, output,
        DONE), so once vertex 1 has finished and others were shown, a ``#1 [...] ...`` line outside vertex 1's
        block with a name other than vertex 1's is the next build's first header (``[internal] load build
        definition ...``, ``[internal] load local bake definitions``), whatever the previous line was: a blank, a
        warnings or error block, another vertex's DONE. The same name again is taken as a new build only for the
        internal load that opens every build: that vertex is never shown again once done, unlike a step whose
        cached layers get pulled later (s03-partial-plain.log lines 39-41)."""
        b = self._build
        if n != 1 or 1 not in b.finished or b.max_vertex < 2 or current == 1 or not rest.startswith("["):
            return False
        if rest != b.names.get(1):
            return True
        return b.max_vertex >= 3 and rest.startswith("[internal] load ")

    def _header(self, n: int, name: str, repeat: bool, line: int, raw: str, ci: ev.CIPrefix | None,
                build: int) -> ev.Event:
        b = self._build
        info = parse_vertex_name(name)
        self._last_header = n
        if not repeat:
            b.names[n] = name
            b.kinds[n] = info.kind
            if info.kind == "step" and info.instruction == "RUN":
                b.run_vertices.add(n)
            if info.kind in DOMAIN_HEADER_KINDS:
                return header_event(n, name, line=line, end_line=line, raw=raw, build=build, ci=ci)
        return _HEADER(line, line, raw, build, ci, n, name, info, repeat)

    def _status(self, n: int, rest: str, common: dict[str, Any]) -> ev.Event:
        self._last_header = None
        return self._status_event(n, rest, common["line"], common["raw"], common["ci"], common["build"])

    def _status_event(self, n: int, rest: str, number: int, raw: str, ci: ev.CIPrefix | None,
                      index: int) -> ev.VertexStatus:
        """The event of the status ``rest`` of vertex ``n`` (the hot path's and the full grammar's)."""
        status_id, cur, total, secs, done = split_status(rest)
        # a size in the cache is looked up without calling parse_size (a layer's total comes back on every line of
        # its progress)
        return make_status(number, raw, index, ci, n, self._build.kinds.get(n, "other"), status_id,
                           None if cur is None else _cached_size(cur) or parse_size(cur),
                           None if total is None else _cached_size(total) or parse_size(total),
                           float(secs) if secs else None, done)

    def _top_level(self, text: str, number: int, raw: str, ci: ev.CIPrefix | None, index: int) -> ev.Event:
        """A line outside vertices (``text`` is not blank) of build ``index``. The shapes are tried in a fixed order,
        the first that matches wins; a test a line's first character (or a substring every match has) rules out is
        skipped, as most of these lines are an error block's or an excerpt's."""
        block = self._block
        first = text[0]
        if text == ERROR_BLOCK_RULE:
            opens = block != "error"
            self._block = "error" if opens else None
            return _RULE(number, number, raw, index, ci, opens)
        if block == "error":
            if first == " ":
                m = ERROR_BLOCK_HEADER.fullmatch(text)
                if m is not None:
                    return _BLOCK_HEADER(number, number, raw, index, ci, m["name"])
            m = OUTPUT.fullmatch(text)
            if m is not None:
                return _BLOCK_OUTPUT(number, number, raw, index, ci, float(m.group(1)), m.group(2) or "")
            if not self._ends_block(text):
                return _BLOCK_OUTPUT(number, number, raw, index, ci, None, text)
            # An excerpt that begins inside an error block: the rule taken for its opening was its closing one.
            self._block = block = None
        elif first == " " and text.startswith(" > "):
            m = ERROR_BLOCK_HEADER.fullmatch(text)
            if m is not None:
                # the header of an error block whose opening rule an excerpt cut off
                self._block = "error"
                return _BLOCK_HEADER(number, number, raw, index, ci, m["name"])
        elif index == 0 and block is None and first.isdigit():
            m = OUTPUT.fullmatch(text)
            if m is not None:
                # before any build, "SECS TEXT" is an error block's output whose header an excerpt cut off
                self._block = "error"
                return _BLOCK_OUTPUT(number, number, raw, index, ci, float(m.group(1)), m.group(2) or "")
        if text == SOURCE_RULE:
            return _SOURCE_RULE(number, number, raw, index, ci)
        if block == "source":
            m = SOURCE_EXCERPT.fullmatch(text)
            if m is not None:
                body = m["text"] or ""
                marked = body.startswith(">>>")
                if marked:
                    body = body[4:]
                elif body.startswith("    "):
                    body = body[4:]
                return _EXCERPT(number, number, raw, index, ci, int(m["line"]), body, marked)
        if ":" in text:
            m = SOURCE_LOCATION.fullmatch(text)
            if m is not None:
                self._block = "source"
                return _LOCATION(number, number, raw, index, ci, m["file"], int(m["line"]))
        if block == "warnings" or (first == " " and text.startswith(" - ")):
            m = CHECK_WARNING.fullmatch(text)
            if m is not None:
                line_no = m["line"]
                return _CHECK_WARNING(number, number, raw, index, ci, m["rule"], m["message"],
                                      int(line_no) if line_no else None)
        if first == "T":
            m = PUSH_STARTED.fullmatch(text)
            if m is not None:
                self._block = "push"
                self._push_repo = m["repo"]
                return _PUSH_STARTED(number, number, raw, index, ci, m["repo"])
        if first in CI_JOB_LINES_FIRST and CI_JOB_LINES.fullmatch(text):
            # a runner's line is never a verdict, not even docker push's error
            return _CI_MARKER(number, number, raw, index, ci, "job", text)
        if ": digest: " in text:
            m = PUSH_DIGEST.fullmatch(text)
            if m is not None:
                # also without the push's first lines (an excerpt): the digest says the image was pushed
                repo = self._push_repo if block in ("push", "pushed") else ""
                if block == "push":
                    self._block = "pushed"
                tag = m["tag"]
                return _PUSH_DIGEST(number, number, raw, index, ci, f"{repo}:{tag}" if repo else tag, tag,
                                    m["digest"], int(m["size"]))
        if block in ("push", "pushed"):
            m = PUSH_LAYER.fullmatch(text)
            if m is not None:
                return _PUSH_LAYER(number, number, raw, index, ci, m["layer"], m["status"])
            if block == "push" and PUSH_DIGEST_CUT.fullmatch(text):
                self._block = "pushed"
                return _UNRECOGNIZED(number, number, raw, index, ci, text)
            if block == "push" and not text.startswith(("#", "ERROR", "error:")):
                # docker push prints nothing else before its digest: any other line is its error
                self._build.over = True
                self._block = None
                return _FAILED(number, number, raw, index, ci, text, "docker-push", None, None)
            self._block = block = None  # pushed: what follows is another command's
        if first == "C":
            m = CHECK_COMPLETE.fullmatch(text)
            if m is not None:
                if m["count"] is None:
                    return _WARNINGS(number, number, raw, index, ci, 0)
                self._build.over = True
                return _FAILED(number, number, raw, index, ci, text, "check", None, None)
        if first in FINAL_ERRORS_FIRST:
            for style, pattern in FINAL_ERRORS:
                m = pattern.fullmatch(text)
                if m is not None:
                    self._build.over = True
                    self._block = None
                    groups = m.groupdict()
                    message = groups["message"]
                    return _FAILED(number, number, raw, index, ci, message, style, groups.get("target"),
                                   domain.exit_code_of(message))
        if " warning" in text:
            m = WARNINGS_SUMMARY.fullmatch(text)
            if m is not None:
                self._block = "warnings"
                return _WARNINGS(number, number, raw, index, ci, int(m["count"]))
        if first == "W":
            m = CLIENT_WARNING.fullmatch(text)
            if m is not None:
                return _CLIENT_WARNING(number, number, raw, index, ci, m["text"])
        if first == "V":
            m = DETAILS_LINK.fullmatch(text)
            if m is not None:
                return _DETAILS(number, number, raw, index, ci, m["url"])
        if text[4:5] == "/":
            m = CLIENT_LOG.fullmatch(text)
            if m is not None:
                return _CLIENT_LOG(number, number, raw, index, ci, m["ts"], m["text"])
        failed = self._wrapped_final_error(
            text, {"line": number, "end_line": number, "raw": raw, "ci": ci, "build": index})
        if failed is not None:
            return failed
        return _UNRECOGNIZED(number, number, raw, index, ci, text)

    def _wrapped_final_error(self, text: str, common: dict[str, Any]) -> ev.BuildFailed | None:
        """A final error after a prefix of a tool that ran the build, or a line that tool prints when it failed."""
        m = FINAL_ERROR_FAMILIES.search(text) if text[:1] != "{" else None
        if m is not None and FINAL_ERROR_NOT_VERDICT.match(text):
            m = None
        if m is not None and m.start() == 0 and self._continues_pending():
            return None  # the rest of a final error that a web view hard-wrapped: its continuation
        if m is not None:
            before = text[: m.start()]
            for style, wrapper in FINAL_ERROR_WRAPPERS:
                w = wrapper.fullmatch(before)
                if w is not None:
                    self._build.over = True
                    self._block = None
                    message = text[m.start() :]
                    return ev.BuildFailed(message=message, style=style, target=w.groupdict().get("target"),
                                          exit_code=domain.exit_code_of(message), **common)
        if WRAPPER_EXITS.fullmatch(text):
            self._build.over = True
            self._block = None
            return ev.BuildFailed(message=text, style="wrapper-exit", target=None, exit_code=None, **common)
        return None

    def _continues_pending(self) -> bool:
        """Whether the final error waiting for its continuation lines looks cut by a hard wrap (its last line is
        long: a line as wide as a web view)."""
        pending = self._pending
        if type(pending) is not ev.BuildFailed:
            return False
        return len(pending.message.rsplit("\n", 1)[-1]) >= HARD_WRAP_MIN

    def _ends_block(self, text: str) -> bool:
        """Whether a line inside an error block, neither its header nor a step's timed output, is what follows
        blocks (the Dockerfile excerpt, the final error): the block was over."""
        if text == SOURCE_RULE or SOURCE_LOCATION.fullmatch(text) or CHECK_COMPLETE.fullmatch(text):
            return True
        for style, pattern in FINAL_ERRORS:
            if style != "lowercase" and pattern.fullmatch(text):
                return True
        return FINAL_ERROR_FAMILIES.search(text) is not None

    def _extend(self, pending: ev.Event, number: int, raw: str, text: str) -> ev.Event:
        import attrs

        if isinstance(pending, ev.VertexError):
            return attrs.evolve(pending, end_line=number, raw=pending.raw + raw, message=pending.message + "\n" + text)
        assert isinstance(pending, ev.BuildFailed)
        return attrs.evolve(pending, end_line=number, raw=pending.raw + raw, message=pending.message + "\n" + text)
