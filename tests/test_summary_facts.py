"""The facts a build summary states beside its verdict: step counts, the first cache miss, the build context,
when the build started, the vertex records and the advice drawn from them; and the reason of a failure whose rule
matched a long text.

Expected values are read off the logs (line numbers cited) or taken from the documents that make them a contract
(docs/json.md, docs/taxonomy.md); logs changed in code are named synthetic variants.
"""

from __future__ import annotations

from fixturelib import EXCERPTS, LIVE, SHARED, log_lines

from buildlog import summarize_bytes, summarize_path

# ------------------------------------------------------------------------------------------------ step counts


def test_executed_counts_the_vertices_done_and_not_cached() -> None:
    """docs/json.md ``steps.executed``: vertices that ran and finished (DONE, not cached). s01 is a cold build of 20
    vertices (#1-#20), none CACHED; #4, the cache import, ends in an ERROR (L15) and never prints DONE: 19."""
    s = summarize_path(SHARED / "s01-cold-plain.log")
    assert s.last is not None
    assert (s.last.steps.total, s.last.steps.cached, s.last.steps.errored) == (20, 0, 1)
    assert s.last.steps.executed == 19


def test_from_counts_each_base_image() -> None:
    """docs/json.md ``steps.from``: each FROM is counted, none is a cache hit or miss. synthetic variant of s01,
    whose two stages share one base (L21 "#6 [builder 1/9] FROM ..."): the final stage starts from another image,
    so a second FROM vertex (#21, made up) is shown before its first step (L33 "#7 [stage-1 2/5] WORKDIR /app")."""
    log = log_lines(SHARED / "s01-cold-plain.log")
    assert log[32] == b"#7 [stage-1 2/5] WORKDIR /app\n"
    extra = [b"#21 [stage-1 1/5] FROM docker.io/library/alpine:3.20@sha256:" + b"0" * 64 + b"\n",
             b"#21 DONE 0.0s\n", b"\n"]
    s = summarize_bytes(b"".join([*log[:32], *extra, *log[32:]]))
    assert s.last is not None
    assert s.last.steps.from_ == 2
    whole = summarize_path(SHARED / "s01-cold-plain.log").last
    assert whole is not None and whole.steps.from_ == 1


# ----------------------------------------------------------------------------------------- the first miss


def test_the_first_miss_is_the_earliest_step_of_its_stage_not_the_first_shown() -> None:
    """docs/json.md ``first_miss``: the step that invalidated everything after it in its stage. Docker 20.10 shows
    "#8 [4/5] COPY config/logging.yaml" (L28) before "#5 [2/5] WORKDIR /srv/copy" (L32), which also ran (L34 DONE,
    not CACHED): the first miss is step 2, on L32, whatever the order they were printed in."""
    s = summarize_path(LIVE / "docker20-copy-missing.log")
    assert s.last is not None and s.last.first_miss is not None
    miss = s.last.first_miss
    assert (miss.name, miss.index, miss.vertex, miss.line) == ("[2/5] WORKDIR /srv/copy", 2, 5, 32)
    assert [(m.name, m.line) for m in s.last.first_miss_by_stage] == [("[2/5] WORKDIR /srv/copy", 32)]


# ------------------------------------------------------------------------------------------- build context


def test_a_context_upload_without_a_time_takes_its_vertexs_time() -> None:
    """docs/json.md ``context``: ``seconds`` is the vertex's time where the status has none. s01 L18 "#5
    transferring context: 1.03kB done" has no time; L19 "#5 DONE 0.0s"."""
    s = summarize_path(SHARED / "s01-cold-plain.log")
    assert s.to_json()["context"] == {"bytes": 1030, "seconds": 0.0}


def test_a_context_upload_cut_before_its_vertex_is_done_has_no_time() -> None:
    """s01 cut after L18 "#5 transferring context: 1.03kB done", before L19 "#5 DONE 0.0s": the bytes are known,
    no time is (docs/json.md ``context``: the vertex's time where the status has none; here there is none)."""
    log = log_lines(SHARED / "s01-cold-plain.log")
    assert log[17] == b"#5 transferring context: 1.03kB done\n" and log[18] == b"#5 DONE 0.0s\n"
    assert summarize_bytes(b"".join(log[:18])).to_json()["context"] == {"bytes": 1030, "seconds": None}


# ---------------------------------------------------------------------------------------------- started_at


def test_started_at_is_the_earliest_rawjson_start_not_the_first_seen() -> None:
    """docs/json.md ``started_at``: the earliest rawjson start. s01-cold-rawjson cut before L17: L18 is the first
    start the cut log shows (02:33:34.399498368), but L20 repeats, with its error, the cache import's start, which
    is earlier (02:33:34.398035602, first reported on L15)."""
    log = log_lines(SHARED / "s01-cold-rawjson.log")
    assert b'"started":"2026-11-28T02:33:34.399498368Z"' in log[17]
    assert b'"started":"2026-11-28T02:33:34.398035602Z"' in log[19]
    s = summarize_bytes(b"".join(log[16:]))
    assert s.to_json()["started_at"] == "2026-11-28T02:33:34.398035602Z"


def test_started_at_compares_times_not_their_text() -> None:
    """synthetic variant of the cut above: the cache import started at 02:33:34.39 (L15, L20), which Go's RFC 3339
    prints without its trailing zeros ("34.39Z"). It is still the earliest start of the cut log (the next is L18's
    34.399498368), though as text "34.39Z" sorts after "34.399...Z"."""
    log = log_lines(SHARED / "s01-cold-rawjson.log")
    assert b"2026-11-28T02:33:34.398035602Z" in log[19]
    data = b"".join(log[16:]).replace(b"2026-11-28T02:33:34.398035602Z", b"2026-11-28T02:33:34.39Z")
    assert summarize_bytes(data).to_json()["started_at"] == "2026-11-28T02:33:34.39Z"


# --------------------------------------------------------------------------------- vertex records, advice


def test_a_legacy_steps_key_is_its_number_and_instruction() -> None:
    """docs/json.md ``vertices[].key``: the legacy builder's ``Step 3/7 : RUN x`` is ``[3] RUN x``. Steps 1-6 of
    docker20-legacy-failure (L2, L4, L7, L10, L13, L16)."""
    s = summarize_path(LIVE / "docker20-legacy-failure.log")
    assert s.last is not None
    assert [v.key for v in s.last.vertices] == [
        "[1] FROM blbase:latest", "[2] WORKDIR /srv/legacy", "[3] COPY app.conf ./",
        '[4] RUN echo "legacy builder step" && cat app.conf', '[5] RUN echo "to stdout" && echo "to stderr" >&2',
        '[6] RUN echo "running checks" && echo "check failed: debug is on" >&2 && exit 3']


def test_a_run_that_downloads_without_a_cache_mount_is_advised() -> None:
    """docs/json.md ``advice``: ``download-without-cache-mount``, a RUN that ran downloads packages without
    ``--mount=type=cache``. f02-command-failed L1 "#12 [stage-1 3/3] RUN ./gradlew build" ran (and was killed,
    L2): Gradle downloads its dependencies, and the command mounts no cache."""
    s = summarize_path(EXCERPTS / "f02-command-failed-synthetic.log")
    assert s.last is not None
    assert [(a.rule, a.step) for a in s.last.advice] == [
        ("download-without-cache-mount", "[stage-1 3/3] RUN ./gradlew build")]
    assert s.last.advice[0].text in s.last.hints


def test_the_platforms_are_those_the_vertex_names_carry() -> None:
    """docs/json.md ``platforms``: the platforms named in the vertex names (``[linux/arm64 builder 3/7]``).
    synthetic variant of s04 as a two-platform build prints it: each step of the builder stage named for
    linux/arm64 (``[builder 10/10]`` becomes ``[linux/arm64 builder 10/10]``)."""
    data = (SHARED / "s04-fail-exit1-plain.log").read_bytes()
    assert b"[builder 10/10] RUN" in data
    s = summarize_bytes(data.replace(b"[builder ", b"[linux/arm64 builder "))
    assert s.last is not None
    assert s.last.platforms == ["linux/arm64"]


# ----------------------------------------------------------------------------------- a long matched text


def test_a_reasons_match_is_its_first_120_characters() -> None:
    """docs/taxonomy.md: ``{match}`` in a reason is the text the pattern matched, its first 120 characters. The
    azblob error (f08-azblob-busy, L1-L5, hard-wrapped as it is printed) is matched joined, from
    "blob.core.windows.net" in L1's URL on to "RESPONSE 503" on L3: longer than 120 characters."""
    data = (EXCERPTS / "f08-azblob-busy-synthetic.log").read_bytes()
    joined = data.replace(b"\n", b"").decode()
    start = joined.index("blob.core.windows.net")
    assert joined.index("RESPONSE 503") - start > 120
    s = summarize_bytes(data)
    assert s.failure is not None and s.failure.rule == "cache-service"
    assert s.failure.reason == (
        f"The cache service failed or throttled the cache export ({joined[start:start + 120]}); retry.")


# ------------------------------------------------------------------------------------- where and why, again


def test_a_build_canceled_while_exporting_its_cache_is_canceled() -> None:
    """docs/json.md ``outcome`` "canceled", docs/taxonomy.md ``canceled``: interrupted, ``Canceled: context
    canceled``. synthetic excerpt: the error block of s07's cache export (L143-L145, " > exporting cache to
    registry:") and s09's final line (L86). Where it stopped is the cache export; why is the interruption, which
    stays the class (no retry), not ``cache-export``."""
    s07 = log_lines(SHARED / "s07-cache-registry-down-no-ignore-plain.log")
    s09 = log_lines(SHARED / "s09-canceled-sigint-plain.log")
    assert s07[143] == b" > exporting cache to registry:\n"
    assert s09[85] == b"ERROR: failed to build: failed to solve: Canceled: context canceled\n"
    s = summarize_bytes(b"".join([*s07[142:145], s09[85]]))
    assert s.outcome == "canceled" and s.failure is not None
    assert (s.failure.failure_class, s.failure.retryable, s.failure.step) == (
        "canceled", False, "exporting cache to registry")


def test_a_vertex_rule_that_backtracks_is_named_in_the_hints() -> None:
    """docs/taxonomy.md: a user pattern that runs out of time is skipped and named once, with the line it took too
    long on. A vertex-scope rule is tried on the failed step's name (s04's block, L96 " > [builder 10/10] RUN
    ..."); "^(.|..)+[0-9]$" backtracks on a name that does not end in a digit (this one ends in "run.sh"). The
    verdict is s04's (L116, exit code 1)."""
    from buildlog import DEFAULT_RULES, rules_from_toml

    slow = rules_from_toml('[[rule]]\nname = "slow-name"\npattern = "^(.|..)+[0-9]$"\nclass = "network"\n'
                           'scope = "vertex"\nretryable = true\n')
    s = summarize_path(SHARED / "s04-fail-exit1-plain.log", DEFAULT_RULES.with_rules(slow))
    assert s.failure is not None and (s.failure.failure_class, s.failure.exit_code) == ("build-step", 1)
    assert s.last is not None
    assert [h for h in s.last.hints if "slow-name" in h] == [
        "The user rule 'slow-name' took too long on line 116 (its pattern backtracks) and was skipped."]


# ------------------------------------------------------------------ a final message hard-wrapped by a web view


def wrapped_last_line(cut_before: bytes, last: bytes | None = None) -> bytes:
    """s04 with its final line (L116, or ``last`` in its place) hard-wrapped before ``cut_before``, as a CI web
    view wraps a long line (synthetic)."""
    log = log_lines(SHARED / "s04-fail-exit1-plain.log")
    line = (last or log[115]).rstrip(b"\n")
    at = line.rindex(cut_before)
    return b"".join(log[:115]) + line[:at] + b"\n" + line[at:] + b"\n"


def test_a_final_rule_that_backtracks_only_on_the_joined_message_is_named() -> None:
    """docs/taxonomy.md: a user pattern that runs out of time is skipped and named once, with the line it took too
    long on. synthetic variant of s04: L116 wrapped inside "successfully" ("... success" / "fully: exit code: 1").
    "^(.|..)+successfully[^:]" is quickly found absent from the pieces, and backtracks on the pieces joined (the
    word is there, followed by ":"); the verdict stays s04's."""
    from buildlog import DEFAULT_RULES, rules_from_toml

    slow = rules_from_toml('[[rule]]\nname = "slow-final"\npattern = "^(.|..)+successfully[^:]"\n'
                           'class = "network"\nretryable = true\n')
    s = summarize_bytes(wrapped_last_line(b"fully: exit code: 1"), DEFAULT_RULES.with_rules(slow))
    assert s.failure is not None and (s.failure.failure_class, s.failure.exit_code) == ("build-step", 1)
    assert s.last is not None
    assert [h for h in s.last.hints if "slow-final" in h] == [
        "The user rule 'slow-final' took too long on line 116 (its pattern backtracks) and was skipped."]


def test_a_wrapped_final_message_without_an_exit_code_leaves_the_failed_steps() -> None:
    """synthetic variant of s04: L116 replaced by a message that repeats no vertex's error and names no exit code,
    hard-wrapped ("... not com" / "pleted"). The failed step is the one vertex that reported an error (#15, L94
    "... exit code: 1"): its exit code is the failure's (docs/json.md ``failure.exit_code``), wrapped or not."""
    last = b"ERROR: failed to build: failed to solve: the build was not completed"
    s = summarize_bytes(wrapped_last_line(b"pleted", last))
    assert s.failure is not None
    assert (s.failure.step, s.failure.exit_code, s.failure.line) == (
        '[builder 10/10] RUN echo "running unit tests" && sleep 1 && sh tests/run.sh', 1, 116)


# ------------------------------------------------------------------------------ the step's last output lines


def test_step_output_rules_read_the_last_lines_of_separate_runs_too() -> None:
    """docs/taxonomy.md: step-output rules look at the last 30 lines the failing step printed. synthetic variant of
    s04: its failing step #15 printed "No space left on device" (s15's real dd line, L51), then 40 lines of its own
    output (L106, repeated), each a run of its own (a blank line between them, as when another vertex's lines come
    in between); the error block, which repeats the last lines, is left out. The disk that filled up 40 lines
    before the end is not why the step failed: build-step, as s04."""
    log = log_lines(SHARED / "s04-fail-exit1-plain.log")
    at = log.index(b"#15 0.047 running unit tests\n")
    block_start = log.index(b"------\n")
    block_end = log.index(b"------\n", block_start + 1)
    early = b"#15 0.047 dd: error writing '/srv/index.5': No space left on device\n"
    filler = [log[at], b"\n"] * 40
    s = summarize_bytes(b"".join([*log[: at + 1], early, b"\n", *filler, *log[at + 1 : block_start],
                                  *log[block_end + 1 :]]))
    assert s.failure is not None
    assert (s.failure.failure_class, s.failure.exit_code) == ("build-step", 1)


# ------------------------------------------------------------------------------------- a log cut at its start


def test_a_vertex_whose_header_was_cut_is_counted_but_is_no_step() -> None:
    """docs/json.md ``steps``: s01 cut before L5 "#1 DONE 0.0s" (vertex #1's header, L3, is gone): #1 is a vertex
    of no known kind, neither a step nor a miss, and every Dockerfile step after it is counted as in the whole log."""
    log = log_lines(SHARED / "s01-cold-plain.log")
    assert log[4] == b"#1 DONE 0.0s\n"
    whole = summarize_path(SHARED / "s01-cold-plain.log").last
    cut = summarize_bytes(b"".join(log[4:])).last
    assert whole is not None and cut is not None
    assert (cut.steps.user_cacheable, cut.steps.user_cached, cut.steps.miss) == (
        whole.steps.user_cacheable, whole.steps.user_cached, whole.steps.miss)
    assert cut.first_miss is not None and whole.first_miss is not None
    assert (cut.first_miss.name, cut.first_miss.line + 4) == (whole.first_miss.name, whole.first_miss.line)


def test_the_critical_paths_time_is_rounded_to_the_microsecond() -> None:
    """docs/json.md: ``critical_path.seconds`` is rounded to the microsecond. In s02-warm-rawjson the only step that
    ran is the cache export (L39 started 02:33:42.513900628, L58 completed 02:33:42.659912257): 0.146011629 s,
    given as 0.146012."""
    from buildlog import summarize_path

    s = summarize_path(SHARED / "s02-warm-rawjson.log")
    assert s.last is not None
    critical = s.last.to_json()["critical_path"]
    assert critical["steps"] == ["exporting cache to registry"]
    assert critical["seconds"] == 0.146012


def test_a_frontend_image_resolved_is_no_cache_import() -> None:
    """synthetic variant of s01: a Dockerfile with a ``# syntax=`` line makes BuildKit resolve the frontend's image
    first (reference/FORMAT.md: "resolve image config for docker-image://docker.io/docker/dockerfile:1"), a
    vertex with a ref that is no cache. The cache imports are s01's label's: 127.0.0.1:5000/app:buildcache, not
    found."""
    from buildlog import summarize_bytes

    log = (SHARED / "s01-cold-plain.log").read_bytes().split(b"\n")
    assert log[4] == b"#1 DONE 0.0s" and log[5] == b""
    frontend = [b"#21 resolve image config for docker-image://docker.io/docker/dockerfile:1", b"#21 DONE 0.5s", b""]
    s = summarize_bytes(b"\n".join(log[:6] + frontend + log[6:]))
    assert s.last is not None
    assert s.last.to_json()["cache"]["imports"] == [{"ref": "127.0.0.1:5000/app:buildcache", "found": False}]


def test_a_broad_copy_as_the_first_miss_before_an_install_is_advised() -> None:
    """docs/json.md's advice ``copy-manifests-first``: the first miss is a copy of the whole context and
    dependencies are installed after it in its stage. synthetic variant of s01: its first miss, "[stage-1 2/5]
    WORKDIR /app" (L33), made a "COPY . .", and its stage's last step (L87) a "RUN npm ci". Without the install
    (s01's own steps otherwise), no such advice."""
    from buildlog import summarize_bytes

    data = (SHARED / "s01-cold-plain.log").read_bytes()
    assert b"[stage-1 2/5] WORKDIR /app" in data
    assert b"[stage-1 5/5] COPY entrypoint.sh /app/entrypoint.sh" in data
    broad = data.replace(b"[stage-1 2/5] WORKDIR /app", b"[stage-1 2/5] COPY . .")
    variant = broad.replace(b"[stage-1 5/5] COPY entrypoint.sh /app/entrypoint.sh", b"[stage-1 5/5] RUN npm ci")
    s = summarize_bytes(variant)
    assert s.last is not None
    advice = {a["rule"]: a["step"] for a in s.last.to_json()["advice"]}
    assert advice.get("copy-manifests-first") == "[stage-1 2/5] COPY . ."
    s = summarize_bytes(broad)
    assert s.last is not None
    assert "copy-manifests-first" not in {a["rule"] for a in s.last.to_json()["advice"]}


def test_one_cache_import_found_is_no_cold_build() -> None:
    """docs/json.md's advice ``cache-import-not-found`` says the build ran cold because no import was found.
    synthetic variant of s02 (its import found, L14-L16) with a second --cache-from that was not found, its lines
    s12's (L22-L23) renumbered: one import was found, so no such advice; both imports are listed, with
    ``found`` false for the second one only."""
    from buildlog import summarize_bytes

    log = (SHARED / "s02-warm-plain.log").read_bytes().split(b"\n")
    assert log[15] == b"#4 DONE 0.0s" and log[16] == b""
    missed = [b"#40 importing cache manifest from 127.0.0.1:5000/worker:buildcache",
              b"#40 ERROR: failed to configure registry cache importer: 127.0.0.1:5000/worker:buildcache: not found",
              b""]
    s = summarize_bytes(b"\n".join(log[:17] + missed + log[17:]))
    assert s.last is not None
    j = s.last.to_json()
    assert [(i["ref"], i["found"]) for i in j["cache"]["imports"]] == [
        ("127.0.0.1:5000/app:buildcache", True), ("127.0.0.1:5000/worker:buildcache", False)]
    assert "cache-import-not-found" not in {a["rule"] for a in j["advice"]}


def test_only_dockerfile_steps_other_than_from_are_cacheable_in_the_fleet_records() -> None:
    """docs/stats.md: a step's ``miss_rate`` is given for cacheable steps only, and docs/json.md says which those
    are: Dockerfile steps, FROM excepted. In s01's records, the "[builder N/9]" and "[stage-1 N/5]" steps are
    cacheable but their FROM; the [internal] loads, the cache import and export and the image export are not."""
    from buildlog import summarize_path
    from buildlog.stats import run_record

    path = SHARED / "s01-cold-plain.log"
    s = summarize_path(path)
    assert s.last is not None
    record = run_record(str(path), s.last)
    cacheable = {step.key: step.cacheable for step in record.steps}
    steps = [k for k in cacheable if k.startswith(("[builder ", "[stage-1 "))]
    assert len(steps) == 13  # 9 + 4 steps, s01 L21-L87: stage-1 1/5 is builder 1/9 (one FROM vertex, #6)
    for key, flag in cacheable.items():
        expected = key in steps and " FROM " not in key
        assert flag is expected, key
