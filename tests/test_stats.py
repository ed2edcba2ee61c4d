"""``buildlog stats`` over the real logs: every figure is recomputed here from the per-log summaries (the summary
JSON of each log), with this file's own percentiles, step names and counting, and compared with the report."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import math
import os
import re
import shutil
import sys
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fixturelib import FIXTURES, SHARED
from fleetlib import full_key_of, normalise
from typer.testing import CliRunner

from buildlog import summarize_path
from buildlog.cli import app
from buildlog.stats import collect, expand_inputs, summarize_log

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "stats.schema.json").read_text())
LIVE = FIXTURES / "live"
# plain, rawjson and tty logs of the current generation, and Docker 20.10's plain, tty and legacy-builder logs
LOGS = sorted(SHARED.glob("*.log")) + sorted(LIVE.glob("*.log"))

# -- the test's own reading of the summaries -------------------------------------------------------------------


def nearest_rank(values: list[float], p: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)]


def infrastructure_classes() -> set[str]:
    """The classes docs/taxonomy.md says are always worth a retry: the infrastructure's."""
    text = (ROOT / "docs" / "taxonomy.md").read_text()
    return {m.group(1) for m in re.finditer(r"^\| `([a-z-]+)` \| yes", text, re.MULTILINE)}


def builds_of(paths: list[Path], last_only: bool = False) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for p in paths:
        builds = summarize_path(p).to_json()["builds"]
        out += [(p, b) for b in (builds[-1:] if last_only else builds)]
    return out


def expected(builds: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """Every figure of the report, computed from the summaries' JSON."""
    infra = infrastructure_classes()
    failed = [b for _p, b in builds if b["outcome"] == "failure"]
    durations = [b["duration_s"] for _p, b in builds if b["duration_s"] is not None]
    ratios = [b["cache"]["hit_ratio"] for _p, b in builds if b["cache"]["hit_ratio"] is not None]
    by_state: dict[str, list[float]] = {}
    for _p, b in builds:
        if b["duration_s"] is not None:
            by_state.setdefault(b["cache"]["state"], []).append(b["duration_s"])
    steps: dict[str, dict[str, Any]] = {}
    first_miss: Counter[str] = Counter()
    full_keys = {normalise(v["name"], v["index"]) for _p, b in builds if b["format"] != "tty" for v in b["vertices"]}

    def key_of(v: dict[str, Any], fmt: str) -> str:
        key = normalise(v["name"], v["index"])
        return full_key_of(key, full_keys) if fmt == "tty" else key

    for _p, b in builds:
        per_run: dict[str, dict[str, Any]] = {}
        rank = ["unfinished", "cached", "canceled", "ran", "errored"]
        for v in b["vertices"]:
            key = key_of(v, b["format"])
            seen = per_run.setdefault(key, {"status": "unfinished", "seconds": []})
            if rank.index(v["status"]) > rank.index(seen["status"]):
                seen["status"] = v["status"]
            if v["status"] in ("ran", "errored") and v["seconds"] is not None:
                seen["seconds"].append(v["seconds"])
        for key, seen in per_run.items():
            s = steps.setdefault(key, {"runs": 0, "cached": 0, "ran": 0, "failed": 0, "canceled": 0,
                                       "times": [], "first_miss": 0})
            s["runs"] += 1
            status = {"errored": "failed"}.get(seen["status"], seen["status"])
            if status in s:
                s[status] += 1
            if seen["seconds"] and seen["status"] in ("ran", "errored"):
                s["times"].append(sum(seen["seconds"]))
        miss = b["cache"]["first_miss"]
        if miss is not None:
            v = next(v for v in b["vertices"] if v["vertex"] == miss["vertex"])
            first_miss[key_of(v, b["format"])] += 1
            steps[key_of(v, b["format"])]["first_miss"] += 1
    warnings = Counter(w["rule"] for _p, b in builds for w in b["warnings"] if w["rule"])
    return {
        "runs": len(builds),
        "outcomes": Counter(b["outcome"] for _p, b in builds),
        "failure_classes": Counter(b["failure"]["class"] for _p, b in builds
                                   if b["outcome"] in ("failure", "canceled")),
        "failed": len(failed),
        "retryable": sum(b["retryable"] for b in failed),
        "infrastructure": sum(b["failure"]["class"] in infra for b in failed),
        "duration": {"count": len(durations), "p50": nearest_rank(durations, 50), "p90": nearest_rank(durations, 90),
                     "p99": nearest_rank(durations, 99), "max": max(durations, default=None),
                     "estimated": sum(b["duration_estimated"] for _p, b in builds if b["duration_s"] is not None)},
        "by_state": {s: {"count": len(v), "p50": nearest_rank(v, 50), "p90": nearest_rank(v, 90), "max": max(v)}
                     for s, v in by_state.items()},
        "states": Counter(b["cache"]["state"] for _p, b in builds),
        "hit_ratio": {"count": len(ratios), "p10": nearest_rank(ratios, 10), "p50": nearest_rank(ratios, 50),
                      "p90": nearest_rank(ratios, 90)},
        "cached_steps": sum(b["steps"]["user_cached"] for _p, b in builds),
        "cacheable_steps": sum(b["steps"]["user_cacheable"] for _p, b in builds),
        "import_found": sum(any(i["found"] for i in b["cache"]["imports"]) for _p, b in builds),
        "import_missed": sum(any(not i["found"] for i in b["cache"]["imports"]) for _p, b in builds),
        "export_failed": sum(any(x["error"] is not None for x in b["cache"]["exports"]) for _p, b in builds),
        "steps": steps,
        "first_miss": first_miss,
        "warnings": warnings,
    }


def assert_figures(fig: dict[str, Any], exp: dict[str, Any]) -> None:
    assert fig["runs"] == exp["runs"]
    assert {k: v for k, v in fig["outcomes"].items() if v} == dict(exp["outcomes"])
    assert fig["failure_classes"] == dict(exp["failure_classes"])
    assert (fig["failed"], fig["retryable"], fig["infrastructure"]) == (
        exp["failed"], exp["retryable"], exp["infrastructure"])
    assert fig["duration_s"] == pytest.approx(exp["duration"])
    assert set(fig["duration_by_cache_state"]) == set(exp["by_state"])
    for state, figures in exp["by_state"].items():
        assert fig["duration_by_cache_state"][state] == pytest.approx(figures), state
    cache = fig["cache"]
    assert {k: v for k, v in cache["states"].items() if v} == dict(exp["states"])
    assert cache["hit_ratio"] == pytest.approx(exp["hit_ratio"])
    for k in ("cached_steps", "cacheable_steps", "import_found", "import_missed", "export_failed"):
        assert cache[k] == exp[k], k
    got_steps = {s["name"]: s for s in fig["steps"]}
    assert set(got_steps) == set(exp["steps"])
    for key, e in exp["steps"].items():
        g = got_steps[key]
        assert (g["runs"], g["cached"], g["ran"], g["failed"], g["canceled"], g["first_miss"]) == (
            e["runs"], e["cached"], e["ran"], e["failed"], e["canceled"], e["first_miss"]), key
        assert g["seconds_total"] == pytest.approx(sum(e["times"]), abs=1e-6), key
        assert g["seconds_p50"] == pytest.approx(nearest_rank(e["times"], 50)), key
        decided = e["cached"] + e["ran"] + e["failed"]
        if g["miss_rate"] is not None:
            assert g["miss_rate"] == pytest.approx((e["ran"] + e["failed"]) / decided, abs=1e-4), key
    totals = [s["seconds_total"] for s in fig["steps"]]
    assert totals == sorted(totals, reverse=True)
    assert {m["name"]: m["count"] for m in fig["first_miss"]} == dict(exp["first_miss"])
    counts = [m["count"] for m in fig["first_miss"]]
    assert counts == sorted(counts, reverse=True)
    assert {w["rule"]: w["count"] for w in fig["warnings"]} == dict(exp["warnings"])


def run_cli(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=input)
    return result.exit_code, result.stdout


# -- the figures -----------------------------------------------------------------------------------------------


def test_the_logs_mix_every_format() -> None:
    formats = Counter(b["format"] for _p, b in builds_of(LOGS))
    assert {"plain", "rawjson", "tty", "legacy"} <= set(formats)


def test_a_step_cut_short_by_a_tty_row_counts_with_its_full_name() -> None:
    logs = [SHARED / "s01-cold-plain.log", SHARED / "s01-cold-tty.log"]
    tty_keys = {v["key"] for v in summarize_path(logs[1]).to_json()["vertices"]}
    report = collect([str(p) for p in logs], jobs=1, top=10_000).to_json()
    names = {s["name"]: s for s in report["steps"]}
    cut = [k for k in tty_keys if k not in names]
    assert cut, "the tty capture cuts some long step names"
    for k in cut:
        [full] = [n for n in names if n.startswith(k)]
        assert names[full]["runs"] == 2


@pytest.fixture(scope="module")
def every_build() -> list[tuple[Path, dict[str, Any]]]:
    return builds_of(LOGS)


def test_every_figure_equals_the_summaries_aggregated(every_build: list[tuple[Path, dict[str, Any]]]) -> None:
    report = collect([str(p) for p in LOGS], jobs=1, top=10_000).to_json()
    jsonschema.validate(report, SCHEMA)
    assert report["logs"] == len(LOGS)
    assert report["errors"] == []
    assert report["bytes"] == sum(p.stat().st_size for p in LOGS)
    assert_figures(report, expected(every_build))


def test_top_keeps_the_costliest_steps(every_build: list[tuple[Path, dict[str, Any]]]) -> None:
    report = collect([str(p) for p in LOGS], jobs=1, top=3).to_json()
    exp = expected(every_build)
    totals = sorted((sum(s["times"]) for s in exp["steps"].values()), reverse=True)
    assert [s["seconds_total"] for s in report["steps"]] == pytest.approx(totals[:3])
    assert len(report["first_miss"]) == min(3, len(exp["first_miss"]))
    assert report["first_miss"][0]["count"] == max(exp["first_miss"].values())


def test_the_process_pool_gives_the_same_report() -> None:
    code, out = run_cli("stats", "-q", "-f", "json", "--jobs", "2", "--top", "10000", *map(str, LOGS))
    assert code == 0
    alone = collect([str(p) for p in LOGS], jobs=1, top=10_000).to_json()
    assert json.loads(out) == json.loads(json.dumps(alone))


def test_a_log_of_several_builds_counts_each_and_last_build_only_the_last(tmp_path: Path) -> None:
    # two real logs one after the other, as a CI job that retried writes them
    retried = tmp_path / "synthetic-retry-after-failure.log"
    parts = [SHARED / "s08-proxy-503-plain.log", SHARED / "s02-warm-plain.log"]
    retried.write_bytes(b"".join(p.read_bytes() for p in parts))
    builds = builds_of([retried])
    assert [b["outcome"] for _p, b in builds] == ["failure", "success"]
    report = collect([str(retried)], jobs=1, top=10_000).to_json()
    assert_figures(report, expected(builds))
    last = collect([str(retried)], jobs=1, top=10_000, last_build_only=True).to_json()
    assert_figures(last, expected(builds[-1:]))
    assert last["outcomes"]["success"] == 1 and last["outcomes"]["failure"] == 0


# -- inputs ----------------------------------------------------------------------------------------------------


def _zstd(data: bytes) -> bytes:
    zstandard = pytest.importorskip("zstandard")
    out: bytes = zstandard.ZstdCompressor().compress(data)
    return out


COMPRESSORS = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress, ".zst": _zstd}


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_compressed_logs_count_as_their_text(tmp_path: Path, suffix: str) -> None:
    picked = [SHARED / "s01-cold-rawjson.log", SHARED / "s03-partial-plain.log", SHARED / "s04-fail-exit1-tty.log"]
    for p in picked:
        (tmp_path / (p.name + suffix)).write_bytes(COMPRESSORS[suffix](p.read_bytes()))
    report = collect(expand_inputs([str(tmp_path)])[0], jobs=1, top=10_000).to_json()
    assert report["logs"] == 3 and report["errors"] == []
    assert report["bytes"] == sum(p.stat().st_size for p in picked)
    assert_figures(report, expected(builds_of(picked)))


def test_zstd_without_its_package_is_an_error_with_the_remedy(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "build.log.zst"
    log.write_bytes(_zstd((SHARED / "s02-warm-plain.log").read_bytes()))
    monkeypatch.setitem(sys.modules, "zstandard", None)  # import fails as when it is not installed
    result = summarize_log(str(log))
    assert result.runs == [] and result.error is not None
    assert "zstandard" in result.error and "pip install" in result.error


def test_bad_inputs_are_listed_and_the_rest_is_counted(tmp_path: Path) -> None:
    good = tmp_path / "good.log"
    shutil.copy(SHARED / "s04-fail-exit1-plain.log", good)
    binary = tmp_path / "image.log"
    binary.write_bytes(bytes(range(256)) * 8)
    corrupt = tmp_path / "cut.log.gz"
    corrupt.write_bytes(gzip.compress((SHARED / "s02-warm-plain.log").read_bytes())[:300])
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    label = tmp_path / "label.json"  # a .json file that is no log (a label without the notes, which quote errors)
    label.write_text('{"outcome": "failure", "failure_class": "build-step", "retryable": false}\n')
    nologs = tmp_path / "nologs"
    nologs.mkdir()
    (nologs / "README.md").write_text("no logs here\n")
    a_dir_named_log = tmp_path / "dir.log"
    a_dir_named_log.mkdir()
    files, errors = expand_inputs([str(tmp_path / "*.log"), str(corrupt), str(empty), str(label), str(nologs),
                                   str(tmp_path / "missing.log"), str(tmp_path / "*.nothing")])
    report = collect(files, jobs=1, errors=errors).to_json()
    jsonschema.validate(report, SCHEMA)
    reasons = {Path(e["path"]).name: e["reason"] for e in report["errors"]}
    assert reasons["image.log"].startswith("binary file")
    assert reasons["cut.log.gz"].startswith("cannot read")
    assert reasons["empty.txt"] == reasons["label.json"] == "no build in this file"
    assert reasons["nologs"].startswith("no *.log")
    assert reasons["missing.log"] == "no such file or directory"
    assert reasons["*.nothing"] == "the pattern matches no file"
    assert "dir.log" in reasons  # the glob matched a directory: walked, holds nothing
    assert report["logs"] == 1 and report["runs"] == 1 and report["outcomes"]["failure"] == 1
    # unreadable: a path that is not a file
    assert summarize_log(str(a_dir_named_log)).error is not None


def test_paths_from_standard_input_and_directories(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "deep").mkdir(parents=True)
    shutil.copy(SHARED / "s01-cold-plain.log", tmp_path / "a" / "one.log")
    shutil.copy(SHARED / "s02-warm-rawjson.log", tmp_path / "b" / "deep" / "two.txt")
    shutil.copy(SHARED / "s01-cold-tty.log", tmp_path / "three.log")
    (tmp_path / "b" / "notes.md").write_text("not a log name: skipped when walking\n")
    stdin = f"{tmp_path / 'three.log'}\n\n{tmp_path / 'b'}\n"
    code, out = run_cli("stats", "-q", "-f", "json", str(tmp_path / "a"), "-", input=stdin)
    assert code == 0
    report = json.loads(out)
    assert report["logs"] == 3 and report["errors"] == []
    assert report["outcomes"]["success"] == 3


# -- grouping --------------------------------------------------------------------------------------------------


def test_by_dir_gives_each_directory_its_own_figures(tmp_path: Path) -> None:
    groups = {"team-a": LOGS[:10], "team-b": LOGS[10:25]}
    for name, logs in groups.items():
        (tmp_path / name).mkdir()
        for p in logs:
            shutil.copy(p, tmp_path / name / p.name)
    files, _ = expand_inputs([str(tmp_path)])
    report = collect(files, jobs=1, by="dir", top=10_000).to_json()
    jsonschema.validate(report, SCHEMA)
    assert [g["group"] for g in report["groups"]] == [str(tmp_path / n) for n in sorted(groups)]
    for g in report["groups"]:
        assert_figures(g, expected(builds_of(groups[Path(g["group"]).name])))
    assert_figures(report, expected(builds_of(LOGS[:25])))


def _github_timestamped(data: bytes, day: str) -> bytes:
    # GitHub Actions' prefix on every line, in the shape test_ci_logs.py checks
    return b"".join(b"%sT12:00:%02d.1234567Z " % (day.encode(), i % 60) + line
                    for i, line in enumerate(data.splitlines(keepends=True)))


def test_by_day_and_week_use_the_ci_timestamps(tmp_path: Path) -> None:
    days = {"2026-11-27": "s01-cold-plain.log", "2026-11-30": "s02-warm-plain.log",
            "2026-12-01": "s03-partial-plain.log"}
    for day, name in days.items():
        (tmp_path / f"{day}-{name}").write_bytes(_github_timestamped((SHARED / name).read_bytes(), day))
    files, _ = expand_inputs([str(tmp_path)])
    by_day = collect(files, jobs=1, by="day", top=10_000).to_json()
    assert [g["group"] for g in by_day["groups"]] == sorted(days)
    for g in by_day["groups"]:
        assert_figures(g, expected(builds_of([tmp_path / f"{g['group']}-{days[g['group']]}"])))
        assert g["duration_s"]["estimated"] == 0  # the timestamps give the wall time
    by_week = collect(files, jobs=1, by="week").to_json()
    weeks = Counter("{}-W{:02d}".format(*date.fromisoformat(d).isocalendar()[:2]) for d in days)
    assert {g["group"]: g["runs"] for g in by_week["groups"]} == dict(weeks)


def test_by_day_falls_back_to_the_file_date(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    shutil.copy(SHARED / "s04-fail-exit1-plain.log", log)
    when = datetime(2026, 9, 20, 23, 30, tzinfo=timezone.utc).timestamp()
    os.utime(log, (when, when))
    report = collect([str(log)], jobs=1, by="day").to_json()
    assert [g["group"] for g in report["groups"]] == ["2026-09-20"]


# -- output formats --------------------------------------------------------------------------------------------


def test_csv_markdown_and_text_carry_the_same_figures() -> None:
    paths = [str(p) for p in LOGS[:12]]
    report = collect(paths, jobs=1).to_json()
    code, out = run_cli("stats", "-q", "-f", "csv", "--jobs", "1", *paths)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {(r["name"], int(r["value"])) for r in rows if r["section"] == "outcomes"} == set(
        report["outcomes"].items())
    [runs] = [r for r in rows if r["section"] == "runs"]
    assert int(runs["value"]) == report["runs"]
    code, md = run_cli("stats", "-q", "-f", "markdown", "--jobs", "1", *paths)
    assert code == 0 and f"**{report['runs']}** runs" in md
    code, text = run_cli("stats", "-q", "--jobs", "1", *paths)
    assert code == 0 and f"Runs: {report['runs']}" in text
    assert report["steps"][0]["name"][:40] in text


def test_bad_usage_exits_2() -> None:
    assert run_cli("stats", "--format", "xml", str(LOGS[0]))[0] == 2
    assert run_cli("stats", "--by", "month", str(LOGS[0]))[0] == 2
    assert run_cli("stats", "--jobs", "0", str(LOGS[0]))[0] == 2


def test_no_progress_bar_when_stderr_is_not_a_terminal() -> None:
    result = CliRunner().invoke(app, ["stats", "-f", "json", "--jobs", "1", str(LOGS[0])])
    assert result.exit_code == 0
    assert result.stderr == ""


def test_summaries_in_hand_give_the_same_report() -> None:
    from buildlog.stats import aggregate_summaries

    paths = LOGS[:15]
    in_hand = aggregate_summaries([(str(p), summarize_path(p)) for p in paths], by="dir", top=10_000).to_json()
    read = collect([str(p) for p in paths], jobs=1, by="dir", top=10_000).to_json()
    assert {k: v for k, v in in_hand.items() if k != "bytes"} == {k: v for k, v in read.items() if k != "bytes"}
