"""The summary's facts for the fleet view (docs/json.md "The fleet view's facts"), checked against the logs' own
text: each vertex's status and time, the step keys across formats, the cost of the first miss, the context
upload, the duration and its estimate, the cache advice."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fixturelib import SHARED, label_of, shared_logs
from fleetlib import PlainVertex, full_key_of, normalise, read_plain, size_in_bytes

from buildlog import summarize_bytes, summarize_path
from buildlog.advice import ADVICE_RULES, BuildFacts, advise
from buildlog.buildfacts import VertexRecord
from buildlog.events import VertexName
from buildlog.stepkey import step_key, untruncate
from buildlog.timestamps import seconds_between
from buildlog.vertex_names import parse_vertex_name

PLAIN = shared_logs("*-plain.log")


def last_build(path: Path) -> dict[str, Any]:
    out: dict[str, Any] = summarize_path(path).to_json()
    return out


@pytest.mark.parametrize("log", PLAIN, ids=lambda p: p.name)
def test_each_vertex_has_the_status_and_time_its_lines_give(log: Path) -> None:
    text = read_plain(log)
    got = {v["vertex"]: v for v in last_build(log)["vertices"]}
    assert set(got) == set(text)
    for n, v in text.items():
        assert got[n]["name"] == v.name
        assert got[n]["status"] == v.status, v.name
        assert got[n]["seconds"] == v.seconds, v.name


@pytest.mark.parametrize("log", [p for p in PLAIN if label_of(p)["exit_code_of_failed_step"] is not None],
                         ids=lambda p: p.name)
def test_the_failed_step_carries_its_exit_code(log: Path) -> None:
    errored = [v for v in last_build(log)["vertices"] if v["status"] == "errored" and v["exit_code"] is not None]
    assert [v["exit_code"] for v in errored] == [label_of(log)["exit_code_of_failed_step"]]


def test_user_vertices_are_those_the_step_counts_count() -> None:
    for log in shared_logs():
        b = last_build(log)
        assert sum(v["user"] for v in b["vertices"]) == b["steps"]["user_total"], log.name


@pytest.mark.parametrize("scenario", ["s01-cold", "s04-fail-exit1"])
def test_step_keys_are_the_same_in_plain_rawjson_and_tty(scenario: str) -> None:
    keys = {}
    for fmt in ("plain", "rawjson", "tty"):
        b = last_build(SHARED / f"{scenario}-{fmt}.log")
        keys[fmt] = {v["key"] for v in b["vertices"] if v["kind"] == "step"}
        assert keys[fmt] == {normalise(v["name"]) for v in b["vertices"] if v["kind"] == "step"}
    assert keys["plain"] == keys["rawjson"]
    # the tty rows cut long names at the terminal's width: each key is the start of exactly one full key
    assert {full_key_of(k, keys["plain"]) for k in keys["tty"]} == keys["plain"]
    assert untruncate(keys["tty"], keys["plain"]) == {k: full_key_of(k, keys["plain"]) for k in keys["tty"]
                                                      if k not in keys["plain"]}


def test_step_keys_drop_digests_counts_and_padding() -> None:
    plain = last_build(SHARED / "s01-cold-plain.log")
    from_step = next(v for v in plain["vertices"] if " FROM " in v["name"])
    assert "@sha256:" in from_step["name"] and "sha256" not in from_step["key"]
    wide = read_plain(SHARED / "s13-concurrent-noisy-plain.log")
    padded = [v.name for v in wide.values() if re.match(r"\[\w+ {2,}\d+/\d+\]", v.name)]
    keys = {v["key"] for v in last_build(SHARED / "s13-concurrent-noisy-plain.log")["vertices"]}
    for name in padded:
        assert normalise(name) in keys


# -- the cost of the first miss -------------------------------------------------------------------------------


def _rawjson_vertices(path: Path) -> dict[str, dict[str, Any]]:
    """digest -> {name, inputs, cached, started, completed} merged over the log's records."""
    out: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("{"):
            continue
        for v in json.loads(line).get("vertexes") or ():
            d = out.setdefault(v["digest"], {"name": v["name"], "inputs": set(), "cached": False,
                                             "started": [], "completed": []})
            d["inputs"].update(v.get("inputs") or ())
            d["cached"] |= bool(v.get("cached"))
            if v.get("started"):
                d["started"].append(v["started"])
            if v.get("completed"):
                d["completed"].append(v["completed"])
    return out


@pytest.mark.parametrize("log", ["s01-cold-rawjson.log", "s02-warm-rawjson.log", "s04-fail-exit1-rawjson.log"])
def test_first_miss_impact_from_the_rawjson_graph(log: str) -> None:
    b = last_build(SHARED / log)
    miss = b["cache"]["first_miss"]
    impact = b["cache"]["first_miss_impact"]
    if miss is None:
        assert impact is None
        return
    graph = _rawjson_vertices(SHARED / log)
    [root] = [d for d, v in graph.items() if v["name"] == miss["name"]]
    downstream, todo = {root}, [root]
    while todo:
        d = todo.pop()
        for c, v in graph.items():
            if d in v["inputs"] and c not in downstream:
                downstream.add(c)
                todo.append(c)
    ran = [graph[d] for d in downstream
           if (m := re.match(r"\[[^\]]*\d+/\d+\] (\w+)", graph[d]["name"])) and m[1] != "FROM"
           and not graph[d]["cached"] and graph[d]["completed"]]
    assert impact["exact"] is True
    assert impact["steps"] == len(ran)
    span = sum(seconds_between(min(v["started"]), max(v["completed"])) or 0 for v in ran)
    assert impact["seconds"] == pytest.approx(span, rel=0.02)
    assert set(impact["stages"]) == {re.match(r"\[(\S+) ", v["name"])[1] for v in ran}  # type: ignore[index]


def _estimated_impact(vertices: dict[int, PlainVertex], miss: PlainVertex) -> tuple[int, float, set[str | None]]:
    """The miss's stage from its index on, then each stage that copies from an affected stage, from that step on."""
    start = {miss.stage: miss.index or 0}
    changed = True
    while changed:
        changed = False
        for v in vertices.values():
            m = re.search(r"--from=(\S+)", v.name)
            if v.step and m and m[1].lower() in start and (v.index or 0) < start.get(v.stage, 1 << 30):
                start[v.stage] = v.index or 0
                changed = True
    hit = [v for v in vertices.values() if v.cacheable and v.ran and (v.index or 0) >= start.get(v.stage, 1 << 30)]
    return len(hit), sum(v.seconds or 0.0 for v in hit), set(start)


@pytest.mark.parametrize("log", ["s03-partial-plain.log", "s04-fail-exit1-plain.log", "s12-bake-two-targets-plain.log",
                                 "s13-concurrent-noisy-plain.log"])
def test_first_miss_impact_estimated_from_the_stage_order(log: str) -> None:
    b = last_build(SHARED / log)
    impact = b["cache"]["first_miss_impact"]
    vertices = read_plain(SHARED / log)
    miss = vertices[b["cache"]["first_miss"]["vertex"]]
    if "bake" in log:  # two targets: a stage name means a stage of the same target
        target = (miss.stage or "").split()[0]
        vertices = {n: v for n, v in vertices.items() if v.stage and v.stage.split()[0] == target}
        for v in vertices.values():
            v.name = re.sub(r"^\[\w+ ", "[", v.name)
        miss = vertices[miss.number]
    steps, seconds, stages = _estimated_impact(vertices, miss)
    assert impact["exact"] is False
    assert (impact["steps"], set(impact["stages"])) == (steps, stages)
    assert impact["seconds"] == pytest.approx(seconds)


def test_partial_rebuild_costs_the_steps_from_the_changed_copy_on() -> None:
    # the scenario: "one source file changed, so steps before COPY src/ are CACHED ... and later steps re-run"
    b = last_build(SHARED / "s03-partial-plain.log")
    assert b["cache"]["first_miss"]["name"] == "[builder 7/9] COPY src/ ./src/"
    impact = b["cache"]["first_miss_impact"]
    assert impact["stages"] == ["builder", "stage-1"]
    assert impact["steps"] == 6  # builder 7, 8, 9 and, from COPY --from=builder on, stage-1 3, 4, 5


# -- context upload, platforms, duration ----------------------------------------------------------------------


@pytest.mark.parametrize("log", shared_logs("*-plain.log") + shared_logs("*-tty.log"), ids=lambda p: p.name)
def test_context_upload_bytes_as_printed(log: Path) -> None:
    text = log.read_text(errors="replace")
    sizes = re.findall(r"transferring context: (\d+(?:\.\d+)?[kMG]?B)", text)
    b = last_build(log)
    if "load build context" not in text:
        assert b["context"] is None
        return
    # the .dockerignore's transfer comes first; the context's transfer is the largest (and last) of its vertex
    contexts = [n for n, v in read_plain(log).items() if "load build context" in v.name] if "plain" in log.name \
        else [None]
    assert b["context"]["bytes"] >= size_in_bytes(sizes[-1])
    if len(contexts) == 1:
        assert b["context"]["bytes"] == size_in_bytes(sizes[-1])
    assert b["platforms"] == []  # none of these builds names a platform


def test_context_upload_from_rawjson_statuses() -> None:
    log = SHARED / "s01-cold-rawjson.log"
    graph = _rawjson_vertices(log)
    [digest] = [d for d, v in graph.items() if v["name"] == "[internal] load build context"]
    sizes, times = [], []
    for line in log.read_text().splitlines():
        for s in json.loads(line).get("statuses") or ():
            if s["vertex"] == digest and s["id"].startswith("transferring context"):
                sizes.append(s.get("current", 0))
                if s.get("started") and s.get("completed"):
                    times.append(seconds_between(s["started"], s["completed"]))
    b = last_build(log)
    assert b["context"]["bytes"] == max(sizes)
    assert b["context"]["seconds"] == pytest.approx(max(t for t in times if t is not None), abs=1e-6)


@pytest.mark.parametrize("scenario", ["s01-cold", "s02-warm", "s04-fail-exit1"])
def test_plain_duration_is_an_estimate_close_to_the_measured_one(scenario: str) -> None:
    plain = last_build(SHARED / f"{scenario}-plain.log")
    measured = last_build(SHARED / f"{scenario}-rawjson.log")
    assert plain["duration_estimated"] is True and measured["duration_estimated"] is False
    assert plain["started_at"] is None and measured["started_at"] is not None
    # the same build run again: the estimate from DONE times is within a second or a quarter of the measured time
    assert abs(plain["duration_s"] - measured["duration_s"]) <= max(1.0, 0.25 * measured["duration_s"])


def test_tty_duration_is_the_frame_clock_not_an_estimate() -> None:
    b = last_build(SHARED / "s01-cold-tty.log")
    clocks = re.findall(r"Building (\d+\.\d+)s", (SHARED / "s01-cold-tty.log").read_text(errors="replace"))
    assert b["duration_estimated"] is False and b["duration_s"] == float(clocks[-1])


def test_ci_timestamps_give_the_wall_time_and_the_start() -> None:
    data = (SHARED / "s03-partial-plain.log").read_bytes()
    lines = data.splitlines(keepends=True)
    stamps = [f"2026-11-30T09:{i // 60:02d}:{i % 60:02d}.5000000Z" for i in range(len(lines))]
    b = summarize_bytes(b"".join(s.encode() + b" " + line for s, line in zip(stamps, lines, strict=True))).to_json()
    assert b["duration_estimated"] is False
    assert b["started_at"] == stamps[0]
    assert b["duration_s"] == seconds_between(stamps[0], stamps[b["lines"][1] - 1])


def test_the_legacy_builder_has_no_duration_at_all() -> None:
    b = last_build(Path(__file__).parent / "fixtures" / "live" / "docker20-legacy-success.log")
    assert b["duration_s"] is None and b["duration_estimated"] is False


# -- advice ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("log", shared_logs(), ids=lambda p: p.name)
def test_import_not_found_advice_follows_the_label(log: Path) -> None:
    label = label_of(log)
    rules = {a["rule"] for a in last_build(log)["advice"]}
    imp = label.get("cache_import")
    if imp is not None and imp.get("found") is False:
        assert "cache-import-not-found" in rules
    elif imp is not None and imp.get("found"):
        assert "cache-import-not-found" not in rules


def test_advice_texts_are_hints_too() -> None:
    b = last_build(SHARED / "s01-cold-plain.log")
    assert b["advice"] and all(a["text"] in b["hints"] for a in b["advice"])


def _record(n: int, stage: str, index: int, instruction: str, args: str, status: str) -> VertexRecord:
    name = f"[{stage} {index}/9] {instruction} {args}"
    return VertexRecord(vertex=n, name=name, key=name, kind="step", target=None, stage=stage, platform=None,
                        index=index, instruction=instruction, args=args, status=status, seconds=1.0,
                        exit_code=None, user=True, cacheable=instruction != "FROM")


def _facts(records: list[VertexRecord], first_miss: int | None, exports: list[str] | None = None,
           found: bool = True) -> BuildFacts:
    miss = next((r for r in records if r.vertex == first_miss), None)
    return BuildFacts(vertices=records, first_miss=miss, imports_missed=[] if found else ["reg/app:cache"],
                      imports_found=found, exports=exports or ["registry"])


def test_advice_rules_on_the_shapes_they_describe() -> None:
    names = [r.name for r in ADVICE_RULES]
    broad = [_record(1, "build", 1, "FROM", "node:20", "ran"), _record(2, "build", 2, "COPY", ". .", "ran"),
             _record(3, "build", 3, "RUN", "npm ci", "ran")]
    assert [a.rule for a in advise(_facts(broad, 2))] == ["copy-manifests-first", "download-without-cache-mount"]
    assert advise(_facts(broad, 2))[0].step == broad[1].name
    first = [_record(2, "build", 2, "COPY", "package.json package-lock.json ./", "ran"),
             _record(3, "build", 3, "RUN", "--mount=type=cache,target=/root/.npm npm ci", "ran"),
             _record(4, "build", 4, "COPY", ". .", "ran")]
    assert advise(_facts(first, 2)) == []
    inline = [_record(2, "deps", 2, "RUN", "make deps", "ran"), _record(3, "final", 2, "RUN", "make", "ran")]
    assert [a.rule for a in advise(_facts(inline, 2, exports=["inline"]))] == ["min-mode-multi-stage"]
    assert [a.rule for a in advise(_facts(inline, 2, found=False))] == ["cache-import-not-found"]
    assert "pip install" not in "".join(a.text for a in advise(_facts(inline, 2)))
    assert len(names) == len(set(names))


@pytest.mark.parametrize(("name", "key"), [
    ("[linux/arm64 builder  3/7] RUN make", "[linux/arm64 builder 3] RUN make"),
    ("[api linux/amd64 build 1/7] FROM docker.io/library/alpine:3.20@sha256:" + "ab" * 32,
     "[api linux/amd64 build 1] FROM docker.io/library/alpine:3.20"),
    ("[2/3] RUN   apk add   curl", "[2] RUN apk add curl"),
    ("[internal] load metadata for docker.io/library/alpine:3.20", "[internal] load metadata for "
     "docker.io/library/alpine:3.20"),
    ("exporting to image", "exporting to image"),
])
def test_step_key_of_names_in_every_shape(name: str, key: str) -> None:
    assert step_key(name) == key


def test_step_key_is_made_from_the_info_it_is_given() -> None:
    # keys are kept by name for the info they were made with: another info of the same name makes its own
    name = "[linux/arm64 builder  3/7] RUN make"
    assert step_key(name, parse_vertex_name(name)) == "[linux/arm64 builder 3] RUN make"
    assert step_key(name, VertexName(kind="other")) == "[linux/arm64 builder 3/7] RUN make"  # no step: the name
    assert step_key(name, parse_vertex_name(name)) == "[linux/arm64 builder 3] RUN make"
    assert step_key(name) == "[linux/arm64 builder 3] RUN make"
