"""The verdict of every real log, pinned whole: retry verdict, cache state, hit ratio, first miss, cache exports.

The expected values in ``VERDICTS`` were set by reading each log and its scenario (the ``.json`` label), never from
what buildlog prints: the comments cite the lines that decide each value. Counting rules (docs/json.md): a
cacheable step is a Dockerfile step shown in the log other than ``FROM``; ``hit_ratio`` is cached / cacheable;
``first_miss`` is the earliest-shown step that ran instead of being ``CACHED`` (with rawjson: where the build graph
says the misses began); ``state`` is ``warm`` when nothing missed, ``partial`` when some steps were cached and some
ran, ``cold`` when an import was requested and nothing was cached, ``none`` with no import and nothing cached.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import jsonschema
import pytest
from fixturelib import FIXTURES, SHARED, label_of

from buildlog import summarize_bytes, summarize_path
from buildlog.verdict import EXIT_INCOMPLETE, exit_code_for

LIVE = FIXTURES / "live"


class Verdict(NamedTuple):
    retryable: bool
    state: str | None  # None: not pinned (the log's CACHED lines are known to be wrong, see the comment)
    hits: tuple[int, int] | None  # (user steps cached, cacheable user steps); None: nothing cacheable / not pinned
    first_miss: tuple[str | None, int, int] | None  # (stage, index in the stage, log line of its header)
    exports: tuple[tuple[bool, bool], ...]  # each cache export: (completed, ignored)


VERDICTS: dict[str, Verdict] = {
    # -- buildx v0.36 / BuildKit v0.32 (tests/fixtures/shared) --------------------------------------------------
    # L15 "#4 ERROR: ...buildcache: not found" (import requested, not found); no CACHED line; 12 steps: builder
    # 2..9 + stage-1 2..5; first shown step L33 "#7 [stage-1 2/5] WORKDIR /app"; L128 "#20 DONE" (cache export).
    "s01-cold-plain": Verdict(False, "cold", (0, 12), ("stage-1", 2, 33), ((True, False),)),
    # the same build as JSON: the first vertex to start is "[builder 2/9] WORKDIR /src" (L43)
    "s01-cold-rawjson": Verdict(False, "cold", (0, 12), ("builder", 2, 43), ((True, False),)),
    # the same build on a terminal: L33 "=> [builder 2/9] WORKDIR /src" is listed before stage-1's WORKDIR (L34)
    "s01-cold-tty": Verdict(False, "cold", (0, 12), ("builder", 2, 33), ((True, False),)),
    # L16 "#4 DONE" (import found), L27..L60: all 12 steps CACHED; L94 "#20 DONE" (cache export)
    "s02-warm-plain": Verdict(False, "warm", (12, 12), None, ((True, False),)),
    "s02-warm-rawjson": Verdict(False, "warm", (12, 12), None, ((True, False),)),
    # L27..L39: builder 2..6 CACHED (#11 CACHED at L39, then DONE for the lazy pull: still a hit); L65 "#12
    # [builder 7/9] COPY src/" ran: src/handlers.c changed (the scenario)
    "s03-partial-plain": Verdict(False, "partial", (5, 12), ("builder", 7, 65), ((True, False),)),
    # L27..L45: builder 2..8 CACHED; L75 "#14 [builder 9/10] COPY tests/" ran; L94 #15 ERROR (exit 1, not
    # retryable); stage-1 never started; no cache export
    "s04-fail-exit1-plain": Verdict(False, "partial", (7, 9), ("builder", 9, 75), ()),
    "s04-fail-exit1-rawjson": Verdict(False, "partial", (7, 9), ("builder", 9, 63), ()),
    "s04-fail-exit1-tty": Verdict(False, "partial", (7, 9), ("builder", 9, 89), ()),
    # 12 steps shown, L27..L57 eleven CACHED; L59 "#18 [stage-1 5/6] COPY config/logging.yaml" failed
    "s05-copy-missing-plain": Verdict(False, "partial", (11, 12), ("stage-1", 5, 59), ()),
    # L14: parse error before any step; no import, no step
    "s05-dockerfile-syntax-plain": Verdict(False, "none", None, None, ()),
    # L27..L48: builder 2..9 CACHED; L80 "#15 [builder 10/10] RUN ... integration tests" was running when the
    # daemon died (L85 "error reading from server: EOF": retryable)
    "s06-daemon-killed-plain": Verdict(True, "partial", (8, 9), ("builder", 10, 80), ()),
    # L27..L105: 12 of 13 steps CACHED, L80 #15 ran (L93 DONE); L137 "#21 ERROR: error writing layer blob ...
    # connection refused" and the build succeeded (ignore-error=true): not completed, ignored
    "s07-cache-registry-down-ignore-error-plain": Verdict(False, "partial", (12, 13), ("builder", 10, 80),
                                                          ((False, True),)),
    # the same, but L146 "ERROR: failed to build: ... connection refused": the export failed the build, so its
    # error was not ignored, and a connection refused is worth a retry
    "s07-cache-registry-down-no-ignore-plain": Verdict(True, "partial", (12, 13), ("builder", 10, 80),
                                                       ((False, False),)),
    # L30..L42: builder 2..6 CACHED; L68 "#12 [builder 7/9] COPY src/" ran; L188 "#20 CANCELED" (cache export
    # canceled: not completed, no error to ignore); L202 503 Service Unavailable: retryable
    "s08-proxy-503-plain": Verdict(True, "partial", (5, 12), ("builder", 7, 68), ((False, False),)),
    # same cache picture; L138 "#20 DONE" (cache export), the push retries succeeded
    "s08-proxy-reset-transient-plain": Verdict(False, "partial", (5, 12), ("builder", 7, 69), ((True, False),)),
    # L27..L48: builder 2..9 CACHED; L80 #15 ran until L85 "#15 CANCELED"; canceled is never retried
    "s09-canceled-sigint-plain": Verdict(False, "partial", (8, 9), ("builder", 10, 80), ()),
    # no --cache-from, no CACHED line; 6 steps shown (builder 2..5, stage-1 3..4); first L47 "[builder 2/5]"
    "s10-build-check-warnings-plain": Verdict(False, "none", (0, 6), ("builder", 2, 47), ()),
    # L23/L26: both imports not found; L60 "#13 [api build 3/7] COPY shared/" CACHED (the worker target's
    # identical step); 13 steps shown; first miss L53 "#11 [worker build 2/7] WORKDIR /src"; L160/L177 both
    # cache exports DONE
    "s12-bake-two-targets-plain": Verdict(False, "partial", (1, 13), ("build", 2, 53),
                                          ((True, False), (True, False))),
    # no import, no CACHED line; 12 steps shown after the FROM; first L26 "#5 [assets 2/4] WORKDIR /work"
    "s13-concurrent-noisy-plain": Verdict(False, "none", (0, 12), ("assets", 2, 26), ()),
    # no import, 4 steps (L29 WORKDIR first), none CACHED
    "s13-log-clipped-plain": Verdict(False, "none", (0, 4), ("build", 2, 29), ()),
    # no import, 12 steps all run, first L33 "#6 [stage-1 2/5] WORKDIR /app"; L101 401 Unauthorized: not retryable
    "s14-auth-no-credentials-plain": Verdict(False, "none", (0, 12), ("stage-1", 2, 33), ()),
    # no import, L30 WORKDIR, L33 COPY, L36 RUN (failed: disk full, not retryable)
    "s15-disk-full-run-plain": Verdict(False, "none", (0, 3), ("build", 2, 30), ()),
    # -- Docker 20.10 (tests/fixtures/live) ------------------------------------------------------------------
    # L17 "#6 DONE" (import found), L31..L64: all 8 steps CACHED
    "docker20-cache-from-found": Verdict(False, "warm", (8, 8), None, ()),
    # L17 "#4 ERROR: ...does-not-exist: not found"; 8 steps all DONE; first L29 "#6 [builder 2/6] WORKDIR"
    "docker20-cache-from-missing": Verdict(False, "cold", (0, 8), ("builder", 2, 29), ()),
    # no import; 9 steps (builder 2..7, stage-1 2..4) all DONE; first L24 "#6 [builder 2/7] WORKDIR"
    "docker20-cold": Verdict(False, "none", (0, 9), ("builder", 2, 24), ()),
    # no import; api 2..3, worker 2..3, stage-2 2..3 all DONE; first L19 "#4 [api 2/3] WORKDIR"
    "docker20-concurrent-stages": Verdict(False, "none", (0, 6), ("api", 2, 19), ()),
    # 20.10 marks a step CACHED that never ran when cache keys fail (docs/testing.md): cache verdict not pinned
    "docker20-copy-missing": Verdict(False, None, None, None, ()),
    # L21 "#5 DONE" ([2/3] WORKDIR), L23 "#6 [3/3] RUN" was running; L29 "unexpected EOF": retryable
    "docker20-daemon-killed": Verdict(True, "none", (0, 2), (None, 2, 19), ()),
    "docker20-dockerfile-syntax": Verdict(False, "none", None, None, ()),
    # lint 2..4 and assets 2..3 shown, none CACHED (L46 assets 3/3 CANCELED); first L24 "#5 [lint 2/4]"
    "docker20-fail-exit1": Verdict(False, "none", (0, 5), ("lint", 2, 24), ()),
    # L26..L34: [2/6]..[4/6] CACHED; L36 "#9 [5/6] COPY t/" ran, L48 [6/6] failed with exit code 2
    "docker20-fail-exit2": Verdict(False, "partial", (3, 5), (None, 5, 36), ()),
    # no import; 8 steps DONE; first L25 "#5 [stage-1 2/4]"; L73 "#15 DONE" (the inline cache export)
    "docker20-inline-cache-export": Verdict(False, "none", (0, 8), ("stage-1", 2, 25), ((True, False),)),
    # [2/4] and [3/4] DONE, [4/4] failed with 137 (killed: not retryable)
    "docker20-killed-137": Verdict(False, "none", (0, 3), (None, 2, 24), ()),
    # Step 2..5 " ---> Using cache", Step 6/6 (L16) ran and exited 3
    "docker20-legacy-failure": Verdict(False, "partial", (4, 5), (None, 6, 16), ()),
    # Step 2..5 all ran; Step 2/5 at L4
    "docker20-legacy-success": Verdict(False, "none", (0, 4), (None, 2, 4), ()),
    # builder 2..4 and stage-1 2 CACHED; L40 "#10 [builder 5/7] COPY src/" ran (the changed source)
    "docker20-partial": Verdict(False, "partial", (4, 9), ("builder", 5, 40), ()),
    # 5 steps DONE, first L24 "#5 [builder 2/4]"; the push after the build: connection refused (retryable)
    "docker20-push-registry-down": Verdict(True, "none", (0, 5), ("builder", 2, 24), ()),
    "docker20-push": Verdict(False, "none", (0, 5), ("builder", 2, 25), ()),
    # the cold build on a terminal: L11 "=> [builder 2/7] WORKDIR" is the first step listed
    "docker20-tty-cold": Verdict(False, "none", (0, 9), ("builder", 2, 11), ()),
    "docker20-tty-dockerfile-syntax": Verdict(False, "none", None, None, ()),
    "docker20-tty-fail-exit1": Verdict(False, "none", (0, 5), ("lint", 2, 11), ()),
    # every step "=> CACHED"
    "docker20-tty-warm": Verdict(False, "warm", (9, 9), None, ()),
    # L30..L62: all 9 steps CACHED
    "docker20-warm": Verdict(False, "warm", (9, 9), None, ()),
}

ALL_LOGS = sorted(SHARED.glob("*.log")) + sorted(LIVE.glob("docker20-*.log"))


def test_every_real_log_has_a_verdict() -> None:
    assert {p.stem for p in ALL_LOGS} == set(VERDICTS)


@pytest.mark.parametrize("log", ALL_LOGS, ids=lambda p: p.stem)
def test_verdict_of_a_real_log(log: Path) -> None:
    want = VERDICTS[log.stem]
    assert want.retryable == label_of(log)["retryable"]  # the table and the label agree
    s = summarize_path(log).to_json()
    assert s["retryable"] is want.retryable
    assert s["failure"] is None or s["failure"]["retryable"] is want.retryable
    cache = s["cache"]
    assert [(e["completed"], e["ignored"]) for e in cache["exports"]] == list(want.exports)
    if want.state is None:
        return
    assert cache["state"] == want.state
    if want.hits is None:
        assert cache["hit_ratio"] is None
        assert s["steps"]["user_cacheable"] == 0
    else:
        cached, cacheable = want.hits
        assert (s["steps"]["user_cached"], s["steps"]["user_cacheable"]) == (cached, cacheable)
        assert s["steps"]["miss"] == cacheable - cached
        assert cache["hit_ratio"] == round(cached / cacheable, 4)  # docs/json.md: four decimal places
    miss = cache["first_miss"]
    if want.first_miss is None:
        assert miss is None
        assert cache["first_miss_by_stage"] == []
    else:
        assert miss is not None
        assert (miss["stage"], miss["index"], miss["line"]) == want.first_miss
        assert miss in cache["first_miss_by_stage"] or s["format"] == "rawjson"


SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "docs" / "summary.schema.json").read_text())


@pytest.mark.parametrize("log", ALL_LOGS, ids=lambda p: p.stem)
def test_json_contract_of_a_real_log(log: Path) -> None:
    """The JSON (docs/json.md, docs/summary.schema.json) of every real log, and of the same log cut in half."""
    for data in (log.read_bytes(), log.read_bytes()[: log.stat().st_size // 2]):
        doc = summarize_bytes(data).to_json()
        jsonschema.validate(doc, SCHEMA)
        assert doc["schema"] == "buildlog/summary/1"
        assert doc["attempts"] == len(doc["builds"]) >= 1 and doc["builds_omitted"] == 0
        last = doc["builds"][-1]
        assert {k: v for k, v in doc.items() if k not in ("attempts", "builds", "builds_omitted")} == last
        assert doc["lines"][0] <= doc["lines"][1]


def test_json_contract_of_an_empty_log() -> None:
    doc = summarize_bytes(b"").to_json()
    jsonschema.validate(doc, SCHEMA)
    assert (doc["outcome"], doc["retryable"], doc["failure"], doc["attempts"], doc["builds"]) == (
        "incomplete", False, None, 0, [])
    assert (doc["cache"]["state"], doc["cache"]["hit_ratio"], doc["format"]) == ("none", None, "unknown")


def test_first_miss_of_each_stage() -> None:
    """s12: the bake build's four stages each have their first miss (read from the log)."""
    s = summarize_path(SHARED / "s12-bake-two-targets-plain.log").to_json()
    got = [(m["stage"], m["index"], m["vertex"], m["line"]) for m in s["cache"]["first_miss_by_stage"]]
    # L53 "#11 [worker build 2/7]", L65 "#15 [api build 4/7]" (api's 3/7 was CACHED at L60), L108 "#22 [api
    # stage-1 2/2]", L111 "#23 [worker stage-1 2/2]"
    assert got == [("build", 2, 11, 53), ("build", 4, 15, 65), ("stage-1", 2, 22, 108), ("stage-1", 2, 23, 111)]


# ------------------------------------------------------------------------------------- the decisions


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_first_final_error_stands() -> None:
    """synthetic variant: s04's real exit-1 failure, then a wrapper's "unexpected EOF" (the real last line of
    docker20-daemon-killed, L29). The build failed at L116; what a wrapper prints after it does not replace it."""
    eof = lines(LIVE / "docker20-daemon-killed.log")[28]
    assert eof.strip() == b"unexpected EOF"
    data = (SHARED / "s04-fail-exit1-plain.log").read_bytes() + eof
    s = summarize_bytes(data)
    assert s.outcome == "failure"
    assert s.failure is not None
    assert (s.failure.failure_class, s.failure.retryable, s.failure.line) == ("build-step", False, 116)
    assert not s.retryable


def test_first_final_error_stands_the_other_way_round() -> None:
    """synthetic variant: the retryable failure first (s06 L85), a build-step line after it: still retryable."""
    s04_final = lines(SHARED / "s04-fail-exit1-plain.log")[115]
    assert s04_final.startswith(b"ERROR: failed to build: failed to solve: process")
    s = summarize_bytes((SHARED / "s06-daemon-killed-plain.log").read_bytes() + s04_final)
    assert s.failure is not None
    assert (s.failure.failure_class, s.failure.line) == ("builder-connection-lost", 85)
    assert s.retryable


def test_cut_log_is_never_retryable_even_with_a_retryable_cause() -> None:
    """s08-503 cut right after L144 "#19 ERROR: failed to push ... 503 Service Unavailable" (a retryable cause),
    before the client's final line L202: the log has no verdict, so no retry, whatever the class."""
    log = lines(SHARED / "s08-proxy-503-plain.log")
    assert log[143].startswith(b"#19 ERROR: failed to push") and b"503 Service Unavailable" in log[143]
    s = summarize_bytes(b"".join(log[:144]))
    assert s.outcome == "incomplete"
    assert s.failure is not None
    assert s.failure.failure_class == "registry-unavailable"  # the likely cause is kept ...
    assert s.failure.retryable is False  # ... but a log without a verdict is never retried
    assert s.failure.reason.startswith("The log ends without a verdict; so far: ")
    assert s.retryable is False
    assert s.to_json()["failure"]["retryable"] is False
    assert exit_code_for(s) == EXIT_INCOMPLETE
    # the whole log (with its final line) is retryable: the cut is what makes the difference
    assert summarize_path(SHARED / "s08-proxy-503-plain.log").retryable


def test_ignored_is_false_when_the_export_failed_the_build() -> None:
    s = summarize_path(SHARED / "s07-cache-registry-down-no-ignore-plain.log")
    last = s.last
    assert last is not None and last.failure is not None
    [export] = last.exports
    assert export.error is not None and "connection refused" in export.error  # L142 "#20 ERROR: ..."
    assert (export.completed, export.ignored) == (False, False)
    assert last.failure.failure_class == "cache-export"
    # with ignore-error=true the same error is ignored and the build succeeds
    s = summarize_path(SHARED / "s07-cache-registry-down-ignore-error-plain.log")
    assert s.last is not None
    assert [(x.completed, x.ignored) for x in s.last.exports] == [(False, True)]


def test_an_export_error_in_a_build_that_failed_elsewhere_is_ignored() -> None:
    """synthetic variant: s07-ignore-error (the export's L137 error was ignored, the build went on), then the
    daemon died (s06's real final line L85, "error reading from server: EOF"). The final message repeats no
    vertex's error: the ignored export error is not the cause, and the class is the lost builder's."""
    final = lines(SHARED / "s06-daemon-killed-plain.log")[84]
    assert final.startswith(b"ERROR: failed to build: failed to receive status")
    s = summarize_bytes((SHARED / "s07-cache-registry-down-ignore-error-plain.log").read_bytes() + final)
    assert s.last is not None and s.failure is not None
    assert (s.failure.failure_class, s.failure.step) == ("builder-connection-lost", None)
    assert s.retryable
    assert [(x.completed, x.ignored) for x in s.last.exports] == [(False, True)]


def test_import_found_but_nothing_cached_is_cold() -> None:
    """synthetic variant of s01 (cold): its import vertex's L15 "#4 ERROR: ... not found" replaced by s02's real
    L15-L16 (the manifest was found, "#4 DONE"). Still nothing is CACHED: an import was requested and was of no
    use, which is "cold", not "none"."""
    s01 = lines(SHARED / "s01-cold-plain.log")
    s02 = lines(SHARED / "s02-warm-plain.log")
    assert s01[14].startswith(b"#4 ERROR:") and s02[15].startswith(b"#4 DONE")
    data = b"".join(s01[:14] + s02[14:16] + s01[15:])
    s = summarize_bytes(data)
    assert s.last is not None
    assert [(i.ref, i.found) for i in s.last.imports] == [("127.0.0.1:5000/app:buildcache", True)]
    assert s.last.steps.user_cached == 0
    assert s.last.cache_state == "cold"


def test_no_import_and_nothing_cached_is_none() -> None:
    s = summarize_path(LIVE / "docker20-cold.log")
    assert s.last is not None and s.last.imports == [] and s.last.cache_state == "none"


def test_step_output_rule_wins_over_the_final_message() -> None:
    """s15: the final line L76 says only "exit code: 1" (build-step); the failed step's own output L64 says
    "No space left on device": the step output decides."""
    s = summarize_path(SHARED / "s15-disk-full-run-plain.log")
    assert s.failure is not None
    assert (s.failure.failure_class, s.failure.rule, s.failure.exit_code) == ("disk-full", "disk-full-output", 1)
    assert s.failure.line == 76


def test_step_output_of_another_step_does_not_decide() -> None:
    """synthetic variant of s04: a step that succeeded (#13, L46..L73) printed "no space left on device"; the
    failed step (#15) did not: the verdict stays build-step."""
    log = lines(SHARED / "s04-fail-exit1-plain.log")
    i = next(n for n, line in enumerate(log) if line.startswith(b"#13 ") and b"CC" in line)
    data = b"".join([*log[: i + 1], b"#13 1.000 warning: no space left on device for ccache\n", *log[i + 1 :]])
    s = summarize_bytes(data)
    assert s.failure is not None and s.failure.failure_class == "build-step"


def test_user_rules_come_before_the_built_in_ones() -> None:
    from buildlog import DEFAULT_RULES, rules_from_toml

    # a user rule that matches s04's final message decides instead of build-step-exit
    user = rules_from_toml('[[rule]]\nname = "flaky-tests"\npattern = "exit code: 1$"\nclass = "network"\n'
                           'retryable = true\nreason = "our test runner flakes"\n')
    s = summarize_path(SHARED / "s04-fail-exit1-plain.log", rules=DEFAULT_RULES.with_rules(user))
    assert s.failure is not None
    assert (s.failure.rule, s.failure.failure_class, s.failure.reason) == ("flaky-tests", "network",
                                                                           "our test runner flakes")
    assert s.retryable
    # a user step-output rule comes before the built-in disk-full-output rule
    user = rules_from_toml('[[rule]]\nname = "tmpfs"\npattern = "No space left"\nclass = "unknown"\n'
                           'scope = "step-output"\nreason = "our tmpfs is too small"\n')
    s = summarize_path(SHARED / "s15-disk-full-run-plain.log", rules=DEFAULT_RULES.with_rules(user))
    assert s.failure is not None and (s.failure.rule, s.failure.failure_class) == ("tmpfs", "unknown")
    # without user rules, the built-in ones decide
    s = summarize_path(SHARED / "s04-fail-exit1-plain.log")
    assert s.failure is not None and s.failure.rule == "build-step-exit"


# --------------------------------------------------------------------------- the client's own WARNING lines


def _s13_clipped_without_its_image_export() -> list[bytes]:
    """s13-log-clipped up to (without) L792 "#9 exporting to image": every step done, the build not yet at its
    end. (Without an image export and without a line the client prints at the end, such a log is incomplete.)"""
    log = lines(SHARED / "s13-log-clipped-plain.log")
    assert log[791].startswith(b"#9 exporting to image")
    return log[:790]


def test_client_warning_at_the_end_means_the_build_ended() -> None:
    """synthetic variant: a build with no image export (docker-container driver, no --output) ends with the
    client's "WARNING: No output specified ..." (FORMAT.md): that line is what says the build finished."""
    head = _s13_clipped_without_its_image_export()
    assert summarize_bytes(b"".join(head)).outcome == "incomplete"
    warning = (b"WARNING: No output specified with docker-container driver. Build result will only remain in the "
               b"build cache. To push result image into registry use --push or to load image into docker use --load\n")
    s = summarize_bytes(b"".join([*head, warning]))
    assert s.outcome == "success" and s.failure is None
    assert s.last is not None
    [w] = s.last.warnings
    assert (w["rule"], w["line"], w["source_line"]) == (None, 791, None)
    assert w["text"].startswith("No output specified with docker-container driver.")


def test_missing_local_cache_is_an_import_not_found() -> None:
    """synthetic variant: the client's "WARNING: local cache import at DIR not found due to err: ..." (FORMAT.md)
    is a --cache-from type=local that found nothing: an import, not found, so the cache is cold."""
    warning = b"WARNING: local cache import at /tmp/.buildx-cache not found due to err: could not read " \
              b"/tmp/.buildx-cache/index.json: open /tmp/.buildx-cache/index.json: no such file or directory\n"
    # after the "#0 building with ..." line: text before a build's first line belongs to no build
    log = lines(SHARED / "s13-log-clipped-plain.log")
    assert log[0].startswith(b"#0 building with")
    s = summarize_bytes(b"".join([log[0], warning, *log[1:]]))
    assert s.last is not None and s.outcome == "success"
    assert [(i.ref, i.found) for i in s.last.imports] == [("/tmp/.buildx-cache", False)]
    assert s.last.cache_state == "cold"
    assert s.to_json()["cache"]["imports"] == [{"ref": "/tmp/.buildx-cache", "found": False}]


def test_critical_path_of_a_cold_rawjson_build() -> None:
    """s01-cold-rawjson: nothing cached, so the longest chain runs through every builder step (FROM, then 2/9..9/9,
    each on the previous one's result; the RUNs sleep 1 + 1 + 2 + 1 s), then stage-1's 3/5 (COPY --from=builder)
    to 5/5. stage-1 2/5 (WORKDIR, 0.0 s) is the other input of 3/5 and is not on the path. The times are exact
    (rawjson timestamps)."""
    s = summarize_path(SHARED / "s01-cold-rawjson.log").to_json()
    path = s["critical_path"]
    assert path is not None and path["exact"] is True
    steps = [name.split("]")[0] + "]" for name in path["steps"]]
    assert steps == [f"[builder {i}/9]" for i in range(1, 10)] + [f"[stage-1 {i}/5]" for i in range(3, 6)]
    assert 5.0 < path["seconds"] < 6.0
    assert path["seconds"] <= s["duration_s"] < 7.0
    # the slowest vertex that ran is the 2-second compile
    assert s["slowest"][0]["name"].startswith("[builder 8/9] RUN echo \"compiling app\" && sleep 2")
    assert 2.0 <= s["slowest"][0]["seconds"] < 3.0


def test_plain_logs_have_no_critical_path() -> None:
    assert summarize_path(SHARED / "s01-cold-plain.log").to_json()["critical_path"] is None


def test_import_found_is_known_from_its_manifest_line() -> None:
    """s02 cut after L15 "#4 inferred cache manifest type: ... done", before L16 "#4 DONE": the manifest was
    found, the import vertex just has not closed yet."""
    log = lines(SHARED / "s02-warm-plain.log")
    assert log[14].startswith(b"#4 inferred cache manifest type:") and log[15].startswith(b"#4 DONE")
    s = summarize_bytes(b"".join(log[:15]))
    assert s.last is not None and s.outcome == "incomplete"
    assert [(i.ref, i.found) for i in s.last.imports] == [("127.0.0.1:5000/app:buildcache", True)]


def test_cache_export_completed_is_known_from_its_manifest_line() -> None:
    """s01 cut after L127 "#20 writing cache image manifest sha256:... done", before L128 "#20 DONE": the cache
    was written. Cut one line earlier, it was not (yet)."""
    log = lines(SHARED / "s01-cold-plain.log")
    assert log[126].startswith(b"#20 writing cache image manifest") and log[127].startswith(b"#20 DONE")
    s = summarize_bytes(b"".join(log[:127]))
    assert s.last is not None
    assert [(x.completed, x.error, x.ignored) for x in s.last.exports] == [(True, None, False)]
    s = summarize_bytes(b"".join(log[:126]))
    assert s.last is not None
    assert [(x.completed, x.error) for x in s.last.exports] == [(False, None)]


@pytest.mark.parametrize("path", sorted(SHARED.glob("*.log")), ids=lambda p: p.stem)
def test_steps_counted_as_the_label_counts_them(path: Path) -> None:
    """The labels count the build's steps and the cached ones (``steps_total``, ``steps_cached``). A failed or cut
    build's log does not show the steps that never started, so its total is only checked for a build that ran to
    its end."""
    label = label_of(path)
    s = summarize_path(path)
    assert s.last is not None
    steps = s.to_json()["steps"]
    assert steps["cached"] == label["steps_cached"]
    if label["outcome"] == "success":
        assert steps["total"] == label["steps_total"]
    else:
        assert steps["total"] <= label["steps_total"]
