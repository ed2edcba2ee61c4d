"""What one line of each shape costs the parser, beside the baseline loop on the same lines.

    python3 benchmarks/shapes.py                   # CPU time per line, best of 5
    python3 benchmarks/shapes.py --instructions    # and instructions per line (valgrind's callgrind, deterministic)
    python3 benchmarks/shapes.py --compare ../old  # and another checkout's figures, in the same run

Each shape is a real line of ``../shared/logs`` (or its copy in ``tests/fixtures/shared``): the first line of a
plain log that has the shape. Its input is the opening lines of that log's build (so that the line's vertex is
known), then the line repeated ``--lines`` times; the figure is the parse of the whole input minus the parse of the
opening alone, divided by the repeats. The baseline is ``throughput.py``'s: one ``re.match(rb"^#(\\d+) (.*)$",
line)`` per line of the same input, timed in the same rounds.

A shape repeated is not a log: the caches that a log's later lines share (a vertex's name, a status's class, a
size's value) are warm for every repeat, as they are for most lines of a real log. Use the figures to see where a
line's time goes and what a change did to it, not to predict a log's speed (``throughput.py`` does that).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG_DIRS = [ROOT.parent / "shared" / "logs", ROOT / "tests" / "fixtures" / "shared"]
PLAIN_LINE = re.compile(rb"^#(\d+) (.*)$")

# name -> (what the line is, the pattern that picks the first such line of a plain log)
SHAPES: dict[str, tuple[str, bytes]] = {
    "blank": ("an empty line", rb"\n"),
    "done": ("#N DONE SECSs", rb"#\d+ DONE \d+\.\d+s\n"),
    "cached": ("#N CACHED", rb"#\d+ CACHED\n"),
    "header": ("#N [stage] INSTRUCTION, shown again", rb"#\d+ \[[^\]\n]*\] RUN [^\n]*\n"),
    "layer-status": ("#N sha256:... SIZE / SIZE SECSs done", rb"#\d+ sha256:[0-9a-f]{64} \S+ / \S+ [^\n]*done\n"),
    "status": ("#N exporting layers SECSs done", rb"#\d+ exporting layers \d+\.\d+s done\n"),
    "output": ("#N SECS TEXT, a run of one vertex", rb"#\d+ \d+\.\d+ [^\n]*\n"),
    "error-rule": ("------ (an error block's rule)", rb"------\n"),
    "excerpt": ("  N | >>> RUN ... (a Dockerfile excerpt)", rb" +\d+ \| >>> [^\n]*\n"),
    "final-error": ("ERROR: failed to build: ...", rb"ERROR: failed to [^\n]*\n"),
}

CHILD = r'''
import sys, time
sys.path.insert(0, sys.argv[1])
from buildlog import Parser
head, line = open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read()
repeats, rounds = int(sys.argv[4]), int(sys.argv[5])
def parse(data):
    p = Parser()
    for i in range(0, len(data), 65536):
        p.feed(data[i:i + 65536])
    p.close()
whole = head + line * repeats
parse(head + line * 100)  # warm: patterns compiled on first use, caches
if rounds == 0:  # under callgrind: one parse, counted from outside
    parse(whole)
    sys.exit()
best_head = best_whole = 9e9
for _ in range(rounds):
    t = time.process_time(); parse(head); best_head = min(best_head, time.process_time() - t)
    t = time.process_time(); parse(whole); best_whole = min(best_whole, time.process_time() - t)
print((best_whole - best_head) / repeats)
'''


def _logs() -> list[Path]:
    for directory in LOG_DIRS:
        paths = sorted(p for p in directory.glob("*-plain.log"))
        if paths:
            return paths
    raise SystemExit(f"no plain logs found in {', '.join(map(str, LOG_DIRS))}")


def find_shape(pattern: bytes) -> tuple[bytes, bytes, str]:
    """The opening of a build and the first line of this shape after it, from the first real log that has one."""
    shape = re.compile(pattern)
    for path in _logs():
        lines = path.read_bytes().splitlines(keepends=True)
        for number, line in enumerate(lines):
            if number and shape.fullmatch(line):
                return b"".join(lines[:number]), line, f"{path.name}:{number + 1}"
    raise SystemExit(f"no line matches {pattern!r}")


def baseline_per_line(data: bytes, rounds: int) -> float:
    best = 9e9
    match = PLAIN_LINE.match
    for _ in range(rounds):
        t = time.process_time()
        for line in data.splitlines():
            match(line)
        best = min(best, time.process_time() - t)
    return best / max(1, data.count(b"\n"))


def cpu_per_line(checkout: Path, files: tuple[str, str], repeats: int, rounds: int) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, str(checkout), *files, str(repeats), str(rounds)],
                         capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
    return float(out.stdout)


def instructions(checkout: Path, files: tuple[str, str], repeats: int) -> int:
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", CHILD,
         str(checkout), *files, str(repeats), "0"],
        capture_output=True, text=True, check=True, cwd=tempfile.gettempdir(),
        env={**os.environ, "PYTHONHASHSEED": "0"})
    m = re.search(r"refs:\s+([\d,]+)", out.stderr)
    assert m is not None, out.stderr[-500:]
    return int(m.group(1).replace(",", ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=20000, help="repeats of each line (default 20000)")
    ap.add_argument("--repeat", type=int, default=5, help="rounds, best kept (default 5)")
    ap.add_argument("--instructions", action="store_true", help="also count instructions (valgrind)")
    ap.add_argument("--compare", type=Path, help="another checkout, measured in the same rounds")
    ap.add_argument("--only", nargs="*", choices=sorted(SHAPES), help="these shapes only")
    args = ap.parse_args()
    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind")
    checkouts = [("this", ROOT)] + ([(args.compare.name, args.compare.resolve())] if args.compare else [])
    print(f"python {sys.version.split()[0]}; {args.lines} repeats per shape, best of {args.repeat}; "
          "ratio = the baseline's time per line / the parser's")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or SHAPES:
            what, pattern = SHAPES[name]
            head, line, where = find_shape(pattern)
            files = (os.path.join(tmp, "head"), os.path.join(tmp, "line"))
            Path(files[0]).write_bytes(head)
            Path(files[1]).write_bytes(line)
            base = baseline_per_line(head + line * args.lines, args.repeat)
            print(f"\n{name}: {what}  ({where}, {len(line)} bytes)")
            print(f"  one re.match per line          {base * 1e6:7.2f} us   (baseline)")
            for label, checkout in checkouts:
                cpu = cpu_per_line(checkout, files, args.lines, args.repeat)
                row = f"  parser [{label}]".ljust(33) + f"{cpu * 1e6:7.2f} us   {base / cpu:6.1%} of the baseline"
                if args.instructions:
                    small = max(1, args.lines // 20)
                    count = (instructions(checkout, files, args.lines)
                             - instructions(checkout, files, small)) / (args.lines - small)
                    row += f"   {count / 1000:6.1f} k instructions"
                print(row)


if __name__ == "__main__":
    main()
