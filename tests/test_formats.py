"""The same build in every shape buildx writes it (plain, rawjson, tty) gives the same facts, checked against
the labels of the real logs in tests/fixtures/shared/; the legacy builder's real logs (tests/fixtures/live/);
exact rawjson times and the build graph; forcing a format."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from fixturelib import SHARED, label_of
from invariants import check_spans, dicts, parse_chunks, split_by_sizes

from buildlog import Parser, parse_bytes, summarize_bytes
from buildlog import events as ev
from buildlog.graph import build_graph, critical_path, first_cache_miss, step_times
from buildlog.rawjson import rfc3339_ns

LIVE = Path(__file__).parent / "fixtures" / "live"
PAIRED = {
    "s01-cold": ("plain", "rawjson", "tty"),
    "s02-warm": ("plain", "rawjson"),
    "s04-fail-exit1": ("plain", "rawjson", "tty"),
}
PAIRED_LOGS = [f"{s}-{f}" for s, formats in PAIRED.items() for f in formats]


def _events(name: str) -> list[ev.Event]:
    return parse_bytes((SHARED / f"{name}.log").read_bytes())


def _names(events: Iterable[ev.Event]) -> dict[tuple[int, int], str]:
    return {(e.build, e.vertex): e.name for e in events if isinstance(e, ev.VertexHeader) and not e.repeat}


def _cached_names(events: list[ev.Event]) -> list[str]:
    names = _names(events)
    return sorted({names[(e.build, e.vertex)] for e in events if isinstance(e, ev.VertexCached)})


def _same_name(a: str, b: str) -> bool:
    """tty rows are cut to the terminal's width: a cut name is the start of the whole one."""
    return a == b or a.startswith(b) or b.startswith(a)


# ---------------------------------------------------------------------------------------------------------------
# One build, three shapes: the facts a verdict needs


@pytest.mark.parametrize("name", PAIRED_LOGS)
def test_format_is_detected(name: str) -> None:
    fmt = label_of(SHARED / f"{name}.log")["format"]
    parser = Parser()
    events = parser.feed((SHARED / f"{name}.log").read_bytes()) + parser.close()
    assert parser.formats == {1: fmt}
    detected = [e.format for e in events if isinstance(e, ev.FormatDetected)]
    assert detected == ([] if fmt == "plain" else [fmt])


@pytest.mark.parametrize("name", PAIRED_LOGS)
def test_cached_steps_match_the_label(name: str) -> None:
    """Each format reports the CACHED vertices its own text shows; here the counts agree with the labels."""
    assert len(_cached_names(_events(name))) == label_of(SHARED / f"{name}.log")["steps_cached"]


@pytest.mark.parametrize("scenario", sorted(PAIRED))
def test_same_cached_vertices_in_every_format(scenario: str) -> None:
    plain = _cached_names(_events(f"{scenario}-plain"))
    for fmt in PAIRED[scenario][1:]:
        other = _cached_names(_events(f"{scenario}-{fmt}"))
        assert len(other) == len(plain)
        for a, b in zip(sorted(other), sorted(plain), strict=True):
            assert _same_name(a, b), (fmt, a, b)


@pytest.mark.parametrize("scenario", sorted(PAIRED))
def test_same_final_error_in_every_format(scenario: str) -> None:
    messages = {
        fmt: [e.message for e in _events(f"{scenario}-{fmt}") if isinstance(e, ev.BuildFailed)]
        for fmt in PAIRED[scenario]
    }
    label = label_of(SHARED / f"{scenario}-plain.log")
    expected = [] if label["outcome"] == "success" else [messages["plain"][0]]
    assert all(found == expected for found in messages.values()), messages
    if expected:
        assert "did not complete successfully: exit code: 1" in expected[0]


@pytest.mark.parametrize("name", PAIRED_LOGS)
def test_cache_import_export_and_push_match_the_label(name: str) -> None:
    events = _events(name)
    label = label_of(SHARED / f"{name}.log")
    requested = [e for e in events if isinstance(e, ev.CacheImportRequested)]
    found = any(isinstance(e, ev.CacheManifestFound) for e in events)
    failed = [e for e in events if isinstance(e, ev.CacheImportFailed)]
    assert [e.ref for e in requested] == [label["cache_import"]["ref"]]
    assert found == label["cache_import"]["found"]
    assert bool(failed) == (not label["cache_import"]["found"])
    if failed and not name.endswith("-tty"):
        assert all(e.not_found for e in failed)  # the tty does not show the message: it cannot tell
    exports = [e for e in events if isinstance(e, ev.CacheExportStarted)]
    assert bool(exports) == (label["cache_export"] is not None)
    if label["cache_export"] is not None:
        done = {e.vertex for e in events if isinstance(e, ev.VertexDone)}
        assert exports[0].vertex in done
        assert any(isinstance(e, ev.CacheManifestWritten) and e.done for e in events)
    pushed = [e for e in events if isinstance(e, ev.ManifestPushed) and e.done]
    assert bool(pushed) == label["pushed"]


@pytest.mark.parametrize("name", PAIRED_LOGS)
def test_failed_step_and_its_exit_code(name: str) -> None:
    events = _events(name)
    label = label_of(SHARED / f"{name}.log")
    errors = [e for e in events if type(e) is ev.VertexError]
    final = [e for e in events if isinstance(e, ev.BuildFailed)]
    if label["outcome"] == "success":
        assert not errors and not final
        return
    names = _names(events)
    assert len(errors) == 1
    assert names[(errors[0].build, errors[0].vertex)].startswith('[builder 10/10] RUN echo "running unit t')
    assert final[0].exit_code == label["exit_code_of_failed_step"]
    if not name.endswith("-tty"):  # a tty frame shows ERROR, not the message
        assert errors[0].exit_code == label["exit_code_of_failed_step"]


@pytest.mark.parametrize("scenario", sorted(PAIRED))
def test_same_verdict_in_every_format(scenario: str) -> None:
    verdicts = {}
    for fmt in PAIRED[scenario]:
        build = summarize_bytes((SHARED / f"{scenario}-{fmt}.log").read_bytes()).to_json()["builds"][-1]
        failure = build.get("failure") or {}
        steps = build["steps"]
        verdicts[fmt] = (build["outcome"], failure.get("class"), failure.get("exit_code"), build["cache"]["state"],
                         steps["cached"], steps["errored"])
    assert len(set(verdicts.values())) == 1, verdicts


@pytest.mark.parametrize("scenario", sorted(PAIRED))
def test_same_vertices_in_every_format(scenario: str) -> None:
    """The vertices each shape shows, by name (numbers follow each printer's order), with how they ended."""

    def ends(name: str) -> dict[str, set[str]]:
        events = _events(name)
        names = _names(events)
        out: dict[str, set[str]] = {n: set() for n in names.values()}
        for e in events:
            if isinstance(e, (ev.VertexCached, ev.VertexDone, ev.VertexError, ev.VertexCanceled)):
                out[names[(e.build, e.vertex)]].add(type(e).__mro__[0].__name__ if type(e) in (
                    ev.VertexCached, ev.VertexDone, ev.VertexCanceled) else "VertexError")
        return out

    plain = ends(f"{scenario}-plain")
    for fmt in PAIRED[scenario][1:]:
        other = ends(f"{scenario}-{fmt}")
        assert len(other) == len(plain), fmt
        for name, states in other.items():
            match = [p for p in plain if _same_name(name, p)]
            assert len(match) == 1, (fmt, name)
            assert states == plain[match[0]], (fmt, name, states, plain[match[0]])


# ---------------------------------------------------------------------------------------------------------------
# rawjson: exact times and the graph


def _rawjson_vertices(name: str) -> dict[str, list[dict[str, Any]]]:
    by_digest: dict[str, list[dict[str, Any]]] = {}
    for line in (SHARED / f"{name}.log").read_bytes().splitlines():
        if line.startswith(b"{"):
            for v in json.loads(line).get("vertexes", []):
                by_digest.setdefault(v["digest"], []).append(v)
    return by_digest


@pytest.mark.parametrize("name", ["s01-cold-rawjson", "s02-warm-rawjson", "s04-fail-exit1-rawjson"])
def test_rawjson_durations_are_exact(name: str) -> None:
    """Each vertex's last VertexTiming is the union of its runs, computed here straight from the JSON."""
    events = _events(name)
    digests = {(e.vertex): e.digest for e in events if isinstance(e, ev.VertexInputs)}
    timings = {e.vertex: e for e in events if isinstance(e, ev.VertexTiming)}
    sent = _rawjson_vertices(name)
    assert timings
    for n, timing in timings.items():
        runs = sorted({(rfc3339_ns(v["started"]), rfc3339_ns(v["completed"])) for v in sent[digests[n]]
                       if "started" in v and "completed" in v})
        total, end = 0, None
        for a, b in runs:
            assert a is not None and b is not None
            if end is None or a > end:
                total, end = total + b - a, b
            elif b > end:
                total, end = total + b - end, b
        assert timing.seconds == total / 1e9
        assert timing.started == min((v["started"] for v in sent[digests[n]] if "started" in v), key=rfc3339_ns)
    # the failing step ran from .710271237 to 23.788446624: to the nanosecond
    if name.startswith("s04"):
        failed = next(e for e in events if type(e) is ev.VertexError)
        assert timings[failed.vertex].seconds == pytest.approx(1.078175387, abs=1e-9)


def test_rawjson_output_lines_and_their_times() -> None:
    events = _events("s04-fail-exit1-rawjson")
    failed = next(e for e in events if type(e) is ev.VertexError)
    output = [e for e in events if isinstance(e, ev.StepOutput) and e.vertex == failed.vertex]
    plain_output = [line for e in _events("s04-fail-exit1-plain") if isinstance(e, ev.StepOutput) for line in e.lines]
    assert [e.text for e in output] == plain_output
    # "running unit tests" at 02:34:22.757... after the step started at 02:34:22.710271237
    assert output[0].elapsed is not None and 0 < output[0].elapsed < 0.1
    assert all(a.elapsed is not None and b.elapsed is not None and a.elapsed <= b.elapsed
               for a, b in itertools.pairwise(output))


def test_rawjson_line_carries_raw_then_derived_events() -> None:
    events = _events("s04-fail-exit1-rawjson")
    first_of_line: dict[int, ev.Event] = {}
    for e in events:
        if e.raw:
            first_of_line.setdefault(e.line, e)
    for e in events:
        if isinstance(e, (ev.BuildStarted, ev.FormatDetected)):
            continue
        carrier = first_of_line[e.line]
        if e is not carrier:
            assert e.raw == "" and (e.line, e.end_line) == (carrier.line, carrier.end_line)
    assert all(isinstance(first_of_line[n], ev.SolveStatusLine) for n in range(1, 74))


def test_rawjson_graph_edges() -> None:
    events = _events("s04-fail-exit1-rawjson")
    graph = build_graph(events)
    by_name = {v.name: v for v in graph.values()}
    copy_tests = by_name["[builder  9/10] COPY tests/ ./tests/"]
    assert {graph[i].name for i in copy_tests.inputs} == {
        by_name["[internal] load build context"].name,
        next(n for n in by_name if n.startswith("[builder  8/10]")),
    }
    assert all(v.digest is not None and v.digest.startswith("sha256:") for v in graph.values())


@pytest.mark.parametrize(
    ("name", "miss", "exact"),
    [
        ("s04-fail-exit1-rawjson", "[builder  9/10] COPY tests/ ./tests/", True),
        ("s01-cold-rawjson", "[builder 2/9] WORKDIR /src", True),
        ("s02-warm-rawjson", None, True),
        ("s04-fail-exit1-plain", "[builder  9/10] COPY tests/ ./tests/", False),
        ("s04-fail-exit1-tty", "[builder  9/10] COPY tests/ ./tests/", False),
        ("s03-partial-plain", "[builder 7/9] COPY src/ ./src/", False),
    ],
)
def test_first_cache_miss(name: str, miss: str | None, exact: bool) -> None:
    found = first_cache_miss(_events(name))
    if miss is None:
        assert found is None
        return
    assert found is not None and found.vertex.name == miss and found.exact is exact


def test_critical_path_of_a_cold_build() -> None:
    path = critical_path(_events("s01-cold-rawjson"))
    assert path is not None and path.exact
    names = [v.name.split("]")[0] + "]" for v in path.vertices]
    assert names == ["[builder 1/9]", "[builder 2/9]", "[builder 3/9]", "[builder 4/9]", "[builder 5/9]",
                     "[builder 6/9]", "[builder 7/9]", "[builder 8/9]", "[builder 9/9]", "[stage-1 3/5]",
                     "[stage-1 4/5]", "[stage-1 5/5]"]
    assert path.seconds == pytest.approx(sum(v.seconds or 0 for v in path.vertices))
    assert 5.0 < path.seconds < 6.0  # the four RUNs sleep 1 + 1 + 2 + 1 s
    assert critical_path(_events("s01-cold-plain")) is None  # plain has no edges


def _header(n: int, name: str) -> list[ev.Event]:
    from buildlog.vertex_names import parse_vertex_name

    return [ev.VertexHeader(line=n, end_line=n, raw="", build=1, vertex=n, name=name, info=parse_vertex_name(name))]


def _synthetic_graph() -> list[ev.Event]:
    """synthetic: a diamond a -> (b, c) -> d, b slow, c cached; times given directly."""
    out: list[ev.Event] = []
    spec = [(1, "[s 1/4] RUN a", (), 1.0, False), (2, "[s 2/4] RUN b", ("a",), 3.0, False),
            (3, "[s 3/4] RUN c", ("a",), 0.0, True), (4, "[s 4/4] RUN d", ("b", "c"), 0.5, False)]
    for n, name, inputs, seconds, cached in spec:
        c: dict[str, Any] = {"line": n, "end_line": n, "raw": "", "build": 1, "vertex": n}
        out += _header(n, name)
        out.append(ev.VertexInputs(digest="abcd"[n - 1], inputs=inputs, **c))
        out.append(ev.VertexCached(**c) if cached else ev.VertexDone(seconds=seconds, **c))
        out.append(ev.VertexTiming(started=f"2026-01-01T00:00:0{n}Z", completed=f"2026-01-01T00:00:0{n}.5Z",
                                   seconds=seconds, **c))
    return out


def test_graph_functions_on_a_synthetic_diamond() -> None:
    events = _synthetic_graph()
    path = critical_path(events)
    assert path is not None and [v.vertex for v in path.vertices] == [1, 2, 4] and path.seconds == 4.5
    miss = first_cache_miss(events)
    assert miss is not None and miss.vertex.vertex == 1 and miss.exact
    assert [(v.vertex, v.seconds) for v in step_times(events)] == [(1, 1.0), (2, 3.0), (4, 0.5)]


def test_graph_survives_a_cycle() -> None:
    """synthetic: only a damaged log can hold a cycle; the functions still answer."""
    events = _synthetic_graph()
    c: dict[str, Any] = {"line": 9, "end_line": 9, "raw": "", "build": 1, "vertex": 1}
    events.append(ev.VertexInputs(digest="a", inputs=("d",), **c))
    assert critical_path(events) is not None
    assert first_cache_miss(events) is None  # every miss now consumes another miss


def test_rfc3339() -> None:
    assert rfc3339_ns("1970-01-01T00:00:01.5Z") == 1_500_000_000
    assert rfc3339_ns("2026-11-28T02:34:22.378405558Z") == 1795833262378405558
    assert rfc3339_ns("2026-11-28T03:34:22.378405558+01:00") == 1795833262378405558
    for bad in ("", "2026-11-28", "2026-11-28T02:34:22.x", "garbage", "2026-13-28T02:34:22Z", "2026-11-28T02:34:22"):
        assert rfc3339_ns(bad) is None


# ---------------------------------------------------------------------------------------------------------------
# tty


def test_tty_output_window_gives_each_line_once() -> None:
    """The running step's last lines are redrawn in every frame; each one becomes one StepOutput."""
    events = _events("s01-cold-tty")
    names = _names(events)
    by_step: dict[str, list[str]] = {}
    for e in events:
        if isinstance(e, ev.StepOutput):
            by_step.setdefault(names[(e.build, e.vertex)].split("]")[0] + "]", []).append(e.text)
    assert by_step["[builder 4/9]"] == ["resolving dependencies", "fetched libfoo-1.2.3", "fetched libbar-0.9.1",
                                         "fetched libbaz-4.0.0", "3 dependencies resolved"]
    plain = _events("s01-cold-plain")
    plain_names = _names(plain)
    for step, lines in by_step.items():
        plain_lines = [line for e in plain if isinstance(e, ev.StepOutput)
                       and plain_names[(e.build, e.vertex)].startswith(step) for line in e.lines]
        assert lines == plain_lines[: len(lines)] or set(lines) <= set(plain_lines), step


def test_tty_frames() -> None:
    events = _events("s01-cold-tty")
    frames = [e for e in events if isinstance(e, ev.TtyFrame)]
    assert len(frames) == 44
    assert frames[-1].finished and frames[-1].total == 20 and not any(f.finished for f in frames[:-1])
    assert sum(isinstance(e, ev.TtyLine) for e in events) == 1229


# ---------------------------------------------------------------------------------------------------------------
# The legacy builder (real Docker 20.10 logs)


def _live(name: str) -> tuple[list[ev.Event], dict[str, Any]]:
    path = LIVE / f"{name}.log"
    return parse_bytes(path.read_bytes()), json.loads(path.with_suffix(".json").read_text())


@pytest.mark.parametrize("name", ["docker20-legacy-success", "docker20-legacy-failure"])
def test_legacy_builder(name: str) -> None:
    events, label = _live(name)
    data = (LIVE / f"{name}.log").read_bytes()
    check_spans(events, data)
    assert not [e for e in events if isinstance(e, ev.UnrecognizedLine)]
    assert [e.format for e in events if isinstance(e, ev.FormatDetected)] == ["legacy"]
    headers = [e for e in events if isinstance(e, ev.VertexHeader)]
    assert [(e.vertex, e.info.kind, e.info.index) for e in headers] == [(i, "step", i) for i in
                                                                         range(1, len(headers) + 1)]
    assert headers[0].info.instruction == "FROM" and headers[0].info.image == "blbase:latest"
    cached = [e for e in events if isinstance(e, ev.VertexCached)]
    assert len(cached) == label["steps_cached"]
    final = [e for e in events if isinstance(e, ev.BuildFailed)]
    if label["outcome"] == "success":
        assert not final
        assert [e.ref for e in events if isinstance(e, ev.LegacyImageTagged)] == ["legacy:1"]
        done = [e for e in events if isinstance(e, ev.LegacyStepDone)]
        assert len(done) == len(headers) and all(isinstance(e, ev.VertexDone) for e in done)
        output = [e.text for e in events if isinstance(e, ev.StepOutput)]
        assert output == ["legacy builder step", "port=8080", "debug=true", "to stderr", "to stdout"]
    else:
        assert [e.exit_code for e in final] == [label["exit_code_of_failed_step"]]
        errors = [e for e in events if type(e) is ev.VertexError]
        assert [(e.vertex, e.exit_code) for e in errors] == [(6, 3)]
        assert errors[0].line == final[0].line and final[0].raw == ""


# ---------------------------------------------------------------------------------------------------------------
# Forcing a format


def test_forced_format() -> None:
    data = (SHARED / "s04-fail-exit1-rawjson.log").read_bytes()
    auto = parse_bytes(data)
    forced = Parser(format="rawjson")
    events = forced.feed(data) + forced.close()
    assert [type(e) for e in events] == [type(e) for e in auto]
    assert next(e for e in events if isinstance(e, ev.FormatDetected)).forced
    as_plain = parse_bytes(data, format="plain")
    assert sum(isinstance(e, ev.UnrecognizedLine) for e in as_plain) == 73  # JSON is not plain
    assert parse_bytes((SHARED / "s04-fail-exit1-plain.log").read_bytes(), format="tty") == parse_bytes(
        (SHARED / "s04-fail-exit1-plain.log").read_bytes())
    with pytest.raises(ValueError, match="unknown format"):
        Parser(format="json")


def test_cli_input_format(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = SHARED / "s01-cold-tty.log"
    run = [sys.executable, "-m", "buildlog", "events", str(path)]
    forced = subprocess.run([*run, "--input-format", "tty"], capture_output=True, text=True, check=True)
    assert '"format":"tty","forced":true' in forced.stdout
    bad = subprocess.run([*run, "--input-format", "xml"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--input-format" in bad.stderr


# ---------------------------------------------------------------------------------------------------------------
# Chunking and spans on the non-plain shapes


@pytest.mark.parametrize("name", [n for n in PAIRED_LOGS if not n.endswith("plain")])
def test_chunking_and_spans(name: str) -> None:
    data = (SHARED / f"{name}.log").read_bytes()
    whole = parse_bytes(data)
    check_spans(whole, data)
    for sizes in ([1], [7, 300, 2], [4096]):
        assert dicts(parse_chunks(split_by_sizes(data, sizes))) == dicts(whole)
