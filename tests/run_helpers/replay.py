"""Replays real logs as a build command would print them, one log per run, for the tests of `buildlog run`.

    replay.py STATE LOG:EXIT [LOG:EXIT ...]

STATE is a file counting the runs so far (created if missing): run N replays the N-th LOG (the last one once the
list is exhausted) and exits with its EXIT. A LOG without a directory is taken from tests/fixtures/shared.

--stream stdout|stderr|alternate   where the bytes go: stdout, stderr (where docker buildx prints its progress),
                                   or line by line alternately (stdout first), each line flushed on its own
--strip-final-newline              leave the last byte of a log that ends with "\\n" out
--cut-at-line N                    print only the first N lines (a log cut short, like a client that died)
--hang                             after the log, keep running (until killed); SIGTERM is ignored and noted in
                                   STATE.signals; STATE.pid gets the pid
--on-sigint-exit                   with --hang: SIGINT ends the process the default way
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent / "fixtures" / "shared"


def _write(fd: int, data: bytes) -> None:
    while data:
        n = os.write(fd, data)
        data = data[n:]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("state")
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--stream", choices=("stdout", "stderr", "alternate"), default="stdout")
    ap.add_argument("--strip-final-newline", action="store_true")
    ap.add_argument("--cut-at-line", type=int)
    ap.add_argument("--hang", action="store_true")
    ap.add_argument("--on-sigint-exit", action="store_true")
    args = ap.parse_args()

    state = Path(args.state)
    run = int(state.read_text()) if state.exists() else 0
    state.write_text(str(run + 1))
    name, _, code = args.logs[min(run, len(args.logs) - 1)].rpartition(":")
    path = Path(name) if os.sep in name else SHARED / name
    data = path.read_bytes()
    if args.cut_at_line is not None:
        data = b"".join(data.splitlines(keepends=True)[: args.cut_at_line])
    if args.strip_final_newline and data.endswith(b"\n"):
        data = data[:-1]

    if args.hang:
        def noted(signum: int, frame: object) -> None:
            with open(f"{state}.signals", "a") as f:
                f.write(signal.Signals(signum).name + "\n")

        # The handlers first, the pid file after: a test signals as soon as the pid file appears, and a SIGTERM
        # that arrived before the handler would kill the helper instead of being noted.
        signal.signal(signal.SIGTERM, noted)
        if not args.on_sigint_exit:
            signal.signal(signal.SIGINT, noted)
        pid_file = Path(f"{state}.pid")
        tmp = pid_file.with_name(pid_file.name + ".tmp")
        tmp.write_text(str(os.getpid()))
        tmp.replace(pid_file)  # atomic: a reader never sees an empty pid file

    if args.stream == "alternate":
        for i, line in enumerate(data.splitlines(keepends=True)):
            _write(1 if i % 2 == 0 else 2, line)
            time.sleep(0.001)
    else:
        fd = 1 if args.stream == "stdout" else 2
        # in pieces, as a build prints over time
        for off in range(0, len(data), 4096):
            _write(fd, data[off : off + 4096])

    if args.hang:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
