"""`buildlog run` against a real daemon: dockerd is SIGKILLed in the middle of a build, `buildlog run` classifies
the failure as ``builder-connection-lost``, restarts the daemon with ``--before-retry`` and the retry succeeds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .harness import Daemon, Lab, write_tree

pytestmark = pytest.mark.integration

# Its own WORKDIR: no cache hit from another test of the session can shorten the long RUN step.
DOCKERFILE = """\
FROM blbase:latest
WORKDIR /srv/run-retry
RUN echo "integration tests starting" && for i in $(seq 1 6); do echo "test $i ok"; sleep 1; done && echo "all passed"
"""


class _Tee:
    """Reads a pipe to the end in a thread, keeping the bytes and noting when a needle first appears."""

    def __init__(self, pipe: object, needle: bytes) -> None:
        self.pipe = pipe
        self.needle = needle
        self.data = bytearray()
        self.seen = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        read = self.pipe.read1  # type: ignore[attr-defined]
        while chunk := read(1 << 16):
            self.data += chunk
            if not self.seen.is_set() and self.needle in self.data:
                self.seen.set()


def test_daemon_killed_mid_build_is_retried_after_before_retry_restarts_it(
    lab: Lab, restartable_daemon: Daemon, tmp_path: Path
) -> None:
    context = write_tree(tmp_path / "context", {"Dockerfile": DOCKERFILE})
    summary_file = tmp_path / "summary.json"
    build = lab.build_command(["-t", "itest-run-retry:1"])
    cmd = [sys.executable, "-m", "buildlog", "run", "--attempts", "3", "--backoff", "0.5",
           "--before-retry", str(restartable_daemon.restart_script), "--summary-file", str(summary_file),
           "--", *build]
    pid_before = restartable_daemon.pid()
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=context, env=restartable_daemon.env(DOCKER_BUILDKIT="1"),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Docker's client prints the build's progress on stderr.
    err = _Tee(proc.stderr, b" test 3 ok\n")
    out = _Tee(proc.stdout, b"\x00never\x00")
    try:
        assert err.seen.wait(90), f"the long RUN step never printed its 3rd line:\n{err.data.decode()[-3000:]}"
        restartable_daemon.kill()  # like a crash or the OOM killer, while the RUN step is printing
        proc.wait(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err.thread.join(10)
    out.thread.join(10)
    stderr = bytes(err.data).decode(errors="replace")
    where = f"\ncommand: {' '.join(cmd)}\n--- stderr (tail) ---\n{stderr[-4000:]}"
    seconds = time.monotonic() - t0

    assert proc.returncode == 0, f"buildlog run exited {proc.returncode}{where}"
    ours = [line for line in stderr.splitlines() if line.startswith("buildlog: ")]
    assert len(ours) == 2, where
    assert ours[0].startswith("buildlog: attempt 1/3 failed: builder-connection-lost — "), where
    assert ours[0].endswith(", after --before-retry"), where
    assert ours[1] == "buildlog: attempt 2/3 succeeded", where
    # The first attempt's log ends with the client's own last words; the second one runs the step to its end.
    first, second = stderr.split(ours[0], 1)
    assert first.rstrip("\n").endswith("unexpected EOF"), where
    step_finished = re.compile(r"^#\d+ [\d.]+ all passed$", re.MULTILINE)
    assert not step_finished.search(first) and step_finished.search(second), where

    run = json.loads(summary_file.read_text())["run"]
    assert [(a["outcome"], a["class"], a["retryable"], a["exit_code"]) for a in run["attempts"]] == [
        ("failure", "builder-connection-lost", True, 1), ("success", None, False, 0)], where
    # --before-retry really restarted the daemon, and the retried build produced the image
    assert restartable_daemon.healthy() and restartable_daemon.pid() != pid_before
    assert restartable_daemon.docker("image", "inspect", "--format", "{{.Id}}", "itest-run-retry:1").strip()
    print(f"\nbuildlog run: killed daemon, --before-retry restart and a successful retry in {seconds:.1f}s")
