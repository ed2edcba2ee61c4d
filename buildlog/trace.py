"""A build log as a Chrome Trace Event Format file, which Perfetto (ui.perfetto.dev) and ``chrome://tracing`` open.

* each build of the log is a process (``pid`` = the build's number), named with its outcome and how exact its times
  are; each vertex is a thread (``tid`` = its number) named after it;
* each span a vertex ran is a complete event (``ph: "X"``); a cached vertex is an instant event; the failed vertex
  gets an instant event with its error, and ``failed: true`` in its args;
* pushes and the answers of cache imports and exports are events of their own, on the build's ``exports & cache``
  track; the build itself is a span on its ``build`` track that covers every vertex;
* names carry the step, ``args`` the vertex's fields (status, cached, exit code, first cache miss, critical path).

Times are microseconds from the start of the log's first build. ``otherData`` says, for each build, whether they
are exact (rawjson) or reconstructed, and from what (docs/trace.md).
"""

from __future__ import annotations

from typing import Any

from .summary import BuildSummary, LogSummary
from .timeline import BuildTimeline, LogTimeline, VertexTimeline

BUILD_TID = 0  # the build's own span
EXPORTS_TID = 1_000_000  # pushes, cache import/export answers: after every vertex
MICRO = 1_000_000


def _us(seconds: float) -> float:
    return round(seconds * MICRO, 3)  # nanoseconds are the finest a log gives


def _vertex_args(v: VertexTimeline, failed: bool, first_miss: bool, critical: bool) -> dict[str, Any]:
    info = v.info
    args: dict[str, Any] = {"vertex": v.vertex, "name": v.name, "status": v.status, "kind": info.kind,
                            "cached": v.status == "cached" or v.cached_at is not None,
                            "seconds": round(v.seconds, 9), "exact": v.exact}
    for key in ("stage", "index", "total", "instruction", "target", "platform"):
        value = getattr(info, key)
        if value is not None:
            args[key] = value
    if v.exit_code is not None:
        args["exit_code"] = v.exit_code
    if v.error is not None:
        args["error"] = v.error
    if failed:
        args["failed"] = True
    if first_miss:
        args["first_cache_miss"] = True
    if critical:
        args["critical_path"] = True
    return args


def _describe(b: BuildTimeline) -> str:
    if b.timing == "exact":
        return "exact: rawjson VertexTiming (nanoseconds)"
    if b.timing == "none":
        return "none: the legacy builder prints no times; spans are empty and only their order means something"
    return "reconstructed from " + ", ".join(b.basis) + " (tenths of a second; see docs/trace.md)"


def _build_events(b: BuildTimeline, s: BuildSummary | None) -> list[dict[str, Any]]:
    pid = b.index
    base = b.offset
    outcome = s.outcome if s is not None else "unknown"
    failed_step = s.failure.step if s is not None and s.failure is not None else None
    first_miss = s.first_miss.vertex if s is not None and s.first_miss is not None else None
    critical, _how = b.critical_path()
    on_path = set(critical)
    failed_vertex = None
    if failed_step is not None:
        failed_vertex = next((v.vertex for v in b.vertices if v.name == failed_step and v.status == "errored"), None)
    out: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": pid, "tid": BUILD_TID,
         "args": {"name": f"build {b.index} ({b.format}): {outcome}"}},
        {"name": "process_labels", "ph": "M", "pid": pid, "tid": BUILD_TID,
         "args": {"labels": f"timing {_describe(b)}"}},
        {"name": "process_sort_index", "ph": "M", "pid": pid, "tid": BUILD_TID, "args": {"sort_index": pid}},
        {"name": "thread_name", "ph": "M", "pid": pid, "tid": BUILD_TID, "args": {"name": "build"}},
        {"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": BUILD_TID, "args": {"sort_index": -1}},
        {"name": f"build {b.index}: {outcome}", "cat": "build", "ph": "X", "pid": pid, "tid": BUILD_TID,
         "ts": _us(base), "dur": _us(b.duration),
         "args": {"build": b.index, "format": b.format, "outcome": outcome, "timing": b.timing,
                  "timing_basis": list(b.basis), "started_at": b.started_at,
                  "failure_class": s.failure.failure_class if s is not None and s.failure is not None else None,
                  "critical_path": critical}},
    ]
    for v in b.vertices:
        args = _vertex_args(v, v.vertex == failed_vertex, v.vertex == first_miss, v.vertex in on_path)
        out.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": v.vertex, "args": {"name": v.name}})
        out.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": v.vertex,
                    "args": {"sort_index": v.vertex}})
        for i, span in enumerate(v.spans):
            event: dict[str, Any] = {"name": v.name, "cat": v.category, "ph": "X", "pid": pid, "tid": v.vertex,
                                     "ts": _us(base + span.start), "dur": _us(span.seconds),
                                     "args": {**args, "run": i + 1} if len(v.spans) > 1 else args}
            if v.status == "errored":
                event["cname"] = "terrible"
            out.append(event)
        if v.cached_at is not None:
            out.append({"name": f"CACHED {v.name}", "cat": "cached", "ph": "i", "s": "t", "pid": pid,
                        "tid": v.vertex, "ts": _us(base + v.cached_at), "args": args})
        if v.vertex == failed_vertex:
            end = v.end if v.end is not None else 0.0
            out.append({"name": f"FAILED {v.name}", "cat": "failure", "ph": "i", "s": "p", "pid": pid,
                        "tid": v.vertex, "ts": _us(base + end), "cname": "terrible",
                        "args": {**args, "failure_class": s.failure.failure_class if s and s.failure else None}})
    if b.markers:
        out.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": EXPORTS_TID,
                    "args": {"name": "exports & cache"}})
        out.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": EXPORTS_TID,
                    "args": {"sort_index": EXPORTS_TID}})
    for m in b.markers:
        margs = {k: v for k, v in m.args.items() if v is not None}
        if m.vertex is not None:
            margs["vertex"] = m.vertex
        if m.end is not None and m.end > m.at:
            out.append({"name": m.name, "cat": m.kind, "ph": "X", "pid": pid, "tid": EXPORTS_TID,
                        "ts": _us(base + m.at), "dur": _us(m.end - m.at), "args": margs})
        else:
            out.append({"name": m.name, "cat": m.kind, "ph": "i", "s": "t", "pid": pid, "tid": EXPORTS_TID,
                        "ts": _us(base + m.at), "args": margs})
    return out


def to_trace(timeline: LogTimeline, summary: LogSummary | None = None, source: str | None = None) -> dict[str, Any]:
    """The trace as a JSON-ready dict (the object form: ``traceEvents``, ``displayTimeUnit``, ``otherData``)."""
    from . import __version__

    by_index = {s.index: s for s in summary.builds} if summary is not None else {}
    events: list[dict[str, Any]] = []
    for b in timeline.builds:
        events += _build_events(b, by_index.get(b.index))
    timing = {b.timing for b in timeline.builds}
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "generator": f"buildlog {__version__}",
            "source": source,
            "timing": (timing.pop() if len(timing) == 1 else "mixed") if timing else "none",
            "builds": [{"build": b.index, "format": b.format, "timing": b.timing, "basis": _describe(b),
                        "offset_s": round(b.offset, 9), "duration_s": round(b.duration, 9),
                        "started_at": b.started_at} for b in timeline.builds],
        },
    }
