"""Memory of the parser on inputs made to be large, generated on the fly (never held in memory).

    python3 benchmarks/memory.py                      # a 1 GiB line, then the other scenarios
    python3 benchmarks/memory.py long-line --size-mib 1024 --max-line 1048576
    python3 benchmarks/memory.py vertices --count 100000
    python3 benchmarks/memory.py error-tail --count 200000

Scenarios:

* ``long-line``: one step-output line of ``--size-mib`` MiB (ASCII, a two-byte character and a ``\\r`` over and
  over), fed in 64 KiB chunks. Bounded by ``max_line``: the line is handed out in pieces as it arrives.
* ``vertices``: one build with ``--count`` distinct vertices (a header, an output line and a DONE each). The
  grammar keeps each vertex's name for the length of the build, so this grows with the count: it is the
  per-build state, dropped when the next build starts.
* ``error-tail``: an ``ERROR:`` line followed by ``--count`` lines of foreign text. The error message takes the
  lines that follow it only up to a cap, so this stays flat.

Each scenario runs in a fresh process and prints the time, the peak RSS (``ru_maxrss``) and its growth over the
run, and the ``tracemalloc`` peak (``--no-tracemalloc`` to skip it; it slows the Python-heavy scenarios).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

CHUNK = 1 << 16
SCENARIOS = ("long-line", "vertices", "error-tail")


def long_line(size: int) -> Iterator[bytes]:
    """``#5 0.100 `` and ``size`` bytes in all, "\\n" included, in CHUNK-byte pieces."""
    head = b"#5 0.100 "
    pattern = b"ab\xc3\xa9\r"  # a two-byte character, so that chunk boundaries fall inside some
    body = size - len(head) - 1
    tile = pattern * (CHUNK // len(pattern) + 2)
    yield b'#0 building with "default" instance using docker driver\n'
    yield head
    sent = 0
    while sent < body:
        n = min(CHUNK, body - sent)
        offset = sent % len(pattern)
        yield tile[offset : offset + n]
        sent += n
    yield b"\n#5 DONE 0.1s\n"


def vertices(count: int) -> Iterator[bytes]:
    yield b'#0 building with "default" instance using docker driver\n'
    batch: list[bytes] = []
    for n in range(1, count + 1):
        batch.append(b"#%d [stage-%d 1/3] RUN make target-%d\n#%d 0.100 compiling\n#%d DONE 0.1s\n\n"
                     % (n, n, n, n, n))
        if len(batch) == 256:
            yield b"".join(batch)
            batch = []
    yield b"".join(batch)


def error_tail(count: int) -> Iterator[bytes]:
    yield b'#0 building with "default" instance using docker driver\n#1 [internal] load build definition\n'
    yield b"ERROR: failed to build: failed to solve: registry answered:\n"
    line = b"<p>some foreign text the error message could take in, line after line</p>\n"
    for _ in range(count // 256):
        yield line * 256


def run(scenario: str, args: argparse.Namespace) -> dict[str, Any]:
    from buildlog import Parser
    from buildlog.events import LineFragment

    if scenario == "long-line":
        source = long_line(args.size_mib << 20)
    elif scenario == "vertices":
        source = vertices(args.count)
    else:
        source = error_tail(args.count)
    parser = Parser(max_line=args.max_line)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if not args.no_tracemalloc:
        tracemalloc.start()
    fed = events = fragments = 0
    total_length = None
    start = time.perf_counter()
    for chunk in source:
        fed += len(chunk)
        for event in parser.feed(chunk):
            events += 1
            if type(event) is LineFragment:
                fragments += 1
                if event.final:
                    total_length = event.total_length
    events += len(parser.close())
    seconds = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else None
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "scenario": scenario,
        "bytes": fed,
        "events": events,
        "fragments": fragments,
        "total_length": total_length,
        "seconds": seconds,
        "rss_peak_mib": rss_after / 1024,
        "rss_growth_mib": (rss_after - rss_before) / 1024,
        "tracemalloc_peak_mib": traced / 2**20 if traced is not None else None,
    }


def report(r: dict[str, Any]) -> str:
    size = r["bytes"] / 2**20
    traced = r["tracemalloc_peak_mib"]
    line = (f"{r['scenario']:10s} {size:9.1f} MiB in {r['seconds']:7.2f} s ({size / r['seconds']:6.1f} MiB/s), "
            f"{r['events']} events; peak RSS {r['rss_peak_mib']:.1f} MiB (+{r['rss_growth_mib']:.1f}), "
            f"tracemalloc peak {'n/a' if traced is None else f'{traced:.2f} MiB'}")
    if r["fragments"]:
        line += f"; {r['fragments']} fragments, total_length {r['total_length']}"
    return line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", nargs="*", help=f"any of {', '.join(SCENARIOS)} (default: all)")
    ap.add_argument("--size-mib", type=int, default=1024, help="long-line: the line's size (default 1024)")
    ap.add_argument("--count", type=int, default=None,
                    help="vertices / error-tail: how many (default 100000 / 200000)")
    ap.add_argument("--max-line", type=int, default=1 << 20, help="the parser's bound (default 1 MiB)")
    ap.add_argument("--no-tracemalloc", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    scenarios = args.scenario or list(SCENARIOS)
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        ap.error(f"unknown scenario: {', '.join(sorted(unknown))}")
    if args.child:
        if args.count is None:
            args.count = 100_000 if scenarios[0] == "vertices" else 200_000
        print(json.dumps(run(scenarios[0], args)))
        return
    for scenario in scenarios:
        command = [sys.executable, __file__, scenario, "--child", "--size-mib", str(args.size_mib),
                   "--max-line", str(args.max_line)]
        if args.count is not None:
            command += ["--count", str(args.count)]
        if args.no_tracemalloc:
            command.append("--no-tracemalloc")
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        print(report(json.loads(out.strip().splitlines()[-1])), flush=True)


if __name__ == "__main__":
    main()
