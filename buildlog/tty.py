"""The grammar of tty captures (``--progress=tty`` saved by ``script``, or CI jobs with a pseudo-terminal).

The display redraws a frame in place every tick: ``[+] Building 1.4s (14/19)`` (``FINISHED`` on the last one),
then one row per vertex (`` => [builder 3/9] COPY lib/ ./lib/   0.0s``, `` => CACHED [...]``, `` => ERROR [...]``),
its statuses (`` => => transferring context: 1.03kB``) and, while it runs, its last output lines
(`` => => # ...``). Cursor movement (``ESC[1A`` ...) brings the cursor back over the previous frame, so the
saved text holds every frame one after the other, and one ``\\n``-line may hold several rows.

Rows are padded to the terminal width and cut to it, so a name may end early: a row is matched to the vertex of
the same name, or, when one of the two was cut, of a name it begins. A frame taller than the terminal loses its
top rows (status rows then have no vertex above them, and are skipped); the last frame is drawn whole.

The state of each vertex is read from every frame that shows it, and events are emitted when it changes, as
plain prints them: the header the first time a vertex shows, ``VertexCached`` / ``VertexError`` /
``VertexCanceled`` from the row's word, ``VertexDone`` when a row turns to the "finished" colour (blue; or, on a
capture without colours, in the ``FINISHED`` frame), statuses when first seen and when finished, and each output
line once (the rows of a running step are a window on its last lines: the new ones are those after the overlap
with the previous frame's window). What the screen does not show stays unknown: errors have no message (the
final ``ERROR:`` line and the error block after the frames, read by the plain grammar, say it), output beyond the
window is lost, durations are tenths of a second.

Docker 20.10's client draws the same frames, and prints the failed step's output in the error block as
``#N SECS TEXT`` (the daemon's own vertex number, unrelated to the rows' order), where current buildx prints
``SECS TEXT``. Those lines are read here, as ``ErrorBlockOutput``: left to the plain grammar they would read as
the progress of another build.
"""

from __future__ import annotations

import re
from typing import Any

from . import events as ev
from .cleaning import ANSI
from .derived import build_start, failed_event, header_event, status_event
from .lazyre import later
from .plain import ERROR_BLOCK_RULE, OUTPUT, STATUS, parse_size
from .vertex_names import parse_vertex_name

HEADER = later(
    r"\[\+\] Building (?P<secs>\d+(?:\.\d+)?)s \((?P<done>\d+)/(?P<total>\d+)\)(?P<finished> FINISHED)?"
)
HEADER_MARK = "[+] Building "

# Escape sequences: colours (kept track of: they tell a finished row), cursor movement and erasing (they begin
# another row), anything else (dropped).
_TOKEN = later(r"\x1b\[(?P<sgr>[0-9;]*)m|(?P<move>\x1b\[[0-9;]*[A-HJKSTf]|\r)|" + ANSI.pattern)
# the gap starts where a run of spaces starts: from every space of a long run it would be quadratic
_TIMER = later(r"(?<! )(?P<gap> +)(?P<secs>\d+(?:\.\d+)?)s$")
# A line of the error block after the frames, as Docker 20.10's client prints it: ``#8 1.052 2:debug=true``.
BLOCK_OUTPUT = later(r"#\d+ " + OUTPUT.pattern, re.DOTALL)

# The word before a vertex name and what it means.
ROW_STATES = {"CACHED": "cached", "ERROR": "error", "CANCELED": "canceled"}
# SGR foreground colours of BuildKit's display: blue for finished vertices and statuses (red errors and yellow
# cancels carry their word too).
FINISHED_COLOURS = frozenset({"34"})

# A name this close to the room its row has may have been cut (names can hold runs of spaces, which the cut keeps
# and the padding hides).
CUT_SLACK = 8


class _Vertex:
    __slots__ = ("cut", "done", "kind", "name", "number", "state", "statuses", "window")

    def __init__(self, number: int, name: str, cut: bool) -> None:
        self.number = number
        self.name = name
        self.cut = cut
        self.kind = parse_vertex_name(name).kind
        self.state: str | None = None  # cached | error | canceled, once shown
        self.done = False
        self.statuses: dict[str, bool] = {}  # status id -> finished
        self.window: list[str] = []  # the output rows the previous frame showed


class TtyGrammar:
    """Turns the lines of tty frames into events."""

    def __init__(self, *, forced: bool = False) -> None:
        self._forced = forced  # the parser reads this format only (``FormatDetected.forced``)
        # The build this grammar reads (0: none); ahead of the parser's after a line that opened the next one.
        self.build = 0
        self._vertices: list[_Vertex] = []
        self._by_name: dict[str, list[_Vertex]] = {}
        self._fg: str | None = None  # the current foreground colour (SGR state carries over lines)
        self._coloured = False  # the capture has colours at all
        self.in_frames = False  # the previous line was part of a frame
        self.in_error_block = False  # between the two ``------`` of the error block after this build's frames
        self._finished_frame = False
        self._last_seconds = 0.0
        # the frame being drawn
        self._parent: _Vertex | None = None
        self._in_frame: dict[str, int] = {}  # name -> rows of that name in this frame so far
        self._used: set[int] = set()  # vertices drawn in this frame
        self._window: list[str] = []  # output rows of the parent in this frame
        self._aligns: list[int] = []  # where this frame's window can sit in the previous one

    def end_build(self) -> None:
        self.build = 0
        self._vertices = []
        self._by_name = {}
        self._finished_frame = False
        self._last_seconds = 0.0
        self._parent = None
        self.in_error_block = False

    def end_frames(self, text: str, build: int) -> None:
        """A line that is not part of a frame came (``text``, cleaned, in the parser's ``build``): the frames are
        over (what follows is plain text). A ``------`` in this grammar's build opens or closes the error block,
        whose ``#N SECS TEXT`` lines are claimed."""
        if self.in_frames:
            self.in_frames = False
            self._close_window()
            self._parent = None
        if text == ERROR_BLOCK_RULE and self.build != 0 and build == self.build:
            self.in_error_block = not self.in_error_block

    def claims(self, text: str) -> bool:
        """Whether a cleaned line belongs to tty frames (or, after them, is a numbered line of the error block)."""
        if HEADER_MARK in text:
            self.in_error_block = False  # frames again: whatever block there was is over
            return True
        if self.in_error_block:
            return BLOCK_OUTPUT.fullmatch(text) is not None
        return self.in_frames and (text.startswith(" => ") or (text != "" and text.isspace()))

    def error_block_line(self, number: int, raw: str, text: str, ci: ev.CIPrefix | None) -> list[ev.Event]:
        """A claimed line of the error block (``in_error_block``): ``#8 1.052 2:debug=true``."""
        m = BLOCK_OUTPUT.fullmatch(text)
        if m is None:  # not a line claims() claimed
            return [ev.UnrecognizedLine(line=number, end_line=number, raw=raw, build=self.build, ci=ci, text=text)]
        return [ev.ErrorBlockOutput(line=number, end_line=number, raw=raw, build=self.build, ci=ci,
                                    elapsed=float(m.group(1)), text=m.group(2) or "")]

    # -----------------------------------------------------------------------------------------------------------

    def line(self, number: int, raw: str, body: str, ci: ev.CIPrefix | None, skip: int, build: int) -> list[ev.Event]:
        """One line: ``body`` is its text without terminator, escape sequences kept; its first ``skip`` characters
        are a CI prefix (whose colour codes still count: a reset there ends the previous row's colour). ``build``
        is the build the parser reads (a frame header may open build ``build + 1``)."""
        rows = self._rows(body, skip)
        out: list[ev.Event] = []
        headers = [(i, m) for i, (text, _) in enumerate(rows) if (m := HEADER.search(text)) is not None]
        if headers and self._starts_build(headers[0][1], build):
            self.end_build()
            self.build = build + 1
            out += build_start(self.build, number, "tty", self._forced)
        elif self.build == 0:
            self.build = build
        self.in_frames = True
        out.append(ev.TtyLine(line=number, end_line=number, raw=raw, build=self.build, ci=ci,
                              rows=tuple(text for text, _ in rows)))
        common: dict[str, Any] = {"line": number, "end_line": number, "raw": "", "build": self.build, "ci": ci}
        header_at = dict(headers)
        for i, (text, colour) in enumerate(rows):
            m = header_at.get(i)
            if m is not None:
                self._frame(m, common, out)
            elif text.startswith(" => "):
                self._row(text, colour, common, out)
        return out

    # -----------------------------------------------------------------------------------------------------------

    def _rows(self, body: str, skip: int) -> list[tuple[str, str | None]]:
        """The rows a line draws: their text and the foreground colour their text begins in."""
        rows: list[tuple[str, str | None]] = []
        parts: list[str] = []
        colour: str | None = None
        pos = 0
        for m in _TOKEN.finditer(body):
            start = m.start()
            if pos < skip:
                pos = min(skip, start)
            if start > pos:
                if not parts:
                    colour = self._fg
                parts.append(body[pos:start])
            pos = m.end()
            sgr = m["sgr"]
            if sgr is not None:
                self._sgr(sgr)
            elif m["move"] is not None and parts:
                rows.append(("".join(parts), colour))
                parts = []
        pos = max(pos, skip)
        if pos < len(body):
            if not parts:
                colour = self._fg
            parts.append(body[pos:])
        if parts:
            rows.append(("".join(parts), colour))
        return rows

    def _sgr(self, params: str) -> None:
        for p in params.split(";") if params else ("0",):
            if p in ("", "0", "39"):
                self._fg = None
            elif len(p) == 2 and p[0] in "39" and p[1] in "01234567":
                self._fg = p
                self._coloured = True

    def _starts_build(self, m: re.Match[str], build: int) -> bool:
        if self.build == 0 or self._finished_frame or build != self.build:
            return True
        return float(m["secs"]) < self._last_seconds

    def _frame(self, m: re.Match[str], common: dict[str, Any], out: list[ev.Event]) -> None:
        self._close_window()
        self._parent = None
        self._in_frame = {}
        self._used = set()
        seconds = float(m["secs"])
        self._last_seconds = seconds
        self._finished_frame = finished = m["finished"] is not None
        out.append(ev.TtyFrame(seconds=seconds, completed=int(m["done"]), total=int(m["total"]), finished=finished,
                               **common))

    def _row(self, text: str, colour: str | None, common: dict[str, Any], out: list[ev.Event]) -> None:
        if text.startswith(" => => "):
            parent = self._parent
            if parent is None:
                return  # the top of a frame taller than the terminal: its vertex row is off screen
            if text.startswith(" => => #"):
                self._output(parent, text[8:].removeprefix(" ").rstrip(), common, out)
            else:
                self._close_window()
                self._status(parent, text[7:], colour, common, out)
            return
        self._close_window()
        body = text[4:]
        timer = _TIMER.search(body.rstrip())
        name = body[: timer.start()] if timer is not None else body.rstrip()
        secs = float(timer["secs"]) if timer is not None else None
        state = None
        word, _, rest = name.partition(" ")
        if word in ROW_STATES and rest:
            state, name = ROW_STATES[word], rest
        name = name.rstrip()
        # the room the name had: the row's width less the timer and the two spaces before it
        room = len(body.rstrip()) - len(timer["secs"]) - 3 if timer is not None else len(body)
        cut = len(name) + (len(word) + 1 if state else 0) >= room - CUT_SLACK
        vx = self._find(name, cut, common, out)
        self._parent = vx
        self._window = []
        self._aligns = list(range(len(vx.window) + 1))
        n = vx.number
        if state is not None:
            if vx.state != state:
                vx.state = state
                if state == "cached":
                    out.append(ev.VertexCached(vertex=n, **common))
                elif state == "error":
                    out.append(failed_event(n, vx.name, "", **common))
                else:
                    out.append(ev.VertexCanceled(vertex=n, **common))
            return
        if vx.state == "cached":
            vx.state = None  # cached, then run again (a lazy layer pull): plain shows it done too
        finished = colour in FINISHED_COLOURS or (self._finished_frame and not self._coloured)
        if finished and not vx.done:
            out.append(ev.VertexDone(vertex=n, seconds=secs or 0.0, **common))
        vx.done = finished

    def _find(self, name: str, cut: bool, common: dict[str, Any], out: list[ev.Event]) -> _Vertex:
        k = self._in_frame.get(name, 0)
        self._in_frame[name] = k + 1
        same = self._by_name.get(name)
        if same is not None and k < len(same) and same[k].number not in self._used:
            vx = same[k]
        else:
            vx = self._prefix_match(name, cut) or self._new(name, cut, common, out)
            if vx.name != name:
                self._by_name.setdefault(name, []).append(vx)
        self._used.add(vx.number)
        return vx

    def _prefix_match(self, name: str, cut: bool) -> _Vertex | None:
        for vx in self._vertices:
            if vx.number in self._used:
                continue
            if (cut and vx.name.startswith(name)) or (vx.cut and name.startswith(vx.name)):
                return vx
        return None

    def _new(self, name: str, cut: bool, common: dict[str, Any], out: list[ev.Event]) -> _Vertex:
        vx = _Vertex(len(self._vertices) + 1, name, cut)
        self._vertices.append(vx)
        self._by_name.setdefault(name, []).append(vx)
        out.append(header_event(vx.number, name, **common))
        return vx

    def _status(self, vx: _Vertex, text: str, colour: str | None, common: dict[str, Any],
                out: list[ev.Event]) -> None:
        body = text.rstrip()
        timer = _TIMER.search(body)
        secs = None
        if timer is not None:
            secs = float(timer["secs"])
            body = body[: timer.start()]
        m = STATUS.fullmatch(body)
        if m is None:
            return
        status_id = m["id"]
        finished = colour in FINISHED_COLOURS or (self._finished_frame and not self._coloured)
        seen = vx.statuses.get(status_id)
        if seen is None or (finished and not seen):
            vx.statuses[status_id] = finished
            out.append(status_event(vx.number, vx.kind, status_id, **common, current=parse_size(m["cur"]),
                                    total=parse_size(m["total"]), seconds=secs, done=finished))

    def _output(self, vx: _Vertex, text: str, common: dict[str, Any], out: list[ev.Event]) -> None:
        """One output row of the window under ``vx``: emitted unless the previous frame's window showed it."""
        k = len(self._window)
        self._window.append(text)
        previous = vx.window
        aligns = [j for j in self._aligns if j + k >= len(previous) or previous[j + k] == text]
        self._aligns = aligns
        if not aligns or aligns[0] + k >= len(previous):
            out.append(ev.StepOutput(vertex=vx.number, elapsed=None, text=text, **common))

    def _close_window(self) -> None:
        """The parent's output rows of this frame are all drawn: they are the window the next frame is read
        against."""
        parent = self._parent
        if parent is not None and self._window:
            parent.window = self._window
        self._window = []
