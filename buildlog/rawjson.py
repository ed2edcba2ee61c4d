"""The grammar of ``--progress=rawjson`` output (and ``buildctl --trace`` files): one JSON ``SolveStatus`` per line.

A line sends vertices (sent again, whole, each time one changes: the latest state of a digest wins), statuses,
logs (base64) and warnings (base64). The grammar keeps each vertex's state and emits the plain events as the state
changes, in the order the plain printer would print them:

* a vertex's header when it is first shown (started, cached, completed, failed, or given a status or a log), with
  a number in order of first showing, as the plain printer numbers vertices; then its ``VertexInputs``;
* statuses when first seen and when completed; decoded log lines (``StepOutput``, time since the vertex started);
  warnings;
* then what ended on the line: ``VertexCached`` when ``cached`` becomes true, ``VertexDone`` with the exact run
  time when ``completed`` appears, the error (or ``VertexCanceled``) when ``error`` appears, each followed by
  ``VertexTiming``.

A line's first event is always its ``SolveStatusLine`` (or ``MalformedJson``), carrying the raw text; the events
derived from it follow with an empty ``raw``. Text the client prints after the JSON (the Dockerfile excerpt and the
final ``ERROR:`` of a failed build) is plain and read by the plain grammar.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from . import events as ev
from .derived import build_start, error_event, header_event, make_status, status_class
from .plain import BUILD_CHECK, CLIPPED
from .vertex_names import parse_vertex_name

# A new vertex with one of these names, once every vertex shown so far has ended and some work was done (a step
# or an export), is the next build of a stream that holds several with nothing between them.
BUILD_START_NAMES = ("[internal] load build definition from ", "[internal] load local bake definitions")
WORK_KINDS = frozenset({"step", "image-export", "cache-export"})

# Statuses about one layer come by the dozen and last a few milliseconds: they are given once done, not also
# when they start (the plain printer, which prints at most every 100 ms, seldom shows them running either).
DONE_ONLY = frozenset({ev.LayerTransfer, ev.LayerExtracted, ev.CacheLayerWritten})

# The keys a SolveStatus line starts with (Go writes the fields in this order and leaves empty ones out): how a
# line is told from foreign text that happens to start with "{".
LINE_STARTS = ('{"vertexes":', '{"statuses":', '{"logs":', '{"warnings":', "{}")

# The C scanner json.loads ends in, without the two Python calls around it (a third of the time on short lines).
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_b64decode = binascii.a2b_base64
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAYS: dict[str, int] = {}
# "2026-11-28T02:34:22." -> nanoseconds since the epoch of that second. The timestamps of a build fall in a few
# hundred seconds, and a line holds two or three of them: reading each in full was a tenth of the parser's time.
# The key holds the "." so that a hit also tells the fraction's place.
_SECOND_NS: dict[str, int] = {}
_SCALE: list[int] = [10 ** (9 - k) for k in range(10)]
_CACHE_BOUND = 4096


def rfc3339_ns(value: str) -> int | None:
    """``2026-11-28T02:34:22.378405558Z`` -> nanoseconds since the epoch, exactly (None if unreadable)."""
    ns = _SECOND_NS.get(value[:20])
    if ns is not None:
        fraction = value[20:-1]
        # at most 30 characters: a fraction of at most nine digits
        if value[-1:] == "Z" and len(value) <= 30 and fraction.isdigit() and fraction.isascii():
            return ns + int(fraction) * _SCALE[len(fraction)]
    return _rfc3339_ns(value)


def _rfc3339_ns(value: str) -> int | None:
    try:
        if value[10] not in "Tt":
            return None
        if value[4] != "-" or value[7] != "-" or value[13] != ":" or value[16] != ":":
            return None
        day_text = value[:10]
        day = _DAYS.get(day_text)
        if day is None:
            day = _DAYS[day_text] = (date.fromisoformat(day_text).toordinal() - _EPOCH_ORDINAL) * 86400
            if len(_DAYS) > _CACHE_BOUND:
                _DAYS.clear()
                _DAYS[day_text] = day
        seconds = day + int(value[11:13]) * 3600 + int(value[14:16]) * 60 + int(value[17:19])
        rest = value[19:]
        if rest[-1:] in ("Z", "z"):
            rest = rest[:-1]
        elif len(rest) >= 6 and rest[-6] in "+-" and rest[-3] == ":":
            offset = int(rest[-5:-3]) * 3600 + int(rest[-2:]) * 60
            rest = rest[:-6]
            nanos = _fraction(rest)
            if nanos is None:
                return None
            return (seconds - (offset if value[-6] == "+" else -offset)) * 1_000_000_000 + nanos
        else:
            return None
        nanos = _fraction(rest)
        if nanos is None:
            return None
        if len(_SECOND_NS) >= _CACHE_BOUND:
            _SECOND_NS.clear()
        _SECOND_NS[value[:19] + "."] = seconds * 1_000_000_000  # read in full once: the fast path takes the next ones
        return seconds * 1_000_000_000 + nanos
    except (ValueError, IndexError):
        return None


def _fraction(rest: str) -> int | None:
    """``.378405558`` -> nanoseconds (digits past the ninth are dropped); ``""`` -> 0; None if unreadable."""
    if not rest:
        return 0
    digits = rest[1:10]
    if rest[0] != "." or not digits.isdigit() or not rest[1:].isdigit():
        return None
    return int(digits.ljust(9, "0"))


def _merged_ns(intervals: list[tuple[int, int]]) -> int:
    """Total length of the union of the intervals."""
    total = 0
    end = None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


class _Vertex:
    """What the grammar knows about one digest in the current build."""

    __slots__ = (
        "cached",
        "cached_seen",
        "completed",
        "completed_seen",
        "digest",
        "error",
        "error_seen",
        "first_started",
        "first_started_ns",
        "inputs",
        "intervals",
        "kind",
        "last_completed",
        "last_completed_ns",
        "name",
        "number",
        "partial",
        "partial_elapsed",
        "started",
        "started_ns",
        "statuses",
        "touched",
    )

    def __init__(self, digest: str) -> None:
        self.digest = digest
        self.name: str | None = None
        self.kind = "other"
        self.number = 0  # 0 until shown
        self.inputs: tuple[str, ...] = ()
        # the latest state sent
        self.started: str | None = None
        self.started_ns: int | None = None
        self.completed: str | None = None
        self.cached = False
        self.error: str | None = None
        # what was already turned into events
        self.completed_seen: str | None = None
        self.cached_seen = False
        self.error_seen: str | None = None
        self.first_started: str | None = None
        self.first_started_ns: int | None = None
        self.last_completed: str | None = None
        self.last_completed_ns: int | None = None
        self.intervals: list[tuple[int, int]] = []
        self.statuses: dict[str, bool] = {}  # status id -> whether it was shown completed
        self.partial: str | None = None  # an output line without its "\n" yet
        self.partial_elapsed: float | None = None
        self.touched = False  # sent on the line being read (set and cleared by _vertexes)


def _str(value: Any) -> str | None:
    return value if type(value) is str else None


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


class RawJsonGrammar:
    """Turns rawjson lines into events. ``line()`` takes one line whose text starts with ``{``.

    Every line pays for its JSON and its ``SolveStatusLine``; the rest is paid per object the line holds, and
    most of them change nothing (a status already shown, a vertex sent again as it was). Events are built with
    their fields given one by one: a ``**`` dict of the fields they share doubles what building one costs."""

    def __init__(self, *, forced: bool = False, max_line: int = 1 << 20) -> None:
        self._forced = forced  # the parser reads this format only (``FormatDetected.forced``)
        self._max_line = max_line
        # The build this grammar reads (0: none); ahead of the parser's after a line that opened the next one.
        self.build = 0
        self._vertices: dict[str, _Vertex] = {}
        self._shown: list[_Vertex] = []
        self._has_work = False
        # vertices that completed on the previous line: their DONE waits for this line (see _settle)
        self._pending: list[_Vertex] = []
        self._pending_at: tuple[int, int, ev.CIPrefix | None] = (0, 0, None)  # that line's number, build, CI prefix

    @property
    def active(self) -> bool:
        """A rawjson build is being read: any line starting with "{" is one of its lines."""
        return self.build != 0

    def end_build(self) -> None:
        """The build being read is over (a final error, another build began): the next line starts a new one."""
        self.build = 0
        self._vertices = {}
        self._shown = []
        self._has_work = False
        self._pending = []

    @property
    def pending(self) -> bool:
        """Events of the previous line wait for the next one (call ``settle`` before a line of another shape)."""
        return bool(self._pending)

    # -----------------------------------------------------------------------------------------------------------

    def line(self, number: int, raw: str, text: str, ci: ev.CIPrefix | None, build: int) -> list[ev.Event]:
        """One line; ``build`` is the build the parser reads (the line may open build ``build + 1``)."""
        try:
            obj, end = _scan(text, 0)
        except StopIteration:
            return self._malformed(number, raw, text, ci, build, "invalid JSON")
        except (ValueError, RecursionError) as exc:
            return self._malformed(number, raw, text, ci, build, f"invalid JSON: {exc}")
        if end != len(text) and not text[end:].isspace():
            return self._malformed(number, raw, text, ci, build, f"invalid JSON: extra data at column {end + 1}")
        if type(obj) is not dict:
            return self._malformed(number, raw, text, ci, build, "not a JSON object")
        # Go writes one or two of the four fields: looking at the keys there are is cheaper than asking for each
        vertexes: Sequence[Any] = _NONE
        statuses: Sequence[Any] = _NONE
        logs: Sequence[Any] = _NONE
        warnings: Sequence[Any] = _NONE
        nv = ns = nl = nw = 0
        for key in obj:
            value = obj[key]
            if type(value) is list:
                if key == "vertexes":
                    vertexes, nv = value, len(value)
                elif key == "statuses":
                    statuses, ns = value, len(value)
                elif key == "logs":
                    logs, nl = value, len(value)
                elif key == "warnings":
                    warnings, nw = value, len(value)
        out: list[ev.Event] = self._settle(vertexes) if self._pending else []
        if self.build == 0 or (nv and self._has_work and self._starts_next_build(vertexes)):
            out += self._start(number, build)
        build = self.build
        out.append(_SOLVE_STATUS(number, number, raw, build, ci, nv, ns, nl, nw))
        ending = self._vertexes(vertexes, number, build, ci, out) if nv else _NONE
        if ns:
            self._statuses(statuses, number, build, ci, out)
        if nl:
            self._logs(logs, number, build, ci, out)
        if nw:
            self._warnings(warnings, number, build, ci, out)
        # a vertex that reached an end state on this line: its end events come after the line's other events
        for vx in ending:
            if vx.number:
                self._ends(vx, number, build, ci, out)
        return out

    def piece(self, number: int, raw: str, text: str, ci: ev.CIPrefix | None, build: int) -> list[ev.Event]:
        """The first piece of a line longer than the line bound: it cannot be read as JSON."""
        return self._malformed(number, raw, text, ci, build, "line longer than the parser's bound")

    def settle(self) -> list[ev.Event]:
        """The next line is not rawjson: the previous line's completions stand."""
        return self._settle(_NONE)

    def flush(self, number: int) -> list[ev.Event]:
        """End of input: what waited for a next line, and output lines still waiting for their ``\\n``."""
        out = self.settle()
        if self.build:
            for vx in self._shown:
                if vx.partial is not None:
                    self._flush_partial(vx, number, self.build, None, out)
        return out

    # -----------------------------------------------------------------------------------------------------------

    def _start(self, number: int, build: int) -> list[ev.Event]:
        """Opens the build after ``build`` at line ``number``: its first events."""
        self.end_build()
        self.build = build + 1
        return build_start(self.build, number, "rawjson", self._forced)

    def _malformed(self, number: int, raw: str, text: str, ci: ev.CIPrefix | None, build: int,
                   error: str) -> list[ev.Event]:
        out = self.settle()
        build = self.build or build
        out.append(ev.MalformedJson(line=number, end_line=number, raw=raw, build=build, ci=ci, text=text,
                                    error=error))
        return out

    def _starts_next_build(self, vertexes: Sequence[Any]) -> bool:
        for v in vertexes:
            if type(v) is not dict:
                continue
            name = v.get("name")
            if type(name) is str and name.startswith(BUILD_START_NAMES):
                digest = v.get("digest")
                if type(digest) is str and digest in self._vertices:
                    continue
                return all(vx.completed is not None or vx.error is not None for vx in self._shown)
        return False

    def _show(self, vx: _Vertex, number: int, build: int, ci: ev.CIPrefix | None, out: list[ev.Event]) -> None:
        self._shown.append(vx)
        vx.number = n = len(self._shown)
        if vx.name is None:
            vx.name = vx.digest  # a status or log for a vertex never sent: name it by its digest
        out.append(header_event(n, vx.name, line=number, end_line=number, raw="", build=build, ci=ci))
        out.append(_INPUTS(number, number, "", build, ci, n, vx.digest, vx.inputs))
        if vx.kind in WORK_KINDS:
            self._has_work = True

    def _vertex(self, digest: str) -> _Vertex:
        vx = self._vertices.get(digest)
        if vx is None:
            vx = self._vertices[digest] = _Vertex(digest)
        return vx

    def _vertexes(self, vertexes: Sequence[Any], number: int, build: int, ci: ev.CIPrefix | None,
                  out: list[ev.Event]) -> list[_Vertex]:
        vertices = self._vertices
        touched: list[_Vertex] = []
        for v in vertexes:
            if type(v) is not dict:
                continue
            get = v.get
            digest = get("digest")
            if type(digest) is not str:
                continue
            vx = vertices.get(digest)
            if vx is None:
                vx = vertices[digest] = _Vertex(digest)
            if vx.name is None:
                name = get("name")
                if type(name) is str:
                    vx.name = name
                    vx.kind = parse_vertex_name(name).kind
                inputs = get("inputs")
                if type(inputs) is list:
                    vx.inputs = tuple(i for i in inputs if type(i) is str)
            started = get("started")
            if type(started) is str:
                if started != vx.started:
                    vx.started = started
                    vx.started_ns = rfc3339_ns(started)
                    if vx.first_started is None:
                        vx.first_started, vx.first_started_ns = started, vx.started_ns
            else:
                started = None
            completed = get("completed")
            if type(completed) is not str:
                completed = None
            elif started is not None and completed != vx.completed:
                start_ns, end_ns = vx.started_ns, rfc3339_ns(completed)
                if start_ns is not None and end_ns is not None and end_ns >= start_ns:
                    span = (start_ns, end_ns)
                    if not vx.intervals or vx.intervals[-1] != span:
                        vx.intervals.append(span)
                    if vx.last_completed_ns is None or end_ns >= vx.last_completed_ns:
                        vx.last_completed, vx.last_completed_ns = completed, end_ns
            vx.completed = completed
            vx.cached = get("cached") is True
            error = get("error")
            vx.error = error if type(error) is str and error else None
            if not vx.touched:
                vx.touched = True
                touched.append(vx)
        # the vertices that reached an end state (a status or a log later on the line may still show one)
        ending: list[_Vertex] = []
        for vx in touched:
            vx.touched = False
            if not vx.number and vx.name is not None and (vx.started or vx.completed or vx.cached or vx.error):
                self._show(vx, number, build, ci, out)
            if ((vx.cached and not vx.cached_seen) or (vx.error is not None and vx.error != vx.error_seen)
                    or (vx.completed is not None and vx.completed != vx.completed_seen)):
                ending.append(vx)
        return ending

    def _shown_vertex(self, digest: Any, number: int, build: int, ci: ev.CIPrefix | None,
                      out: list[ev.Event]) -> _Vertex | None:
        if type(digest) is not str:
            return None
        vx = self._vertices.get(digest)
        if vx is None:
            vx = self._vertices[digest] = _Vertex(digest)
        if not vx.number:
            self._show(vx, number, build, ci, out)
        return vx

    def _statuses(self, statuses: Sequence[Any], number: int, build: int, ci: ev.CIPrefix | None,
                  out: list[ev.Event]) -> None:
        vertices = self._vertices
        for s in statuses:
            if type(s) is not dict:
                continue
            get = s.get
            status_id = get("id")
            digest = get("vertex")
            if type(status_id) is not str or type(digest) is not str:
                continue
            vx = vertices.get(digest)
            if vx is None or not vx.number:
                vx = self._shown_vertex(digest, number, build, ci, out)
                assert vx is not None
            completed = get("completed")
            seen = vx.statuses.get(status_id)
            seconds = None
            if type(completed) is str:
                if seen:
                    continue  # shown done already
                vx.statuses[status_id] = done = True
                started = get("started")
                if type(started) is str and started:
                    a = rfc3339_ns(started)
                    if a is not None:
                        b = rfc3339_ns(completed)
                        if b is not None:
                            seconds = (b - a) / 1e9
            elif seen is not None:
                continue  # shown already: the same status again, with a new size or time
            else:
                vx.statuses[status_id] = done = False
                if status_class(vx.kind, status_id) in DONE_ONLY:
                    continue
            current = get("current")
            total = get("total")
            out.append(make_status(number, "", build, ci, vx.number, vx.kind, status_id,
                                   current if type(current) is int else None, total if type(total) is int else None,
                                   seconds, done))

    def _logs(self, logs: Sequence[Any], number: int, build: int, ci: ev.CIPrefix | None, out: list[ev.Event]) -> None:
        for entry in logs:
            if type(entry) is not dict:
                continue
            data = entry.get("data")
            if type(data) is not str:
                continue
            vx = self._shown_vertex(entry.get("vertex"), number, build, ci, out)
            if vx is None:
                continue
            try:
                text = _b64decode(data).decode("utf-8", "surrogateescape")
            except (binascii.Error, ValueError):
                continue
            elapsed = None
            timestamp = entry.get("timestamp")
            if type(timestamp) is str and vx.started_ns is not None:
                at = rfc3339_ns(timestamp)
                if at is not None:
                    elapsed = (at - vx.started_ns) / 1e9
            self._output(vx, text, elapsed, number, build, ci, out)

    def _output(self, vx: _Vertex, text: str, elapsed: float | None, number: int, build: int,
                ci: ev.CIPrefix | None, out: list[ev.Event]) -> None:
        n = vx.number
        partial = vx.partial
        if partial is not None:
            text = partial + text
            elapsed = vx.partial_elapsed
            vx.partial = None
        lines = text.split("\n")
        rest = lines.pop()
        for line in lines:
            out.append(_output_event(n, line, elapsed, False, number, build, ci))
        if rest:
            if len(rest) > self._max_line:
                out.append(_output_event(n, rest, elapsed, True, number, build, ci))
            else:
                vx.partial, vx.partial_elapsed = rest, elapsed

    def _flush_partial(self, vx: _Vertex, number: int, build: int, ci: ev.CIPrefix | None,
                       out: list[ev.Event]) -> None:
        if vx.partial is not None:
            out.append(_output_event(vx.number, vx.partial, vx.partial_elapsed, False, number, build, ci))
            vx.partial = None

    def _warnings(self, warnings: Sequence[Any], number: int, build: int, ci: ev.CIPrefix | None,
                  out: list[ev.Event]) -> None:
        for w in warnings:
            if type(w) is not dict:
                continue
            vx = self._shown_vertex(w.get("vertex"), number, build, ci, out)
            short = w.get("short")
            if vx is None or type(short) is not str:
                continue
            try:
                text = _b64decode(short).decode("utf-8", "surrogateescape").rstrip("\n")
            except (binascii.Error, ValueError):
                continue
            check = BUILD_CHECK.fullmatch(text)
            if check is not None:
                line_no = check["line"]
                out.append(ev.VertexWarning(line=number, end_line=number, raw="", build=build, ci=ci,
                                            vertex=vx.number, text=text, rule=check["rule"],
                                            message=check["message"], source_line=int(line_no) if line_no else None))
            else:
                out.append(ev.VertexWarning(line=number, end_line=number, raw="", build=build, ci=ci,
                                            vertex=vx.number, text=text))

    def _ends(self, vx: _Vertex, number: int, build: int, ci: ev.CIPrefix | None, out: list[ev.Event]) -> None:
        n = vx.number
        ended = False
        if vx.cached and not vx.cached_seen:
            vx.cached_seen = ended = True
            out.append(_CACHED(number, number, "", build, ci, n))
        if vx.error is not None and vx.error != vx.error_seen:
            vx.error_seen = vx.error
            ended = True
            self._flush_partial(vx, number, build, ci, out)
            out.append(error_event(n, vx.name or "", vx.error, line=number, end_line=number, raw="", build=build,
                                   ci=ci))
        elif vx.completed is not None and vx.completed != vx.completed_seen and not vx.cached:
            # A vertex often completes and runs again at once (a cached step pulling its layers, an exporter):
            # its DONE waits for the next line, which drops it if the vertex runs again, as the plain printer,
            # which prints at most every 100 ms, never shows those short-lived completions.
            if not self._pending:
                self._pending_at = (number, build, ci)
            self._pending.append(vx)
        if vx.completed is not None:
            vx.completed_seen = vx.completed
        if ended:
            self._timing(vx, _merged_ns(vx.intervals) / 1e9, number, build, ci, out)

    def _timing(self, vx: _Vertex, seconds: float, number: int, build: int, ci: ev.CIPrefix | None,
                out: list[ev.Event]) -> None:
        if vx.first_started is not None and vx.last_completed is not None:
            out.append(_TIMING(number, number, "", build, ci, vx.number, vx.first_started, vx.last_completed,
                               seconds))

    def _settle(self, vertexes: Sequence[Any]) -> list[ev.Event]:
        """The DONE of the vertices that completed on the previous line, unless this line runs them again."""
        pending, self._pending = self._pending, []
        out: list[ev.Event] = []
        if not pending:
            return out
        sent: dict[str, dict[str, Any]] = {}  # digest -> its last state on this line
        for v in vertexes:
            if type(v) is dict:
                digest = v.get("digest")
                if type(digest) is str:
                    sent[digest] = v
        number, build, ci = self._pending_at
        for vx in pending:
            state = sent.get(vx.digest)
            if state is not None and (state.get("completed") is None or state.get("started") != vx.started):
                continue  # it runs again
            if vx.partial is not None:
                self._flush_partial(vx, number, build, ci, out)
            seconds = _merged_ns(vx.intervals) / 1e9
            out.append(_DONE(number, number, "", build, ci, vx.number, seconds))
            self._timing(vx, seconds, number, build, ci, out)
        return out


# The events built on most lines, made from their fields in ``attrs.fields`` order (see ``events.builders``); the
# builders are made when the first rawjson line comes, not by every ``import buildlog``.
_SOLVE_STATUS: Callable[..., ev.SolveStatusLine]
_INPUTS: Callable[..., ev.VertexInputs]
_CACHED: Callable[..., ev.VertexCached]
_DONE: Callable[..., ev.VertexDone]
_TIMING: Callable[..., ev.VertexTiming]
_OUTPUT: Callable[..., ev.StepOutput]
_SOLVE_STATUS, _INPUTS, _CACHED, _DONE, _TIMING, _OUTPUT = ev.builders_on_first_use(
    globals(), _SOLVE_STATUS=ev.SolveStatusLine, _INPUTS=ev.VertexInputs, _CACHED=ev.VertexCached,
    _DONE=ev.VertexDone, _TIMING=ev.VertexTiming, _OUTPUT=ev.StepOutput)
_NONE: tuple[()] = ()


def _output_event(n: int, text: str, elapsed: float | None, truncated: bool, number: int, build: int,
                  ci: ev.CIPrefix | None) -> ev.StepOutput:
    if text.startswith("[output clipped"):
        clipped = CLIPPED.fullmatch(text)
        if clipped is not None:
            return ev.OutputClipped(line=number, end_line=number, raw="", build=build, ci=ci, vertex=n,
                                    elapsed=elapsed, text=text, limit=clipped["limit"])
    return _OUTPUT(number, number, "", build, ci, n, elapsed, text, truncated, elapsed)
