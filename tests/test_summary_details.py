"""Summary details checked against what the real logs say (expected values read off the logs, line numbers cited)."""

from __future__ import annotations

from fixturelib import SHARED

from buildlog import Parser, Summarizer, summarize_path


def test_partial_rebuild_counts_and_first_miss() -> None:
    # s03: builder steps 2-6 CACHED (lines 26-39), "[builder 7/9] COPY src/" runs (line 65), stage-1 runs.
    b = summarize_path(SHARED / "s03-partial-plain.log").last
    assert b is not None
    s = b.steps
    assert (s.user_total, s.from_, s.user_cacheable, s.user_cached, s.miss) == (13, 1, 12, 5, 7)
    assert b.cache_state == "partial"
    assert b.hit_ratio is not None and abs(b.hit_ratio - 5 / 12) < 1e-3
    assert b.first_miss is not None
    assert (b.first_miss.name, b.first_miss.line) == ("[builder 7/9] COPY src/ ./src/", 65)
    assert [m.stage for m in b.first_miss_by_stage] == ["builder", "stage-1"]
    assert b.first_miss_by_stage[1].name == "[stage-1 2/5] WORKDIR /app"


def test_warm_build_has_no_miss() -> None:
    b = summarize_path(SHARED / "s02-warm-plain.log").last
    assert b is not None
    assert (b.steps.user_cached, b.steps.miss, b.cache_state, b.hit_ratio) == (12, 0, "warm", 1.0)
    assert b.first_miss is None


def test_pushes_and_manifest_list() -> None:
    # s01 line 99: "pushing manifest for 127.0.0.1:5000/app:1.4.0@sha256:ae9b95... 0.0s done"
    b = summarize_path(SHARED / "s01-cold-plain.log").last
    assert b is not None and b.exported
    digest = "sha256:ae9b952f2eb6c7611cd03869c49312ba6862fc77719ec4f1c984f5194c062dec"
    assert b.pushed == [{"ref": "127.0.0.1:5000/app:1.4.0", "digest": digest}]
    assert b.manifest_list == digest
    # s12: bake pushes both targets
    b = summarize_path(SHARED / "s12-bake-two-targets-plain.log").last
    assert b is not None
    assert sorted(p["ref"] for p in b.pushed) == ["127.0.0.1:5000/api:2.0.0", "127.0.0.1:5000/worker:2.0.0"]


def test_failed_step_and_slowest() -> None:
    b = summarize_path(SHARED / "s04-fail-exit1-plain.log").last
    assert b is not None and b.failure is not None
    assert b.failure.step == '[builder 10/10] RUN echo "running unit tests" && sleep 1 && sh tests/run.sh'
    assert b.failure.exit_code == 1
    assert b.failure.line == 116
    assert not b.pushed and not b.exported
    # s13: the e2e step took 14.1s (line 304), unit 12.4s (line 260), lint 13.8s (line 290)
    b = summarize_path(SHARED / "s13-concurrent-noisy-plain.log").last
    assert b is not None
    assert [round(s, 1) for _, s in b.slowest[:3]] == [14.1, 13.8, 12.4]


def test_build_check_warnings_are_listed_once() -> None:
    # s10: 11 rules shown as "#1 WARN:" (lines 5-15) and again in the closing block (lines 82-93)
    b = summarize_path(SHARED / "s10-build-check-warnings-plain.log").last
    assert b is not None
    assert len(b.warnings) == 11
    assert sum(w["rule"] == "SecretsUsedInArgOrEnv" for w in b.warnings) == 2
    undefined = next(w for w in b.warnings if w["rule"] == "UndefinedVar")
    assert undefined["source_line"] == 16


def test_summary_works_live() -> None:
    """Asked mid-stream, the summary tells what is known so far; a failure never reads as success early."""
    data = (SHARED / "s04-fail-exit1-plain.log").read_bytes()
    # the client prints the failed step's error block only once the build has failed: from there on it is known
    block = data.index(b"------\n > [builder 10/10]")
    parser, live = Parser(), Summarizer()
    seen = []
    for i in range(0, len(data), 512):
        for e in parser.feed(data[i : i + 512]):
            live.feed(e)
        seen.append((i + 512, live.result().outcome))
    for e in parser.close():
        live.feed(e)
    assert {outcome for end, outcome in seen if end < block} == {"incomplete"}
    assert {outcome for end, outcome in seen if end > block + 100} == {"failure"}
    final = live.close()
    assert final.outcome == "failure" and final.failure is not None
    assert final.failure.failure_class == "build-step"


def test_error_before_any_vertex_is_a_failed_build() -> None:
    # synthetic, in FORMAT.md's words: "errors before any vertex: the whole log can be one line"
    from buildlog import summarize_bytes

    s = summarize_bytes(b'ERROR: failed to build: unable to prepare context: path "nope" not found\n')
    assert s.outcome == "failure" and s.attempts == 1
    assert s.failure is not None and s.failure.failure_class == "context"


def test_empty_log_is_incomplete() -> None:
    from buildlog import summarize_bytes

    s = summarize_bytes(b"")
    assert s.outcome == "incomplete" and s.attempts == 0 and s.to_json()["failure"] is None


def test_nested_build_output_stays_step_output() -> None:
    # synthetic variant of s04: a RUN step that itself prints a tty build header (a docker build inside a step)
    from buildlog import parse_bytes, summarize_bytes

    data = (SHARED / "s04-fail-exit1-plain.log").read_bytes()
    nested = data.replace(b"#15 1.055 ok 1 - config parses", b"#15 1.055 [+] Building 0.0s (1/1) FINISHED")
    assert nested != data
    s = summarize_bytes(nested)
    assert s.attempts == 1 and s.failure is not None and s.failure.failure_class == "build-step"
    [line] = [e for e in parse_bytes(nested) if e.line <= 81 <= e.end_line]
    assert line.type == "StepOutput"


def test_log_cut_between_cr_and_lf() -> None:
    from buildlog import parse_bytes

    data = (SHARED / "s04-fail-exit1-tty.log").read_bytes()
    cut = data[: data.index(b"------\r\n") + len(b"------\r")]
    assert parse_bytes(cut)[-1].type == "ErrorBlockRule"


def test_client_side_vertex_is_not_a_cache_miss() -> None:
    # synthetic variant of s02 (warm): buildx with --metadata-file adds a vertex that is no Dockerfile step
    from buildlog import summarize_bytes

    data = (SHARED / "s02-warm-plain.log").read_bytes()
    data += b"\n#21 resolving provenance for metadata file\n#21 DONE 0.0s\n"
    b = summarize_bytes(data).last
    assert b is not None
    assert b.cache_state == "warm" and b.steps.miss == 0
    assert b.steps.user_total == 14  # 12 cached steps, the FROM, and this vertex
