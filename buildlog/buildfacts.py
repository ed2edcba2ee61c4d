"""Facts about one build that the fleet view aggregates: each vertex as a record, the cost of the first cache miss,
the build-context upload, and an estimate of the wall time where the log gives no clock.

Pure functions over ``VertexRecord`` lists (the summary builds the records when a build ends), so that they can be
used and tested without the fold. Stage dependencies are read from the instructions themselves (``COPY --from=X``,
``RUN --mount=...,from=X``, ``FROM X``) where the log has no graph (plain, tty); with rawjson the graph's edges are
exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import attrs
import regex

# The stage names an instruction consumes. Stage names are case-insensitive in a Dockerfile.
_STAGE_REFERENCES = regex.compile(r"(?:^|\s)--from=(?P<stage>[^\s,]+)|[\s,]from=(?P<stage>[^\s,]+)")


@attrs.define(slots=True)
class VertexRecord:
    """One vertex of a build (``vertices`` in the summary JSON)."""

    vertex: int
    name: str
    key: str  # stepkey.step_key: the same step has the same key in every run
    kind: str
    target: str | None
    stage: str | None
    platform: str | None
    index: int | None
    instruction: str | None
    args: str | None
    status: str  # cached | ran | errored | canceled | unfinished
    seconds: float | None
    exit_code: int | None
    user: bool  # a user vertex in buildctl's sense (not internal, auth, cache import/export, image export, resolve)
    cacheable: bool  # a Dockerfile step other than FROM

    @property
    def ran(self) -> bool:
        """It ran (to its end or to its error): work the cache did not save."""
        return self.status in ("ran", "errored")

    def to_json(self) -> dict[str, Any]:
        return {"vertex": self.vertex, "name": self.name, "key": self.key, "kind": self.kind,
                "target": self.target, "stage": self.stage, "platform": self.platform, "index": self.index,
                "status": self.status,
                "seconds": self.seconds, "exit_code": self.exit_code, "user": self.user}


@attrs.define
class MissImpact:
    """What the first cache miss cost: the user steps that ran from it on, in its stage and in the stages that
    consume that stage, and their seconds. ``exact`` when taken from rawjson's graph, else estimated from the stage
    order and the stage references of the instructions."""

    steps: int
    seconds: float
    stages: list[str | None]
    exact: bool

    def to_json(self) -> dict[str, Any]:
        return {"steps": self.steps, "seconds": round(self.seconds, 6), "stages": list(self.stages),
                "exact": self.exact}


@attrs.define
class ContextUpload:
    """``transferring context: 1.03MB 0.5s done``, summed over the build's context vertices."""

    bytes: int
    seconds: float | None

    def to_json(self) -> dict[str, Any]:
        return {"bytes": self.bytes, "seconds": None if self.seconds is None else round(self.seconds, 6)}


_StageId = tuple[str | None, str | None, str | None]  # target, platform, stage (lower case)


def _stage_id(r: VertexRecord) -> _StageId:
    return (r.target, r.platform, r.stage.lower() if r.stage else None)


def referenced_stages(r: VertexRecord) -> list[str]:
    """The stages (lower case) a step consumes by name: ``COPY --from=builder``, ``RUN --mount=from=builder``,
    ``FROM builder``."""
    if not r.args:
        return []
    return list(_references(r.instruction, r.args))


@lru_cache(maxsize=4096)
def _references(instruction: str | None, args: str) -> tuple[str, ...]:
    # by text: the same steps come back in every build of a project, and every summary reads them twice
    # both shapes of reference hold "from=": most steps have none, and need no search
    found = [(m["stage"] or "").lower() for m in _STAGE_REFERENCES.finditer(args)] if "from=" in args else []
    if instruction == "FROM":
        found.append(args.split()[0].lower())
    return tuple(s for s in found if s)


Consumers = dict[_StageId, list[tuple[_StageId, int]]]


def stage_consumers(records: Sequence[VertexRecord]) -> Consumers:
    """For each stage: the (stage, step index) pairs that consume it by name, within the same target/platform.
    ``miss_impact_estimated`` and ``estimate_duration`` take it, so that a build's records are read once for both."""
    steps = [(r, _stage_id(r)) for r in records if r.kind == "step"]
    known = {sid for _r, sid in steps}
    out: Consumers = {}
    for r, sid in steps:
        if r.index is None or not r.args:
            continue
        for name in _references(r.instruction, r.args):
            source = (r.target, r.platform, name)
            if source in known and source != sid:
                out.setdefault(source, []).append((sid, r.index))
    return out


def miss_impact_estimated(records: Sequence[VertexRecord], miss_vertex: int,
                          consumers: Consumers | None = None) -> MissImpact | None:
    """From the stage order: the miss's own stage from its index on, then every stage that consumes an affected
    stage, from the consuming step on (``consumers``: ``stage_consumers(records)``, when already known)."""
    miss = None
    for r in records:
        if r.vertex == miss_vertex:
            miss = r  # the last, as a map of the records by number would keep
    if miss is None or miss.index is None:
        return None
    if consumers is None:
        consumers = stage_consumers(records)
    start: dict[_StageId, int] = {_stage_id(miss): miss.index}
    pending = [_stage_id(miss)]
    while pending:
        sid = pending.pop()
        for consumer, index in consumers.get(sid, ()):
            if index < start.get(consumer, 1 << 30):
                start[consumer] = index
                pending.append(consumer)
    hit = [r for r in records if r.kind == "step" and r.cacheable and r.ran and r.index is not None
           and r.index >= start.get(_stage_id(r), 1 << 30)]
    return _impact(hit, start, exact=False)


def miss_impact_exact(records: Sequence[VertexRecord], miss_vertex: int,
                      inputs: Mapping[int, Iterable[int]]) -> MissImpact | None:
    """From the graph: the miss and every vertex downstream of it (``inputs``: vertex -> the vertices it consumes)."""
    by_number = {r.vertex: r for r in records}
    if miss_vertex not in by_number:
        return None
    consumers: dict[int, list[int]] = {}
    for n, ins in inputs.items():
        for i in ins:
            consumers.setdefault(i, []).append(n)
    seen = {miss_vertex}
    pending = [miss_vertex]
    while pending:
        for c in consumers.get(pending.pop(), ()):
            if c not in seen:
                seen.add(c)
                pending.append(c)
    hit = [by_number[n] for n in sorted(seen) if n in by_number]
    hit = [r for r in hit if r.kind == "step" and r.cacheable and r.ran]
    return _impact(hit, {_stage_id(r): 0 for r in hit}, exact=True)


def _impact(hit: list[VertexRecord], stages: Mapping[_StageId, int], exact: bool) -> MissImpact:
    names: list[str | None] = []
    for sid in stages:
        if sid[2] not in names:
            names.append(sid[2])
    return MissImpact(steps=len(hit), seconds=sum(r.seconds or 0.0 for r in hit), stages=names, exact=exact)


def estimate_duration(records: Sequence[VertexRecord], consumers: Consumers | None = None) -> float | None:
    """Wall time from the DONE durations when the log has no clock: the longest preparation vertex (they run side
    by side), then the stages along their order (a stage starts when the stages it consumes have ended; its steps
    run one after the other), then the exports one after the other. An estimate: steps of independent stages that
    overlap are counted once, waits between them not at all. ``consumers``: ``stage_consumers(records)``, when
    already known."""
    # one pass: the preparation's longest time (as max() over them in order would find it), the exports' sum (in
    # the same order as sum() would add them), each stage's own time
    timed = False
    prepare: float | None = None
    export = 0.0
    own: dict[_StageId, float] = {}
    for r in records:
        kind = r.kind
        if kind == "step":
            sid = _stage_id(r)
            own[sid] = own.get(sid, 0.0) + (r.seconds or 0.0)
        if r.seconds is None:
            continue
        timed = True
        if kind in ("image-export", "cache-export"):
            export += r.seconds or 0.0
        elif kind != "step":
            seconds = r.seconds or 0.0
            if prepare is None or seconds > prepare:
                prepare = seconds
    if not timed:
        return None
    consumed: dict[_StageId, set[_StageId]] = {sid: set() for sid in own}
    for source, users in (stage_consumers(records) if consumers is None else consumers).items():
        for user, _index in users:
            consumed.setdefault(user, set()).add(source)
    finish: dict[_StageId, float] = {}

    def end(sid: _StageId) -> float:
        # iterative depth-first: stage chains can be long, and a reference cycle (a misread name) must not loop
        stack = [sid]
        visiting: set[_StageId] = set()
        while stack:
            s = stack[-1]
            if s in finish:
                stack.pop()
                continue
            todo = [d for d in consumed.get(s, ()) if d not in finish and d not in visiting]
            if todo and s not in visiting:
                visiting.add(s)
                stack.extend(todo)
                continue
            finish[s] = max((finish.get(d, 0.0) for d in consumed.get(s, ())), default=0.0) + own.get(s, 0.0)
            stack.pop()
        return finish[sid]

    stages = max((end(sid) for sid in own), default=0.0)
    return round((prepare if prepare is not None else 0.0) + stages + export, 6)
