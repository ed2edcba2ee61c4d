"""Faults around `buildlog run` and the CLI, each with real processes: a build that floods, writes binary, closes
its stdout early, leaves children behind; our own stdout a closed pipe; a summary file that cannot be written;
SIGHUP and SIGPIPE. (SIGINT and SIGTERM: tests/test_run.py.) The 1 GB figure is measured by
benchmarks/run_volume.py; the tests here use smaller sizes. Every test has a hang guard (pytest-timeout, and a
timeout on each wait) but no assertion on how long anything took."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixturelib import SHARED, label_of

HELPERS = Path(__file__).parent / "run_helpers"
FAULTS = HELPERS / "faults.py"
REPLAY = HELPERS / "replay.py"
ROOT = Path(__file__).resolve().parents[1]
S01 = "s01-cold-plain.log"  # success, exit 0
S04 = "s04-fail-exit1-plain.log"  # build-step failure
S06 = "s06-daemon-killed-plain.log"  # builder-connection-lost

pytestmark = pytest.mark.timeout(180)


def exit_code(log: str) -> int:
    code: int = label_of(SHARED / log)["exit_code"]
    return code


def faults(*args: str) -> list[str]:
    return [sys.executable, str(FAULTS), *args]


def buildlog_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "buildlog", *args]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(buildlog_cmd(*args), capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          check=False, env=_env())


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT))


def ours(stderr: bytes) -> list[str]:
    return [line.decode() for line in stderr.splitlines() if line.startswith(b"buildlog: ")]


def no_traceback(stderr: bytes) -> None:
    assert b"Traceback" not in stderr and b"BrokenPipeError" not in stderr and b"Exception ignored" not in stderr, \
        stderr.decode(errors="replace")[-2000:]


def _flood_bytes() -> Any:
    spec = importlib.util.spec_from_file_location("faults", FAULTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.flood_bytes


def _digest(pieces: Any) -> tuple[int, str]:
    h, n = hashlib.sha256(), 0
    for piece in pieces:
        h.update(piece)
        n += len(piece)
    return n, h.hexdigest()


def _stream_through(args: list[str]) -> tuple[int, int, str, bytes]:
    """Run buildlog, hashing its stdout as it comes (never held whole); exit code, size, sha256, stderr."""
    proc = subprocess.Popen(buildlog_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=_env())
    assert proc.stdout is not None and proc.stderr is not None
    h, n = hashlib.sha256(), 0
    while chunk := proc.stdout.read(1 << 20):
        h.update(chunk)
        n += len(chunk)
    err = proc.stderr.read()
    return proc.wait(timeout=60), n, h.hexdigest(), err


# ----------------------------------------------------------------------------------------- what the build writes


@pytest.mark.parametrize("binary", [False, True], ids=["log", "binary"])
def test_a_fast_flood_passes_through_byte_for_byte(tmp_path: Path, binary: bool) -> None:
    total = 32 * 1024 * 1024  # the 1 GB figure: benchmarks/run_volume.py
    summary = tmp_path / "s.json"
    args = ["run", "--summary-file", str(summary), "--", *faults("flood", str(total))]
    if binary:
        args.append("--binary")
    code, size, digest, err = _stream_through(args)
    assert code == 0, err.decode(errors="replace")
    assert (size, digest) == _digest(_flood_bytes()(total, binary))
    no_traceback(err)
    data = json.loads(summary.read_text())
    assert data["run"]["outcome"] == "success"
    assert data["run"]["attempts"][0]["note"] is None  # the parser read it all without giving up
    if binary:
        assert ours(err) == []  # exit 0: nothing to say, even though the log has no build in it


def test_a_build_that_closes_its_stdout_early_is_waited_for(tmp_path: Path) -> None:
    summary = tmp_path / "s.json"
    r = run("run", "--summary-file", str(summary), "--", *faults("close-stdout", S04, str(exit_code(S04))))
    assert r.returncode == exit_code(S04)  # its own status, read after it ended, not at the EOF of its stdout
    assert r.stdout == (SHARED / S04).read_bytes()
    assert b"still running after closing stdout\n" in r.stderr  # what it wrote after closing stdout came through
    assert json.loads(summary.read_text())["failure"]["class"] == "build-step"
    no_traceback(r.stderr)


def test_children_that_outlive_the_build_do_not_keep_us(tmp_path: Path) -> None:
    pid_file = tmp_path / "orphan.pid"
    try:
        r = run("run", "--attempts", "1", "--", *faults("orphan", S06, str(exit_code(S06))), str(pid_file), timeout=60)
        # the orphan still holds both pipes; buildlog drains them briefly, then decides on the build's status
        assert r.returncode == 75  # builder-connection-lost: retryable, and no attempt is left
        assert r.stdout.startswith((SHARED / S06).read_bytes())
        assert any("no attempts left" in line for line in ours(r.stderr))
        no_traceback(r.stderr)
    finally:
        for pid in {int(p) for p in pid_file.read_text().split()} if pid_file.exists() else ():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# ------------------------------------------------------------------------------------------ where we write


def _pipeline(command: list[str], reader: str = "head -1") -> tuple[int, bytes, bytes]:
    """``COMMAND | READER`` in a shell; COMMAND's own exit status, the reader's output, COMMAND's stderr."""
    quoted = " ".join(_quote(a) for a in command)
    script = f"{quoted} 2>\"$ERR\" | {reader}; echo \"status=${{PIPESTATUS[0]}}\" >&2"
    errfile = Path(os.environ.get("TMPDIR", "/tmp")) / f"buildlog-pipe-{os.getpid()}.err"
    try:
        r = subprocess.run(["bash", "-c", script], capture_output=True, timeout=120, env=dict(_env(), ERR=str(errfile)),
                           stdin=subprocess.DEVNULL, check=False)
        status = int(r.stderr.decode().rsplit("status=", 1)[1])
        return status, r.stdout, errfile.read_bytes()
    finally:
        errfile.unlink(missing_ok=True)


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def test_run_into_a_closed_pipe_exits_with_the_builds_status() -> None:
    # 16 MB: far more than a pipe holds, so writes fail once `head` has gone
    status, out, err = _pipeline(buildlog_cmd("run", "--", *faults("flood", str(16 << 20), "--exit", "3")))
    assert status == 3  # the build's own status (its log has no verdict: not retried)
    assert out.count(b"\n") == 1
    no_traceback(err)


def test_events_into_a_closed_pipe_exit_quietly(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    with big.open("wb") as f:
        for _ in range(40):
            for log in sorted(SHARED.glob("*.log")):
                f.write(log.read_bytes())
    status, out, err = _pipeline(buildlog_cmd("events", "--raw", str(big)), reader="head -3")
    assert status == 0
    assert len(out.splitlines()) == 3 and all(json.loads(line) for line in out.splitlines())
    assert err == b""


def test_summary_into_a_closed_pipe_exits_with_its_own_status(tmp_path: Path) -> None:
    big = tmp_path / "warnings.log"
    # a summary longer than a pipe holds: a build with very many distinct warnings, markdown lists them all
    lines = b"".join(b"#1 WARN: RuleNumber%d: text of warning %d (line %d)\n" % (i, i, i) for i in range(20000))
    big.write_bytes((SHARED / S01).read_bytes() + lines)
    status, _out, err = _pipeline(buildlog_cmd("summary", "--format", "markdown", str(big)))
    assert status == 0
    no_traceback(err)


def test_summary_file_on_a_full_disk(tmp_path: Path) -> None:
    r = run("run", "--summary-file", "/dev/full", "--", sys.executable, str(REPLAY), str(tmp_path / "st"),
            f"{S01}:0")
    assert r.returncode == 0  # the build's result passes through
    assert r.stdout == (SHARED / S01).read_bytes()
    assert ours(r.stderr) == ["buildlog: cannot write /dev/full: No space left on device"]


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs root and unshare -m")
def test_summary_file_on_a_read_only_filesystem(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    inner = " ".join(_quote(a) for a in buildlog_cmd(
        "run", "--summary-file", str(ro / "s.json"), "--", sys.executable, str(REPLAY), str(tmp_path / "st"),
        f"{S04}:{exit_code(S04)}"))
    r = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o ro tmpfs {_quote(str(ro))} && exec {inner}"],
                       capture_output=True, timeout=120, env=_env(), stdin=subprocess.DEVNULL, check=False)
    if b"mount:" in r.stderr or b"unshare:" in r.stderr:
        pytest.skip("no mount namespace here: " + r.stderr.decode(errors="replace").strip())
    assert r.returncode == exit_code(S04)
    assert r.stdout == (SHARED / S04).read_bytes()
    wrote = [line for line in ours(r.stderr) if line.startswith("buildlog: cannot write")]
    assert wrote == [f"buildlog: cannot write {ro / 's.json'}: Read-only file system"]


# --------------------------------------------------------------------------------------------------- signals


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(buildlog_cmd("run", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=_env())


def test_sighup_is_forwarded_and_never_retried(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = _start(["--backoff", "0.01", "--", sys.executable, str(REPLAY), "--hang", str(state),
                   f"{S06}:{exit_code(S06)}"])
    _wait_for(Path(f"{state}.pid"))
    proc.send_signal(signal.SIGHUP)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 129
    assert int(state.read_text()) == 1  # one attempt, although the log is a retryable failure
    assert ours(err) == ["buildlog: interrupted by SIGHUP; not retrying, exiting with 129"]


def test_sigpipe_neither_stops_us_nor_reaches_the_build(tmp_path: Path) -> None:
    go = tmp_path / "go"
    script = f"echo started; while [ ! -e {_quote(str(go))} ]; do sleep 0.02; done; echo finished; exit 4"
    proc = _start(["--", "sh", "-c", script])
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"started\n"
    proc.send_signal(signal.SIGPIPE)
    go.touch()
    out, err = proc.communicate(timeout=60)
    assert out == b"finished\n"  # the build ran on to its end
    assert proc.returncode == 4  # and its own status came through (no verdict in its log: not retried)
    no_traceback(err)


def _wait_for(path: Path) -> None:
    import time

    for _ in range(1000):
        if path.exists() and path.read_text():
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} did not appear")
