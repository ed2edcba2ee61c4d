"""Throughput of the parser against the fastest honest baselines, and its memory against the input size.

    python3 benchmarks/throughput.py                 # ~100 MB log; memory at 25 MB and 100 MB
    python3 benchmarks/throughput.py --size-mb 10    # a quick run
    python3 benchmarks/throughput.py --profile       # and a cProfile of the parser, top functions

The input is the captured plain logs (tests/fixtures/shared/*-plain.log) concatenated, repeated until it reaches
the size, in a temporary file read once before timing (so the page cache serves every run). Each measurement is
the best of ``--repeat`` runs. What is timed:

* ``for line in file``: Python's own binary line iteration, counting lines. The floor: nothing is looked at.
* one regex per line: the same loop plus ``PLAIN_LINE.match(line)`` with the stdlib ``re`` on bytes,
  ``PLAIN_LINE = re.compile(rb"^#(\\d+) (.*)$")`` -- what a grep-like script that only picks out vertex lines
  does. It is the baseline the parser is held to.
* the line framer alone (``buildlog.framing.LineFramer`` fed 64 KiB chunks): the parser's lowest layer, bytes
  to line objects, for tracking that layer on its own.
* the parser: ``buildlog.parse_file`` over the file, every event built, nothing printed.
* the summary (when ``buildlog.summary`` is there): ``summarize_path`` over the file, events folded into verdicts.

Memory is measured in a fresh process per size (``ru_maxrss`` is a high-water mark, so one process could not
measure two sizes): the growth of the peak RSS over the parse, and the ``tracemalloc`` peak of a second parse.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import json
import os
import platform
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIRS = [ROOT / "tests" / "fixtures" / "shared", ROOT.parent / "shared" / "logs"]

# The one-regex baseline: a vertex line "#N REST", on bytes, with the stdlib module.
PLAIN_LINE = re.compile(rb"^#(\d+) (.*)$")

MB = 1_000_000


def samples() -> bytes:
    for directory in SAMPLE_DIRS:
        paths = sorted(directory.glob("*-plain.log"))
        if paths:
            return b"".join(p.read_bytes() for p in paths)
    raise SystemExit(f"no plain logs found in {', '.join(map(str, SAMPLE_DIRS))}")


def make_log(size_mb: float, directory: str) -> Path:
    """A plain log of about ``size_mb`` MB (whole copies of the samples), written in pieces."""
    block = samples()
    copies = max(1, round(size_mb * MB / len(block)))
    fd, name = tempfile.mkstemp(prefix=f"buildlog-bench-{size_mb:g}MB-", suffix=".log", dir=directory)
    with os.fdopen(fd, "wb") as out:
        for _ in range(copies):
            out.write(block)
    with open(name, "rb") as stream:  # into the page cache
        while stream.read(1 << 20):
            pass
    return Path(name)


# ---------------------------------------------------------------------------------------------------------------
# What is timed. Each returns (lines or events counted, matches or 0).


def bare_lines(path: Path) -> tuple[int, int]:
    lines = 0
    with open(path, "rb") as stream:
        for _line in stream:
            lines += 1
    return lines, 0


def one_regex(path: Path) -> tuple[int, int]:
    lines = matches = 0
    match = PLAIN_LINE.match
    with open(path, "rb") as stream:
        for line in stream:
            lines += 1
            if match(line) is not None:
                matches += 1
    return lines, matches


def framing_lines(path: Path) -> tuple[int, int]:
    from buildlog.framing import LineFramer

    framer = LineFramer()
    lines = 0
    with open(path, "rb") as stream:
        read = stream.read
        while data := read(1 << 16):
            lines += len(framer.feed(data))
    return lines + len(framer.close()), 0


def parser_events(path: Path) -> tuple[int, int]:
    from buildlog import parse_file

    events = 0
    with open(path, "rb") as stream:
        for _event in parse_file(stream):
            events += 1
    return events, 0


def summary_builds(path: Path) -> tuple[int, int]:
    from buildlog.summary import summarize_path

    result = summarize_path(path)
    builds = getattr(result, "attempts", None)
    if builds is None:
        builds = len(getattr(result, "builds", ()))
    return int(builds), 0


def best_of(repeat: int, fn: Callable[[Path], tuple[int, int]], path: Path) -> tuple[float, tuple[int, int]]:
    best = float("inf")
    counts = (0, 0)
    for _ in range(repeat):
        start = time.perf_counter()
        counts = fn(path)
        best = min(best, time.perf_counter() - start)
    return best, counts


# ---------------------------------------------------------------------------------------------------------------
# Memory, in a child process per size


def child_memory(path: Path, with_tracemalloc: bool) -> None:
    """Parse ``path`` (already made); print JSON with the RSS growth and the tracemalloc peak."""
    import buildlog  # noqa: F401  (imported before the baseline is taken)

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    events, _ = parser_events(path)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result: dict[str, float | int | None] = {
        "bytes": path.stat().st_size,
        "events": events,
        "seconds": seconds,
        "rss_before_kib": before,
        "rss_peak_kib": after,
        "tracemalloc_peak": None,
    }
    if with_tracemalloc:
        tracemalloc.start()
        parser_events(path)
        result["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(json.dumps(result))


def measure_memory(path: Path, with_tracemalloc: bool) -> dict[str, float | int | None]:
    command = [sys.executable, __file__, "--child-memory", str(path)]
    if not with_tracemalloc:
        command.append("--no-tracemalloc")
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, float | int | None] = json.loads(out.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------------------------------------------------------


def rate(size: int, count: int, seconds: float) -> str:
    return f"{size / MB / seconds:8.1f} MB/s {count / seconds / 1000:9.0f} k/s {seconds:8.3f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=float, default=100, help="size of the generated log (default 100)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is kept (default 3)")
    ap.add_argument("--memory-sizes", default=None,
                    help="comma-separated sizes in MB for the memory runs (default: a quarter of --size-mb, and "
                         "--size-mb); 0 to skip")
    ap.add_argument("--no-tracemalloc", action="store_true", help="memory runs: RSS only (faster)")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of one parser run")
    ap.add_argument("--tmpdir", default=None, help="where to write the generated logs (default: the system's)")
    ap.add_argument("--child-memory", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child_memory:
        child_memory(Path(args.child_memory), not args.no_tracemalloc)
        return

    # imports are not timed
    import buildlog.framing
    import buildlog.sources

    has_summary = importlib.util.find_spec("buildlog.summary") is not None
    if has_summary:
        import buildlog.summary  # noqa: F401
    print(f"python {platform.python_version()} on {platform.machine()} {platform.system()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    path = make_log(args.size_mb, args.tmpdir)
    made: list[Path] = [path]
    try:
        size = path.stat().st_size
        print(f"input: {size / MB:.1f} MB of plain logs, best of {args.repeat}")
        print()
        t_lines, (lines, _) = best_of(args.repeat, bare_lines, path)
        print(f"  for line in file (binary)     {rate(size, lines, t_lines)}  {lines} lines")
        t_regex, (_, matches) = best_of(args.repeat, one_regex, path)
        print(f"  one re.match per line         {rate(size, lines, t_regex)}  {matches} vertex lines")
        t_framing, _ = best_of(args.repeat, framing_lines, path)
        print(f"  line framer alone             {rate(size, lines, t_framing)}")
        t_parser, (events, _) = best_of(args.repeat, parser_events, path)
        print(f"  buildlog parser (parse_file)  {rate(size, lines, t_parser)}  {events} events")
        if has_summary:
            t_summary, (builds, _) = best_of(args.repeat, summary_builds, path)
            print(f"  buildlog summary              {rate(size, lines, t_summary)}  {builds} builds")
        print()
        print(f"  parser / one-regex loop: {t_regex / t_parser:.1%} of its speed "
              f"(line rates: {lines / t_parser:,.0f} vs {lines / t_regex:,.0f} lines/s)")

        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(parser_events, path)
            report = io.StringIO()
            pstats.Stats(profile, stream=report).sort_stats("tottime").print_stats(25)
            print()
            print(report.getvalue())

        if args.memory_sizes is None:
            sizes = [args.size_mb / 4, args.size_mb]
        else:
            sizes = [float(s) for s in args.memory_sizes.split(",") if float(s) > 0]
        if sizes:
            print()
            print("memory of a parse, by input size (a fresh process each):")
        for size_mb in sizes:
            sized = path if size_mb == args.size_mb else make_log(size_mb, args.tmpdir)
            if sized is not path:
                made.append(sized)
            m = measure_memory(sized, not args.no_tracemalloc)
            grew = (int(m["rss_peak_kib"] or 0) - int(m["rss_before_kib"] or 0)) / 1024
            traced = m["tracemalloc_peak"]
            traced_text = f"{int(traced) / 2**20:6.2f} MiB" if traced is not None else "   n/a"
            print(f"  {int(m['bytes'] or 0) / MB:7.1f} MB: peak RSS {int(m['rss_peak_kib'] or 0) / 1024:6.1f} MiB "
                  f"(+{grew:5.1f} MiB over the parse), tracemalloc peak {traced_text}")
    finally:
        for p in made:
            p.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
