"""``buildlog compare`` on real pairs of runs of the same build; the expected regressions and changes are read from
the logs' own lines (``#N CACHED``, ``#N DONE 2.1s``; rawjson's ``cached``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fixturelib import SHARED
from fleetlib import PlainVertex, normalise, read_plain
from typer.testing import CliRunner

from buildlog import summarize_path
from buildlog.cli import app
from buildlog.compare import compare_builds


def compare_json(a: str, b: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["compare", str(SHARED / a), str(SHARED / b), "-f", "json", *args])
    return result.exit_code, json.loads(result.stdout)


def steps_by_key(path: Path) -> dict[str, PlainVertex]:
    return {normalise(v.name): v for v in read_plain(path).values() if v.step}


def expected_regressions(a: Path, b: Path) -> set[str]:
    """Cacheable steps CACHED in A that ran (not CACHED) in B."""
    sa, sb = steps_by_key(a), steps_by_key(b)
    return {k for k, v in sb.items() if v.cacheable and v.ran and not v.cached and k in sa and sa[k].cached}


def test_cold_then_warm_is_no_regression() -> None:
    a, b = SHARED / "s01-cold-plain.log", SHARED / "s02-warm-plain.log"
    code, out = compare_json(a.name, b.name, "--fail-on-regression")
    assert code == 0
    assert out["regressed"] is False and out["regressions"]["steps"] == []
    assert (out["cache"]["state"]["a"], out["cache"]["state"]["b"]) == ("cold", "warm")
    cached_in_b = sum(v.cached and v.cacheable for v in steps_by_key(b).values())
    assert out["cache"]["cached_steps"] == {"a": 0, "b": cached_in_b, "delta": cached_in_b}
    assert out["cache"]["hit_ratio"]["delta"] == pytest.approx(1.0)
    assert out["duration_s"]["delta"] < 0 and out["outcome"] == {"a": "success", "b": "success"}


def test_warm_then_partial_lists_the_steps_that_lost_the_cache() -> None:
    a, b = SHARED / "s02-warm-plain.log", SHARED / "s03-partial-plain.log"
    code, out = compare_json(a.name, b.name, "--fail-on-regression")
    assert code == 1 and out["regressed"] is True
    assert set(out["regressions"]["steps"]) == expected_regressions(a, b)
    assert len(out["regressions"]["steps"]) == 7
    # B's first miss: the earliest step of B that ran after the cached steps of its stage
    ran = [v for v in read_plain(b).values() if v.cacheable and v.ran and not v.cached]
    first = min(ran, key=lambda v: v.line)
    assert out["regressions"]["first_miss"] == {"name": first.name, "stage": first.stage}
    assert out["regressions"]["impact"]["exact"] is False


def test_the_same_pair_in_rawjson() -> None:
    def cached_keys(path: Path) -> dict[str, bool]:
        cached: dict[str, bool] = {}
        for line in path.read_text().splitlines():
            for v in json.loads(line).get("vertexes") or ():
                if re.match(r"\[[^\]]*\d+/\d+\] (?!FROM)", v["name"]):
                    key = normalise(v["name"])
                    cached[key] = cached.get(key, False) or bool(v.get("cached"))
        return cached

    a, b = SHARED / "s02-warm-rawjson.log", SHARED / "s01-cold-rawjson.log"
    code, out = compare_json(a.name, b.name, "--fail-on-regression")
    ca, cb = cached_keys(a), cached_keys(b)
    assert set(out["regressions"]["steps"]) == {k for k, c in cb.items() if not c and ca.get(k)}
    assert out["regressions"]["impact"]["exact"] is True
    assert code == 1
    code, back = compare_json(b.name, a.name, "--fail-on-regression")
    assert code == 0 and back["regressions"]["steps"] == []


def test_slower_and_faster_steps_past_the_threshold() -> None:
    a, b = SHARED / "s01-cold-plain.log", SHARED / "s03-partial-plain.log"
    # every vertex that ran in both: steps, internal loads and exports alike
    sa = {normalise(v.name): v for v in read_plain(a).values()}
    sb = {normalise(v.name): v for v in read_plain(b).values()}
    both = {k: (sa[k].seconds, sb[k].seconds) for k in sa.keys() & sb.keys()
            if sa[k].ran and sb[k].ran and not sa[k].cached and not sb[k].cached
            and sa[k].seconds is not None and sb[k].seconds is not None}
    code, out = compare_json(a.name, b.name, "--threshold", "0", "--threshold-seconds", "0")
    assert {c["name"] for c in out["slower"]} == {k for k, (x, y) in both.items() if y > x}
    assert {c["name"] for c in out["faster"]} == {k for k, (x, y) in both.items() if y < x}
    for c in out["slower"] + out["faster"]:
        assert (c["a_seconds"], c["b_seconds"]) == both[c["name"]]
    # the default threshold (20 % and 1 s): tenths of a second are no change
    code, out = compare_json(a.name, b.name)
    assert code == 0
    big = {k for k, (x, y) in both.items() if abs(y - x) > 1 and abs(y - x) > 0.2 * min(x, y)}
    assert {c["name"] for c in out["slower"] + out["faster"]} == big


def test_steps_in_only_one_run() -> None:
    a, b = SHARED / "s01-cold-plain.log", SHARED / "s04-fail-exit1-plain.log"
    code, out = compare_json(a.name, b.name)
    assert code == 0
    assert not any(v.cached for v in read_plain(a).values()) and out["regressions"]["steps"] == []  # A was cold
    ka = {normalise(v.name) for v in read_plain(a).values()}
    kb = {normalise(v.name) for v in read_plain(b).values()}
    assert set(out["only_in_a"]) == ka - kb and set(out["only_in_b"]) == kb - ka
    assert out["outcome"] == {"a": "success", "b": "failure"}


def test_a_tty_capture_compares_with_the_plain_run_of_the_same_build() -> None:
    a = summarize_path(SHARED / "s01-cold-tty.log").last
    b = summarize_path(SHARED / "s01-cold-plain.log").last
    assert a is not None and b is not None
    cmp = compare_builds(a, b)
    assert cmp.only_a == [] and cmp.only_b == [] and cmp.regressions == []


def test_text_and_markdown() -> None:
    args = [str(SHARED / "s02-warm-plain.log"), str(SHARED / "s03-partial-plain.log")]
    text = CliRunner().invoke(app, ["compare", *args]).stdout
    assert "Cache regressions (7 steps" in text and "B's first miss: [builder 7/9] COPY src/ ./src/" in text
    md = CliRunner().invoke(app, ["compare", *args, "-f", "markdown"]).stdout
    assert "| cached steps | 12 | 5 | -7 |" in md and "**Cache regressions** (7)" in md


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("")
    assert CliRunner().invoke(app, ["compare", str(empty), str(SHARED / "s02-warm-plain.log")]).exit_code == 2
    assert CliRunner().invoke(app, ["compare", str(tmp_path / "missing.log"), str(empty)]).exit_code == 2
    assert CliRunner().invoke(app, ["compare", str(SHARED / "s02-warm-plain.log"), str(SHARED / "s02-warm-plain.log"),
                                    "-f", "csv"]).exit_code == 2
