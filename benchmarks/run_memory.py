"""Peak memory of ``buildlog run`` while a command floods it: prints numbers, asserts nothing.

    python3 benchmarks/run_memory.py                    # 100 MB, the last 20 MB one line without a break
    python3 benchmarks/run_memory.py --total-mb 500 --long-line-mb 100

The command is tests/run_helpers/flood.py. Reported: VmHWM of the buildlog process (its own peak resident size;
it starts afresh at exec, so the test process that started it does not count), sampled every 50 ms, and the
wall time. ``ru_maxrss`` of the child is printed too: it also counts the pre-exec fork of the command.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

FLOOD = Path(__file__).resolve().parent.parent / "tests" / "run_helpers" / "flood.py"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--total-mb", type=int, default=100)
    ap.add_argument("--long-line-mb", type=int, default=20)
    args = ap.parse_args()
    total, long_line = args.total_mb * 1_000_000, args.long_line_mb * 1_000_000
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "buildlog", "run", "--", sys.executable, str(FLOOD), str(total),
                             str(long_line)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    hwm: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
            except OSError:
                return
            m = re.search(r"VmHWM:\s+(\d+) kB", status)
            if m:
                hwm.append(int(m.group(1)))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stdout is not None and proc.stderr is not None
    digest, size = hashlib.sha256(), 0
    while chunk := proc.stdout.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    peak = f"{max(hwm) / 1024:.1f} MB" if hwm else "n/a"
    print(f"buildlog run passed {size / 1e6:.0f} MB through (exit {code}) in {seconds:.2f} s; peak RSS {peak} "
          f"(VmHWM), ru_maxrss {usage.ru_maxrss / 1024:.1f} MB (incl. the command's pre-exec fork)")


if __name__ == "__main__":
    main()
