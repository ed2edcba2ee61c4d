"""The paths by which the summary reaches a verdict when the client's final line is missing or is only a wrapper's,
and the facts folded on the way: the hints, the clocks, the error blocks, the step output and the context upload.

Expected values are read off the logs (line numbers cited) or taken from the documents that make them a contract
(docs/json.md, docs/formats.md, docs/taxonomy.md, docs/security.md, docs/performance.md); logs changed in code are
named synthetic variants.
"""

from __future__ import annotations

import pytest
from fixturelib import EXCERPTS, GH, HINT_END, S04_ERROR, S04_STEP, SHARED, log_lines

from buildlog import DEFAULT_RULES, Rule, parse_bytes, rules_from_toml, summarize_bytes, summarize_path
from buildlog import summary as summary_module
from buildlog.summary import Summarizer

# ------------------------------------------------------------------ a wrapper's line as the only verdict


def test_a_rule_for_the_wrappers_style_decides_the_wrappers_line() -> None:
    """A rule may be limited to final lines of one style (``Rule.style``, the styles of docs/events.md). The
    excerpt's only line is a wrapper's (``wrapper-exit``: "Error: Command failed with status 1: docker buildx build
    ..."), which decides the log (docs/formats.md): a rule for that style reads it; without it the class is
    ``unknown`` (the excerpt's label)."""
    log = EXCERPTS / "f02-command-failed-alone-synthetic.log"
    plain = summarize_path(log).failure
    assert plain is not None and plain.failure_class == "unknown"
    wrapper = Rule("wrapper-command", r"Command failed with status \d+", "build-step", False,
                   "The build command failed.", style="wrapper-exit")
    s = summarize_path(log, DEFAULT_RULES.with_rules([wrapper]))
    assert s.outcome == "failure" and s.failure is not None
    assert (s.failure.failure_class, s.failure.rule, s.failure.line) == ("build-step", "wrapper-command", 1)


# ------------------------------------------------------------- an error block without the final line


def test_a_failed_steps_block_decides_a_log_cut_before_its_final_line() -> None:
    """s04 cut after its error block and Dockerfile excerpt (L1-L115), before the final line (L116). The block
    (L96 " > [builder 10/10] RUN ...") is the verdict (docs/formats.md): the step it names failed, and the
    failure's decisive line and text are that step's ERROR line (L94 "#15 ERROR: process ... exit code: 1")."""
    log = log_lines(SHARED / "s04-fail-exit1-plain.log")
    assert log[93].startswith(b"#15 ERROR: ") and log[115].startswith(b"ERROR: failed to build")
    s = summarize_bytes(b"".join(log[:115]))
    assert s.outcome == "failure" and s.failure is not None
    assert (s.failure.failure_class, s.failure.step, s.failure.exit_code) == ("build-step", S04_STEP, 1)
    assert (s.failure.line, s.failure.text) == (94, S04_ERROR)


def test_an_error_block_alone_names_a_run_step_that_failed() -> None:
    """s04's error block alone (L95-L107): no vertex line, no final line. docs/taxonomy.md: a failure whose only
    word is a block naming a RUN step is ``build-step``, "A RUN step failed; the log does not say with which exit
    code."; no line gives a message, so there is no decisive line, and the block's name is the text."""
    log = log_lines(SHARED / "s04-fail-exit1-plain.log")
    assert log[94] == b"------\n" and log[106] == b"------\n"
    s = summarize_bytes(b"".join(log[94:107]))
    assert s.outcome == "failure" and s.failure is not None
    assert (s.failure.failure_class, s.failure.step, s.failure.exit_code, s.failure.rule) == (
        "build-step", S04_STEP, None, None)
    assert s.failure.reason == "A RUN step failed; the log does not say with which exit code."
    assert (s.failure.line, s.failure.text) == (None, S04_STEP)


# synthetic: two RUN steps of different stages failing side by side, the log cut before the client's final line.
# #23's lines and block are f03-cut-header-synthetic's (L1-L12), #24's are s04's #15 (L80, L93, L94) renumbered.
MAKE_ERROR = 'process "/bin/sh -c make -j8" did not complete successfully: exit code: 2'
SIDE_BY_SIDE = [
    b"#24 1.054 TAP version 13\n",
    b"#23 118.4   CC       src/lib/parse.o\n",
    b"#23 121.7 gcc: fatal error: Killed signal terminated program cc1\n",
    b"#23 121.8 make: *** [Makefile:88: src/lib/eval.o] Error 1\n",
    b"#23 ERROR: " + MAKE_ERROR.encode() + b"\n",
    b"#24 1.058 # fail 1\n",
    b"#24 ERROR: " + S04_ERROR.encode() + b"\n",
]


def block(name: str, *output: bytes) -> list[bytes]:
    return [b"------\n", b" > " + name.encode() + b":\n", *output, b"------\n"]


def test_a_block_that_names_no_shown_vertex_goes_with_the_first_error() -> None:
    """synthetic (above): the excerpt begins with #24's header (s04 L78) and inside #23, whose header is cut; #23
    fails first (L6, exit code 2), then #24 (L8, exit code 1); the block names "[builder 6/9] RUN make -j8", which
    no shown vertex is called. The block is the verdict (docs/formats.md) and the error that came first is its
    step's: the class, exit code, line and text are #23's, though #24 showed first."""
    data = b"".join([b"#24 " + S04_STEP.encode() + b"\n", *SIDE_BY_SIDE, *block("[builder 6/9] RUN make -j8",
                                            b"121.7 gcc: fatal error: Killed signal terminated program cc1\n",
                                            b"121.8 make: *** [Makefile:88: src/lib/eval.o] Error 1\n")])
    s = summarize_bytes(data)
    assert s.outcome == "failure" and s.failure is not None
    assert (s.failure.failure_class, s.failure.step, s.failure.exit_code) == (
        "build-step", "[builder 6/9] RUN make -j8", 2)
    assert (s.failure.line, s.failure.text) == (6, MAKE_ERROR)


def test_a_block_that_names_a_shown_vertex_is_that_vertexs_failure() -> None:
    """synthetic (above), with both steps' headers (s04 L78 for #24, f03's block name for #23): #23 fails first
    (L7, exit code 2), #24 next (L9, exit code 1), and the log holds #24's block only. The block names the failed
    step (docs/formats.md): its exit code, line and text are the failure's, not those of the error printed first."""
    headers = [b"#23 [builder 6/9] RUN make -j8\n", b"#24 " + S04_STEP.encode() + b"\n"]
    data = b"".join([*headers, *SIDE_BY_SIDE, *block(S04_STEP, b"1.058 # fail 1\n")])
    s = summarize_bytes(data)
    assert s.outcome == "failure" and s.failure is not None
    assert (s.failure.failure_class, s.failure.step, s.failure.exit_code) == ("build-step", S04_STEP, 1)
    assert (s.failure.line, s.failure.text) == (9, S04_ERROR)


def test_the_import_blocks_at_the_end_of_a_build_without_exports_end_it() -> None:
    """synthetic variant of s01 without its image and cache exports (L90-L128: no --push, --load or --cache-to):
    the client prints the error blocks only once the build is over, here the empty block of its --cache-from that
    was not found (L129-L131). A log that reaches it has ended: a success, as the whole s01. Cut before it, the
    log has no end (docs/formats.md: incomplete)."""
    log = log_lines(SHARED / "s01-cold-plain.log")
    assert log[89] == b"#19 exporting to image\n" and log[127] == b"#20 DONE 0.2s\n"
    assert log[128:131] == block("importing cache manifest from 127.0.0.1:5000/app:buildcache")
    s = summarize_bytes(b"".join([*log[:89], *log[128:131]]))
    assert s.outcome == "success" and s.failure is None
    assert summarize_bytes(b"".join(log[:89])).outcome == "incomplete"


def test_a_build_with_many_error_blocks_keeps_a_bounded_number() -> None:
    """docs/performance.md: memory does not grow with the size of the input. synthetic variant of s12 (a bake whose
    targets' --cache-from were not found, L178-L183) with 40 targets: the fold keeps the lines of at most
    ``summary.MAX_BOXES`` blocks, the first ones, and a block past them is not taken for a headless block's lines.
    The verdict is s12's: success."""
    log = log_lines(SHARED / "s12-bake-two-targets-plain.log")
    assert log[178] == b" > [worker] importing cache manifest from 127.0.0.1:5000/worker:buildcache:\n"
    blocks = [line for n in range(40)
              for line in block(f"[svc{n:02}] importing cache manifest from 127.0.0.1:5000/svc{n:02}:buildcache",
                                b"0.012 not found\n")]
    data = b"".join([*log[:177], *blocks])
    s = Summarizer().feed_all(parse_bytes(data))
    fold = s._fold
    assert fold is not None
    assert 0 < len(fold.boxes) <= summary_module.MAX_BOXES
    assert next(iter(fold.boxes)) == "[svc00] importing cache manifest from 127.0.0.1:5000/svc00:buildcache"
    assert not fold.orphan_output
    assert s.close().outcome == "success"


# --------------------------------------------------------------------------------------------- hints


def s01_with(warning: bytes) -> bytes:
    """synthetic variant of s01 (a build that exports its cache, L102 "#20 exporting cache to registry"): one of
    s10's build-check warnings printed in its Dockerfile's load vertex (after L4)."""
    log = log_lines(SHARED / "s01-cold-plain.log")
    assert log[3].startswith(b"#1 transferring dockerfile") and log[101] == b"#20 exporting cache to registry\n"
    return b"".join([*log[:4], warning, *log[4:]])


def test_secrets_in_arg_or_env_with_a_cache_export_give_a_hint() -> None:
    """docs/json.md ``hints``: advice when ``SecretsUsedInArgOrEnv`` shows up in a build that also exports a cache.
    The hint names the warning, says it is about the exported cache, and gives the remedy as docs/security.md
    spells it (``RUN --mount=type=secret``), in a sentence. s10 L9 is the warning; s10 itself exports no cache: no
    hint there, nor for a warning of another rule (s10 L5) in s01, which keeps s01's own hints."""
    s10 = log_lines(SHARED / "s10-build-check-warnings-plain.log")
    assert s10[8].startswith(b"#1 WARN: SecretsUsedInArgOrEnv:") and s10[4].startswith(b"#1 WARN: StageNameCasing:")
    s = summarize_bytes(s01_with(s10[8]))
    assert s.outcome == "success" and s.last is not None
    [hint] = [h for h in s.last.hints if "SecretsUsedInArgOrEnv" in h]
    assert hint.startswith("SecretsUsedInArgOrEnv: ") and hint.endswith(".")
    assert "exported cache" in hint and "RUN --mount=type=secret" in hint
    other = summarize_bytes(s01_with(s10[4]))
    assert other.last is not None and [w["rule"] for w in other.last.warnings] == ["StageNameCasing"]
    s01 = summarize_path(SHARED / "s01-cold-plain.log")
    assert s01.last is not None and other.last.hints == s01.last.hints
    assert not any("SecretsUsedInArgOrEnv" in h for h in s01.last.hints)
    alone = summarize_path(SHARED / "s10-build-check-warnings-plain.log")
    assert alone.last is not None and alone.last.hints == []


def test_a_secret_on_two_lines_is_named_with_both() -> None:
    """docs/security.md: the hint gives the line numbers. synthetic variant of s04: a token printed by the failing
    step #15 on two lines after L105 "#15 0.047 running unit tests" (lines 80 and 81 of the variant)."""
    log = log_lines(SHARED / "s04-fail-exit1-plain.log")
    i = next(n for n, line in enumerate(log) if line == b"#15 0.047 running unit tests\n")
    log[i + 1 : i + 1] = [b"#15 0.048 using token " + GH.encode() + b"\n",
                          b"#15 0.049 retrying with token " + GH.encode() + b"\n"]
    s = summarize_bytes(b"".join(log))
    assert s.last is not None
    [hint] = [h for h in s.last.hints if h.startswith("Secret in the log")]
    assert hint == (f"Secret in the log: what looks like a github-token in step output (lines {i + 2}, {i + 3})"
                    + HINT_END)


def test_a_rule_that_backtracks_on_a_failure_without_a_decisive_line() -> None:
    """docs/taxonomy.md: a user pattern that runs out of time is named once in the hints, with the line it took
    too long on. synthetic variant of s04's error block alone (L95-L107), its step printing a run of a's on which
    "(a|aa)+$" backtracks: the failure has no decisive line (no line gives a message), so the hint names none."""
    log = log_lines(SHARED / "s04-fail-exit1-plain.log")
    excerpt = [*log[94:96], b"1.058 " + b"a" * 40 + b"!\n", *log[96:107]]
    slow = rules_from_toml('[[rule]]\nname = "slow-output"\npattern = "(a|aa)+$"\nclass = "network"\n'
                           'scope = "step-output"\nretryable = true\n')
    s = summarize_bytes(b"".join(excerpt), DEFAULT_RULES.with_rules(slow))
    assert s.failure is not None and s.failure.line is None and s.failure.failure_class == "build-step"
    assert s.last is not None
    assert [h for h in s.last.hints if "slow-output" in h] == [
        "The user rule 'slow-output' took too long (its pattern backtracks) and was skipped."]


# -------------------------------------------------------------------------------------------- clocks


def test_an_excerpt_of_rawjson_lasts_from_its_earliest_start() -> None:
    """docs/json.md ``duration_s``: the wall time the rawjson timestamps tell. s01-cold-rawjson from L16 on (its
    first 15 lines cut): the first vertex shown is "[internal] load build context" (L18, started
    02:33:34.399498368Z), but "importing cache manifest ..." (L20) started earlier, at 02:33:34.398035602Z; the
    last completion is "exporting cache to registry" (L109, 02:33:40.190838284Z)."""
    log = log_lines(SHARED / "s01-cold-rawjson.log")
    assert b'"started":"2026-11-28T02:33:34.398035602Z"' in log[19]
    assert b'"completed":"2026-11-28T02:33:40.190838284Z"' in log[108]
    doc = summarize_bytes(b"".join(log[15:])).to_json()
    assert doc["duration_s"] == pytest.approx((40_190838284 - 34_398035602) / 1e9, abs=1e-6)  # to the microsecond
    assert doc["duration_estimated"] is False


def test_a_context_upload_that_has_only_begun_sent_no_bytes() -> None:
    """docs/json.md ``context``: the upload's bytes and seconds, the vertex's time where the status has none.
    s01-cold-rawjson cut after L24, the build context's first "transferring context:" status ("current": 0, no
    completion); the vertex "[internal] load build context" ran first from 02:33:34.399498368Z to .399555477Z
    (L18)."""
    log = log_lines(SHARED / "s01-cold-rawjson.log")
    assert b'"id":"transferring context:"' in log[23] and b'"current":0' in log[23]
    doc = summarize_bytes(b"".join(log[:24])).to_json()
    assert doc["context"] == {"bytes": 0, "seconds": pytest.approx((399555477 - 399498368) / 1e9, abs=1e-6)}


# --------------------------------------------------------------------------------------- step output


def test_a_run_of_exactly_thirty_output_lines_is_read_whole() -> None:
    """docs/taxonomy.md: step-output rules look at the last 30 lines the failing step printed. synthetic variant of
    s04 without its error block (L95-L107): the failing step #15 printed s15's real dd line (L51, "No space left on
    device") and then 29 more lines, all in one run: the dd line is the 30th from the end, read, so the class is
    ``disk-full``. One line more after it and it is not: ``build-step``, as s04."""
    log = log_lines(SHARED / "s04-fail-exit1-plain.log")
    at = log.index(b"#15 0.047 running unit tests\n")
    assert log[at - 1].startswith(b"#15 [builder 10/10]") and log[at + 15].startswith(b"#15 ERROR: ")
    dd = b"#15 0.047 dd: error writing '/srv/index.5': No space left on device\n"
    own = log[at : at + 15]  # L79-L93, the step's own output

    def variant(filler: int) -> bytes:
        return b"".join([*log[:at], dd, *[log[at]] * filler, *own, *log[at + 15 : 94], *log[107:]])

    s = summarize_bytes(variant(14))
    assert s.failure is not None and s.failure.failure_class == "disk-full"
    s = summarize_bytes(variant(15))
    assert s.failure is not None and (s.failure.failure_class, s.failure.exit_code) == ("build-step", 1)


# ------------------------------------------------------------------ which error, which rule


def test_an_excerpt_that_cut_the_first_vertexs_header_goes_with_its_block() -> None:
    """f09-booting-deadline from L5 on: vertex #1's header ("[internal] booting buildkit", L3) is cut, so #1 is
    known only by its status line ("pulling image ... 118.2s done"); its error block names the vertex (L7-L8). A
    builder that could not boot is the failure, as the whole excerpt's label says: builder-connection-lost,
    retryable, at "[internal] booting buildkit" (not a ``timeout`` of a step called by its status line)."""
    log = log_lines(EXCERPTS / "f09-booting-deadline-synthetic.log")
    assert log[2] == b"#1 [internal] booting buildkit\n" and log[4].startswith(b"#1 pulling image")
    s = summarize_bytes(b"".join(log[4:]))
    assert s.outcome == "failure" and s.failure is not None
    assert (s.failure.failure_class, s.failure.retryable, s.failure.step) == (
        "builder-connection-lost", True, "[internal] booting buildkit")


def test_the_first_of_two_errors_is_the_step_a_final_message_names_no_step_of() -> None:
    """synthetic variant of s04: #7 (header L26, before #15's) reports an error too, after #15 (L94), and the
    final line is s06's (L85: the daemon went away), which repeats neither error. The build failed of the
    connection (builder-connection-lost, as s06); the step that failed first is #15's, not the vertex shown first."""
    log = log_lines(SHARED / "s04-fail-exit1-plain.log")
    s06_final = log_lines(SHARED / "s06-daemon-killed-plain.log")[84]
    assert s06_final.startswith(b"ERROR: failed to build: failed to receive status")
    late = b'#7 ERROR: process "/bin/sh -c echo \\"compiling lib\\"" did not complete successfully: exit code: 2\n'
    s = summarize_bytes(b"".join([*log[:94], late, s06_final]))
    assert s.outcome == "failure" and s.failure is not None
    assert (s.failure.failure_class, s.failure.step, s.failure.line) == ("builder-connection-lost", S04_STEP, 96)


def test_a_user_rule_comes_first_on_a_hard_wrapped_final_message() -> None:
    """docs/taxonomy.md: user rules are tried before the built-in ones. synthetic variant of s06: its final line
    (L85) hard-wrapped by a CI web view inside "Unavailable" ("... code = Unavail" / "able desc = error reading
    from server: EOF"). A user rule that matches the line only whole (its pieces joined) still comes before the
    built-in rule that matches the second piece ("error reading from server: EOF")."""
    log = log_lines(SHARED / "s06-daemon-killed-plain.log")
    final = log[84].rstrip(b"\n")
    assert final.endswith(b"code = Unavailable desc = error reading from server: EOF")
    at = final.index(b"able desc")
    wrapped = b"".join([*log[:84], final[:at], b"\n", final[at:], b"\n", *log[85:]])
    user = rules_from_toml('[[rule]]\nname = "daemon-gone"\npattern = "code = Unavailable desc"\n'
                           'class = "builder-connection-lost"\nretryable = true\nreason = "Ours."\n')
    s = summarize_bytes(wrapped, DEFAULT_RULES.with_rules(user))
    assert s.failure is not None
    assert (s.failure.rule, s.failure.reason) == ("daemon-gone", "Ours.")
    plain = summarize_bytes(wrapped)
    assert plain.failure is not None and plain.failure.rule not in (None, "daemon-gone")


def test_the_block_of_the_step_the_final_message_names_is_its_block() -> None:
    """synthetic variant of s04: after #15's error block (L95-L107) a second block, of the step #7 (L26, whose
    error the log does not show), as a client prints one block per failed vertex. The final line (L116) repeats
    #15's error: the failed step is #15's, with its own block, not the block printed last."""
    log = log_lines(SHARED / "s04-fail-exit1-plain.log")
    assert log[106] == b"------\n"
    lib = b'[builder  6/10] RUN echo "compiling lib" && sleep 1'
    other = block(lib.decode(), b"1.012 compiling lib\n")
    s = summarize_bytes(b"".join([*log[:107], *other, *log[107:]]))
    assert s.outcome == "failure" and s.failure is not None
    assert (s.failure.step, s.failure.exit_code, s.failure.line) == (S04_STEP, 1, len(log) + len(other))
