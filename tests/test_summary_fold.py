"""How the summary fold reaches its verdict: event by event as ``buildlog run`` feeds it, the dispatch of event
classes, the clocks it reads, the secret hint, the error blocks and the endings of a build.

Expected values are read off the logs (line numbers cited) or taken from the documents that make them a contract
(docs/json.md, docs/security.md, docs/taxonomy.md); logs changed in code are named synthetic variants.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixturelib import EXCERPTS, GH, HINT_END, LIVE, SHARED, log_lines

from buildlog import events as ev
from buildlog import parse_bytes, summarize_bytes, summarize_path
from buildlog import summary as summary_module
from buildlog.summary import Summarizer

REAL_LOGS = sorted(SHARED.glob("*.log")) + sorted(LIVE.glob("docker20-*.log"))



def github_timestamps(data: bytes, start_second: int = 0) -> bytes:
    """synthetic: each line prefixed as GitHub Actions stores it, one second after the line before."""
    out = []
    for i, line in enumerate(data.splitlines(keepends=True)):
        second = start_second + i
        out.append(b"2024-03-01T12:%02d:%02d.1234567Z " % (second // 60, second % 60) + line)
    return b"".join(out)


def secrets_variant() -> tuple[bytes, int]:
    """synthetic variant of s04: a token printed by the failing step #15, inside its run of output lines (L105
    "#15 0.047 running unit tests" is followed by L106 "#15 0.048 using token ..."); returns the log and that
    line's number."""
    log = log_lines(SHARED / "s04-fail-exit1-plain.log")
    i = next(n for n, line in enumerate(log) if line == b"#15 0.047 running unit tests\n")
    assert log[i - 1].startswith(b"#15 ")  # a run of output: the token is not on the event's first line
    log.insert(i + 1, b"#15 0.048 using token " + GH.encode() + b"\n")
    return b"".join(log), i + 2


# ------------------------------------------------------------------------------ live, one event at a time


def _live(data: bytes) -> dict[str, object]:
    s = Summarizer()
    for e in parse_bytes(data):
        s.feed(e)
    return s.close().to_json()


LIVE_CASES = {
    **{p.stem: p.read_bytes() for p in REAL_LOGS},
    **{p.stem: p.read_bytes() for p in sorted(EXCERPTS.glob("*.log"))},
    "s02-github-timestamps-synthetic": github_timestamps((SHARED / "s02-warm-plain.log").read_bytes()),
    "s04-secret-in-output-synthetic": secrets_variant()[0],
}


@pytest.mark.parametrize("name", sorted(LIVE_CASES))
def test_feeding_events_one_at_a_time_gives_the_same_summary(name: str) -> None:
    """``buildlog run`` feeds the summary event by event (``Summarizer.feed``); ``summary`` feeds the whole log
    (``feed_all``). Both must reach the same summary, line numbers, clocks and secret hints included."""
    data = LIVE_CASES[name]
    assert _live(data) == summarize_bytes(data).to_json()


# ----------------------------------------------------------------------------------- event dispatch


def test_event_classes_without_a_handler_of_their_own_take_their_bases(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parser emits subclasses (a cache import's header is a ``CacheImportRequested``, a ``VertexHeader``; its
    "not found" a ``CacheImportFailed``, a ``VertexError``; Docker 20.10's ``#N sha256:...`` a ``VertexDigest``,
    handled by nobody). Their handler is looked up once per process and remembered, so the lookup is forgotten
    here to be seen at all."""
    for cls in (ev.CacheImportRequested, ev.CacheImportFailed, ev.CacheExportStarted, ev.CacheExportFailed,
                ev.ImageExportStarted, ev.VertexDigest, ev.LegacyStepDone):
        monkeypatch.delitem(summary_module._HANDLERS, cls, raising=False)
    # s01 L12 "#4 importing cache manifest from 127.0.0.1:5000/app:buildcache", L15 "#4 ERROR: ... not found"
    s = summarize_path(SHARED / "s01-cold-plain.log")
    assert s.last is not None
    assert [(i.ref, i.found) for i in s.last.imports] == [("127.0.0.1:5000/app:buildcache", False)]
    assert s.last.cache_state == "cold" and s.outcome == "success"
    # docker20-cold: every header is followed by a "#N sha256:..." line, which changes nothing
    s = summarize_path(LIVE / "docker20-cold.log")
    assert s.outcome == "success" and s.last is not None and s.last.steps.user_cacheable == 9
    # the legacy builder's steps are done by " ---> ID" lines (LegacyStepDone): Step 2..5 ran
    s = summarize_path(LIVE / "docker20-legacy-success.log")
    assert s.last is not None and s.last.steps.executed >= 4


def test_an_event_class_no_handler_knows_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(summary_module._HANDLERS, ev.VertexDigest, raising=False)
    monkeypatch.delitem(summary_module._HANDLERS, ev.BlankLine, raising=False)
    s = summarize_path(LIVE / "docker20-warm.log")  # blank lines and digest lines throughout
    assert s.outcome == "success" and s.last is not None and s.last.cache_state == "warm"


# ------------------------------------------------------------------------------------------ empty log


def test_json_of_a_log_without_a_build() -> None:
    """docs/json.md: ``build`` is 1-based, so a log without any build is build 0, on no line, nothing exported."""
    doc = summarize_bytes(b"\n\n").to_json()
    assert (doc["build"], doc["lines"], doc["attempts"]) == (0, [0, 0], 0)
    assert doc["image"] == {"exported": False, "pushed": [], "manifest_list": None}
    assert (doc["steps"]["total"], doc["duration_s"], doc["started_at"]) == (0, None, None)


@pytest.mark.parametrize("batch", [1, 7, 512])
@pytest.mark.parametrize(("first", "second", "lines"), [("s01-cold-plain.log", "s02-warm-plain.log", (131, 94)),
                                                         ("s01-cold-rawjson.log", "s04-fail-exit1-rawjson.log",
                                                          (109, 82))])
def test_each_build_of_two_logs_in_one_ends_on_its_own_last_line(first: str, second: str, lines: tuple[int, int],
                                                                 batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """synthetic: two real logs one after the other (s02's L1 "#0 building with ..." begins a build; s04-rawjson
    numbers its vertices anew): a build each, on its own log's lines, however the events come in batches."""
    monkeypatch.setattr(summary_module, "SECRET_BATCH", batch)
    a, b = (SHARED / first).read_bytes(), (SHARED / second).read_bytes()
    assert (len(a.splitlines()), len(b.splitlines())) == lines
    doc = summarize_bytes(a + b).to_json()
    assert [build["lines"] for build in doc["builds"]] == [[1, lines[0]], [lines[0] + 1, sum(lines)]]


# ------------------------------------------------------------------------------------------------ clocks


def test_ci_timestamps_give_the_start_and_the_duration() -> None:
    """docs/json.md: ``started_at`` is the first CI timestamp of the build's lines, ``duration_s`` the wall time
    the CI timestamps tell. s02 has 94 lines, the synthetic timestamps one second apart from 12:00:00: the first
    line (L1 "#0 building with ...") at 12:00:00, the last (L94) at 12:01:33."""
    data = (SHARED / "s02-warm-plain.log").read_bytes()
    assert len(data.splitlines()) == 94
    doc = summarize_bytes(github_timestamps(data)).to_json()
    assert doc["started_at"] == "2024-03-01T12:00:00.1234567Z"
    assert doc["duration_s"] == pytest.approx(93.0)
    assert doc["duration_estimated"] is False
    assert doc["outcome"] == "success" and doc["cache"]["state"] == "warm"


def test_one_ci_timestamp_is_no_duration() -> None:
    """synthetic: every line stamped with the same instant: a start, but no measured duration (the steps' times
    are summed instead, docs/json.md ``duration_estimated``)."""
    data = (SHARED / "s02-warm-plain.log").read_bytes()
    stamped = b"".join(b"2024-03-01T12:00:00.1234567Z " + line for line in data.splitlines(keepends=True))
    doc = summarize_bytes(stamped).to_json()
    assert doc["started_at"] == "2024-03-01T12:00:00.1234567Z"
    assert doc["duration_estimated"] is True


def test_tty_header_gives_the_duration() -> None:
    """s01-cold-tty L1170: the last frame "[+] Building 6.0s (20/20) FINISHED"."""
    doc = summarize_path(SHARED / "s01-cold-tty.log").to_json()
    assert doc["duration_s"] == 6.0 and doc["duration_estimated"] is False


def test_rawjson_timestamps_give_the_duration() -> None:
    """s01-cold-rawjson: from the earliest vertex start to the latest completion (the build ran about 6.5 s, the
    critical path alone 5-6 s: tests/test_verdicts.py)."""
    doc = summarize_path(SHARED / "s01-cold-rawjson.log").to_json()
    assert doc["duration_estimated"] is False
    assert doc["critical_path"]["seconds"] <= doc["duration_s"] < 7.0
    assert doc["started_at"] is not None and doc["started_at"].startswith("20")


# ------------------------------------------------------------------------------------------ secret hint


def test_secret_hint_names_the_line_inside_a_run_of_output() -> None:
    data, line = secrets_variant()
    s = summarize_bytes(data)
    assert s.last is not None
    hints = [h for h in s.last.hints if h.startswith("Secret in the log")]
    assert hints == [f"Secret in the log: what looks like a github-token in step output (line {line})" + HINT_END]
    assert GH not in "".join(s.last.hints)


def test_secret_hint_counts_lines_not_findings() -> None:
    """synthetic variant of s04: the token twice on one output line, then on seven more lines: the hint names the
    first five lines and says how many more (docs/security.md: line numbers, never the value)."""
    log = log_lines(SHARED / "s04-fail-exit1-plain.log")
    i = next(n for n, line in enumerate(log) if line == b"#15 0.047 running unit tests\n")
    token = GH.encode()
    added = [b"#15 0.048 token " + token + b" and again " + token + b"\n"]
    added += [b"#15 0.049 retry %d with token " % k + token + b"\n" for k in range(7)]
    log[i + 1 : i + 1] = added
    s = summarize_bytes(b"".join(log))
    assert s.last is not None
    first = i + 2
    named = ", ".join(str(first + k) for k in range(5))
    [hint] = [h for h in s.last.hints if h.startswith("Secret in the log")]
    assert hint == (f"Secret in the log: what looks like a github-token in step output (lines {named} and 3 more)"
                    + HINT_END)


def test_secret_hint_in_a_build_arg_and_in_the_log() -> None:
    """synthetic variant of docker20-legacy-success: its Step 2/5 made an ``ARG NPM_TOKEN=...`` (a build arg),
    and a line of the client's that is neither step output nor an ARG holds a URL with a password."""
    log = log_lines(LIVE / "docker20-legacy-success.log")
    i = next(n for n, line in enumerate(log) if line.startswith(b"Step 2/5 :"))
    log[i] = b"Step 2/5 : ARG NPM_TOKEN=s3cretvalue42\n"
    s = summarize_bytes(b"".join(log))
    assert s.last is not None
    [hint] = [h for h in s.last.hints if h.startswith("Secret in the log")]
    assert hint == f"Secret in the log: what looks like a secret-variable in a build arg (line {i + 1})" + HINT_END
    assert s.outcome == "success"

    data = (SHARED / "s01-cold-plain.log").read_bytes()
    final = b"ERROR: failed to build: failed to solve: failed to push https://deploy:P4ssw0rd-9x@git.example.com/x\n"
    s = summarize_bytes(data + final)
    assert s.last is not None
    [hint] = [h for h in s.last.hints if h.startswith("Secret in the log")]
    n = len(data.splitlines()) + 1
    assert hint == f"Secret in the log: what looks like a url-password in the log (line {n})" + HINT_END


def test_event_classes_without_a_handler_of_their_own_fed_live(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same lookup on the live path (``Summarizer.feed``, as ``buildlog run`` feeds it)."""
    for cls in (ev.CacheImportRequested, ev.CacheImportFailed, ev.VertexDigest):
        monkeypatch.delitem(summary_module._HANDLERS, cls, raising=False)
    live = Summarizer()
    for e in parse_bytes((SHARED / "s01-cold-plain.log").read_bytes()):
        live.feed(e)
    s = live.close()
    assert s.last is not None
    assert [(i.ref, i.found) for i in s.last.imports] == [("127.0.0.1:5000/app:buildcache", False)]


def test_secret_hint_in_a_build_arg_on_the_command_line() -> None:
    """synthetic variant of s01: a CI shell trace of the next command, ``--build-arg NPM_TOKEN=...``, after the
    build's last line: a secret passed as a build arg."""
    data = (SHARED / "s01-cold-plain.log").read_bytes()
    s = summarize_bytes(data + b"+ docker buildx build --build-arg NPM_TOKEN=s3cretvalue42 --push .\n")
    assert s.last is not None
    [hint] = [h for h in s.last.hints if h.startswith("Secret in the log")]
    n = len(data.splitlines()) + 1
    assert hint == f"Secret in the log: what looks like a secret-variable in a build arg (line {n})" + HINT_END


# ------------------------------------------------------------------------------------------- excerpts


def test_excerpt_that_starts_inside_the_cache_export() -> None:
    """The last two lines of s01 before its closing block: L127 "#20 writing cache image manifest ... done", L128
    "#20 DONE 0.2s". The export's header is cut: nothing says #20 is a cache export, so no export is reported
    (and the manifest line is no reason to fail)."""
    log = log_lines(SHARED / "s01-cold-plain.log")
    assert log[126].startswith(b"#20 writing cache image manifest") and log[127] == b"#20 DONE 0.2s\n"
    s = summarize_bytes(b"".join(log[126:128]))
    assert s.last is not None and s.last.exports == [] and s.failure is None


def test_warnings_block_alone_keeps_each_warnings_line() -> None:
    """The tail of s10 from L82 " 11 warnings found ..." on: each warning once, with its line in this excerpt
    (L83 of the log is line 2 here) and its Dockerfile line."""
    log = log_lines(SHARED / "s10-build-check-warnings-plain.log")
    assert b"11 warnings found" in log[81]
    s = summarize_bytes(b"".join(log[81:]))
    assert s.last is not None
    got = [(w["rule"], w["line"], w["source_line"]) for w in s.last.warnings]
    assert got[:3] == [("StageNameCasing", 2, 1), ("SecretsUsedInArgOrEnv", 3, 3), ("SecretsUsedInArgOrEnv", 4, 4)]
    assert got[-1] == ("ExposeProtoCasing", 12, 17) and len(got) == 11


def test_a_build_without_output_ends_with_its_warnings_block() -> None:
    """synthetic variant of s10: the build with no output (no "#12 exporting to image", L72-L81, as with the
    docker-container driver and neither --push nor --load). The client prints the warnings block only at the end:
    a log cut right after its first line (L82) has ended; one cut before it has not."""
    log = log_lines(SHARED / "s10-build-check-warnings-plain.log")
    assert log[71].startswith(b"#12 exporting to image") and log[80] == b"\n"
    body = log[:71]
    assert summarize_bytes(b"".join(body)).outcome == "incomplete"
    s = summarize_bytes(b"".join([*body, log[81]]))
    assert s.outcome == "success" and s.failure is None


# ------------------------------------------------------------------------------------- the build graph


RAWJSON_LOGS = sorted(SHARED.glob("*-rawjson.log"))


@pytest.mark.parametrize("log", RAWJSON_LOGS, ids=lambda p: p.stem)
@pytest.mark.parametrize("cut", [1.0, 0.5], ids=["whole", "half"])
def test_the_fold_builds_the_graph_graph_py_builds(log: Path, cut: float) -> None:
    """graph.py builds the build graph from the events on its own (``build_graph``); the summary builds it as it
    folds. Both must agree, vertex by vertex: kind, cacheable, cached, ran, times, edges."""
    from buildlog.graph import build_graph

    data = log.read_bytes()
    data = data[: int(len(data) * cut)]
    events = parse_bytes(data)
    s = Summarizer().feed_all(events)
    fold = s._fold
    assert fold is not None
    assert fold._graph(fold._times()) == build_graph(events)


# ------------------------------------------------------------------------------- where a build failed

# The failing vertex of each real log that failed (docs/json.md ``failure.step``), read off its ERROR line and its
# error block; None where the build failed outside any vertex (the daemon went away, a Dockerfile that does not
# parse, a ``docker push`` after the build, a canceled build).
FAILED_STEPS: dict[str, tuple[int, str | None, int | None]] = {  # log: (final line, step, exit code)
    # L94 "#15 ERROR: process ... exit code: 1", L96 " > [builder 10/10] RUN ...", L116 final
    "s04-fail-exit1-plain": (116, '[builder 10/10] RUN echo "running unit tests" && sleep 1 && sh tests/run.sh', 1),
    # L60 "#18 ERROR: ... not found", L62 the block names it, L72 final
    "s05-copy-missing-plain": (72, "[stage-1 5/6] COPY config/logging.yaml /etc/orders-api/logging.yaml", None),
    "s05-dockerfile-syntax-plain": (14, None, None),
    "s06-daemon-killed-plain": (85, None, None),  # #15 was running, no ERROR line: the daemon went away
    # L142 "#20 ERROR: error writing layer blob", L144 " > exporting cache to registry:", L146 final
    "s07-cache-registry-down-no-ignore-plain": (146, "exporting cache to registry", None),
    # L144 "#19 ERROR: failed to push ... 503", L190 " > exporting to image:", L202 final
    "s08-proxy-503-plain": (202, "exporting to image", None),
    "s09-canceled-sigint-plain": (86, None, None),
    # L97 "#18 ERROR: failed to push ... 401", L99 " > exporting to image:", L101 final
    "s14-auth-no-credentials-plain": (101, "exporting to image", None),
    # L30 "#8 ERROR: "/config/logging.yaml" not found", L36 its block, L38 the bare final line
    "docker20-copy-missing": (38, "[4/5] COPY config/logging.yaml ./config/", None),
    # L37 "#8 ERROR: executor failed running [...]" (the RUN's process killed: 137), L39 its block
    "docker20-killed-137": (41, '[4/4] RUN echo "linking $(wc -l < objects.txt) objects" && sh -c \'echo "ld: worker '
                                '$$ started"; kill -9 $$\'; exit $?', 137),
    # L20 "The command '/bin/sh -c echo "running checks" && ... && exit 3' returned a non-zero code: 3"
    "docker20-legacy-failure": (20, 'RUN echo "running checks" && echo "check failed: debug is on" >&2 && exit 3', 3),
}


@pytest.mark.parametrize("name", sorted(FAILED_STEPS))
def test_where_a_real_build_failed(name: str) -> None:
    path = SHARED / f"{name}.log" if name.startswith("s") else LIVE / f"{name}.log"
    s = summarize_path(path)
    assert s.failure is not None
    assert (s.failure.line, s.failure.step, s.failure.exit_code) == FAILED_STEPS[name]


def test_a_block_of_another_vertex_before_the_failed_steps() -> None:
    """synthetic variant of s04: a --cache-from that was not found prints its empty block (s01 L129-L131) before
    the failed step's (s04 L95): the failed step is the one its own block names, not the first block's."""
    s04, s01 = log_lines(SHARED / "s04-fail-exit1-plain.log"), log_lines(SHARED / "s01-cold-plain.log")
    assert s01[129].startswith(b" > importing cache manifest from") and s04[95].startswith(b" > [builder 10/10]")
    data = b"".join([*s04[:94], *s01[128:131], *s04[94:]])
    s = summarize_bytes(data)
    assert s.failure is not None
    assert s.failure.step == FAILED_STEPS["s04-fail-exit1-plain"][1]
    assert (s.failure.failure_class, s.failure.exit_code, s.failure.line) == ("build-step", 1, 119)


def test_a_build_whose_only_export_is_the_cache() -> None:
    """synthetic variant of s01 without its image export (L90-L101: no --push, no --load) and cut after L128 "#20
    DONE", before its closing block: every export it made finished, so the build reached its end."""
    log = log_lines(SHARED / "s01-cold-plain.log")
    assert log[89].startswith(b"#19 exporting to image") and log[99].startswith(b"#19 DONE")
    assert log[127] == b"#20 DONE 0.2s\n"
    data = b"".join([*log[:89], *log[101:128]])
    s = summarize_bytes(data)
    assert s.outcome == "success" and s.last is not None and not s.last.exported
    assert [(x.completed, x.ignored) for x in s.last.exports] == [(True, False)]
    # cut before the export's DONE: not yet
    assert summarize_bytes(b"".join([*log[:89], *log[101:126]])).outcome == "incomplete"


def test_a_step_output_rule_that_backtracks_is_named_once_in_the_hints() -> None:
    """docs/taxonomy.md: a user pattern that runs out of time is skipped and named once, with the line it took
    too long on (the decisive final line, L116 of s04). synthetic variant of s04: the failing step printed a run of
    a's, on which "(a|aa)+$" backtracks."""
    from buildlog import DEFAULT_RULES, rules_from_toml

    log = log_lines(SHARED / "s04-fail-exit1-plain.log")
    i = next(n for n, line in enumerate(log) if line == b"#15 0.047 running unit tests\n")
    log.insert(i + 1, b"#15 0.048 " + b"a" * 40 + b"!\n")
    slow = rules_from_toml('[[rule]]\nname = "slow-output"\npattern = "(a|aa)+$"\nclass = "network"\n'
                           'scope = "step-output"\nretryable = true\n')
    s = summarize_bytes(b"".join(log), DEFAULT_RULES.with_rules(slow))
    assert s.failure is not None and s.failure.failure_class == "build-step" and s.failure.line == 117
    assert s.last is not None
    assert [h for h in s.last.hints if "slow-output" in h] == [
        "The user rule 'slow-output' took too long on line 117 (its pattern backtracks) and was skipped."]


# --------------------------------------------------------------------------- a cache export cut mid-write


def test_a_cache_manifest_still_being_written_is_no_completed_export() -> None:
    """s02-warm-rawjson L57 reports "writing cache image manifest sha256:7350..." started, with no "completed";
    L58 completes it and the export vertex. A log cut after L57 ends while the manifest is being written: the
    cache export did not complete (docs/json.md ``exports[].completed``). With L58 it did."""
    lines = (SHARED / "s02-warm-rawjson.log").read_bytes().split(b"\n")
    assert b'"writing cache image manifest sha256:7350' in lines[56] and b'"completed"' not in lines[56].split(
        b'"writing cache image manifest')[1].split(b"}")[0]
    cut = summarize_bytes(b"\n".join(lines[:57]) + b"\n")
    assert cut.outcome == "incomplete" and cut.last is not None
    assert [(x.backend, x.completed) for x in cut.last.exports] == [("registry", False)]
    whole = summarize_bytes(b"\n".join(lines[:58]) + b"\n")
    assert whole.last is not None and [(x.backend, x.completed) for x in whole.last.exports] == [("registry", True)]


# ------------------------------------------------------------------ a final message hard-wrapped by a web view


@pytest.mark.parametrize("cut_before", ["de: 1", "successfully: exit code: 1"])
def test_the_exit_code_of_a_hard_wrapped_final_message(cut_before: str) -> None:
    """synthetic variant: an excerpt of only s04's last line (L116, "ERROR: failed to build: ... did not complete
    successfully: exit code: 1"), hard-wrapped as a CI web view may wrap a long line. Without the step's own lines
    the exit code comes from the final message alone: 1 (docs/json.md ``failure.exit_code``), wrapped or not."""
    last = (SHARED / "s04-fail-exit1-plain.log").read_bytes().rstrip(b"\n").split(b"\n")[-1]
    assert last.startswith(b"ERROR: failed to build") and last.endswith(b"exit code: 1")
    at = last.rindex(cut_before.encode())
    for data in (last + b"\n", last[:at] + b"\n" + last[at:] + b"\n"):
        s = summarize_bytes(data)
        assert s.outcome == "failure" and s.last is not None and s.last.failure is not None
        assert (s.last.failure.failure_class, s.last.failure.exit_code) == ("build-step", 1), data


# ------------------------------------------------------------------ a cache's failure: where, and why


@pytest.mark.parametrize(("log", "where", "cause"), [
    # s07 L133-L143: the export vertex's "connection refused" to the cache registry, after the image was pushed
    (SHARED / "s07-cache-registry-down-no-ignore-plain.log", "Exporting", "a network connection failed"),
    # synthetic excerpt: an error block that names "importing cache manifest from ...", an i/o timeout in it
    (EXCERPTS / "f07-import-box-timeout-synthetic.log", "Importing", "a network connection failed"),
])
def test_a_cache_failures_reason_says_where_then_why(log: Path, where: str, cause: str) -> None:
    """docs/taxonomy.md rule 6: the class is where (cache-export), the reason and retry verdict are the cause's,
    after "Exporting the build cache failed: " ("Importing ..." for an import)."""
    s = summarize_path(log)
    assert s.failure is not None
    assert (s.failure.failure_class, s.failure.retryable) == ("cache-export", True)
    assert s.failure.reason.startswith(f"{where} the build cache failed: {cause} (")


def test_the_decisive_line_of_a_failure_no_message_explains() -> None:
    """docs/json.md ``failure.line`` / ``failure.text``: the line the verdict rests on, as the log has it. Two
    synthetic excerpts: a tty capture whose only word on the failure is its ERROR row (L3 " => ERROR [4/5] RUN go
    vet ./..."), and a wrapper's line that no rule knows (L1)."""
    row = summarize_path(EXCERPTS / "f05-error-row-build-step-synthetic.log").failure
    assert row is not None
    assert (row.failure_class, row.line, row.text, row.step, row.exit_code, row.rule) == (
        "build-step", 3, "[4/5] RUN go vet ./...", "[4/5] RUN go vet ./...", None, None)
    assert row.reason == "A RUN step failed; the log does not say with which exit code."  # docs/taxonomy.md
    alone = summarize_path(EXCERPTS / "f02-command-failed-alone-synthetic.log").failure
    assert alone is not None
    assert (alone.failure_class, alone.line, alone.step, alone.exit_code, alone.rule) == (
        "unknown", 1, None, None, None)
    assert alone.text == ("Error: Command failed with status 1: docker buildx build --platform linux/amd64 --tag "
                          "registry.example.com/app:1.2.3 .")
    assert alone.reason == ("No rule recognises this failure; the decisive line is kept so that a rule can be "
                            "added.")  # docs/taxonomy.md


def test_step_output_rules_read_only_the_last_lines_of_the_step() -> None:
    """docs/taxonomy.md: step-output rules look at the last 30 lines the failing step printed. synthetic variant
    of s04: its failing step #15 printed "No space left on device" (s15's real dd line, L51) and then 40 lines of
    s04's own output before it exited 1 (L106-L107 repeated); the error block, which repeats the last lines, is left
    out. A disk that filled up long before the end is not why the step failed: build-step, as s04."""
    lines = (SHARED / "s04-fail-exit1-plain.log").read_bytes().split(b"\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(b"#15 0.047 running unit tests"))
    early = b"#15 0.047 dd: error writing '/srv/index.5': No space left on device"
    filler = [line for line in lines[at : at + 3] if line.startswith(b"#15 0.")]
    assert filler, lines[at : at + 3]
    block_start = next(i for i, line in enumerate(lines) if line == b"------")
    block_end = next(i for i in range(block_start + 1, len(lines)) if lines[i] == b"------")
    variant = lines[: at + 1] + [early] + filler * 40 + lines[at + 1 : block_start] + lines[block_end + 1 :]
    s = summarize_bytes(b"\n".join(variant))
    assert s.failure is not None
    assert (s.failure.failure_class, s.failure.exit_code) == ("build-step", 1)
    # the same line among the last ones decides it
    late = lines[: at + 1] + filler * 40 + [early] + lines[at + 1 : block_start] + lines[block_end + 1 :]
    s = summarize_bytes(b"\n".join(late))
    assert s.failure is not None and s.failure.failure_class == "disk-full"


@pytest.mark.parametrize(("log", "backend"), [
    (LIVE / "docker20-inline-cache-export.log", "unknown"),  # L70 "#15 exporting cache": no backend named
    (SHARED / "s01-cold-plain.log", "registry"),  # "exporting cache to registry"
])
def test_a_cache_exports_backend_is_what_its_vertex_names(log: Path, backend: str) -> None:
    """docs/json.md ``exports[].backend``; plain output never prints the ref (``ref`` null)."""
    s = summarize_path(log)
    assert s.last is not None
    assert [(x["backend"], x["ref"]) for x in s.to_json()["cache"]["exports"]] == [(backend, None)]


@pytest.mark.parametrize(("log", "ref", "found"), [
    # L15 "#6 importing cache manifest from 127.0.0.1:45297/cached:latest", L17 "#6 DONE 0.0s": found
    (LIVE / "docker20-cache-from-found.log", "127.0.0.1:45297/cached:latest", True),
    # L15 "#4 importing cache manifest from 127.0.0.1:45297/cached:does-not-exist", then its error
    (LIVE / "docker20-cache-from-missing.log", "127.0.0.1:45297/cached:does-not-exist", False),
])
def test_a_cache_import_is_found_when_its_vertex_is_done_without_error(log: Path, ref: str, found: bool) -> None:
    """docs/json.md ``imports[].found``: Docker 20.10's BuildKit prints no "inferred cache manifest type" status;
    an import vertex done without an error found its cache."""
    s = summarize_path(log)
    assert s.last is not None
    assert [(i.ref, i.found) for i in s.last.imports] == [(ref, found)]


def test_a_final_message_that_names_no_step_leaves_the_failed_vertex_to_say() -> None:
    """synthetic variant of s04: its final line (L116) replaced by a message that repeats no vertex's error. The
    failed step is then the one vertex that reported an error (#15, L78 "[builder 10/10] RUN ...", L94 "#15 ERROR:
    ... exit code: 1"): its name and its exit code are the failure's; no rule knows the message."""
    lines = (SHARED / "s04-fail-exit1-plain.log").read_bytes().split(b"\n")
    assert lines[115].startswith(b"ERROR: failed to build: failed to solve: process ")
    lines[115] = b"ERROR: failed to build: failed to solve: the build was not completed"
    s = summarize_bytes(b"\n".join(lines))
    assert s.failure is not None
    step = '[builder 10/10] RUN echo "running unit tests" && sleep 1 && sh tests/run.sh'
    assert (s.failure.failure_class, s.failure.step, s.failure.exit_code, s.failure.line) == (
        "unknown", step, 1, 116)


def test_an_image_export_cut_before_its_end_exported_nothing() -> None:
    """docs/json.md ``image.exported``: an image exporter that finished without error. s01 cut after L95 (the
    attestation manifest of "#19 exporting to image", L90) and before "#19 DONE": not exported; whole: exported."""
    lines = (SHARED / "s01-cold-plain.log").read_bytes().split(b"\n")
    assert lines[89] == b"#19 exporting to image" and lines[94].startswith(b"#19 exporting attestation manifest")
    cut = summarize_bytes(b"\n".join(lines[:95]) + b"\n").to_json()
    assert (cut["outcome"], cut["image"]["exported"]) == ("incomplete", False)
    assert summarize_path(SHARED / "s01-cold-plain.log").to_json()["image"]["exported"] is True


def test_a_context_upload_reported_as_it_goes() -> None:
    """synthetic variant of s01: its build context (L18 "#5 transferring context: 1.03kB done") sent as a large one
    is, with progress lines and times (as BuildKit prints an upload that takes a while). docs/json.md ``context``:
    the bytes and seconds of the upload, its last report."""
    data = (SHARED / "s01-cold-plain.log").read_bytes()
    assert b"#5 transferring context: 1.03kB done\n" in data
    variant = data.replace(b"#5 transferring context: 1.03kB done\n",
                           b"#5 transferring context: 31.46MB 0.5s\n#5 transferring context: 62.91MB 1.0s\n"
                           b"#5 transferring context: 104.86MB 1.7s done\n")
    assert summarize_bytes(variant).to_json()["context"] == {"bytes": 104_860_000, "seconds": 1.7}


# ------------------------------------------------------------------------------- a step's last output lines


def long_output_variant() -> bytes:
    """synthetic variant of s15: the failing step #8's output lines L38-L50 ("writing shard 1/8" .. "10+0 records
    out") printed three times, so that the run of output before its "No space left on device" (L51) holds more
    lines than the summary keeps of a step's output."""
    log = log_lines(SHARED / "s15-disk-full-run-plain.log")
    assert log[37].startswith(b"#8 1.043 writing shard 1/8") and log[50].startswith(b"#8 1.067 dd: error writing")
    return b"".join(log[:37] + log[37:50] * 3 + log[50:])


def _tails_read_off_the_events(events: list[ev.Event]) -> dict[int, list[str]]:
    lines: dict[int, list[str]] = {}
    for e in events:
        if isinstance(e, ev.StepOutput):  # OutputClipped too: the fold reads its line as output
            lines.setdefault(e.vertex, []).extend(e.lines)
    return {vertex: texts[-summary_module.OUTPUT_TAIL :] for vertex, texts in lines.items()}


@pytest.mark.parametrize("log", [*REAL_LOGS, None], ids=lambda p: p.stem if p else "s15-long-output-variant")
def test_a_steps_last_output_lines_are_the_last_lines_it_printed(log: Path | None) -> None:
    """What a RUN step's output leaves in the fold (the lines step-output rules read) is the last OUTPUT_TAIL lines
    it printed, whether they came one by one or in runs longer than that (kept whole and read when asked), at any
    point of the log."""
    data = log.read_bytes() if log is not None else long_output_variant()
    newlines = [i + 1 for i, byte in enumerate(data) if byte == 0x0A]
    for cut in sorted({len(data), *newlines[len(newlines) // 3 :: max(1, len(newlines) // 7)]}):
        events = parse_bytes(data[:cut])
        fold = Summarizer().feed_all(events)._fold
        if fold is None:
            continue
        expected = _tails_read_off_the_events([e for e in events if e.build == fold.index])
        for vertex in fold.vertices.values():
            if vertex.keeps_output and vertex.number in expected:
                assert vertex.tail() == expected[vertex.number], (cut, vertex.name)


def test_a_failure_read_in_a_long_run_of_output() -> None:
    original = summarize_bytes((SHARED / "s15-disk-full-run-plain.log").read_bytes()).builds[-1]
    variant = summarize_bytes(long_output_variant()).builds[-1]
    assert original.failure is not None and variant.failure is not None
    assert (variant.failure.failure_class, variant.failure.retryable, variant.failure.rule) == (
        original.failure.failure_class, original.failure.retryable, original.failure.rule)
    assert variant.failure.failure_class == "disk-full"  # docs/taxonomy.md: "No space left on device"
