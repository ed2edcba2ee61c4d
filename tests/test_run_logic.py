"""`buildlog run`'s decisions, in this process: which attempt is retried, after how long, with which exit code and
which line of ours, what the summaries say, how signals and a broken reader are handled.

tests/test_run.py runs ``python -m buildlog run`` as a user does; here ``run_with_retries`` runs in the test's own
process, so that a change of the decision code is seen by the test that exercises it. The build commands are
``/bin/sh`` printing the real logs of tests/fixtures with the exit code of each log's label (fast to start); the
expected lines of ours are the shapes docs/run.md gives.
"""

from __future__ import annotations

import errno
import io
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fixturelib import SHARED, label_of

from buildlog import rules_from_toml, summarize_bytes, summarize_path
from buildlog.redact import MARK
from buildlog.rules import user_rules_from_toml
from buildlog.run import (
    EXIT_NOT_EXECUTABLE,
    EXIT_NOT_FOUND,
    EXIT_RETRYABLE,
    Attempt,
    RunResult,
    _LogReader,
    _seconds,
    _shell_code,
    _signal_name,
    _Sink,
    render_run,
    render_run_markdown,
    render_run_text,
    retry_delay,
    run_with_retries,
)
from buildlog.summary import Summarizer

pytestmark = pytest.mark.timeout(60)

S06 = SHARED / "s06-daemon-killed-plain.log"  # builder-connection-lost, retryable, exit 1
S08_503 = SHARED / "s08-proxy-503-plain.log"  # registry-unavailable, retryable, exit 1
S04 = SHARED / "s04-fail-exit1-plain.log"  # build-step, exit 1
S09 = SHARED / "s09-canceled-sigint-plain.log"  # canceled, exit 130
S01 = SHARED / "s01-cold-plain.log"  # success, exit 0
GH = "ghp_" + "Zx9Qw2" * 6  # a made-up token in the real shape (tests/test_redact.py)


def code_of(log: Path) -> int:
    code: int = label_of(log)["exit_code"]
    return code


def build(tmp_path: Path, *runs: tuple[Path, int], stream: str = "stdout") -> list[str]:
    """A build command: run N prints the N-th log (the last one again once they are used up) and exits with the
    given code; the number of runs so far is kept in ``tmp_path/runs``."""
    state = tmp_path / "runs"
    redirect = " >&2" if stream == "stderr" else ""
    cases = [f"{i}) cat '{log}'{redirect}; exit {code};;" for i, (log, code) in enumerate(runs[:-1], 1)]
    log, code = runs[-1]
    cases.append(f"*) cat '{log}'{redirect}; exit {code};;")
    script = (f"n=$(( $(cat '{state}' 2>/dev/null || echo 0) + 1 )); echo $n > '{state}'; "
              f"case $n in {' '.join(cases)} esac")
    return ["/bin/sh", "-c", script]


def runs(tmp_path: Path) -> int:
    state = tmp_path / "runs"
    return int(state.read_text()) if state.exists() else 0


def run(argv: list[str], **kw: Any) -> tuple[Any, bytes, list[str]]:
    out, err = io.BytesIO(), io.BytesIO()
    kw.setdefault("jitter", 0)
    kw.setdefault("backoff", 0)
    kw.setdefault("handle_signals", False)
    result = run_with_retries(argv, stdout=out, stderr=err, **kw)
    return result, out.getvalue(), err.getvalue().decode().splitlines()


def ours(err: list[str]) -> list[str]:
    """Our lines of stderr (the command's own may be there too: a shell notes "Terminated")."""
    return [line for line in err if line.startswith("buildlog: ")]


def reason_of(log: Path) -> str:
    """The log's failure as one line (docs/run.md: "failed: CLASS — REASON; ...", the reason's end dot dropped)."""
    failure = summarize_path(log).failure
    assert failure is not None
    return f"{failure.failure_class} — " + " ".join(failure.reason.split()).rstrip(".")


def test_the_labels_used_here() -> None:
    assert [(label_of(p)["failure_class"], code_of(p)) for p in (S06, S08_503, S04, S09, S01)] == [
        ("builder-connection-lost", 1), ("registry-unavailable", 1), ("build-step", 1), ("canceled", 130),
        ("none", 0)]


# ------------------------------------------------------------------------------------ the retry decision


def test_transient_failures_are_retried_until_success(tmp_path: Path) -> None:
    result, out, err = run(build(tmp_path, (S06, 1), (S08_503, 1), (S01, 0)))
    assert (result.exit_code, result.stopped, result.outcome, runs(tmp_path)) == (0, "success", "success", 3)
    assert out == S06.read_bytes() + S08_503.read_bytes() + S01.read_bytes()  # stdout is the build's alone
    assert err == [f"buildlog: attempt 1/3 failed: {reason_of(S06)}; attempt 2/3 in 0.00s",
                   f"buildlog: attempt 2/3 failed: {reason_of(S08_503)}; attempt 3/3 in 0.00s",
                   "buildlog: attempt 3/3 succeeded"]
    assert [(a.number, a.exit_code, a.outcome, a.failure_class, a.retryable) for a in result.attempts] == [
        (1, 1, "failure", "builder-connection-lost", True), (2, 1, "failure", "registry-unavailable", True),
        (3, 0, "success", None, False)]
    assert [a.delay_s for a in result.attempts] == [0, 0, None]
    assert all(a.started and a.signal is None and a.note is None for a in result.attempts)
    assert result.summary.outcome == "success" and result.max_attempts == 3


def test_a_success_at_once_says_nothing(tmp_path: Path) -> None:
    result, _, err = run(build(tmp_path, (S01, 0)))
    assert (result.exit_code, result.stopped, err, runs(tmp_path)) == (0, "success", [], 1)


def test_the_back_off_doubles_and_is_capped(tmp_path: Path) -> None:
    """docs/run.md "Back-off": retry n waits backoff x 2^(n-1), at most max(max_backoff, backoff)."""
    result, _, err = run(build(tmp_path, (S06, 1)), attempts=4, backoff=0.01, max_backoff=0.03)
    assert [a.delay_s for a in result.attempts] == [pytest.approx(0.01), pytest.approx(0.02), pytest.approx(0.03), None]
    assert (result.exit_code, result.stopped) == (EXIT_RETRYABLE, "attempts-exhausted")
    assert err[-1] == f"buildlog: attempt 4/4 failed: {reason_of(S06)}; no attempts left, exiting with 75"
    assert err[0].endswith("; attempt 2/4 in 0.01s")


def test_a_throttled_registry_waits_six_times_as_long(tmp_path: Path) -> None:
    """synthetic: the rate-limited final line of tests/test_rules.py, as a whole log."""
    log = tmp_path / "rate-limited-synthetic.log"
    log.write_bytes(b"ERROR: failed to solve: docker.io/library/node:20: failed to copy: httpReadSeeker: failed open: "
                    b"unexpected status code 429 Too Many Requests - Server message: toomanyrequests: You have "
                    b"reached your pull rate limit.\n")
    result, _, _ = run(build(tmp_path, (log, 1), (S01, 0)), backoff=0.005)
    assert result.attempts[0].failure_class == "rate-limited"
    assert result.attempts[0].delay_s == pytest.approx(0.03)


@pytest.mark.parametrize(("log", "code", "stopped"), [(S04, 1, "failure"), (S04, 7, "failure"), (S09, 130, "failure")],
                         ids=["build-step", "own-code", "canceled"])
def test_a_failure_a_retry_will_not_fix_keeps_the_commands_code(tmp_path: Path, log: Path, code: int,
                                                                 stopped: str) -> None:
    result, _, err = run(build(tmp_path, (log, code), (S01, 0)))
    assert (result.exit_code, result.stopped, runs(tmp_path)) == (code, stopped, 1)
    assert result.outcome == summarize_path(log).outcome  # "failure", or "canceled" for s09
    assert err == [f"buildlog: attempt 1/3 failed: {reason_of(log)}; not retrying, exiting with {code}"]
    assert result.attempts[0].retryable is False and result.attempts[0].delay_s is None


def test_a_log_without_a_verdict_is_not_retried(tmp_path: Path) -> None:
    """s08-503 cut after L144 "#19 ERROR: failed to push ... 503" (tests/test_verdicts.py): no verdict, though the
    cause seen so far is a retryable one."""
    cut = tmp_path / "s08-cut-synthetic.log"
    cut.write_bytes(b"".join(S08_503.read_bytes().splitlines(keepends=True)[:144]))
    result, _, err = run(build(tmp_path, (cut, 137), (S01, 0)))
    assert (result.exit_code, result.stopped, result.outcome, runs(tmp_path)) == (137, "incomplete", "incomplete", 1)
    assert err == ["buildlog: attempt 1/3 failed: exit code 137, and the log has no verdict (so far: "
                   "registry-unavailable); not retrying, exiting with 137"]


def test_a_log_without_anything_is_not_retried(tmp_path: Path) -> None:
    result, _, err = run(["/bin/sh", "-c", "exit 3"])
    assert (result.exit_code, result.stopped, result.outcome) == (3, "incomplete", "incomplete")
    assert err == ["buildlog: attempt 1/3 failed: exit code 3, and the log has no verdict; not retrying, exiting "
                   "with 3"]


def test_a_command_that_fails_after_a_successful_build(tmp_path: Path) -> None:
    result, _, err = run(build(tmp_path, (S01, 1)))
    assert (result.exit_code, result.stopped, result.outcome) == (1, "command-failed", "failure")
    assert err == ["buildlog: attempt 1/3 failed: exit code 1, although the build in the log succeeded; not "
                   "retrying, exiting with 1"]


def test_exit_zero_is_trusted_over_the_log(tmp_path: Path) -> None:
    result, _, err = run(build(tmp_path, (S06, 0)))
    assert (result.exit_code, result.stopped, result.outcome) == (0, "success", "success")
    assert result.attempts[0].retryable is False  # the log's failure, but the command did not fail
    assert err == ["buildlog: attempt 1/3: the command exited 0 but its log reports a failure "
                   "(builder-connection-lost); trusting the exit code"]


def test_one_attempt_only_classifies(tmp_path: Path) -> None:
    result, _, err = run(build(tmp_path, (S06, 1)), attempts=1)
    assert (result.exit_code, result.stopped, runs(tmp_path)) == (75, "attempts-exhausted", 1)
    assert err == [f"buildlog: attempt 1/1 failed: {reason_of(S06)}; no attempts left, exiting with 75"]


def test_max_time_bounds_when_a_retry_may_start(tmp_path: Path) -> None:
    result, _, err = run(build(tmp_path, (S06, 1)), backoff=10, max_time=5)
    assert (result.exit_code, result.stopped, runs(tmp_path)) == (75, "max-time", 1)
    assert err == [f"buildlog: attempt 1/3 failed: {reason_of(S06)}; not retrying: the next attempt would start "
                   "after --max-time 5s, exiting with 75"]
    # a wait that ends within max_time is made
    again = tmp_path / "again"
    again.mkdir()
    result, _, _ = run(build(again, (S06, 1), (S01, 0)), attempts=2, backoff=0.01, max_time=30)
    assert (result.stopped, len(result.attempts)) == ("success", 2)


# ------------------------------------------------------------------------------------------ --before-retry


def test_before_retry_runs_after_the_wait_with_its_output_on_stderr(tmp_path: Path) -> None:
    hook = f"echo recreating the builder after run $(cat {tmp_path / 'runs'})"
    result, out, err = run(build(tmp_path, (S06, 1), (S01, 0)), before_retry=hook)
    assert (result.exit_code, result.stopped) == (0, "success")
    assert out == S06.read_bytes() + S01.read_bytes()
    assert err == [f"buildlog: attempt 1/3 failed: {reason_of(S06)}; attempt 2/3 in 0.00s, after --before-retry",
                   "recreating the builder after run 1", "buildlog: attempt 2/3 succeeded"]


def test_before_retry_as_an_argument_list(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    result, _, _ = run(build(tmp_path, (S06, 1), (S01, 0)), before_retry=["/bin/sh", "-c", f"echo x > {marker}"])
    assert result.stopped == "success" and marker.read_text() == "x\n"


def test_a_failed_before_retry_stops_the_retries(tmp_path: Path) -> None:
    result, _, err = run(build(tmp_path, (S06, 1), (S01, 0)), before_retry="exit 4")
    assert (result.exit_code, result.stopped, runs(tmp_path)) == (75, "before-retry-failed", 1)
    assert err[-1] == "buildlog: --before-retry exited with 4; not retrying, exiting with 75"


def test_a_before_retry_that_cannot_start(tmp_path: Path) -> None:
    result, _, err = run(build(tmp_path, (S06, 1), (S01, 0)), before_retry=[str(tmp_path / "nonexistent")])
    assert (result.exit_code, result.stopped) == (75, "before-retry-failed")
    assert err[-2:] == ["buildlog: cannot run --before-retry: No such file or directory",
                        f"buildlog: --before-retry exited with {EXIT_NOT_FOUND}; not retrying, exiting with 75"]
    again = tmp_path / "again"
    again.mkdir()
    hook = again / "hook.sh"
    hook.write_text("#!/bin/sh\n")  # not executable
    result, _, err = run(build(again, (S06, 1), (S01, 0)), before_retry=[str(hook)])
    assert err[-1] == f"buildlog: --before-retry exited with {EXIT_NOT_EXECUTABLE}; not retrying, exiting with 75"


def test_a_before_retry_that_runs_past_max_time(tmp_path: Path) -> None:
    result, _, err = run(build(tmp_path, (S06, 1), (S01, 0)), before_retry="sleep 0.3", max_time=0.2)
    assert (result.exit_code, result.stopped, runs(tmp_path)) == (75, "max-time", 1)
    assert err[-1] == "buildlog: --before-retry ran past --max-time 0.2s; not retrying, exiting with 75"


# -------------------------------------------------------------------------------------- starting, ending


def test_a_command_that_does_not_exist(tmp_path: Path) -> None:
    missing = str(tmp_path / "docker")
    result, _, err = run([missing, "build", "."])
    # the run's outcome is the last attempt's log verdict: no log, no verdict
    assert (result.exit_code, result.stopped, result.outcome) == (EXIT_NOT_FOUND, "cannot-start", "incomplete")
    [a] = result.attempts
    assert (a.started, a.exit_code, a.note) == (False, 127, f"cannot run {missing!r}: command not found")
    assert a.summary.outcome == "incomplete"
    assert err == [f"buildlog: cannot run {missing!r}: command not found; exiting with 127"]
    assert a.to_json()["started"] is False


def test_a_command_that_cannot_be_executed(tmp_path: Path) -> None:
    script = tmp_path / "build.sh"
    script.write_text("#!/bin/sh\n")
    result, _, err = run([str(script)])
    assert (result.exit_code, result.stopped) == (EXIT_NOT_EXECUTABLE, "cannot-start")
    assert err == [f"buildlog: cannot run {str(script)!r}: permission denied; exiting with 126"]
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x7fELF garbage")
    garbage.chmod(0o755)
    result, _, err = run([str(garbage)])
    assert (result.exit_code, result.stopped) == (EXIT_NOT_EXECUTABLE, "cannot-start")
    assert err == [f"buildlog: cannot run {str(garbage)!r}: Exec format error; exiting with 126"]


def test_a_command_killed_by_a_signal(tmp_path: Path) -> None:
    result, _, err = run(["/bin/sh", "-c", "kill -KILL $$"])
    [a] = result.attempts
    assert (result.exit_code, a.exit_code, a.signal) == (137, 137, signal.SIGKILL)
    assert a.to_json()["signal"] == "SIGKILL"
    assert err == ["buildlog: attempt 1/3 failed: exit code 137, and the log has no verdict; not retrying, exiting "
                   "with 137"]


def test_bad_arguments_are_refused() -> None:
    bad: list[dict[str, Any]] = [{"attempts": 0}, {"backoff": -1}, {"max_backoff": -1}, {"kill_grace": -1},
                                 {"max_time": -1}]
    for kw in bad:
        with pytest.raises(ValueError):
            run_with_retries(["true"], stdout=io.BytesIO(), stderr=io.BytesIO(), handle_signals=False, **kw)
    with pytest.raises(ValueError):
        run_with_retries([])
    # the edges are allowed
    result = run_with_retries(["true"], attempts=1, backoff=0, max_backoff=0, kill_grace=0, max_time=0,
                              stdout=io.BytesIO(), stderr=io.BytesIO(), handle_signals=False)
    assert result.exit_code == 0


def test_on_attempt_sees_each_attempt_as_it_ends(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    result, _, _ = run(build(tmp_path, (S06, 1), (S01, 0)),
                       on_attempt=lambda a: seen.append((a.number, runs(tmp_path))))
    assert seen == [(1, 1), (2, 2)] and len(result.attempts) == 2


def test_output_on_stderr_and_a_line_without_its_end(tmp_path: Path) -> None:
    """docker buildx prints on stderr; a log whose last line has no line break: our line starts on a new one."""
    cut = tmp_path / "s04-no-final-newline-synthetic.log"
    cut.write_bytes(S04.read_bytes()[:-1])
    out, err = io.BytesIO(), io.BytesIO()
    result = run_with_retries(build(tmp_path, (cut, 1), stream="stderr"), stdout=out, stderr=err,
                              handle_signals=False)
    assert out.getvalue() == b""
    assert err.getvalue().startswith(cut.read_bytes() + b"\nbuildlog: attempt 1/3 failed: build-step")
    assert result.attempts[0].summary.failure is not None
    assert result.attempts[0].summary.failure.exit_code == 1


def test_what_a_background_child_prints_after_the_command_exits(tmp_path: Path) -> None:
    """The command exits while a child of it still writes to the pipes: what it prints within the drain time is
    passed on."""
    result, out, _ = run(["/bin/sh", "-c", "(sleep 0.3; echo late) & exit 0"])
    assert result.exit_code == 0 and out == b"late\n"


def test_timeline_on_request(tmp_path: Path) -> None:
    result, _, _ = run(build(tmp_path, (S01, 0)), timeline=True)
    assert result.attempts[0].timeline is not None
    result, _, _ = run(build(tmp_path, (S01, 0)))
    assert result.attempts[0].timeline is None


# ----------------------------------------------------------------------------------------- redaction


def test_our_lines_are_redacted(tmp_path: Path) -> None:
    """synthetic: a failure whose reason quotes the decisive text (a user rule with ``{match}``), the text holding
    a token; a user [[redact]] pattern applies too."""
    log = tmp_path / "token-synthetic.log"
    log.write_bytes(b"ERROR: failed to build: flaky fetch with " + GH.encode() + b" acme_0123456789\n")
    rules, secrets = user_rules_from_toml(
        '[[rule]]\nname = "flaky"\npattern = "flaky fetch.*"\nclass = "network"\nretryable = true\n'
        'reason = "it flaked: {match}"\n[[redact]]\nname = "acme"\npattern = "acme_(?P<secret>[0-9]+)"\n')
    from buildlog import DEFAULT_RULES

    result, _, err = run(build(tmp_path, (log, 1)), attempts=1, rules=DEFAULT_RULES.with_rules(rules, secrets))
    assert result.attempts[0].failure_class == "network"
    assert GH not in err[0] and "0123456789" not in err[0]
    assert f"ghp_{MARK}github-token]" in err[0] and f"acme_{MARK}acme]" in err[0]


# --------------------------------------------------------------------------------------- the summaries


def _result(tmp_path: Path, *runs_: tuple[Path, int], **kw: Any) -> RunResult:
    result, _, _ = run(build(tmp_path, *runs_), **kw)
    assert isinstance(result, RunResult)
    return result


def test_run_json(tmp_path: Path) -> None:
    """docs/run.md "Summaries": the run section."""
    argv = build(tmp_path, (S06, 1), (S01, 0))
    result, _, _ = run(argv, backoff=0.01)
    data = result.to_json()
    assert data["outcome"] == "success" and data["failure"] is None  # the last attempt's summary on top
    r = data["run"]
    assert (r["command"], r["exit_code"], r["outcome"], r["stopped"], r["interrupted_by"], r["max_attempts"]) == (
        argv, 0, "success", "success", None, 3)
    assert r["duration_s"] >= r["attempts"][0]["duration_s"] + 0.01 > 0
    first, second = r["attempts"]
    assert first == {"attempt": 1, "exit_code": 1, "signal": None, "outcome": "failure",
                     "class": "builder-connection-lost", "retryable": True,
                     "reason": summarize_path(S06).failure.reason,  # type: ignore[union-attr]
                     "duration_s": first["duration_s"], "delay_s": 0.01, "note": None, "started": True}
    assert second["delay_s"] is None and second["class"] is None and second["reason"] is None
    assert round(first["duration_s"], 3) == first["duration_s"]


def test_run_outcome_of_each_ending() -> None:
    """docs/run.md: ``success`` (exit 0), ``interrupted``, or the last attempt's log verdict; ``failure`` when the
    log said success but the command failed, or when nothing ran."""
    ok, failed = summarize_path(S01), summarize_path(S04)
    canceled = summarize_path(S09)
    assert canceled.outcome == "canceled"

    def result(code: int, stopped: str, *summaries: Any) -> RunResult:
        attempts = [Attempt(i, code, 0.0, s) for i, s in enumerate(summaries, 1)]
        return RunResult(["b"], code, stopped, attempts, 3)

    assert result(0, "success", failed).outcome == "success"
    assert result(143, "interrupted", ok).outcome == "interrupted"
    assert result(1, "command-failed", ok).outcome == "failure"
    assert result(1, "failure", canceled).outcome == "canceled"
    assert result(1, "failure", ok, failed).outcome == "failure"
    assert result(127, "cannot-start").outcome == "failure"
    empty = RunResult(["b"], 127, "cannot-start", [], 3)
    assert empty.summary.outcome == "incomplete" and empty.summary.builds == []
    assert result(1, "failure", ok, failed).summary is not None
    assert result(1, "failure", ok, failed).summary.failure is not None


def test_headlines_of_the_text_and_markdown_summaries(tmp_path: Path) -> None:
    """docs/run.md "Summaries": one line per attempt, then the last attempt's summary."""
    result = _result(tmp_path, (S06, 1), (S04, 1))
    text = render_run_text(result)
    first, a1, a2 = text.splitlines()[:3]
    assert first == "buildlog run: failed, not retryable (2 attempts, exit code 1)"
    assert a1.startswith(f"  attempt 1/3: exit 1, {reason_of(S06)} (") and a1.endswith("s)")
    assert a2.startswith(f"  attempt 2/3: exit 1, {reason_of(S04)} (")
    assert text.endswith("\n") and not text.endswith("\n\n\n")
    md = render_run_markdown(result)
    assert md.startswith("## buildlog run: failed, not retryable (2 attempts, exit code 1)\n\n`/bin/sh -c ")
    assert "| attempt | exit code | outcome | class | retryable | duration | reason |" in md
    rows = [line for line in md.splitlines() if line.startswith("| 1/3 |") or line.startswith("| 2/3 |")]
    assert rows[0].startswith("| 1/3 | 1 | failure | builder-connection-lost | yes | ")
    assert rows[1].startswith("| 2/3 | 1 | failure | build-step | no | ")
    assert "<details><summary>Attempt 1: builder-connection-lost</summary>" in md
    assert "<details><summary>Attempt 2" not in md  # the last attempt is shown open
    assert render_run(result, "markdown") == md and render_run(result, "text") == text
    assert render_run(result, "json").startswith("{\n  ")
    with pytest.raises(ValueError):
        render_run(result, "yaml")


@pytest.mark.parametrize(("stopped", "code", "headline"), [
    ("success", 0, "succeeded (1 attempt)"),
    ("incomplete", 3, "failed, and the log has no verdict (1 attempt, exit code 3)"),
    ("command-failed", 1, "the command failed although the build succeeded (1 attempt, exit code 1)"),
    ("attempts-exhausted", 75, "transient failures used up all 1 attempt (exit code 75)"),
    ("max-time", 75, "transient failure, --max-time reached (1 attempt, exit code 75)"),
    ("before-retry-failed", 75, "transient failure, --before-retry failed (1 attempt, exit code 75)"),
    ("interrupted", 143, "interrupted by SIGTERM (1 attempt, exit code 143)"),
    ("cannot-start", 127, "the command could not be started (exit code 127)"),
])
def test_headline_of_each_ending(stopped: str, code: int, headline: str) -> None:
    result = RunResult(["docker", "build", "."], code, stopped, [Attempt(1, code, 1.0, summarize_path(S01))], 3,
                       interrupted_by=signal.SIGTERM if stopped == "interrupted" else None)
    assert render_run_text(result).splitlines()[0] == f"buildlog run: {headline}"
    assert render_run_markdown(result).splitlines()[0] == f"## buildlog run: {headline}"


def test_markdown_cells_and_command_stay_in_their_place() -> None:
    """A reason with a pipe or an HTML tag, a command with a backtick and a line break: the table and the code
    span are not broken."""
    from buildlog import DEFAULT_RULES

    mine = rules_from_toml('[[rule]]\npattern = "<b>.*"\nclass = "unknown"\nreason = "{match}"\n')
    s = summarize_bytes(b"ERROR: failed to build: failed to solve: <b>x</b> | y\n", DEFAULT_RULES.with_rules(mine))
    a = Attempt(1, 1, 0.5, s)
    md = render_run_markdown(RunResult(["sh", "-c", "echo `date`\nexit 1"], 1, "failure", [a], 1))
    assert "`sh -c echo 'date' exit 1`" in md
    row = next(line for line in md.splitlines() if line.startswith("| 1/1 |"))
    assert "&lt;b>x&lt;/b> \\| y" in row and row.count(" | ") == 6


def test_the_summaries_are_redacted(tmp_path: Path) -> None:
    log = tmp_path / "token-synthetic.log"
    log.write_bytes(b"ERROR: failed to build: failed to solve: fetching with token " + GH.encode() + b"\n")
    result = _result(tmp_path, (log, 1))
    for fmt in ("json", "markdown", "text"):
        assert GH not in render_run(result, fmt)
        assert GH in render_run(result, fmt, redactor=None)
    assert GH not in render_run_text(result) and GH not in render_run_markdown(result)


# ------------------------------------------------------------------------------------------ the pieces


def test_retry_delay_spread_and_bounds() -> None:
    rng = random.Random(7)
    expected = 10 * random.Random(7).uniform(0.8, 1.2)
    assert retry_delay(1, "network", backoff=10, rng=rng) == expected
    assert retry_delay(2, None, backoff=10, jitter=0) == 20
    assert retry_delay(3, "rate-limited", backoff=1, max_backoff=1000, jitter=0) == 24
    assert retry_delay(1, "network", backoff=200, max_backoff=120, jitter=0) == 200  # max(max_backoff, backoff)

    class Lowest:
        def uniform(self, a: float, b: float) -> float:
            return a

    assert retry_delay(1, "network", backoff=10, jitter=1.5, rng=Lowest()) == 0.0  # type: ignore[arg-type]
    assert retry_delay(1, "network", backoff=10, jitter=0.5, rng=Lowest()) == 5.0  # type: ignore[arg-type]


def test_seconds_and_codes() -> None:
    # docs/run.md: "attempt 2/3 in 4.9s", "in 10.3s"; below a second, hundredths
    assert (_seconds(4.87), _seconds(10.34), _seconds(1.0), _seconds(0.5), _seconds(0.004)) == (
        "4.9s", "10.3s", "1.0s", "0.50s", "0.00s")
    assert _shell_code(-9) == (137, 9) and _shell_code(3) == (3, None) and _shell_code(0) == (0, None)
    assert (_signal_name(15), _signal_name(None), _signal_name(99)) == ("SIGTERM", "", "signal 99")


class _Stream:
    def __init__(self, exc: BaseException | None = None) -> None:
        self.data = b""
        self.exc = exc
        self.flushes = 0

    def write(self, data: bytes) -> int:
        if self.exc is not None:
            raise self.exc
        self.data += data
        return len(data)

    def flush(self) -> None:
        self.flushes += 1


def test_sink_flushes_each_chunk_and_starts_our_lines_on_a_line_of_their_own() -> None:
    stream = _Stream()
    sink = _Sink(stream)
    sink.message("first")
    sink.write(b"#1 DONE")
    sink.write(b"")
    sink.message("second")
    sink.write(b"x\n")
    sink.message("third")
    assert stream.data == b"buildlog: first\n#1 DONE\nbuildlog: second\nx\nbuildlog: third\n"
    assert stream.flushes == 5


@pytest.mark.parametrize("exc", [BrokenPipeError(), OSError(errno.EPIPE, "pipe"), OSError(errno.EBADF, "closed")],
                         ids=["broken-pipe", "epipe", "ebadf"])
def test_sink_whose_reader_went_away(exc: OSError) -> None:
    stream = _Stream(exc)
    sink = _Sink(stream)
    sink.write(b"a\n")
    assert sink.broken
    stream.exc = None
    sink.write(b"b\n")
    assert stream.data == b""  # nothing more is written once the reader is gone


def test_sink_other_errors_are_raised() -> None:
    sink = _Sink(_Stream(OSError(errno.ENOSPC, "full")))
    with pytest.raises(OSError):
        sink.write(b"a\n")
    assert not sink.broken


def test_run_into_a_reader_that_went_away(tmp_path: Path) -> None:
    result = run_with_retries(build(tmp_path, (S04, 1)), stdout=_Stream(BrokenPipeError()), stderr=io.BytesIO(),
                              handle_signals=False)
    assert (result.exit_code, result.attempts[0].failure_class) == (1, "build-step")  # still read and classified


def _reader_summary(pieces: list[tuple[int, bytes]], end: list[int] | None = None) -> dict[str, Any]:
    reader = _LogReader(None)
    for fd, data in pieces:
        reader.feed(fd, data)
    for fd in end or []:
        reader.end_of(fd, others_open=True)
    return reader.close().to_json()


def test_reader_never_splices_a_line_of_one_pipe_into_the_other() -> None:
    """s04 line by line, alternately on stdout and stderr, each line cut in two and the halves interleaved with the
    other pipe's: the same summary as the whole log."""
    data = S04.read_bytes()
    pieces: list[tuple[int, bytes]] = []
    for i, line in enumerate(data.splitlines(keepends=True)):
        fd = 1 + i % 2
        pieces += [(fd, line[: len(line) // 2]), (3 - fd, b""), (fd, line[len(line) // 2 :])]
    pieces = [(fd, d) for fd, d in pieces if d]
    whole = summarize_bytes(data).to_json()
    assert _reader_summary(pieces) == whole
    # a chunk with several lines and the start of the next one
    assert _reader_summary([(2, data[:1000]), (2, data[1000:])]) == whole
    # the last line without its line break, ended by the end of its pipe (or by the end of the run)
    assert _reader_summary([(1, data[:-1])], end=[1]) == whole
    assert _reader_summary([(1, data[:-1])]) == whole


def test_reader_at_the_end_of_one_pipe_while_the_other_is_open() -> None:
    """stdout ends with an unfinished line while stderr goes on: stderr's next line is not glued to it."""
    reader = _LogReader(None)
    s04 = S04.read_bytes().splitlines(keepends=True)
    reader.feed(1, b"".join(s04[:-1]) + b"build done")
    reader.end_of(1, others_open=True)
    reader.feed(2, s04[-1])
    s = reader.close()
    # the unfinished "build done" is a line of its own (L116), the final error the next one (L117)
    assert s.failure is not None and s.failure.failure_class == "build-step" and s.failure.line == len(s04) + 1


def test_reader_bounds_an_unfinished_line() -> None:
    """A line longer than the pending limit goes to the parser in pieces; the log is still read."""
    reader = _LogReader(None)
    data = S04.read_bytes()
    reader.feed(1, data)
    reader.feed(1, b"x" * 70_000)
    reader.feed(1, b"y" * 70_000)
    assert len(reader.pending[1]) < 70_000
    reader.feed(1, b"\n")
    s = reader.close()
    assert s.failure is not None and s.failure.failure_class == "build-step"


def test_reader_that_cannot_parse_gives_no_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A parser error (fault injected) must not stop the build's output: the attempt has no verdict, a note
    says why, and no retry is decided from it."""
    from buildlog import parser as parser_module

    def broken(self: Any, data: bytes) -> Any:
        raise ValueError("parser exploded")

    monkeypatch.setattr(parser_module.Parser, "feed", broken)
    result, out, err = run(build(tmp_path, (S06, 1), (S01, 0)))
    assert out == S06.read_bytes()
    assert (result.exit_code, result.stopped, runs(tmp_path)) == (1, "incomplete", 1)
    note = "could not read the log (ValueError: parser exploded); no retry decision"
    assert result.attempts[0].note == note
    assert err[0] == f"buildlog: attempt 1/3: {note}"
    assert result.attempts[0].summary.outcome == "incomplete" and result.attempts[0].timeline is None


def test_reader_whose_parser_fails_at_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    from buildlog import parser as parser_module

    def broken(self: Any) -> Any:
        raise RuntimeError("at the end")

    monkeypatch.setattr(parser_module.Parser, "close", broken)
    reader = _LogReader(None)
    reader.feed(1, S04.read_bytes())
    s = reader.close()
    assert reader.error == "RuntimeError: at the end" and s.outcome == "incomplete" and s.builds == []


def test_reader_with_user_rules() -> None:
    rules = rules_from_toml('[[rule]]\nname = "mine"\npattern = "exit code: 1"\nclass = "network"\n'
                            'retryable = true\n')
    from buildlog import DEFAULT_RULES

    reader = _LogReader(DEFAULT_RULES.with_rules(rules))
    reader.feed(1, S04.read_bytes())
    s = reader.close()
    assert s.failure is not None and s.failure.rule == "mine"
    assert Summarizer().close().outcome == "incomplete"


# ---------------------------------------------------------------------------------------------- signals


def _when(path: Path, then: Any) -> threading.Thread:
    def wait() -> None:
        deadline = time.monotonic() + 30
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        then()

    t = threading.Thread(target=wait, daemon=True)
    t.start()
    return t


def _sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def test_a_signal_is_forwarded_then_the_command_killed(tmp_path: Path) -> None:
    """SIGTERM to us: passed on to the command's group (which notes it and goes on), SIGKILL after the grace
    period; never retried, exit 128 + 15 (docs/run.md)."""
    ready, notes = tmp_path / "ready", tmp_path / "notes"
    argv = ["/bin/sh", "-c", f"trap 'echo TERM >> {notes}' TERM; cat '{S06}'; touch {ready}; "
            "while :; do sleep 0.05; done"]
    before = signal.getsignal(signal.SIGTERM)
    t = _when(ready, _sigterm)
    result, out, err = run(argv, handle_signals=True, kill_grace=0.5)
    t.join()
    assert (result.exit_code, result.stopped, result.outcome, result.interrupted_by) == (
        143, "interrupted", "interrupted", signal.SIGTERM)
    [a] = result.attempts
    assert a.signal == signal.SIGKILL and a.exit_code == 137
    assert notes.read_text() == "TERM\n"
    assert out == S06.read_bytes()
    assert ours(err) == ["buildlog: interrupted by SIGTERM; not retrying, exiting with 143"]
    assert result.run_json()["interrupted_by"] == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) == before  # our handler is gone again


def test_a_signal_during_the_back_off_stops_at_once(tmp_path: Path) -> None:
    """The back-off lasts an hour; a SIGTERM during it ends the run without a second attempt (the per-test timeout
    turns a wait that is not cut short into a failure)."""
    argv = build(tmp_path, (S06, 1), (S01, 0))
    timers: list[threading.Timer] = []

    def later(a: Attempt) -> None:
        timers.append(threading.Timer(0.2, _sigterm))
        timers[-1].start()

    result, _, err = run(argv, handle_signals=True, backoff=3600, on_attempt=later)
    assert (result.exit_code, result.stopped, runs(tmp_path)) == (143, "interrupted", 1)
    assert ours(err)[-1] == "buildlog: interrupted by SIGTERM; not retrying, exiting with 143"
    assert result.attempts[0].delay_s == 3600


def test_a_signal_during_before_retry_stops_at_once(tmp_path: Path) -> None:
    ready = tmp_path / "hook-ready"
    argv = build(tmp_path, (S06, 1), (S01, 0))
    t = _when(ready, _sigterm)
    result, _, err = run(argv, handle_signals=True, before_retry=f"touch {ready}; sleep 30", kill_grace=5)
    t.join()
    assert (result.exit_code, result.stopped, runs(tmp_path)) == (143, "interrupted", 1)
    assert err[-1] == "buildlog: interrupted by SIGTERM; not retrying, exiting with 143"


def test_a_signal_between_attempts_stops_before_the_next(tmp_path: Path) -> None:
    argv = build(tmp_path, (S06, 1), (S01, 0))
    result, _, err = run(argv, handle_signals=True, on_attempt=lambda a: _sigterm())
    assert (result.exit_code, result.stopped, runs(tmp_path)) == (143, "interrupted", 1)
    assert result.attempts[0].delay_s is None
    assert err == ["buildlog: interrupted by SIGTERM; not retrying, exiting with 143"]


def test_signals_are_left_alone_unless_asked(tmp_path: Path) -> None:
    seen: list[Any] = []
    before = signal.getsignal(signal.SIGINT)  # Python's own, or SIG_IGN under a shell's background job
    run(["true"], handle_signals=False, on_attempt=lambda a: seen.append(signal.getsignal(signal.SIGINT)))
    run(["true"], handle_signals=True, on_attempt=lambda a: seen.append(signal.getsignal(signal.SIGINT)))
    assert seen[0] == before
    assert seen[1] != before and callable(seen[1])
    assert signal.getsignal(signal.SIGINT) == before
    # from another thread no handler can be set: the run goes on without
    box: list[RunResult] = []
    t = threading.Thread(target=lambda: box.append(run(["true"], handle_signals=True)[0]))
    t.start()
    t.join()
    assert box[0].exit_code == 0


def test_a_forwarded_sighup_and_sigint(tmp_path: Path) -> None:
    for sig, code in ((signal.SIGHUP, 129), (signal.SIGINT, 130)):
        ready = tmp_path / f"ready-{sig}"
        t = _when(ready, lambda s=sig: os.kill(os.getpid(), s))
        # the command takes the signal's default action itself: started from a background job, it would inherit
        # SIGINT ignored (as it should), and then only SIGKILL could end it
        command = (f"import pathlib, signal, time; signal.signal({int(sig)}, signal.SIG_DFL); "
                   f"pathlib.Path({str(ready)!r}).touch(); time.sleep(30)")
        result, _, err = run([sys.executable, "-c", command], handle_signals=True, kill_grace=5)
        t.join()
        assert (result.exit_code, result.stopped) == (code, "interrupted")
        assert result.attempts[0].signal == sig  # the command died of the signal passed on, before any SIGKILL
        assert ours(err) == [f"buildlog: interrupted by {signal.Signals(sig).name}; not retrying, exiting with {code}"]


# ----------------------------------------------------------------- what the summaries print, exactly


def test_the_text_summary_is_the_attempt_lines_then_the_last_summary(tmp_path: Path) -> None:
    """docs/run.md: "--format text: one line per attempt, then the last attempt's text summary"."""
    from buildlog.render import render_text

    result = _result(tmp_path, (S06, 1), (S04, 1))
    text = render_run_text(result)
    head = text.splitlines()[:3]
    assert text == "\n".join(head) + "\n\n" + render_text(result.summary, color=False, redactor=None)
    assert text.endswith("\n") and not text.endswith("\n\n")
    coloured = render_run_text(result, color=True)
    assert "\x1b[" in coloured and "\x1b[" not in text


def test_the_json_summary_is_indented_by_two_and_ascii(tmp_path: Path) -> None:
    """docs/run.md shows the JSON with two-space indentation; non-ASCII text (the "—" of a reason, a command's
    own) is escaped, so that any consumer's encoding reads it."""
    result = _result(tmp_path, (S04, 1))
    result.argv = [*result.argv, "café"]
    out = render_run(result, "json")
    assert out.endswith("}\n") and not out.endswith("\n\n")
    lines = out.splitlines()
    assert lines[0] == "{" and lines[1].startswith('  "') and not lines[1].startswith('   ')
    assert out.isascii() and "caf\\u00e9" in out


def test_an_unknown_format_names_the_known_ones(tmp_path: Path) -> None:
    result = _result(tmp_path, (S01, 0))
    with pytest.raises(ValueError, match=r"^unknown format 'yaml' \(one of: json, markdown, text\)$"):
        render_run(result, "yaml")


def test_an_ending_without_a_headline_of_its_own() -> None:
    """A ``stopped`` value the headlines do not know (a newer version's) still says what it is and the exit code."""
    result = RunResult(["b"], 3, "gave-up", [Attempt(1, 3, 1.0, summarize_path(S04))], 3)
    assert render_run_text(result).splitlines()[0] == "buildlog run: gave-up (exit code 3)"


@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_the_summaries_that_show_the_command_redact_it_with_the_rules_patterns(tmp_path: Path, fmt: str) -> None:
    """synthetic: a secret of a user's [[redact]] pattern passed on the command line (the markdown report and the
    JSON show the command): redacted by the redactor given, left as it is with none."""
    token = "acme_" + "k" * 24
    _rules, secrets = user_rules_from_toml('[[redact]]\nname = "acme"\npattern = "acme_[a-z]{24}"\n'
                                           'trigger = "acme_"')
    from buildlog import DEFAULT_RULES

    rules = DEFAULT_RULES.with_rules([], secrets)
    result = _result(tmp_path, (S04, 1), rules=rules)
    result.argv = [*result.argv, f"--build-arg=TOKEN={token}"]
    shown = render_run(result, fmt, redactor=rules.redactor)
    assert token not in shown and "[redacted acme]" in shown  # JSON writes the mark's "…" as \u2026
    assert token in render_run(result, fmt, redactor=None)
    if fmt == "markdown":
        mine = render_run_markdown(result, redactor=rules.redactor)
        assert token not in mine and f"{MARK}acme]" in mine


def test_the_before_retry_hook_gets_the_runs_environment_and_directory(tmp_path: Path) -> None:
    """docs/run.md: --before-retry runs like the command, with its environment and working directory."""
    where = tmp_path / "workdir"
    where.mkdir()
    seen = tmp_path / "seen"
    env = {**os.environ, "BUILDLOG_TEST_MARK": "from-the-run"}
    result, _, _ = run(build(tmp_path, (S06, 1), (S01, 0)), env=env, cwd=str(where),
                       before_retry=f"echo \"$BUILDLOG_TEST_MARK $(pwd)\" > '{seen}'")
    assert result.exit_code == 0
    assert seen.read_text().split() == ["from-the-run", str(where)]


def test_signalling_a_process_group_that_is_gone_is_no_error() -> None:
    """The build's process group may have ended by the time a signal is forwarded to it."""
    import subprocess

    from buildlog.run import _killpg

    child = subprocess.Popen(["/bin/sh", "-c", "exit 0"], start_new_session=True)
    child.wait()
    _killpg(child.pid, signal.SIGTERM)  # no such process group any more: nothing raised


def test_the_markdown_report_is_the_table_then_each_attempts_summary(tmp_path: Path) -> None:
    """docs/run.md "--format markdown", part by part: the title, the command, the table (an empty cell where an
    attempt has no class or reason), the earlier attempts folded, the last one open; each attempt's summary is
    `buildlog summary --format markdown`'s, titled "Attempt N", with its gantt chart."""
    from buildlog.render import render_markdown

    result = _result(tmp_path, (S06, 1), (S08_503, 1), (S01, 0), timeline=True)
    first, second, last = result.attempts
    assert first.timeline is not None and last.timeline is not None
    md = render_run_markdown(result)
    command = " ".join(result.argv)

    def row(a: Attempt) -> str:
        return (f"| {a.number}/3 | {a.exit_code} | {a.outcome} | {a.failure_class or ''} | "
                f"{'yes' if a.retryable else 'no'} | {a.duration_s:.1f}s | {(a.reason or '')} |")

    def folded(a: Attempt, label: str) -> list[str]:
        return [f"<details><summary>Attempt {a.number}: {label}</summary>", "",
                render_markdown(a.summary, title=f"Attempt {a.number}", timeline=a.timeline).rstrip("\n"), "",
                "</details>", ""]

    expected = ["## buildlog run: succeeded (3 attempts)", "", f"`{command}`", "",
                "| attempt | exit code | outcome | class | retryable | duration | reason |",
                "|---|---|---|---|---|---|---|", row(first), row(second), row(last), "",
                *folded(first, "builder-connection-lost"), *folded(second, "registry-unavailable"),
                render_markdown(last.summary, title="Attempt 3", timeline=last.timeline).rstrip("\n"), ""]
    assert md == "\n".join(expected)
    assert row(last).endswith("| success |  | no | " + f"{last.duration_s:.1f}s |  |")
    assert "```mermaid" in md and "gantt" in md  # each summary with its chart


# ------------------------------------------------------------------------ the edges of run_with_retries


@pytest.mark.parametrize(("kw", "says"), [
    ({"argv": []}, "no command to run"),
    ({"attempts": 0}, "attempts must be at least 1"),
    ({"backoff": -1}, "backoff, max_backoff, kill_grace and max_time cannot be negative"),
    ({"max_time": -1}, "backoff, max_backoff, kill_grace and max_time cannot be negative"),
])
def test_arguments_that_cannot_be_run_are_refused(kw: dict[str, Any], says: str) -> None:
    argv = kw.pop("argv", ["/bin/true"])
    with pytest.raises(ValueError, match=f"^{says}$"):
        run_with_retries(argv, stdout=io.BytesIO(), stderr=io.BytesIO(), handle_signals=False, **kw)


def test_the_command_gets_the_runs_environment_and_directory(tmp_path: Path) -> None:
    where = tmp_path / "workdir"
    where.mkdir()
    env = {**os.environ, "BUILDLOG_TEST_MARK": "from-the-run"}
    result, out, _ = run(["/bin/sh", "-c", f"echo \"$BUILDLOG_TEST_MARK $(pwd)\"; cat '{S01}'"], env=env,
                         cwd=str(where))
    assert result.exit_code == 0
    assert out.split(b"\n", 1)[0].decode().split() == ["from-the-run", str(where)]


def test_no_more_attempts_than_asked(tmp_path: Path) -> None:
    result, _, _ = run(build(tmp_path, (S06, 1)), attempts=2)
    assert runs(tmp_path) == 2 and [a.number for a in result.attempts] == [1, 2]
    assert result.stopped == "attempts-exhausted"


def test_the_runs_duration_is_its_attempts_and_waits(tmp_path: Path) -> None:
    """RunResult.duration_s covers the attempts and the waits between them, and no more than the call took."""
    start = time.monotonic()
    result, _, _ = run(build(tmp_path, (S06, 1), (S01, 0)), backoff=0.05)
    took = time.monotonic() - start
    spent = sum(a.duration_s + (a.delay_s or 0.0) for a in result.attempts)
    assert spent <= result.duration_s <= took


def test_a_command_that_cannot_start_is_an_attempt_of_no_time(tmp_path: Path) -> None:
    script = tmp_path / "build.sh"
    script.write_text("#!/bin/sh\n")  # not executable
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x7fELF garbage")
    garbage.chmod(0o755)
    for argv in ([str(tmp_path / "docker")], [str(script)], [str(garbage)]):
        result, _, _ = run(argv)
        [a] = result.attempts
        assert (a.number, a.duration_s, a.started, a.summary.outcome) == (1, 0.0, False, "incomplete")
        assert a.to_json()["duration_s"] == 0.0


def test_our_lines_survive_text_that_utf8_cannot_encode() -> None:
    """A lone surrogate (a file name in a broken encoding) in a message of ours is replaced, not an error."""
    out = io.BytesIO()
    _Sink(out).message("cannot run 'build\udcff.sh'")
    assert out.getvalue() == b"buildlog: cannot run 'build?.sh'\n"


def test_each_attempts_timeline_is_its_logs(tmp_path: Path) -> None:
    """--format markdown draws each attempt's gantt chart from the timeline read live: the same as the log's."""
    from buildlog import parse_path
    from buildlog.timeline import timeline_of

    result = _result(tmp_path, (S06, 1), (S01, 0), timeline=True)
    for attempt, log in zip(result.attempts, (S06, S01), strict=True):
        assert attempt.timeline == timeline_of(parse_path(log))


def test_the_reader_hands_the_parser_whole_lines_of_each_pipe() -> None:
    """Each pipe's bytes reach the parser a whole line at a time, and as soon as a chunk completes them: a line of
    stderr is never spliced into an unfinished line of stdout, and nothing complete is held back."""
    reader = _LogReader(None)
    seen: list[bytes] = []
    reader._parse = seen.append  # type: ignore[method-assign]
    reader.feed(1, b"#1 [internal] load build definition\n#1 DONE 0.0s\n#2 [inter")
    assert seen == [b"#1 [internal] load build definition\n#1 DONE 0.0s\n"]
    reader.feed(2, b"ERROR: from the other pipe\n")
    reader.feed(1, b"nal] load metadata\n")
    assert seen[1:] == [b"ERROR: from the other pipe\n", b"#2 [internal] load metadata\n"]
    reader.feed(1, b"#2 DONE 0.1s\n")  # a chunk that is exactly whole lines leaves nothing behind
    assert seen[-1] == b"#2 DONE 0.1s\n" and not reader.pending[1]


def test_a_line_cut_by_the_other_pipe_is_read_whole(tmp_path: Path) -> None:
    """synthetic timing of s06's real lines: the command writes its decisive last line (L85, "ERROR: failed to build:
    failed to receive status: ... EOF") in two writes on stdout, with a line of its own on stderr in between; then
    closes stdout in the middle of a line while stderr goes on. The verdict is s06's: the cut line is not glued to
    the other pipe's."""
    lines = S06.read_bytes().splitlines(keepends=True)
    head, last = tmp_path / "head", tmp_path / "last"
    head.write_bytes(b"".join(lines[:-1]))
    last.write_bytes(lines[-1])
    half = len(lines[-1]) // 2
    script = (f"cat '{head}'; head -c {half} '{last}'; sleep 0.3; echo 'wrapper: still waiting' >&2; sleep 0.3; "
              f"tail -c +{half + 1} '{last}'; printf 'exit status'; exec 1>&-; sleep 0.3; "
              "echo 'wrapper: done' >&2; exit 1")
    result, out, _ = run(["/bin/sh", "-c", script], attempts=1)
    assert out == S06.read_bytes() + b"exit status"
    [attempt] = result.attempts
    assert attempt.summary.failure is not None
    failure = attempt.summary.failure
    # one stream, numbered as it came: the stderr line that came first is line 85, s06's last line 86
    assert (failure.failure_class, failure.line) == ("builder-connection-lost", 86)
    # the message as s06 has it, whole (the lines after it may continue it: a message can be hard-wrapped)
    assert failure.text.split("\n")[0] == lines[-1].decode().rstrip("\n").removeprefix("ERROR: ")
    # stdout's cut last line is read when stdout closes, before the stderr line that came after it
    assert failure.text.split("\n")[1:] == ["exit status", "wrapper: done"]


def test_the_grace_period_lets_the_command_end_on_its_own(tmp_path: Path) -> None:
    """docs/run.md: a signal is passed on, and SIGKILL comes only after the grace period: a command that takes a
    moment to clean up ends with its own exit code."""
    ready = tmp_path / "ready"
    argv = ["/bin/sh", "-c", f"trap 'sleep 0.3; exit 7' TERM; cat '{S06}'; touch {ready}; "
            "while :; do sleep 0.05; done"]
    t = _when(ready, _sigterm)
    result, _, _ = run(argv, handle_signals=True, kill_grace=10)
    t.join()
    [a] = result.attempts
    assert (a.exit_code, a.signal) == (7, None)
    assert (result.exit_code, result.stopped) == (143, "interrupted")


def test_durations_are_rounded_to_the_millisecond() -> None:
    """docs/run.md: duration_s and delay_s in seconds, rounded to the millisecond."""
    a = Attempt(1, 1, 1.23456789, summarize_path(S06), delay_s=0.0004999)
    b = Attempt(2, 0, 2.0004, summarize_path(S01))
    r = RunResult(["b"], 0, "success", [a, b], 3, duration_s=3.23456)
    run_json = r.run_json()
    assert run_json["duration_s"] == 3.235
    assert [(x["duration_s"], x["delay_s"]) for x in run_json["attempts"]] == [(1.235, 0.0), (2.0, None)]


def test_a_summary_left_unredacted_is_unredacted_all_through(tmp_path: Path) -> None:
    """synthetic variant of s06: its decisive last line (L85) with a token in it. Asked for no redaction, the
    markdown report keeps it in the first attempt's folded summary too; asked for the rules' patterns, the text
    report redacts it with them."""
    token = "acme_" + "q" * 24
    leak = tmp_path / "leak.log"
    leak.write_bytes(S06.read_bytes().replace(b"error reading from server: EOF",
                                              b"error reading from server: EOF (session " + token.encode() + b")"))
    gh_leak = tmp_path / "gh-leak.log"  # a secret of a built-in shape, which the default redaction would take out
    gh_leak.write_bytes(S06.read_bytes().replace(b"ERROR: failed to build: failed to receive status:",
                                                 b"ERROR: failed to build (" + GH.encode() + b"): failed to receive "
                                                 b"status:"))
    gh_runs = tmp_path / "gh"
    gh_runs.mkdir()
    result = _result(gh_runs, (gh_leak, 1), (S01, 0))
    assert result.attempts[0].failure_class == "builder-connection-lost"
    folded = render_run_markdown(result, redactor=None).split("</details>")[0]
    assert GH in folded
    assert GH not in render_run_markdown(result)
    # a user rule whose reason repeats what it matched, so that the text report's attempt line shows the token
    rules, secrets = user_rules_from_toml(
        '[[rule]]\nname = "session"\npattern = "session acme_[a-z]+"\nclass = "builder-connection-lost"\n'
        'retryable = true\nreason = "lost {match}"\n'
        '[[redact]]\nname = "acme"\npattern = "acme_[a-z]{24}"\ntrigger = "acme_"')
    from buildlog import DEFAULT_RULES

    ruleset = DEFAULT_RULES.with_rules(rules, secrets)
    again = tmp_path / "again"
    again.mkdir()
    failed_only = _result(again, (leak, 1), attempts=1, rules=ruleset)
    text = render_run_text(failed_only, redactor=ruleset.redactor)
    assert token not in text and f"lost session {MARK}acme]" in text
    assert f"lost session {token}" in render_run_text(failed_only, redactor=None)


def test_a_command_that_leaves_a_child_holding_the_pipes(tmp_path: Path) -> None:
    """A build wrapper that exits while a child of its own still holds stdout open (`cmd &`): the run ends soon
    after the command, with its exit code and its log read, not when the child lets go of the pipe."""
    done = tmp_path / "child-done"
    argv = ["/bin/sh", "-c", f"cat '{S01}'; (sleep 6; touch '{done}') & exit 0"]
    result, out, _ = run(argv, attempts=1)
    assert not done.exists()  # the child still ran when the run was over
    assert (result.exit_code, result.outcome) == (0, "success")
    assert out == S01.read_bytes()
