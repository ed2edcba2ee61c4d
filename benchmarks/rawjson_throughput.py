"""Throughput of the parser on rawjson output, against a bare ``json.loads`` per line over the same file.

    python3 benchmarks/rawjson_throughput.py                # ~100 MB
    python3 benchmarks/rawjson_throughput.py --size-mb 10   # a quick run
    python3 benchmarks/rawjson_throughput.py --profile      # and a cProfile of the parser, top functions

The input is the captured rawjson logs (``*-rawjson.log``: s01 cold, s04 failed, s02 warm, s04 again, ...)
concatenated until the size is reached, written to a temporary file that is read once before timing, so the page
cache serves every run. Each figure is the best of ``--repeat`` runs. What is timed:

* the baseline: ``for line in file: json.loads(line)`` on the binary file, for the lines that start with ``{``
  (the failed builds end with plain lines, which it skips): decoding the JSON and nothing else.
* the parser: ``buildlog.parse_file`` over the file, every event built (vertex states, base64 logs decoded,
  timestamps read, the failed builds' plain lines parsed), nothing printed.

The target is a parser at no less than half the baseline's speed.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from buildlog import parse_file  # noqa: E402

SAMPLE_DIRS = [ROOT / "tests" / "fixtures" / "shared", ROOT.parent / "shared" / "logs"]
# A failed build after each successful one: its final line ends the build, so every copy is a build of its own.
ORDER = ["s01-cold-rawjson", "s04-fail-exit1-rawjson", "s02-warm-rawjson", "s04-fail-exit1-rawjson"]
MB = 1_000_000


def samples() -> bytes:
    for directory in SAMPLE_DIRS:
        paths = [directory / f"{name}.log" for name in ORDER]
        if all(p.is_file() for p in paths):
            return b"".join(p.read_bytes() for p in paths)
    raise SystemExit(f"rawjson logs not found in {', '.join(map(str, SAMPLE_DIRS))}")


def make_input(size: int) -> str:
    block = samples()
    fd, path = tempfile.mkstemp(prefix="buildlog-rawjson-", suffix=".log")
    with os.fdopen(fd, "wb") as f:
        written = 0
        while written < size:
            f.write(block)
            written += len(block)
    return path


def baseline(path: str) -> int:
    loads = json.loads
    count = 0
    with open(path, "rb") as f:
        for line in f:
            if line[:1] == b"{":
                loads(line)
                count += 1
    return count


def parser(path: str) -> int:
    count = 0
    with open(path, "rb") as f:
        for _ in parse_file(f):
            count += 1
    return count


def best_of(fn: Callable[[str], int], path: str, repeat: int) -> tuple[float, int]:
    best = float("inf")
    result = 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(path)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=float, default=100.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="profile one parser run and print the top functions")
    args = ap.parse_args()
    path = make_input(int(args.size_mb * MB))
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass  # into the page cache
        base_t, lines = best_of(baseline, path, args.repeat)
        parse_t, events = best_of(parser, path, args.repeat)
        base_rate = size / MB / base_t
        parse_rate = size / MB / parse_t
        print(f"input: {size / MB:.1f} MB of rawjson ({lines} JSON lines), Python {sys.version.split()[0]}")
        print(f"json.loads per line: {base_t:6.2f} s  {base_rate:7.1f} MB/s")
        print(f"buildlog parser:     {parse_t:6.2f} s  {parse_rate:7.1f} MB/s  ({events} events)")
        print(f"ratio: {parse_rate / base_rate:.0%} of the json.loads loop (target: >= 50%)")
        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(parser, path)
            pstats.Stats(profile).sort_stats("tottime").print_stats(15)
    finally:
        os.unlink(path)


if __name__ == "__main__":
    main()
