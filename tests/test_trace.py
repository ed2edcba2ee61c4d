"""`buildlog trace` on every real log, checked against the log's own events (not against the timeline's code):
every vertex that ran has a span on its track, spans are never negative and never overlap on one track, the
build's span covers its vertices, rawjson spans are the VertexTiming times to the microsecond, plain spans last
what DONE says, and every event has the Trace Event Format's required fields."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from fixturelib import SHARED, label_of
from invariants import fixture_logs

import buildlog
from buildlog import events as ev
from buildlog.rawjson import rfc3339_ns
from buildlog.timeline import summarize_with_timeline
from buildlog.trace import EXPORTS_TID, to_trace

LOGS = fixture_logs()
EPS_US = 1.0  # microseconds: the trace rounds to nanoseconds, float sums to less than this

# The Trace Event Format ("Trace Event Format", Google, the JSON Object Format): the phases this file writes and
# the fields each requires. Every event: name, ph, pid, tid; all but metadata: ts; complete events: dur; instant
# events: s in g/p/t if given; metadata: one of the known names with args.
PHASES = {"X", "i", "M"}
METADATA_NAMES = {"process_name", "process_labels", "process_sort_index", "thread_name", "thread_sort_index"}


def validate_trace(doc: Any) -> None:
    assert isinstance(doc, dict) and isinstance(doc.get("traceEvents"), list)
    assert doc.get("displayTimeUnit") in (None, "ms", "ns")
    for e in doc["traceEvents"]:
        assert isinstance(e.get("name"), str) and e["name"], e
        assert e.get("ph") in PHASES, e
        assert isinstance(e.get("pid"), int) and isinstance(e.get("tid"), int), e
        if "args" in e:
            assert isinstance(e["args"], dict), e
        if "cat" in e:
            assert isinstance(e["cat"], str), e
        if e["ph"] == "M":
            assert e["name"] in METADATA_NAMES and isinstance(e.get("args"), dict), e
            continue
        assert isinstance(e.get("ts"), (int, float)) and e["ts"] >= 0, e
        if e["ph"] == "X":
            assert isinstance(e.get("dur"), (int, float)) and e["dur"] >= 0, e
        if e["ph"] == "i":
            assert e.get("s", "t") in ("g", "p", "t"), e


def trace_of(path: Path) -> tuple[list[ev.Event], dict[str, Any]]:
    events = list(buildlog.parse_path(path))
    summary, timeline = summarize_with_timeline(events)
    return events, json.loads(json.dumps(to_trace(timeline, summary, source=path.name)))


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.stem)
def test_trace_against_the_events(log: Path) -> None:
    events, doc = trace_of(log)
    validate_trace(doc)
    trace = doc["traceEvents"]
    spans: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    instants: dict[tuple[int, int], list[float]] = defaultdict(list)
    build_span: dict[int, tuple[float, float]] = {}
    for e in trace:
        key = (e["pid"], e["tid"])
        if e["ph"] == "X" and e["tid"] == 0:
            build_span[e["pid"]] = (e["ts"], e["ts"] + e["dur"])
        elif e["ph"] == "X":
            spans[key].append((e["ts"], e["ts"] + e["dur"]))
        elif e["ph"] == "i":
            instants[key].append(e["ts"])

    ran = {(e.build, e.vertex) for e in events if isinstance(e, (ev.VertexDone, ev.VertexError))
           and not isinstance(e, ev.CacheImportFailed)}
    cached = {(e.build, e.vertex) for e in events if isinstance(e, ev.VertexCached)}
    for key in ran:
        assert spans.get(key), f"vertex {key[1]} of build {key[0]} ran but has no span"
    for key in cached:
        assert instants.get(key), f"vertex {key[1]} of build {key[0]} was cached but has no instant event"

    for key, runs in spans.items():
        runs.sort()
        for a, b in runs:
            assert b >= a >= 0, (key, a, b)
        for (_a1, b1), (a2, _b2) in pairwise(runs):
            assert a2 >= b1 - EPS_US, f"spans of vertex {key[1]} overlap: {runs}"

    for (pid, _tid), runs in spans.items():
        lo, hi = build_span[pid]
        for a, b in runs:
            assert lo - EPS_US <= a and b <= hi + EPS_US, f"build {pid} [{lo}, {hi}] does not cover span [{a}, {b}]"
    for (pid, tid), points in instants.items():
        if tid in (0,):
            continue
        lo, hi = build_span[pid]
        assert all(lo - EPS_US <= t <= hi + EPS_US for t in points)

    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in trace if e["ph"] == "M" and e["name"] == "thread_name"}
    headers = {(e.build, e.vertex): e.name for e in events if isinstance(e, ev.VertexHeader) and not e.repeat}
    for key, name in headers.items():
        assert names.get(key) == name


@pytest.mark.parametrize("log", [p for p in LOGS if "rawjson" in p.name], ids=lambda p: p.stem)
def test_rawjson_spans_are_the_vertex_timing(log: Path) -> None:
    events, doc = trace_of(log)
    assert doc["otherData"]["timing"] == "exact"
    timings = [e for e in events if isinstance(e, ev.VertexTiming)]
    origin = min(rfc3339_ns(t.started) or 0 for t in timings)
    spans = defaultdict(list)
    for e in doc["traceEvents"]:
        if e["ph"] == "X" and e["tid"] != 0 and e["cat"] not in ("push",):
            spans[e["tid"]].append((e["ts"], e["dur"]))
    last: dict[int, ev.VertexTiming] = {}
    count = Counter(t.vertex for t in timings)
    for t in timings:
        last[t.vertex] = t
    checked = 0
    for vertex, t in last.items():
        start, end = rfc3339_ns(t.started), rfc3339_ns(t.completed)
        assert start is not None and end is not None
        if count[vertex] != 1 or not spans.get(vertex):
            continue  # ran more than once, or cached without running
        ts, dur = spans[vertex][0]
        assert abs(ts - (start - origin) / 1000) <= EPS_US
        assert abs(dur - (end - start) / 1000) <= EPS_US
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize("log", [p for p in LOGS if "plain" in p.name or (
    p.name.startswith("docker20-") and "tty" not in p.name and "legacy" not in p.name)], ids=lambda p: p.stem)
def test_plain_spans_last_what_done_says(log: Path) -> None:
    events, doc = trace_of(log)
    assert doc["otherData"]["timing"] == "reconstructed"
    assert "DONE durations" in doc["otherData"]["builds"][-1]["basis"]
    done: dict[int, list[float]] = defaultdict(list)
    for e in events:
        if isinstance(e, ev.VertexDone) and e.build == 1:
            done[e.vertex].append(e.seconds)
    spans = defaultdict(list)
    for e in doc["traceEvents"]:
        if e["ph"] == "X" and e["pid"] == 1 and e["tid"] != 0:
            spans[e["tid"]].append(e["dur"])
    for vertex, seconds in done.items():
        if len(seconds) == 1 and vertex in spans:
            assert abs(spans[vertex][0] - seconds[0] * 1e6) <= EPS_US, (vertex, spans[vertex], seconds)


def test_failed_vertex_marked() -> None:
    log = SHARED / "s04-fail-exit1-plain.log"
    _events, doc = trace_of(log)
    label = label_of(log)
    failed = [e for e in doc["traceEvents"] if e.get("cat") == "failure"]
    assert len(failed) == 1
    names = {e["tid"]: e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "thread_name"}
    # the step the final error names (its command is in the label's final line)
    assert names[failed[0]["tid"]].startswith("[builder 10/10] RUN echo \"running unit tests\"")
    assert "running unit tests" in label["notes"]
    assert failed[0]["args"]["exit_code"] == label["exit_code_of_failed_step"] == 1
    assert failed[0]["args"]["failed"] is True and failed[0]["args"]["failure_class"] == label["failure_class"]
    spans = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["tid"] == failed[0]["tid"]]
    assert spans and spans[0]["args"]["status"] == "errored" and spans[0]["cname"] == "terrible"


def test_pushes_and_cache_events_of_their_own() -> None:
    _events, doc = trace_of(SHARED / "s01-cold-rawjson.log")
    label = label_of(SHARED / "s01-cold-rawjson.log")
    by_cat = defaultdict(list)
    for e in doc["traceEvents"]:
        by_cat[e.get("cat")].append(e)
    pushed = [e["args"]["ref"] for e in by_cat["push"]]
    assert label["pushed"] is True and pushed == ["127.0.0.1:5000/app:1.4.0"]  # the command's -t
    assert f"-t {pushed[0]} " in label["command"]
    answers = [e for e in by_cat["cache-import"] if e["tid"] == EXPORTS_TID]
    assert [e["args"]["found"] for e in answers] == [label["cache_import"]["found"]] == [False]
    assert [e["name"] for e in by_cat["cache-export"] if e["tid"] == EXPORTS_TID] == ["cache exported"]
    assert label["cache_export"]["completed"] is True
    assert [e["name"] for e in by_cat["export"]] == ["exporting to image"]  # the image export's own span


def test_builds_of_one_log_are_processes(tmp_path: Path) -> None:
    # two real logs one after the other: the second "#0 building with" starts a second build
    log = tmp_path / "two-builds.log"
    log.write_bytes((SHARED / "s01-cold-plain.log").read_bytes() + (SHARED / "s02-warm-plain.log").read_bytes())
    events, doc = trace_of(log)
    assert {e.build for e in events if isinstance(e, ev.VertexHeader)} == {1, 2}
    validate_trace(doc)
    builds = {e["pid"]: e for e in doc["traceEvents"] if e["ph"] == "X" and e["tid"] == 0}
    assert sorted(builds) == [1, 2]
    assert builds[2]["ts"] >= builds[1]["ts"] + builds[1]["dur"] - EPS_US  # one after the other
    names = [e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "process_name"]
    assert names == ["build 1 (plain): success", "build 2 (plain): success"]


def test_cli_trace_writes_a_file(tmp_path: Path) -> None:
    out = tmp_path / "trace.json"
    log = SHARED / "s04-fail-exit1-rawjson.log"
    proc = subprocess.run([sys.executable, "-m", "buildlog", "trace", str(log), "-o", str(out)],
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    validate_trace(doc)
    assert doc["otherData"]["source"] == log.name
    bad = subprocess.run([sys.executable, "-m", "buildlog", "trace", str(log), "-o", str(tmp_path / "no" / "x")],
                         capture_output=True, timeout=60)
    assert bad.returncode == 2 and b"cannot write" in bad.stderr and b"Traceback" not in bad.stderr
