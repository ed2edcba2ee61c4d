"""`buildlog run` with real processes: a helper replays real logs (tests/run_helpers/replay.py) as a build command
would print them, with the exit code of each log's label, and `buildlog run` is run as a user runs it."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fixturelib import SHARED, label_of

from buildlog.rules import load_rules
from buildlog.run import Attempt, retry_delay, run_with_retries

# Process tests: a regression that hangs (a child that never ends, a pipe never closed) fails the test instead of
# hanging the suite (pytest-timeout, in the dev extras).
pytestmark = pytest.mark.timeout(120)

HELPERS = Path(__file__).parent / "run_helpers"
REPLAY = HELPERS / "replay.py"
FLOOD = HELPERS / "flood.py"

S06 = "s06-daemon-killed-plain.log"  # builder-connection-lost: "error reading from server: EOF"
S08_503 = "s08-proxy-503-plain.log"  # registry-unavailable: 503 Service Unavailable
S08_RESET = "s08-proxy-reset-transient-plain.log"  # success (BuildKit retried the resets itself)
S04 = "s04-fail-exit1-plain.log"  # build-step: a RUN step exited 1
S01 = "s01-cold-plain.log"  # success


def exit_code(log: str) -> int:
    code: int = label_of(SHARED / log)["exit_code"]
    return code


def labelled(log: str) -> str:
    """``LOG:EXIT`` with the exit code the real command had."""
    return f"{log}:{exit_code(log)}"


def data(log: str) -> bytes:
    return (SHARED / log).read_bytes()


def replay(state: Path, *logs: str, options: tuple[str, ...] = ()) -> list[str]:
    return [sys.executable, str(REPLAY), *options, str(state), *logs]


def buildlog(*args: str, env: dict[str, str] | None = None, timeout: float = 30,
             cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "buildlog", *args], capture_output=True, timeout=timeout,
                          env=env, cwd=cwd, stdin=subprocess.DEVNULL, check=False)


def runs(state: Path) -> int:
    return int(state.read_text()) if state.exists() else 0


def ours(stderr: bytes) -> list[str]:
    """The lines buildlog itself wrote to stderr."""
    return [line.decode() for line in stderr.splitlines() if line.startswith(b"buildlog: ")]


def without_ours(stream: bytes) -> bytes:
    return re.sub(rb"(?m)^buildlog: [^\n]*\n", b"", stream)


def summary_json(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


# ------------------------------------------------------------------------------------------ retries


def test_labels_used_here() -> None:
    # The scenario of the retry test, as the labels describe it.
    assert [label_of(SHARED / log)["failure_class"] for log in (S06, S08_503, S08_RESET, S04)] == [
        "builder-connection-lost", "registry-unavailable", "none", "build-step"]
    assert [exit_code(log) for log in (S06, S08_503, S08_RESET, S04)] == [1, 1, 0, 1]


def test_two_transient_failures_then_success(tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "summary.json"
    p = buildlog("run", "--backoff", "0.01", "--summary-file", str(out), "--",
                 *replay(state, labelled(S06), labelled(S08_503), labelled(S08_RESET)))
    assert p.returncode == 0, p.stderr.decode()
    assert runs(state) == 3
    # byte for byte what the command printed, attempt after attempt
    assert p.stdout == data(S06) + data(S08_503) + data(S08_RESET)
    lines = ours(p.stderr)
    assert len(lines) == 3, lines
    assert lines[0].startswith("buildlog: attempt 1/3 failed: builder-connection-lost — The connection to the "
                               "BuildKit daemon was lost")
    assert lines[0].endswith("; attempt 2/3 in 0.01s")
    assert lines[1].startswith("buildlog: attempt 2/3 failed: registry-unavailable — ")
    assert "503 Service Unavailable" in lines[1]
    assert lines[2] == "buildlog: attempt 3/3 succeeded"
    s = summary_json(out)
    assert s["outcome"] == "success" and s["failure"] is None  # the last attempt's summary on top
    run = s["run"]
    assert (run["exit_code"], run["outcome"], run["stopped"]) == (0, "success", "success")
    assert [a["class"] for a in run["attempts"]] == ["builder-connection-lost", "registry-unavailable", None]
    assert [a["outcome"] for a in run["attempts"]] == ["failure", "failure", "success"]
    assert [a["exit_code"] for a in run["attempts"]] == [1, 1, 0]
    assert [a["retryable"] for a in run["attempts"]] == [True, True, False]
    assert all(a["duration_s"] >= 0 for a in run["attempts"])
    assert run["attempts"][0]["delay_s"] == pytest.approx(0.01, rel=0.25)
    assert run["attempts"][2]["delay_s"] is None


def test_docker_style_output_on_stderr(tmp_path: Path) -> None:
    """docker buildx prints its progress on stderr: it is passed through there, our lines between attempts."""
    state = tmp_path / "state"
    p = buildlog("run", "--backoff", "0.01", "--",
                 *replay(state, labelled(S06), labelled(S08_RESET), options=("--stream", "stderr")))
    assert p.returncode == 0
    assert p.stdout == b""
    assert without_ours(p.stderr) == data(S06) + data(S08_RESET)
    assert p.stderr.index(b"buildlog: attempt 1/3 failed") == len(data(S06))


def test_both_pipes_forwarded_and_parsed_as_one_stream(tmp_path: Path) -> None:
    state = tmp_path / "state"
    log = data(S04)
    lines = log.splitlines(keepends=True)
    p = buildlog("run", "--backoff", "0.01", "--",
                 *replay(state, labelled(S04), options=("--stream", "alternate")))
    assert p.returncode == 1
    assert p.stdout == b"".join(lines[0::2])
    assert without_ours(p.stderr) == b"".join(lines[1::2])
    assert "failed: build-step — " in ours(p.stderr)[0]


def test_build_step_failure_is_not_retried(tmp_path: Path) -> None:
    state = tmp_path / "state"
    p = buildlog("run", "--backoff", "0.01", "--", *replay(state, labelled(S04), labelled(S01)))
    assert p.returncode == 1
    assert runs(state) == 1
    assert p.stdout == data(S04)
    assert ours(p.stderr) == [
        "buildlog: attempt 1/3 failed: build-step — A RUN step's command exited with code 1: the build itself "
        "failed; not retrying, exiting with 1"]


def test_a_final_failure_exits_with_the_commands_own_code(tmp_path: Path) -> None:
    state = tmp_path / "state"
    p = buildlog("run", "--backoff", "0.01", "--", *replay(state, f"{S04}:7"))
    assert (p.returncode, runs(state)) == (7, 1)


def test_attempts_exhausted_exit_75(tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "s.json"
    p = buildlog("run", "--attempts", "2", "--backoff", "0.01", "--summary-file", str(out), "--",
                 *replay(state, labelled(S06)))
    assert (p.returncode, runs(state)) == (75, 2)
    assert ours(p.stderr)[-1].endswith("; no attempts left, exiting with 75")
    s = summary_json(out)
    assert s["outcome"] == "failure" and s["failure"]["class"] == "builder-connection-lost"
    assert s["run"]["stopped"] == "attempts-exhausted" and len(s["run"]["attempts"]) == 2


def test_max_time_stops_retrying(tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "s.json"
    p = buildlog("run", "--attempts", "50", "--backoff", "0.05", "--max-time", "0.6", "--summary-file", str(out),
                 "--", *replay(state, labelled(S06)))
    assert p.returncode == 75
    assert 1 <= runs(state) < 10  # the back-off doubles from 0.05 s: --max-time ended it long before 50 attempts
    assert "not retrying: the next attempt would start after --max-time 0.6s" in ours(p.stderr)[-1]
    assert summary_json(out)["run"]["stopped"] == "max-time"


def test_before_retry_runs_between_attempts(tmp_path: Path) -> None:
    state, hooks = tmp_path / "state", tmp_path / "hooks"
    hook = f'echo "after attempt $(cat {state})" >> {hooks}; echo recreating the builder'
    p = buildlog("run", "--backoff", "0.01", "--before-retry", hook, "--",
                 *replay(state, labelled(S06), labelled(S08_503), labelled(S01)))
    assert p.returncode == 0
    assert hooks.read_text() == "after attempt 1\nafter attempt 2\n"
    # the hook's output goes to stderr: stdout stays the build's own
    assert p.stdout == data(S06) + data(S08_503) + data(S01)
    assert p.stderr.count(b"recreating the builder\n") == 2
    assert ours(p.stderr)[0].endswith("; attempt 2/3 in 0.01s, after --before-retry")


def test_before_retry_failure_stops_retrying(tmp_path: Path) -> None:
    state = tmp_path / "state"
    p = buildlog("run", "--backoff", "0.01", "--before-retry", "exit 4", "--", *replay(state, labelled(S06)))
    assert (p.returncode, runs(state)) == (75, 1)
    assert ours(p.stderr)[-1] == "buildlog: --before-retry exited with 4; not retrying, exiting with 75"


def test_user_rules_can_make_a_failure_retryable(tmp_path: Path) -> None:
    state, rules = tmp_path / "state", tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nname = "flaky-tests"\npattern = "did not complete successfully: exit code: 1"\n'
                     'class = "build-step"\nretryable = true\nreason = "our test suite is flaky"\n')
    p = buildlog("run", "--backoff", "0.01", "--rules", str(rules), "--", *replay(state, labelled(S04), labelled(S01)))
    assert (p.returncode, runs(state)) == (0, 2)
    assert "build-step — our test suite is flaky" in ours(p.stderr)[0]


# ------------------------------------------------------------------ exit code against the log's verdict


def test_exit_zero_is_success_whatever_the_log_says(tmp_path: Path) -> None:
    state = tmp_path / "state"
    p = buildlog("run", "--", *replay(state, f"{S04}:0"))
    assert (p.returncode, runs(state)) == (0, 1)
    assert ours(p.stderr) == ["buildlog: attempt 1/3: the command exited 0 but its log reports a failure "
                              "(build-step); trusting the exit code"]


def test_failing_command_whose_log_succeeded_is_not_retried(tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "s.json"
    p = buildlog("run", "--summary-file", str(out), "--", *replay(state, f"{S01}:1"))
    assert (p.returncode, runs(state)) == (1, 1)
    assert "although the build in the log succeeded" in ours(p.stderr)[0]
    assert summary_json(out)["run"]["stopped"] == "command-failed"


def test_log_without_a_verdict_is_not_retried(tmp_path: Path) -> None:
    # s06 cut in the middle of its long RUN step, like a client killed before it printed anything more
    state, out = tmp_path / "state", tmp_path / "s.json"
    p = buildlog("run", "--backoff", "0.01", "--summary-file", str(out), "--",
                 *replay(state, f"{S06}:137", options=("--cut-at-line", "80")))
    assert (p.returncode, runs(state)) == (137, 1)
    assert "exit code 137, and the log has no verdict; not retrying, exiting with 137" in ours(p.stderr)[0]
    s = summary_json(out)
    assert s["outcome"] == "incomplete" and s["run"]["stopped"] == "incomplete"


def test_command_killed_by_a_signal(tmp_path: Path) -> None:
    p = buildlog("run", "--", "/bin/sh", "-c", "kill -KILL $$")
    assert p.returncode == 137
    assert len(ours(p.stderr)) == 1


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_output_without_a_trailing_newline(tmp_path: Path, stream: str) -> None:
    state, out = tmp_path / "state", tmp_path / "s.json"
    log = data(S04)[:-1]
    p = buildlog("run", "--summary-file", str(out), "--",
                 *replay(state, labelled(S04), options=("--strip-final-newline", "--stream", stream)))
    assert p.returncode == 1
    s = summary_json(out)
    assert s["failure"]["class"] == "build-step" and s["failure"]["exit_code"] == 1
    if stream == "stdout":
        assert p.stdout == log
    else:
        # our line starts on a line of its own
        assert p.stderr.startswith(log + b"\nbuildlog: attempt 1/3 failed: build-step")


# ---------------------------------------------------------------------------------- start and usage


def test_command_not_found(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    p = buildlog("run", "--summary-file", str(out), "--", "/nonexistent/docker", "buildx", "build", ".")
    assert p.returncode == 127
    assert ours(p.stderr) == ["buildlog: cannot run '/nonexistent/docker': command not found; exiting with 127"]
    s = summary_json(out)
    assert s["outcome"] == "incomplete" and s["run"]["stopped"] == "cannot-start"


def test_command_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "build.sh"
    script.write_text("#!/bin/sh\n")
    p = buildlog("run", "--", str(script))
    assert p.returncode == 126


@pytest.mark.parametrize("args", [
    [], ["--"], ["--attempts", "0", "--", "true"], ["--format", "yaml", "--", "true"],
    ["--rules", "/nonexistent.toml", "--", "true"], ["--backoff", "-1", "--", "true"],
    ["--summary-file", "/nonexistent/dir/s.json", "--", "true"],
])
def test_bad_usage_exits_2(args: list[str]) -> None:
    p = buildlog("run", *args)
    assert p.returncode == 2, p.stderr.decode()
    assert p.stderr


def test_command_options_need_no_double_dash(tmp_path: Path) -> None:
    # Everything from the command on belongs to the command, its options included.
    state = tmp_path / "state"
    p = buildlog("run", "--attempts", "1", sys.executable, str(REPLAY), "--stream", "stderr", str(state),
                 labelled(S01))
    assert p.returncode == 0, p.stderr.decode()
    assert p.stderr == data(S01)


def test_import_stays_light() -> None:
    code = "import sys, buildlog.run; sys.exit('typer' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ----------------------------------------------------------------------------------------- signals


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "buildlog", "run", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie is gone for our purposes
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "Z"


def test_sigterm_is_forwarded_then_the_command_is_killed(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = _start(["--kill-grace", "0.5", "--backoff", "0.01", "--",
                   *replay(state, labelled(S06), options=("--hang",))])
    _wait_for(Path(f"{state}.pid"))
    child = int(Path(f"{state}.pid").read_text())
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)  # a hang guard, not a measurement: the helper would hang for 60 s
    assert proc.returncode == 143
    assert Path(f"{state}.signals").read_text() == "SIGTERM\n"  # it got the SIGTERM, ignored it ...
    assert _gone(child)  # ... and was killed after the grace period
    assert runs(state) == 1  # never retried, although its log is a retryable failure
    assert out == data(S06)
    assert ours(err) == ["buildlog: interrupted by SIGTERM; not retrying, exiting with 143"]


def test_sigint_interrupts_and_is_never_retried(tmp_path: Path) -> None:
    state, out_file = tmp_path / "state", tmp_path / "s.json"
    proc = _start(["--backoff", "0.01", "--summary-file", str(out_file), "--",
                   *replay(state, labelled(S06), options=("--hang", "--on-sigint-exit"))])
    _wait_for(Path(f"{state}.pid"))
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert runs(state) == 1
    run = summary_json(out_file)["run"]
    assert (run["stopped"], run["interrupted_by"], run["outcome"]) == ("interrupted", "SIGINT", "interrupted")
    assert run["attempts"][0]["signal"] == "SIGINT"


def test_a_signal_during_the_back_off_stops_at_once(tmp_path: Path) -> None:
    """The back-off lasts an hour: that the process ends at all, without a second attempt, shows the signal cut
    the wait short (no clock is read; the per-test timeout turns a regression into a failure, not a hang)."""
    state = tmp_path / "state"
    proc = _start(["--backoff", "3600", "--", *replay(state, labelled(S06))])
    assert proc.stderr is not None
    line = proc.stderr.readline()  # the log is on stdout; the first stderr line is ours
    assert b"attempt 2/3 in" in line
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate()
    assert proc.returncode == 143
    assert runs(state) == 1
    assert ours(err)[-1] == "buildlog: interrupted by SIGTERM; not retrying, exiting with 143"


# ------------------------------------------------------------------------------------------ volume


def _flood_chunks() -> Any:
    spec = importlib.util.spec_from_file_location("flood", FLOOD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.chunks


def test_100_mb_of_output_passes_through_unchanged(tmp_path: Path) -> None:
    """100 MB, the last 20 MB one line without a line break, reach stdout byte for byte and the build is read.
    (How much memory that takes is measured by benchmarks/run_memory.py, not asserted here.)"""
    total, long_line = 100_000_000, 20_000_000
    out = tmp_path / "s.json"
    proc = subprocess.Popen([sys.executable, "-m", "buildlog", "run", "--summary-file", str(out), "--",
                             sys.executable, str(FLOOD), str(total), str(long_line)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None and proc.stderr is not None
    digest, size = hashlib.sha256(), 0
    while chunk := proc.stdout.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    err = proc.stderr.read()  # a few lines of ours: they fit in the pipe while stdout is read
    proc.wait()
    assert proc.returncode == 0, err.decode(errors="replace")
    expected = hashlib.sha256()
    for piece in _flood_chunks()(total, long_line):
        expected.update(piece)
    assert size == total
    assert digest.hexdigest() == expected.hexdigest()
    assert summary_json(out)["run"]["outcome"] == "success"


# --------------------------------------------------------------------------------------- summaries


def test_github_summary_is_appended(tmp_path: Path) -> None:
    state, step_summary = tmp_path / "state", tmp_path / "step_summary.md"
    step_summary.write_text("earlier step\n")
    env = dict(os.environ, GITHUB_STEP_SUMMARY=str(step_summary))
    p = buildlog("run", "--backoff", "0.01", "--github-summary", "--",
                 *replay(state, labelled(S06), labelled(S08_503), labelled(S01)), env=env)
    assert p.returncode == 0
    md = step_summary.read_text()
    assert md.startswith("earlier step\n## buildlog run: succeeded (3 attempts)\n")
    rows = [line for line in md.splitlines() if re.match(r"\| [123]/3 \|", line)]
    assert len(rows) == 3
    assert "| builder-connection-lost | yes |" in rows[0] and "| registry-unavailable | yes |" in rows[1]
    assert "<details><summary>Attempt 1: builder-connection-lost</summary>" in md
    assert "Attempt 3 succeeded" in md


def test_github_summary_outside_github(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    p = buildlog("run", "--github-summary", "--", "true", env=env)
    assert p.returncode == 0
    assert b"$GITHUB_STEP_SUMMARY is not set" in p.stderr


@pytest.mark.parametrize("fmt", ["markdown", "text"])
def test_summary_file_formats(tmp_path: Path, fmt: str) -> None:
    state, out = tmp_path / "state", tmp_path / "summary"
    p = buildlog("run", "--backoff", "0.01", "--summary-file", str(out), "--format", fmt, "--",
                 *replay(state, labelled(S06), labelled(S04)))
    assert p.returncode == 1
    text = out.read_text()
    assert "failed, not retryable (2 attempts, exit code 1)" in text
    assert "builder-connection-lost" in text and "build-step" in text


# ----------------------------------------------------------------------------------------- the API


def test_api_collects_every_attempt(tmp_path: Path) -> None:
    state = tmp_path / "state"
    out, err = io.BytesIO(), io.BytesIO()
    seen: list[Attempt] = []
    result = run_with_retries(replay(state, labelled(S06), labelled(S08_RESET)), backoff=0.01, stdout=out,
                              stderr=err, handle_signals=False, on_attempt=seen.append)
    assert result.exit_code == 0 and result.stopped == "success"
    assert [a.number for a in seen] == [1, 2] and seen == result.attempts
    assert [a.failure_class for a in result.attempts] == ["builder-connection-lost", None]
    assert result.summary.outcome == "success"
    assert out.getvalue() == data(S06) + data(S08_RESET)
    assert err.getvalue().startswith(b"buildlog: attempt 1/3 failed: builder-connection-lost")
    assert result.to_json()["run"]["attempts"][0]["exit_code"] == 1


def test_api_rules_and_argv_hook(tmp_path: Path) -> None:
    state, rules, marker = tmp_path / "state", tmp_path / "r.toml", tmp_path / "marker"
    rules.write_text('[[rule]]\npattern = "exit code: 1"\nclass = "build-step"\nretryable = true\n')
    result = run_with_retries(replay(state, labelled(S04)), attempts=2, backoff=0.01,
                              before_retry=["/bin/sh", "-c", f"touch {marker}"], rules=load_rules([rules]),
                              stdout=io.BytesIO(), stderr=io.BytesIO(), handle_signals=False)
    assert (result.exit_code, result.stopped, len(result.attempts)) == (75, "attempts-exhausted", 2)
    assert marker.exists()


def test_api_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        run_with_retries([])
    with pytest.raises(ValueError):
        run_with_retries(["true"], attempts=0)


def test_retry_delay() -> None:
    assert [retry_delay(n, "network", backoff=2, jitter=0) for n in (1, 2, 3)] == [2, 4, 8]
    assert retry_delay(1, "rate-limited", backoff=2, jitter=0) == 12  # a throttled registry needs longer
    assert retry_delay(10, "network", backoff=2, max_backoff=60, jitter=0) == 60
    delays = [retry_delay(1, "network", backoff=10, jitter=0.2) for _ in range(200)]
    assert all(8 <= d <= 12 for d in delays) and len(set(delays)) > 1
