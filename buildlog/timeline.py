"""When each vertex of a build ran: the timing that the pictures (trace, Mermaid gantt, waterfall, HTML report) share.

A fold over the event stream, like the summary: ``TimelineBuilder.feed`` takes events one at a time, ``result()``
gives a ``LogTimeline`` with one ``BuildTimeline`` per build. Memory is bounded by the vertices of one build (and
the last ``MAX_BUILDS_KEPT`` finished builds).

How exact the times are depends on what the log carries (``BuildTimeline.timing`` and ``basis`` say which):

* rawjson: ``VertexTiming`` gives each vertex's first start and last completion to the nanosecond, and its run time
  with overlapping runs merged. A vertex that completed several times gets one span per completion: the last run's
  length is what the merged run time grew by (exact when runs do not overlap, which is how BuildKit re-runs them).
* plain, tty, CI copies: reconstructed. The lines are in time order (the printer writes as things happen), so a
  clock is carried down the log: a vertex starts at the clock when its header is first printed; ``DONE 1.2s`` ends
  it 1.2 s after its start and moves the clock on; an output line's elapsed time (``#7 0.532 ...``), a status's own
  time, a tty frame's ``[+] Building 12.3s`` and a CI timestamp (GitHub, Buildkite) each say the clock is at least
  that far. What this cannot tell: time spent between vertices, the order of vertices printed in the same 100 ms,
  anything under a tenth of a second (``DONE 0.0s``), and when a vertex really started if the printer showed it late.
* legacy builder: no times at all; every span is empty and ``timing`` is ``none``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

import attrs

from . import events as ev
from .rawjson import rfc3339_ns
from .timestamps import to_epoch

MAX_BUILDS_KEPT = 100

# The vertex's kind as a trace category: what a person filters by.
CATEGORY = {"step": "step", "internal": "internal", "auth": "auth", "cache-import": "cache-import",
            "cache-export": "cache-export", "image-export": "export", "resolve": "resolve", "frontend": "frontend"}

# Which clue gave the reconstructed times (BuildTimeline.basis), in the words the trace's metadata uses.
BASIS_EXACT = "rawjson VertexTiming (exact)"
BASIS_DONE = "DONE durations"
BASIS_OUTPUT = "output elapsed times"
BASIS_ORDER = "line order"
BASIS_TTY = "tty frame clock"
BASIS_CI = "CI timestamps"


@attrs.frozen
class Span:
    """One run of a vertex, in seconds since its build started."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@attrs.define
class VertexTimeline:
    vertex: int
    name: str
    info: ev.VertexName
    status: str = "unfinished"  # ran | cached | errored | canceled | unfinished
    spans: list[Span] = attrs.Factory(list)
    cached_at: float | None = None
    exit_code: int | None = None
    error: str | None = None  # first line of the error
    exact: bool = False
    digest: str | None = None
    inputs: tuple[str, ...] = ()

    @property
    def start(self) -> float | None:
        return self.spans[0].start if self.spans else self.cached_at

    @property
    def end(self) -> float | None:
        return self.spans[-1].end if self.spans else self.cached_at

    @property
    def seconds(self) -> float:
        """Time it ran (its spans added up)."""
        return sum(s.seconds for s in self.spans)

    @property
    def category(self) -> str:
        return CATEGORY.get(self.info.kind, "other")


@attrs.frozen
class Marker:
    """Something that happened at a point (or over a span) that is not a vertex run: a push, a cache import's
    answer, a cache export's result."""

    kind: str  # push | cache-import | cache-export
    name: str
    at: float
    end: float | None = None
    vertex: int | None = None
    args: dict[str, Any] = attrs.Factory(dict)


@attrs.define
class BuildTimeline:
    index: int
    format: str
    timing: str  # exact | reconstructed | none
    basis: list[str]
    offset: float  # where the build starts on the log's clock (seconds)
    duration: float
    vertices: list[VertexTimeline]
    markers: list[Marker]
    started_at: str | None = None  # wall clock of the start, when the log tells it (rawjson, CI timestamps)

    def vertex(self, number: int) -> VertexTimeline | None:
        for v in self.vertices:
            if v.vertex == number:
                return v
        return None

    def critical_path(self) -> tuple[list[int], str]:
        """The vertices that bounded the build's duration, first to last, and how they were found: ``graph``
        (rawjson: the input-to-consumer chain with the most run time) or ``timing`` (the vertex that ended last,
        the one that ended last before it started, and so on back: what kept the build busy)."""
        if any(v.digest for v in self.vertices):
            from .graph import GraphVertex, critical_path_in

            by_digest = {v.digest: v.vertex for v in self.vertices if v.digest}
            graph = {v.vertex: GraphVertex(
                vertex=v.vertex, name=v.name, kind=v.info.kind, cacheable=False, cached=v.status == "cached",
                ran=bool(v.spans), seconds=v.seconds, exact=v.exact, digest=v.digest,
                inputs=tuple(by_digest[d] for d in v.inputs if d in by_digest)) for v in self.vertices}
            path = critical_path_in(graph)
            return ([g.vertex for g in path.vertices if g.ran] if path is not None else []), "graph"
        ran = [v for v in self.vertices if v.spans and v.seconds > 0]
        chain: list[int] = []
        if not ran:
            return chain, "timing"
        tolerance = 0.05  # plain times are tenths: a span that ends this close to another's start fed it
        current = max(ran, key=lambda v: (v.spans[-1].end, v.seconds))
        while True:
            chain.append(current.vertex)
            start = current.spans[0].start
            before = [v for v in ran if v.vertex not in chain and v.spans[-1].end <= start + tolerance
                      and v.spans[-1].end < current.spans[-1].end]
            if not before:
                break
            current = max(before, key=lambda v: (v.spans[-1].end, v.seconds))
        chain.reverse()
        return chain, "timing"


@attrs.define
class LogTimeline:
    builds: list[BuildTimeline]

    @property
    def last(self) -> BuildTimeline | None:
        return self.builds[-1] if self.builds else None


# ---------------------------------------------------------------------------------------------------------------


class _Run:
    """A vertex being folded."""

    __slots__ = ("cached_at", "concurrent", "done_seconds", "exact_runs", "first_line", "open_start", "run_start",
                 "start_ns", "timing_seconds", "tl")

    def __init__(self, tl: VertexTimeline, clock: float, line: int) -> None:
        self.tl = tl
        self.run_start = clock  # where the current run started
        self.open_start: float | None = clock  # a run is going on (None after DONE until the vertex shows again)
        self.first_line = line
        self.done_seconds = 0.0  # the last DONE's seconds (plain's DONE is the merged run time so far)
        self.cached_at: float | None = None
        self.exact_runs: list[tuple[int, int]] = []  # rawjson: (start ns, end ns)
        self.timing_seconds = 0.0
        self.start_ns: int | None = None  # rawjson, until its exact times come: the latest time seen when shown
        # shown while another vertex was running: the printer may have held its header and output back
        self.concurrent = False


class _BuildFold:
    def __init__(self, index: int) -> None:
        self.index = index
        self.format = "plain"
        self.clock = 0.0  # reconstructed seconds since the build started
        self.basis: set[str] = {BASIS_ORDER}
        self.runs: dict[int, _Run] = {}
        # with the exact time (rawjson) then known: None for the end of its vertex, else the latest time seen
        self.markers: list[tuple[Marker, int | None]] = []
        self.origin_ns: int | None = None  # rawjson: earliest start
        self.latest_ns: int | None = None
        self.ci_origin: float | None = None
        self.ci_started: str | None = None
        self.push: tuple[str, float] | None = None  # docker push under way: (repository, clock)

    # -- the clock ---------------------------------------------------------------------------------------------

    def _at_least(self, t: float, basis: str) -> None:
        if t > self.clock:
            self.clock = t
            self.basis.add(basis)

    def _ns(self, value: str) -> int | None:
        ns = rfc3339_ns(value)
        if ns is not None and (self.origin_ns is None or ns < self.origin_ns):
            self.origin_ns = ns
        if ns is not None and (self.latest_ns is None or ns > self.latest_ns):
            self.latest_ns = ns
        return ns

    # -- folding -----------------------------------------------------------------------------------------------

    def add(self, e: ev.Event) -> None:
        ci = e.ci
        if ci is not None and ci.timestamp is not None:
            epoch = to_epoch(ci.timestamp)
            if epoch is not None:
                if self.ci_origin is None:
                    self.ci_origin, self.ci_started = epoch, ci.timestamp
                self._at_least(epoch - self.ci_origin, BASIS_CI)
        if isinstance(e, ev.VertexEvent):
            self._vertex_event(e)
        elif isinstance(e, ev.FormatDetected):
            self.format = e.format
        elif isinstance(e, ev.TtyFrame):
            self._at_least(e.seconds, BASIS_TTY)
        elif isinstance(e, ev.PushStarted):
            self.push = (e.repository, self.clock)
        elif isinstance(e, ev.PushDigest):
            start = self.push[1] if self.push is not None else self.clock
            self.markers.append((Marker("push", f"push {e.ref}:{e.tag}", start, self.clock,
                                        args={"ref": e.ref, "tag": e.tag, "digest": e.digest, "size": e.size}),
                                 self.latest_ns))

    def _vertex_event(self, e: ev.VertexEvent) -> None:
        run = self.runs.get(e.vertex)
        if isinstance(e, ev.VertexHeader):
            if run is None:
                run = self.runs[e.vertex] = _Run(VertexTimeline(e.vertex, e.name, e.info), self.clock, e.line)
                run.start_ns = self.latest_ns
            elif run.open_start is None and run.tl.status not in ("errored", "canceled"):
                run.open_start = run.run_start = self.clock  # shown again after DONE/CACHED: it runs again
            else:
                return
            run.concurrent = any(r.open_start is not None for n, r in self.runs.items() if n != e.vertex)
            return
        if run is None:  # a vertex line whose header the log lost (cut at the start)
            run = self.runs[e.vertex] = _Run(VertexTimeline(e.vertex, f"#{e.vertex}", ev.VertexName(kind="other")),
                                             self.clock, e.line)
        tl = run.tl
        if isinstance(e, ev.StepOutput):
            elapsed = _output_elapsed(e)
            if elapsed is not None and not tl.exact and not run.concurrent:
                self._at_least(run.run_start + elapsed, BASIS_OUTPUT)
        elif isinstance(e, ev.VertexTiming):
            self._timing(run, e)
        elif isinstance(e, ev.VertexInputs):
            tl.digest, tl.inputs = e.digest, e.inputs
        elif isinstance(e, ev.VertexCached):
            run.cached_at = self.clock
            tl.cached_at = self.clock
            run.open_start = None
            if tl.status == "unfinished":
                tl.status = "cached"
        elif isinstance(e, ev.VertexDone):
            self._done(run, e)
        elif isinstance(e, ev.VertexError):
            if tl.error is None:
                tl.error = e.message.split("\n", 1)[0]
                tl.exit_code = e.exit_code
            tl.status = "errored"
            self._close(run, e)
            if isinstance(e, ev.CacheImportFailed):
                self.markers.append((Marker("cache-import", "cache import: " + (
                    "not found" if e.not_found else "failed"), self.clock, vertex=e.vertex,
                    args={"ref": e.ref, "found": False}), None))
            elif isinstance(e, ev.CacheExportFailed):
                self.markers.append((Marker("cache-export", "cache export failed", self.clock, vertex=e.vertex,
                                            args={"error": tl.error}), None))
        elif isinstance(e, ev.VertexCanceled):
            if tl.status != "errored":
                tl.status = "canceled"
            self._close(run, e)
        elif isinstance(e, ev.VertexStatus):
            if e.seconds is not None and e.done and not tl.exact and run.open_start is not None and not run.concurrent:
                self._at_least(run.run_start + e.seconds, BASIS_DONE)
            marker = None
            if isinstance(e, ev.ManifestPushed) and e.done:
                marker = Marker("push", f"pushed {e.ref}", self.clock, vertex=e.vertex,
                                args={"ref": e.ref, "digest": e.digest})
            elif isinstance(e, ev.CacheManifestFound):
                marker = Marker("cache-import", "cache import: manifest found", self.clock, vertex=e.vertex,
                                args={"media_type": e.media_type, "found": True})
            elif isinstance(e, ev.CacheManifestWritten) and e.done:
                marker = Marker("cache-export", "cache exported", self.clock, vertex=e.vertex,
                                args={"digest": e.digest})
            if marker is not None:
                self.markers.append((marker, self.latest_ns))

    def _done(self, run: _Run, e: ev.VertexDone) -> None:
        tl = run.tl
        if isinstance(e, ev.LegacyStepDone):
            tl.spans.append(Span(self.clock, self.clock))  # the legacy builder prints no times
            run.open_start = None
            if tl.status in ("unfinished", "cached"):
                tl.status = "ran" if run.cached_at is None else tl.status
            return
        if tl.status == "unfinished":
            tl.status = "ran"
        if tl.exact or self.format == "rawjson":
            run.open_start = None
            return  # VertexTiming follows (or came) with the exact times
        own = max(0.0, e.seconds - run.done_seconds)  # DONE is the merged run time so far: this run's share
        run.done_seconds = max(run.done_seconds, e.seconds)
        start = run.run_start if run.open_start is not None else self.clock
        if (e.line == run.first_line and not tl.spans) or run.concurrent:
            # First seen already done (a tty row drawn finished), or shown while others ran: the printer may have
            # shown it late (Docker 20.10 holds a vertex's lines back while it shows another), but it prints DONE
            # when it happens, so the vertex ended now and started its run time ago (not after it was shown).
            start = min(start, max(0.0, self.clock - own))
        if tl.spans:
            start = max(start, tl.spans[-1].end)  # a run again: after the one before
        self.basis.add(BASIS_DONE)
        end = start + own
        tl.spans.append(Span(start, end))
        self._at_least(end, BASIS_DONE)
        run.open_start = None

    def _close(self, run: _Run, e: ev.Event) -> None:
        """An error or cancel ends the run that was going on, now."""
        if run.tl.exact or run.open_start is None or self.format == "rawjson":
            run.open_start = None
            return
        run.tl.spans.append(Span(run.run_start, max(run.run_start, self.clock)))
        run.open_start = None

    def _timing(self, run: _Run, e: ev.VertexTiming) -> None:
        tl = run.tl
        start, end = self._ns(e.started), self._ns(e.completed)
        if start is None or end is None or end < start:
            return
        first_exact = not tl.exact
        tl.exact = True
        if first_exact:
            tl.spans.clear()  # anything the clock guessed before the exact times came
            run.exact_runs = [(start, end)]
        else:
            grew = max(0.0, e.seconds - run.timing_seconds)
            last_end = run.exact_runs[-1][1]
            if end > last_end:
                run.exact_runs.append((max(last_end, end - int(grew * 1e9)), end))
        run.timing_seconds = e.seconds
        run.open_start = None
        self.format = "rawjson"
        self.basis = {BASIS_EXACT}

    # -- the result --------------------------------------------------------------------------------------------

    def result(self) -> BuildTimeline:
        exact = self.origin_ns is not None
        vertices: list[VertexTimeline] = []
        end = self.clock
        if exact:
            assert self.origin_ns is not None and self.latest_ns is not None
            end = (self.latest_ns - self.origin_ns) / 1e9
        for run in self.runs.values():
            tl = run.tl
            if exact and run.exact_runs:
                assert self.origin_ns is not None
                origin = self.origin_ns
                spans = [Span((a - origin) / 1e9, (b - origin) / 1e9) for a, b in run.exact_runs]
                if tl.status == "cached" and tl.cached_at is not None:
                    tl.cached_at = spans[0].start
                    if all(s.seconds == 0 for s in spans):
                        spans = []  # cached and never ran: only the instant
                tl = attrs.evolve(tl, spans=spans)
            elif exact and tl.status == "unfinished":
                # a rawjson build cut short: from when it was shown to the end of the log
                assert self.origin_ns is not None
                start = (run.start_ns - self.origin_ns) / 1e9 if run.start_ns is not None else 0.0
                tl = attrs.evolve(tl, spans=[Span(max(0.0, start), max(start, end))])
            elif run.open_start is not None and not exact:
                # still running when the log ended (or shown again after CACHED to pull its layers, no DONE since)
                tl = attrs.evolve(tl, spans=[*tl.spans, Span(run.run_start, max(run.run_start, end))])
            vertices.append(tl)
            if tl.end is not None:
                end = max(end, tl.end)
        if exact:
            timing, basis = "exact", [BASIS_EXACT]
            if any(not v.exact and v.spans for v in vertices):
                timing = "reconstructed"  # a rawjson build cut short: its unfinished vertices are guesses
                basis.append(BASIS_ORDER)
            started_at: str | None = _ns_to_rfc3339(self.origin_ns) if self.origin_ns is not None else None
        elif self.format == "legacy":
            timing, basis, started_at = "none", [], self.ci_started
        else:
            timing = "reconstructed"
            basis = [b for b in (BASIS_DONE, BASIS_OUTPUT, BASIS_TTY, BASIS_CI, BASIS_ORDER) if b in self.basis]
            started_at = self.ci_started
        vertices.sort(key=lambda v: v.vertex)
        return BuildTimeline(index=self.index, format=self.format, timing=timing, basis=basis, offset=0.0,
                             duration=max(0.0, end), vertices=vertices, markers=self._markers(vertices, exact),
                             started_at=started_at)

    def _markers(self, vertices: list[VertexTimeline], exact: bool) -> list[Marker]:
        if not exact:
            return [m for m, _ns in self.markers]
        assert self.origin_ns is not None
        by_number = {v.vertex: v for v in vertices}
        out = []
        for m, ns in self.markers:
            v = by_number.get(m.vertex) if m.vertex is not None else None
            at = (ns - self.origin_ns) / 1e9 if ns is not None else None
            if v is not None and v.start is not None and v.end is not None:
                # within its vertex: at its end when only that is known (an error), else the latest time seen
                at = v.end if at is None else min(max(at, v.start), v.end)
            out.append(attrs.evolve(m, at=max(0.0, at if at is not None else 0.0), end=None))
        return out


def _output_elapsed(e: ev.StepOutput) -> float | None:
    """The latest elapsed time an output event gives: its last line's (a run of lines ends there)."""
    return e.last_elapsed if e.last_elapsed is not None else e.elapsed


def _ns_to_rfc3339(ns: int) -> str:
    from datetime import datetime, timezone

    seconds, nanos = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


class TimelineBuilder:
    """Feed events (``feed``); ``result()`` gives the timeline of every build so far."""

    def __init__(self) -> None:
        self._fold: _BuildFold | None = None
        self._done: deque[BuildTimeline] = deque(maxlen=MAX_BUILDS_KEPT)

    def feed(self, event: ev.Event) -> None:
        b = event.build
        fold = self._fold
        if fold is None or b != fold.index:
            if b == 0:
                return  # text before the first build
            if fold is not None:
                self._done.append(fold.result())
            fold = self._fold = _BuildFold(b)
        fold.add(event)

    def result(self) -> LogTimeline:
        builds = list(self._done)
        if self._fold is not None:
            builds.append(self._fold.result())
        builds = builds[-MAX_BUILDS_KEPT:]
        _place(builds)
        return LogTimeline(builds)


def _place(builds: list[BuildTimeline]) -> None:
    """Put the builds of one log on one clock: by their wall-clock start where every build has one, else one
    after the other."""
    origins = [to_epoch(b.started_at) if b.started_at else None for b in builds]
    if builds and all(o is not None for o in origins):
        first = min(o for o in origins if o is not None)
        for b, o in zip(builds, origins, strict=True):
            assert o is not None
            b.offset = round(o - first, 9)
        return
    t = 0.0
    for b in builds:
        b.offset = t
        t += b.duration


def timeline_of(events: Iterable[ev.Event]) -> LogTimeline:
    builder = TimelineBuilder()
    for e in events:
        builder.feed(e)
    return builder.result()


def summarize_with_timeline(events: Iterable[ev.Event], rules: Any = None) -> tuple[Any, LogTimeline]:
    """One pass over the events: the ``LogSummary`` and the ``LogTimeline`` (what every picture needs)."""
    from .summary import Summarizer

    summarizer = Summarizer(rules)
    builder = TimelineBuilder()
    for e in events:
        summarizer.feed(e)
        builder.feed(e)
    return summarizer.close(), builder.result()


def pick_steps(build: BuildTimeline, limit: int, keep: Iterable[int] = ()) -> tuple[list[VertexTimeline], int]:
    """The vertices a picture shows: those in ``keep`` (the failed one), then the ``limit`` that ran longest, then
    cached Dockerfile steps while there is room; in start order. Also how many were left out."""
    keep_set = set(keep)
    shown = [v for v in build.vertices if v.spans or v.cached_at is not None]
    kept = [v for v in shown if v.vertex in keep_set]
    ran = sorted((v for v in shown if v.spans and v.vertex not in keep_set), key=lambda v: (-v.seconds, v.vertex))
    cached = [v for v in shown if not v.spans and v.vertex not in keep_set and v.info.kind == "step"]
    chosen = kept + (ran + cached)[:max(0, limit)]
    chosen.sort(key=lambda v: (v.start if v.start is not None else 0.0, v.vertex))
    return chosen, len(shown) - len(chosen)


def failed_vertex(build: BuildTimeline, step: str | None) -> int | None:
    """The errored vertex named ``step`` (the summary's failed step), if the timeline has it."""
    if step is None:
        return None
    return next((v.vertex for v in build.vertices if v.name == step and v.status == "errored"), None)
