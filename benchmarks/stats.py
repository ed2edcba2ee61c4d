"""Throughput of ``buildlog stats`` over a fleet of logs: logs per second and MB per second, per ``--jobs``.

    python3 benchmarks/stats.py                       # 1,000 logs, --jobs 1 and --jobs 2
    python3 benchmarks/stats.py --logs 3000 --jobs 2  # more logs: the peak memory should not grow with them

The fleet is the real logs (tests/fixtures/shared and tests/fixtures/live, every format) copied round-robin into
a temporary directory until it holds ``--logs`` files; a first run warms the page cache. Each measurement runs the
command line as a user does (``python3 -m buildlog stats -q -f json --jobs N DIR``) in a fresh process, so the
time includes the start of the interpreter and of the worker processes. Printed: wall time, logs/s, MB/s (of log
text), and the peak RSS of the command and of its largest worker (``ru_maxrss`` of the waited-for processes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "tests" / "fixtures" / "shared", ROOT / "tests" / "fixtures" / "live"]
MB = 1_000_000


def make_fleet(target: Path, count: int) -> int:
    logs = sorted(p for d in SOURCES for p in d.glob("*.log"))
    size = 0
    for i in range(count):
        src = logs[i % len(logs)]
        sub = target / f"runner-{i % 10}"
        sub.mkdir(exist_ok=True)
        shutil.copyfile(src, sub / f"{i:05d}-{src.name}")
        size += src.stat().st_size
    return size


def run_stats(directory: Path, jobs: int) -> tuple[float, float, dict[str, object], int]:
    """Wall seconds, CPU seconds (the command and its workers), the report, and the peak RSS (KiB)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "buildlog", "stats", "-q", "-f", "json", "--jobs", str(jobs),
                          str(directory)], check=True, capture_output=True, env=env).stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(out), after.ru_maxrss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--logs", type=int, default=1000)
    ap.add_argument("--jobs", default="1,2", help="comma-separated --jobs values to measure")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fleet = Path(tmp)
        size = make_fleet(fleet, args.logs)
        print(f"{args.logs} logs, {size / MB:.1f} MB, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
              f"load average {os.getloadavg()[0]:.1f} (numbers compare only on an idle machine)")
        run_stats(fleet, 2)  # warm the page cache (and the bytecode cache)
        for jobs in (int(j) for j in args.jobs.split(",")):
            wall, cpu, report, peak = run_stats(fleet, jobs)
            assert report["logs"] == args.logs, report["errors"]
            print(f"--jobs {jobs}: {wall:6.2f} s wall, {cpu:6.2f} s CPU  {args.logs / wall:7.1f} logs/s  "
                  f"{size / MB / wall:6.2f} MB/s  ({args.logs / cpu:.1f} logs and {size / MB / cpu:.2f} MB per CPU "
                  f"second)  {report['runs']} runs  peak RSS {peak / 1024:.0f} MiB (largest process so far)")


if __name__ == "__main__":
    main()
