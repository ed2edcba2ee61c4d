"""The sans-I/O parser: feed it bytes, get events.

    parser = Parser()
    for chunk in stream:
        for event in parser.feed(chunk):
            ...
    for event in parser.close():
        ...

It never reads, sleeps or prints. Events for a line are handed out as soon as the line that completes them has
arrived (an error message that may continue on the next line waits for that next line).

One log can hold several builds, each in its own shape (docs/formats.md): plain progress, rawjson, tty frames or
the legacy builder's. The scanner reads runs of step output and most plain lines straight away (``_scan``); every
other line, once cleaned, goes to the first of five routes that claims it (``_route``, beside the table of which
lines each route claims, which grammar reads them, which lines open a build, and why in this order): rawjson's
JSON, plain progress, tty frames, the legacy builder's lines, and plain text, what no other grammar claims (such as
the final lines every format ends with: error block, Dockerfile excerpt, final ``ERROR:``).

The grammars share the build numbering without calling back into the parser: each line is handed to a grammar
with the number of the build being read, and a grammar that opens the next build puts that build's
``BuildStarted`` and ``FormatDetected`` before the line's own events; the parser then follows it (``_opened``).
``Parser(format=...)`` narrows the shapes looked for.
"""

from __future__ import annotations

import codecs
import re

from . import events as ev
from .cleaning import clean_line, split_ci_prefix
from .detect import FORMATS, WebCopy
from .framing import DEFAULT_MAX_LINE, LineFramer, RawLine
from .legacy import LegacyGrammar
from .plain import PlainGrammar
from .rawjson import LINE_STARTS, RawJsonGrammar
from .tty import TtyGrammar

# Step-output lines that join a run (see ``events.StepOutput``), and where one may begin. ``.*`` rather than a
# bounded or negated class: the regex engine runs it several times faster; escape sequences and the size bound are
# checked on the match (``Parser._trim_run``).
_RUN_LINE = r"\d+\.\d{1,3}(?: (?!\[output clipped, ).*)?\n"  # after "#N "
RUN = re.compile(rf"#([0-9]+) {_RUN_LINE}(?:#\1 {_RUN_LINE}){{0,{ev.MAX_RUN_LINES - 1}}}")
# The log's last line, cut before its line end, as one more line of a run.
LAST_RUN_LINE = re.compile(r"#([0-9]+) \d+\.\d{1,3}(?: (?!\[output clipped, ).*)?\r?\Z")
RUN_HEAD = re.compile(r"#[0-9]+ \d+\.\d{1,3}(?: |\r?\n)")
OTHER_LINES_END = re.compile(r"\n[#\n]")  # the next line that begins with "#" or is blank
# A partial line that may still become the first line of a run.
RUN_HEAD_PREFIX = re.compile(r"#(?:[0-9]+(?: (?:\d+(?:\.\d{0,3})?)?)?)?\r?\Z")


def _after_lines(text: str, start: int, count: int) -> int:
    """The position after the ``count``-th line end from ``start``."""
    for _ in range(count):
        start = text.index("\n", start) + 1
    return start


# Parser.formats keeps the formats of this many builds, the last ones (a log can hold any number of builds).
MAX_FORMATS_KEPT = 1024


class Parser:
    """Incremental parser of buildx / BuildKit output.

    ``format`` is ``auto`` (the default: each build's shape is detected), or one of ``plain``, ``rawjson``,
    ``tty``, ``legacy`` to read only that shape (and plain text). ``max_line`` bounds the characters of one line
    held in memory; longer lines are handed out in pieces (``LineFragment`` events)."""

    def __init__(self, *, format: str = "auto", max_line: int = DEFAULT_MAX_LINE) -> None:
        if format not in FORMATS:
            raise ValueError(f"unknown format {format!r}: expected one of {', '.join(FORMATS)}")
        self._framer = LineFramer(max_line)
        self._decode = codecs.getincrementaldecoder("utf-8")("surrogateescape").decode
        self._held: list[str] = []  # text from a line start that may hold a run, waiting for more
        self._held_tail = 0  # characters of the held text after its last line end
        self._held_run: tuple[str, int, int] | None = None  # a held run: its vertex, lines and where they end
        # No line over the framer's bound joins a run (such lines come out in pieces), and a partial line that can
        # no longer join one is not held but goes to the framer.
        self._max_line = max_line
        self._hold_line = min(ev.MAX_RUN_CHARS, max_line)
        self._plain = PlainGrammar()
        self._forced = format != "auto"
        forced = self._forced
        self._rawjson = RawJsonGrammar(forced=forced, max_line=max_line) if format in ("auto", "rawjson") else None
        self._tty = TtyGrammar(forced=forced) if format in ("auto", "tty") else None
        self._legacy = LegacyGrammar(forced=forced) if format in ("auto", "legacy") else None
        self._web = WebCopy()
        self._index = 0  # the build being read
        self._formats: dict[int, str] = {}
        self._last_plain = True  # the previous line went to the plain grammar
        self._last_line = 0
        self._closed = False

    @property
    def index(self) -> int:
        """The number of the build being read (0 before the first)."""
        return self._index

    @property
    def formats(self) -> dict[int, str]:
        """The format of each build read so far (the last ``MAX_FORMATS_KEPT``), by build number."""
        return dict(self._formats)

    def feed(self, data: bytes) -> list[ev.Event]:
        """Feed the next chunk of bytes; returns the events it completed."""
        if self._closed:
            raise ValueError("feed() after close()")
        return self._scan(self._decode(data), False)

    def feed_text(self, text: str) -> list[ev.Event]:
        """Feed already decoded text (decode with ``errors="surrogateescape"`` to keep invalid bytes)."""
        if self._closed:
            raise ValueError("feed_text() after close()")
        return self._scan(text, False)

    def close(self) -> list[ev.Event]:
        """End of input: returns the remaining events. A log cut mid-line gives its last partial line too."""
        if self._closed:
            return []
        out = self._scan(self._decode(b"", True), True)
        self._closed = True
        out += self._lines(self._framer.close())
        self._plain_events(self._plain.flush(), out)
        if self._rawjson is not None:
            out += self._rawjson.flush(self._last_line)
        return out

    # -----------------------------------------------------------------------------------------------------------
    # The run scanner: the regex engine walks the text. Runs of step output (``#N SECS TEXT`` lines of one vertex)
    # are taken whole with one match and become one event; every other line goes through the line framer to the
    # grammars. A run ends where the text says (another line, the bound), never where a chunk ends: a run that
    # reaches the end of the text read so far, and a partial line that may begin one, wait in ``_held`` for more.

    def _scan(self, text: str, final: bool) -> list[ev.Event]:
        out: list[ev.Event] = []
        framer = self._framer
        limit = ev.MAX_RUN_CHARS
        pos = 0
        if self._held:
            if not final and "\n" not in text and self._held_tail + len(text) <= self._hold_line:
                self._held.append(text)  # nothing is decided before a line ends
                self._held_tail += len(text)
                return out
            self._held.append(text)
            buf = "".join(self._held)
            self._held = []
            self._held_tail = 0
            if self._held_run is not None:
                vertex, count, end = self._held_run
                self._held_run = None
                r = self._continuation(vertex).match(buf, end)
                assert r is not None  # the pattern matches the empty string
                end, more = self._trim_run(buf, end, r.end(), buf.count("\n", end, r.end()),
                                           limit - end, ev.MAX_RUN_LINES - count)
                count += more
                if final and count < ev.MAX_RUN_LINES and end == r.end():
                    end, count = self._last_line_of_run(buf, 0, end, count, vertex)
                if not final and count < ev.MAX_RUN_LINES and end == r.end() and buf.find("\n", end) < 0 \
                        and len(buf) <= limit and len(buf) - end <= self._hold_line:
                    self._hold(buf, (vertex, count, end))
                    return out
                run = self._run(buf[:end], vertex, count, out)
                assert run is not None  # it was accepted when the run began
                out.append(run)
                pos = end
        elif framer.mid_line:
            # the framer holds the start of a line that cannot be step output of a run: it gets the rest of it
            nl = text.find("\n")
            if nl < 0:
                return self._lines(framer.feed_text(text)) if text else out
            out += self._lines(framer.feed_text(text[: nl + 1]))
            buf = text[nl + 1 :]
        else:
            buf = text
        size = len(buf)
        plain = self._plain
        max_line = self._max_line
        hold: tuple[str, int, int] | bool = False
        rawjson = self._rawjson
        # Whether plain progress is read here, whether its lines go straight to the plain grammar, and whether
        # rawjson events wait for the next line: only the slow path (``_lines``) and runs change them.
        allowed, direct, settle = self._state()
        while pos < size:
            first = buf[pos]
            if direct and (first == "#" or first == "\n"):
                # the hot path of blank lines and of every other vertex line: straight to the plain grammar, which
                # takes them for as long as they come
                taken: list[ev.Event] = []
                after, number = plain.take_lines(buf, pos, framer.number, max_line, taken)
                if taken:
                    if settle and rawjson is not None:
                        out += rawjson.settle()
                        settle = False
                    out += taken
                    self._last_plain = True
                    self._last_line = number - 1
                    framer.number = number
                    pos = after
                    if pos >= size:
                        break
                    first = buf[pos]
            if first == "#":
                if allowed:
                    r = RUN.match(buf, pos)
                    if r is not None:
                        vertex = r.group(1)
                        end, count = self._trim_run(buf, pos, r.end(), buf.count("\n", pos, r.end()), limit,
                                                    ev.MAX_RUN_LINES)
                        if count and final and count < ev.MAX_RUN_LINES and end == r.end():
                            end, count = self._last_line_of_run(buf, pos, end, count, vertex)
                        if count:
                            if (not final and count < ev.MAX_RUN_LINES and end == r.end()
                                    and buf.find("\n", end) < 0 and size - pos <= limit
                                    and size - end <= self._hold_line and plain.can_take_run(int(vertex))):
                                hold = (vertex, count, end - pos)  # the run may go on in the next chunk
                                break
                            event = self._run(buf[pos:end], vertex, count, out)
                            if event is not None:
                                out.append(event)
                                pos = end
                                allowed, direct, settle = self._state()
                                continue
                nl = buf.find("\n", pos)
                if nl < 0:
                    # a partial line: held while it may still begin a run
                    hold = size - pos <= self._hold_line and (RUN_HEAD.match(buf, pos) is not None
                                                              or RUN_HEAD_PREFIX.match(buf, pos) is not None)
                    break
                out += self._lines(framer.feed_text(buf[pos : nl + 1]))
                pos = nl + 1
                allowed, direct, settle = self._state()
            else:
                # lines of other shapes, up to the next one that begins with "#" or is blank
                m = OTHER_LINES_END.search(buf, pos)
                end = m.start() + 1 if m is not None else buf.rfind("\n", pos) + 1
                if end <= pos:
                    break  # a partial line that cannot begin a run: the framer gets it below
                out += self._lines(framer.feed_text(buf[pos:end]))
                pos = end
                allowed, direct, settle = self._state()
        if pos < size:
            tail = buf[pos:] if pos else buf
            if hold is not False and not final:
                self._hold(tail, hold if isinstance(hold, tuple) else None)
            else:
                out += self._lines(framer.feed_text(tail))
        return out

    def _trim_run(self, buf: str, pos: int, end: int, count: int, chars: int, lines: int) -> tuple[int, int]:
        """The run matched in ``buf[pos:end]`` (``count`` lines) cut to what may join it: no line with an escape
        sequence or over the framer's bound, at most ``lines`` lines and ``chars`` characters. Returns its end and
        its lines."""
        if count > lines:
            end = _after_lines(buf, pos, lines)
            count = lines
        esc = buf.find("\x1b", pos, end)
        if esc >= 0:
            end = buf.rfind("\n", pos, esc) + 1
            if end <= pos:
                return pos, 0
            count = buf.count("\n", pos, end)
        if end - pos > chars:
            end = buf.rfind("\n", pos, pos + chars) + 1
            if end <= pos:
                return pos, 0
            count = buf.count("\n", pos, end)
        bound = self._max_line
        if end - pos > bound:
            start = pos
            while start < end:
                nl = buf.index("\n", start)
                if nl - start > bound:
                    end = start
                    break
                start = nl + 1
            count = buf.count("\n", pos, end)
        return end, count

    def _last_line_of_run(self, buf: str, pos: int, end: int, count: int, vertex: str) -> tuple[int, int]:
        """At the end of the input: the run in ``buf[pos:end]`` with the log's last line too, when that line (cut
        before its line end) is one more output line of ``vertex``, so that a log gives the same events with or
        without its last line end."""
        size = len(buf)
        if (end >= size or buf.find("\n", end) >= 0 or "\x1b" in buf[end:] or size - pos > ev.MAX_RUN_CHARS
                or size - end > self._max_line):
            return end, count
        m = LAST_RUN_LINE.match(buf, end)
        if m is None or m.group(1) != vertex:
            return end, count
        return size, count + 1

    def _hold(self, text: str, run: tuple[str, int, int] | None) -> None:
        self._held = [text]
        self._held_tail = len(text) - (text.rfind("\n") + 1)
        self._held_run = run

    @staticmethod
    def _continuation(vertex: str) -> re.Pattern[str]:
        """More lines of a held run of ``vertex``."""
        return re.compile(rf"(?:#{vertex} {_RUN_LINE}){{0,{ev.MAX_RUN_LINES}}}")

    def _state(self) -> tuple[bool, bool, bool]:
        """For the scanner: whether runs are read here, whether a vertex or blank line may go straight to the plain
        grammar (no error message waits for its continuation), and whether rawjson events wait to be settled."""
        allowed = self._runs_allowed()
        rawjson = self._rawjson
        return allowed, allowed and self._plain.idle, rawjson is not None and rawjson.pending

    def _runs_allowed(self) -> bool:
        """Whether step output here is read as plain progress (as route 2 of ``_route`` reads it, and not in a web
        copy)."""
        tty = self._tty
        legacy = self._legacy
        return (not self._web.active and (tty is None or not (tty.in_frames or tty.in_error_block))
                and (legacy is None or not legacy.in_step) and self._plain.build_index == self._index)

    def _run(self, raw: str, vertex: str, count: int, out: list[ev.Event]) -> ev.StepOutput | None:
        """The event of a run of ``count`` output lines of ``vertex`` (None when the plain grammar would read its
        first line otherwise: then it is read as a line)."""
        plain = self._plain
        if not plain.can_take_run(int(vertex)):
            return None
        rawjson = self._rawjson
        if rawjson is not None and rawjson.pending:
            out += rawjson.settle()
        if not plain.idle:
            self._plain_events(plain.flush(), out)
        self._last_plain = True
        framer = self._framer
        number = framer.number
        framer.number = number + count
        self._last_line = number + count - 1
        return plain.output_run(number, raw, int(vertex), count)

    # -----------------------------------------------------------------------------------------------------------

    def _opened(self, grammar: RawJsonGrammar | TtyGrammar | LegacyGrammar, fmt: str) -> None:
        """``grammar`` opened the next build on the line it just read (that build's ``BuildStarted`` and
        ``FormatDetected`` came before the line's own events): the parser reads that build now, and the plain text
        that follows belongs to it."""
        index = self._index + 1
        # The plain grammar never holds a line when another grammar reads one (``_leave_plain``), and its build is
        # the parser's: nothing of it comes between the builds.
        assert grammar.build == index and self._plain.idle and self._plain.build_index == self._index
        self._plain.join_build(index)
        self._index = index
        self._note_format(index, fmt)
        for other in (self._rawjson, self._tty, self._legacy):
            if other is not None and other is not grammar:
                other.end_build()

    def _plain_events(self, events: list[ev.Event], out: list[ev.Event]) -> None:
        """Pass on what the plain grammar gave, keeping track of the builds it opened and closed."""
        index = self._plain.build_index
        if index != self._index:
            self._index = index
            self._note_format(index, "plain")
            self._end_other_builds()
        for event in events:
            if type(event) is ev.BuildFailed:
                self._end_other_builds()
        out += events

    def _note_format(self, index: int, fmt: str) -> None:
        self._formats[index] = fmt
        if len(self._formats) > MAX_FORMATS_KEPT:
            del self._formats[next(iter(self._formats))]

    def _end_other_builds(self) -> None:
        for grammar in (self._rawjson, self._tty, self._legacy):
            if grammar is not None:
                grammar.end_build()

    # -----------------------------------------------------------------------------------------------------------
    # The router: each line the scanner did not take goes, once cleaned (a web copy's line numbers and links, the CI
    # prefix and colours off), to the first route that claims it. ``_route`` tries them in this order:
    #
    #   route      the cleaned line                                  read by   opens the next build at
    #   1 json     any "{" line inside a rawjson build; else one     rawjson   a line when none is open; a new "load
    #              that starts as a SolveStatus (LINE_STARTS)                  build definition" once all shown ended
    #   2 plain    "#N ..." (not while a tty frame, the error        plain     "#0 building with"; a vertex line after
    #   progress   block after frames or a legacy step runs)                   a final error or in another format's
    #                                                                          build; the numbering anew
    #   3 tty      "[+] Building" anywhere; inside frames " => "     tty       a header when none is open, after a
    #              and blank rows; in the error block "#N SECS T"              FINISHED frame, or going back in time
    #   4 legacy   "Sending build context", "Step N/M : "; inside    legacy    "Sending build context"; a step number
    #              a legacy build its shapes, a running step's                 that does not grow
    #              output and the client's error
    #   5 plain    anything else: the final text of a failed         plain     as route 2 (a "#N" line right after
    #   text       build in any format, plain's top-level lines                tty frames comes here)
    #
    # Why this order: 1 and 2 begin with different characters, so JSON goes first, as its hot path in ``_lines``
    # takes it before any cleaning. 2 comes before 3 and 4 because a step's output is its own whatever it says: a
    # docker build run inside a RUN step prints "[+] Building" too and must not open a tty build, and a "#N" line
    # between legacy steps is not the client's error. But 2 yields to the lines 3 and 4 hold: Docker 20.10's error
    # block repeats the failed step's output as "#N SECS TEXT", which plain would read as another build's progress,
    # and a legacy step's output is its own too. 5 is last: the plain grammar reads what no other grammar claims.
    #
    # ``detect.DECIDING_LINES`` has the lines that tell a build's format (``WebCopy`` waits for the first one). A
    # grammar that opens its next build puts that build's ``BuildStarted`` and ``FormatDetected`` before the line's
    # own events (``_opened``); the plain grammar's builds open with ``BuildStarted`` (``_plain_events``).

    def _lines(self, lines: list[RawLine]) -> list[ev.Event]:
        out: list[ev.Event] = []
        rawjson = self._rawjson
        web = self._web
        for raw_line in lines:
            raw = raw_line.text
            number = raw_line.number
            self._last_line = number
            if raw[:1] == "{" and rawjson is not None and raw_line.final and "\x1b" not in raw and not web.active:
                # route 1 before any cleaning, the hot path of rawjson: no CI prefix starts with "{"
                text = raw[:-2] if raw.endswith("\r\n") else raw[:-1] if raw.endswith("\n") else raw
                if rawjson.active or self._forced or text.startswith(LINE_STARTS):
                    if self._last_plain:
                        self._leave_plain(out)
                    index = self._index
                    out += rawjson.line(number, raw, text, None, index)
                    if rawjson.build > index:
                        self._opened(rawjson, "rawjson")
                    continue
            if raw_line.piece:
                self._fragment(raw_line, out)
                continue
            body = raw
            if body.endswith("\n"):
                body = body[:-2] if body.endswith("\r\n") else body[:-1]
            elif raw_line.final and body.endswith("\r"):
                body = body[:-1]  # a log cut between "\r" and "\n": the "\r" was a line end, not text
            if web.active:
                body = web.number(body)
                text, ci = clean_line(body)
                text = web.links(text)
            elif body[:1] == "#" and "\x1b" not in body and not body.startswith("##["):
                text, ci = body, None  # a plain progress line: nothing to take off
            else:
                text, ci = clean_line(body)
            self._route(number, raw, body, text, ci, raw_line.final, out)
        return out

    def _route(self, number: int, raw: str, body: str, text: str, ci: ev.CIPrefix | None, whole: bool,
               out: list[ev.Event]) -> None:
        """Hands a cleaned line to the first route that claims it (the table above). ``body`` is the line without
        its end, CI prefix and colours kept; ``whole`` is false for the first piece of a line over the bound."""
        rawjson = self._rawjson
        tty = self._tty
        legacy = self._legacy
        # 1 json
        if rawjson is not None and text[:1] == "{" and (
                rawjson.active or self._forced or text.startswith(LINE_STARTS)):
            self._json(rawjson, number, raw, text, ci, whole, out)
            return
        if rawjson is not None and rawjson.pending:
            out += rawjson.settle()  # not a rawjson line: the completions held for the next line stand
        # 2 plain progress, where most lines of a plain log with a CI prefix go: one event each, straight away
        if (text[:1] == "#" and text[1:2].isdigit() and (tty is None or not (tty.in_frames or tty.in_error_block))
                and (legacy is None or not legacy.in_step)):
            plain = self._plain
            if whole and plain.idle and plain.build_index == self._index:
                event = plain.vertex_event(number, raw, text, ci)
                if event is not None:
                    self._last_plain = True
                    out.append(event)
                    return
            self._plain_text(number, raw, text, ci, whole, out)
            return
        # 3 tty (a line it does not claim ends its frames)
        if tty is not None:
            if tty.claims(text):
                self._tty_line(tty, number, raw, body, text, ci, out)
                return
            tty.end_frames(text, self._index)
        # 4 legacy
        if legacy is not None and legacy.claims(text):
            self._legacy_line(legacy, number, raw, text, ci, out)
            return
        # 5 plain text
        self._plain_text(number, raw, text, ci, whole, out)

    def _json(self, rawjson: RawJsonGrammar, number: int, raw: str, text: str, ci: ev.CIPrefix | None, whole: bool,
              out: list[ev.Event]) -> None:
        """Route 1. The first piece of a line over the bound cannot be read as JSON: it is malformed."""
        self._leave_plain(out)
        index = self._index
        out += rawjson.line(number, raw, text, ci, index) if whole else rawjson.piece(number, raw, text, ci, index)
        if rawjson.build > index:
            self._opened(rawjson, "rawjson")

    def _tty_line(self, tty: TtyGrammar, number: int, raw: str, body: str, text: str, ci: ev.CIPrefix | None,
                  out: list[ev.Event]) -> None:
        """Route 3. A frame line is read with its escape sequences (colours tell a finished row, cursor movement
        separates rows), so it gets ``body`` and how many of its characters are the CI prefix."""
        self._leave_plain(out)
        if tty.in_error_block:
            out += tty.error_block_line(number, raw, text, ci)
            return
        skip = len(body) - len(split_ci_prefix(body)[1]) if ci is not None else 0
        index = self._index
        out += tty.line(number, raw, body, ci, skip, index)
        if tty.build > index:
            self._opened(tty, "tty")

    def _legacy_line(self, legacy: LegacyGrammar, number: int, raw: str, text: str, ci: ev.CIPrefix | None,
                     out: list[ev.Event]) -> None:
        """Route 4."""
        self._leave_plain(out)
        index = self._index
        out += legacy.line(number, raw, text, ci, index)
        if legacy.build > index:
            self._opened(legacy, "legacy")

    def _plain_text(self, number: int, raw: str, text: str, ci: ev.CIPrefix | None, whole: bool,
                    out: list[ev.Event]) -> None:
        """Route 5, and the lines of route 2 that need the whole plain grammar."""
        self._last_plain = True
        self._plain_events(self._plain.line(number, raw, text, ci, whole), out)

    def _fragment(self, raw_line: RawLine, out: list[ev.Event]) -> None:
        """A later piece of a line over the bound: it goes where the line's first piece went (the plain grammar
        passes it on after what it held; another grammar has nothing to add to it)."""
        number = raw_line.number
        raw = raw_line.text
        fragment = ev.LineFragment(
            line=number, end_line=number, raw=raw, build=self._index,
            length=len(raw.encode("utf-8", "surrogateescape")), final=raw_line.final,
            total_length=raw_line.total_length)
        if self._last_plain:
            self._plain_events(self._plain.fragment(fragment), out)
        else:
            out.append(fragment)

    def _leave_plain(self, out: list[ev.Event]) -> None:
        """A line for another grammar: an error message the plain grammar holds ends here."""
        if self._last_plain:
            self._last_plain = False
            self._plain_events(self._plain.flush(), out)
