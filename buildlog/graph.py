"""The build graph from events: exact step times, the first cache miss, the critical path.

Pure functions over a log's events, for one build (by default the last one with vertices). rawjson gives the
graph's edges (``VertexInputs``) and exact times (``VertexTiming``); with other formats the times are the ones the
text shows (tenths of a second, none for the legacy builder) and the first miss is inferred from step numbers.

* ``step_times``: each vertex's run time, overlapping runs merged.
* ``first_cache_miss``: where the cache stopped helping: the first cacheable step that ran although every vertex it
  consumes was cached or needs no cache (internal loads, ``FROM``), in start order.
* ``critical_path``: the chain of vertices, input to consumer, with the largest sum of run times: what bounds the
  build's duration however much it runs in parallel.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from . import events as ev
from .rawjson import rfc3339_ns
from .vertex_names import parse_vertex_name


@attrs.frozen
class GraphVertex:
    """One vertex of a build as the events tell it."""

    vertex: int
    name: str
    kind: str  # VertexName.kind
    cacheable: bool  # a Dockerfile step other than FROM: the cache can answer it
    cached: bool
    ran: bool  # it ran (done or failed), not answered from cache only
    seconds: float | None  # run time; None when the text gives none
    exact: bool  # seconds come from rawjson timestamps
    started_ns: int | None = None  # epoch nanoseconds (rawjson)
    completed_ns: int | None = None
    digest: str | None = None
    inputs: tuple[int, ...] = ()  # vertex numbers of its inputs that were shown
    input_digests: tuple[str, ...] = ()


@attrs.frozen
class CacheMiss:
    """The first cache miss: ``exact`` when read off the graph's edges (rawjson), else from step numbers."""

    vertex: GraphVertex
    exact: bool


@attrs.frozen
class CriticalPath:
    vertices: tuple[GraphVertex, ...]  # from the first input to the last consumer
    seconds: float  # sum of their run times
    exact: bool  # edges and times from rawjson


def _last_build(events: list[ev.Event]) -> int:
    return max((e.build for e in events if isinstance(e, ev.VertexHeader)), default=0)


def build_graph(events: Iterable[ev.Event], build: int | None = None) -> dict[int, GraphVertex]:
    """The vertices of ``build`` (default: the last build with vertices), by vertex number."""
    evs = list(events)
    if build is None:
        build = _last_build(evs)
    headers: dict[int, ev.VertexHeader] = {}
    cached: set[int] = set()
    ran: set[int] = set()
    done: dict[int, float | None] = {}
    timing: dict[int, ev.VertexTiming] = {}
    digests: dict[int, str] = {}
    inputs: dict[int, tuple[str, ...]] = {}
    for e in evs:
        if e.build != build or not isinstance(e, ev.VertexEvent):
            continue
        n = e.vertex
        if isinstance(e, ev.VertexHeader):
            headers.setdefault(n, e)
        elif isinstance(e, ev.VertexCached):
            cached.add(n)
        elif isinstance(e, ev.VertexDone):
            ran.add(n)
            done[n] = None if isinstance(e, ev.LegacyStepDone) else e.seconds
        elif isinstance(e, (ev.VertexError, ev.VertexCanceled)):
            ran.add(n)
        elif isinstance(e, ev.VertexTiming):
            timing[n] = e
        elif isinstance(e, ev.VertexInputs):
            digests[n] = e.digest
            inputs[n] = e.inputs
    by_digest = {d: n for n, d in digests.items()}
    out: dict[int, GraphVertex] = {}
    for n, header in sorted(headers.items()):
        info = header.info
        t = timing.get(n)
        seconds = t.seconds if t is not None else done.get(n)
        out[n] = GraphVertex(
            vertex=n, name=header.name, kind=info.kind,
            cacheable=info.kind == "step" and info.instruction != "FROM",
            cached=n in cached, ran=n in ran, seconds=seconds, exact=t is not None,
            started_ns=rfc3339_ns(t.started) if t is not None else None,
            completed_ns=rfc3339_ns(t.completed) if t is not None else None,
            digest=digests.get(n),
            inputs=tuple(by_digest[d] for d in inputs.get(n, ()) if d in by_digest),
            input_digests=inputs.get(n, ()),
        )
    return out


def step_times(events: Iterable[ev.Event], build: int | None = None) -> list[GraphVertex]:
    """Every vertex that ran, in vertex order, with its run time (``exact`` for rawjson)."""
    return [v for v in build_graph(events, build).values() if v.ran]


def first_cache_miss(events: Iterable[ev.Event], build: int | None = None) -> CacheMiss | None:
    """The first cacheable step that ran although all it consumes was cached or needs no cache.

    With edges (rawjson) the inputs are the vertex's own; without, a step's input is taken to be the step before
    it in its stage (``[stage I/N]``), which misses ``COPY --from`` and ``FROM other-stage``."""
    return first_cache_miss_in(build_graph(events, build))


def first_cache_miss_in(graph: dict[int, GraphVertex]) -> CacheMiss | None:
    """``first_cache_miss`` on a graph already built (the summary builds its own as it folds)."""
    with_edges = any(v.digest is not None for v in graph.values())
    misses = [v for v in graph.values() if v.cacheable and v.ran and not v.cached]
    if with_edges:
        roots = [v for v in misses if all(_satisfied(graph[i]) for i in v.inputs)]
        roots.sort(key=lambda v: (v.started_ns if v.started_ns is not None else 0, v.vertex))
        return CacheMiss(vertex=roots[0], exact=True) if roots else None
    steps: dict[tuple[str | None, str | None, int], GraphVertex] = {}
    infos = _step_keys(graph)
    for v in graph.values():
        key = infos.get(v.vertex)
        if key is not None:
            steps[key] = v
    for v in misses:
        key = infos.get(v.vertex)
        if key is None:
            continue
        before = steps.get((key[0], key[1], key[2] - 1))
        if before is None or _satisfied(before):
            return CacheMiss(vertex=v, exact=False)
    return None


def _satisfied(v: GraphVertex) -> bool:
    """Consumed without a miss of its own: cached, or nothing the cache answers."""
    return v.cached or not v.cacheable


def _step_keys(graph: dict[int, GraphVertex]) -> dict[int, tuple[str | None, str | None, int]]:
    """(target, stage, index) of each Dockerfile step."""
    keys: dict[int, tuple[str | None, str | None, int]] = {}
    for v in graph.values():
        info = parse_vertex_name(v.name)
        if info.kind == "step" and info.index is not None:
            keys[v.vertex] = (info.target, info.stage, info.index)
    return keys


def critical_path(events: Iterable[ev.Event], build: int | None = None) -> CriticalPath | None:
    """The input-to-consumer chain with the largest total run time (None without edges: rawjson only)."""
    return critical_path_in(build_graph(events, build))


def critical_path_in(graph: dict[int, GraphVertex]) -> CriticalPath | None:
    """``critical_path`` on a graph already built."""
    if not any(v.digest is not None for v in graph.values()):
        return None
    # inputs before consumers (depth-first, without recursion: a graph can be deep)
    order: list[int] = []
    state: dict[int, bool] = {}  # False while being visited, True once placed
    for root in graph:
        if root in state:
            continue
        state[root] = False
        stack = [(root, iter(graph[root].inputs))]
        while stack:
            n, pending = stack[-1]
            for i in pending:
                if i in graph and i not in state:
                    state[i] = False
                    stack.append((i, iter(graph[i].inputs)))
                    break
            else:
                stack.pop()
                state[n] = True
                order.append(n)
    best: dict[int, tuple[float, tuple[int, ...]]] = {}
    for n in order:
        v = graph[n]
        own = v.seconds or 0.0
        result: tuple[float, tuple[int, ...]] = (own, (n,))
        for i in v.inputs:
            before = best.get(i)  # missing only on a cycle, which only a damaged log has
            if before is not None and before[0] + own > result[0]:
                result = (before[0] + own, (*before[1], n))
        best[n] = result
    if not best:
        return None
    total, path = max(best.values(), key=lambda r: r[0])
    return CriticalPath(vertices=tuple(graph[n] for n in path), seconds=total,
                        exact=all(graph[n].exact for n in path))
