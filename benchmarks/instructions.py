"""The figures of ``throughput.py`` and ``startup.py`` counted in instructions (valgrind's callgrind), which do not
move with the load of the machine as times do: the figures to compare two versions by.

    python3 benchmarks/instructions.py                      # every mix, and start-up
    python3 benchmarks/instructions.py --only eventful      # one mix
    python3 benchmarks/instructions.py --compare ../old     # and another checkout's, beside each figure

For each mix (the same logs as ``throughput.py``'s, concatenated once: a "copy"), each figure is the steady cost of
one copy: a fresh process runs the figure once on one copy (imports, patterns compiled on first use, caches) and
then on ``k`` copies, and the count is (count with k = 3 − count with k = 1) / 2, so that start-up and warming
cancel out. The baseline (one ``re.match`` per line, or one ``json.loads`` for rawjson) is counted the same way,
and each figure is printed beside its share of it. Start-up is a whole process's count over ``python -c pass``.

Needs valgrind. Counts are exact for a given interpreter, package versions and ``PYTHONHASHSEED`` (set to 0 here);
an instruction is not a nanosecond (a regex loop runs more of them per cycle than the interpreter does), so the
shares here are not the shares of ``throughput.py``: compare counts with counts.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import throughput  # noqa: E402  (the mixes and the figures are throughput.py's)
from startup import environment  # noqa: E402

SMALL_LOG = throughput.SMALL_LOG
REFS = re.compile(r"refs:\s*([\d,]+)")

# the child: warm on one copy, then the figure on the file given
CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
import throughput
name, warm, path = sys.argv[2:5]
figures = {"baseline": throughput.one_regex, "baseline-json": throughput.json_loads, **throughput.FIGURES}
figures[name](throughput.Path(warm))
figures[name](throughput.Path(path))
"""


def _env(checkout: Path, bytecode: str) -> dict[str, str]:
    env = environment(checkout, bytecode)
    env.update(PYTHONHASHSEED="0", BUILDLOG_BENCH_CHECKOUT=str(checkout))
    return env


def compile_first(argv: list[str], checkout: Path, bytecode: str) -> None:
    """Run ``python ARGV...`` once, uncounted, so that the counted runs find every module compiled."""
    subprocess.run([sys.executable, *argv], env=_env(checkout, bytecode), cwd=checkout, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def count(argv: list[str], checkout: Path, bytecode: str) -> int:
    """Instructions of the whole process ``python ARGV...`` on the package of ``checkout`` (whatever its exit
    status: ``classify`` tells its verdict by it), with a bytecode cache in ``bytecode`` as an installed package
    has one."""
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, *argv],
                         capture_output=True, text=True, env=_env(checkout, bytecode), cwd=checkout, check=False)
    found = REFS.search(out.stderr)
    if found is None:
        raise SystemExit(f"no count from valgrind for {argv[:2]}: {out.stderr[-800:]}")
    return int(found.group(1).replace(",", ""))


def steady(name: str, one: Path, three: Path, checkout: Path, bytecode: str) -> float:
    """Instructions of one copy, in millions."""
    argv = ["-c", CHILD, str(HERE), name]
    compile_first([*argv, str(one), str(one)], checkout, bytecode)
    low = count([*argv, str(one), str(one)], checkout, bytecode)
    high = count([*argv, str(one), str(three)], checkout, bytecode)
    return (high - low) / 2 / 1e6


def copies(paths: list[Path], k: int, directory: str) -> Path:
    block = b"".join(p.read_bytes() for p in paths)
    path = Path(directory) / f"mix-{k}.log"
    path.write_bytes(block * k)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=sorted(throughput.MIXES), action="append", help="only these mixes")
    ap.add_argument("--no-startup", action="store_true", help="skip the start-up figures")
    ap.add_argument("--compare", type=Path, metavar="CHECKOUT", help="also count the package of another checkout")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("instructions.py needs valgrind")
    checkouts = [("", ROOT)] + ([(f" [{args.compare.name}]", args.compare.resolve())] if args.compare else [])
    print("millions of instructions (callgrind, PYTHONHASHSEED=0); share = the baseline's count / the figure's")
    with tempfile.TemporaryDirectory(prefix="buildlog-instructions.") as tmp:
        bytecode = os.path.join(tmp, "pycache")
        for key in args.only or list(throughput.MIXES):
            title, paths, _size = throughput.MIXES[key]
            logs = paths()
            one, three = copies(logs, 1, tmp), copies(logs, 3, tmp)
            print()
            lines = one.read_bytes().count(b"\n")
            print(f"{title}: one copy, {one.stat().st_size / 1e3:.0f} kB, {lines} lines")
            baseline = "baseline-json" if key == "rawjson" else "baseline"
            base = steady(baseline, one, three, ROOT, bytecode)
            label = "one json.loads per line" if key == "rawjson" else "one re.match per line"
            print(f"  {label:34} {base:9.1f} M   (baseline)")
            for figure in throughput.FIGURES:
                for suffix, checkout in checkouts:
                    m = steady(figure, one, three, checkout, bytecode + suffix.strip(" []"))
                    print(f"  {figure + suffix:34} {m:9.1f} M   {base / m:6.1%} of the baseline")
    if not args.no_startup:
        print()
        print("start-up, whole process, over python -c pass (bytecode compiled, as installed):")
        for suffix, checkout in checkouts:
            with tempfile.TemporaryDirectory(prefix="buildlog-pycache.") as bytecode:
                classify = ["-m", "buildlog", "classify", str(SMALL_LOG)]
                compile_first(classify, checkout, bytecode)
                base = count(["-c", "pass"], checkout, bytecode)
                for label, argv in (("import buildlog", ["-c", "import buildlog"]),
                                    (f"buildlog classify {SMALL_LOG.name}", classify)):
                    print(f"  {label + suffix:44} +{(count(argv, checkout, bytecode) - base) / 1e6:7.1f} M")


if __name__ == "__main__":
    main()
