"""Start-up cost: ``import buildlog`` and a whole ``buildlog`` process on a small log, beside the interpreter's own.

    python3 benchmarks/startup.py                 # best of 7 fresh processes each
    python3 benchmarks/startup.py --repeat 15     # more runs on a busy machine
    python3 benchmarks/startup.py --importtime    # and the modules that cost the most, from ``-X importtime``

Every figure is the wall time of a fresh process (``subprocess.run``, from fork to exit), the best of
``--repeat`` runs, the runs of all the commands interleaved so that a burst of load elsewhere hits them all
alike. The baseline is ``python -c pass`` in the same run: what the interpreter costs before buildlog does
anything; the rows give the time over it too. The package measured is the one of this checkout (``PYTHONPATH``).

The small log is ``s04-fail-exit1-plain.log`` (6 KB, a failed build: the rules run). For each command the script
also says which of the heavy command-line modules (typer, click, rich, pydantic) the process loaded.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL_LOG_NAME = "s04-fail-exit1-plain.log"
SAMPLE_DIRS = [ROOT / "tests" / "fixtures" / "shared", ROOT.parent / "shared" / "logs"]
HEAVY = ("typer", "click", "rich", "pydantic")

# Appended to a command (``-c`` code) to print which heavy modules it loaded, on stderr, at exit.
REPORT_LOADED = (
    "import atexit, sys\n"
    f"atexit.register(lambda: sys.stderr.write('LOADED ' + ' '.join(m for m in {HEAVY!r} if m in sys.modules)"
    " + '\\n'))\n"
)


def small_log() -> Path:
    for directory in SAMPLE_DIRS:
        path = directory / SMALL_LOG_NAME
        if path.exists():
            return path
    raise SystemExit(f"{SMALL_LOG_NAME} not found in {', '.join(map(str, SAMPLE_DIRS))}")


def commands(log: Path) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "python -c pass": [py, "-c", "pass"],
        "python -c 'import buildlog'": [py, "-c", "import buildlog"],
        "buildlog classify LOG": [py, "-m", "buildlog", "classify", str(log)],
        "buildlog summary -f json LOG": [py, "-m", "buildlog", "summary", "-f", "json", str(log)],
        "buildlog summary LOG (text)": [py, "-m", "buildlog", "summary", str(log)],
    }


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def loaded(argv: list[str], env: dict[str, str]) -> str:
    """The heavy modules the command's process loaded (run once more, with a hook that reports them)."""
    if argv[1] == "-c":
        code = REPORT_LOADED + argv[2]
    else:  # -m buildlog ARGS: run the module the way -m does, after installing the hook
        code = REPORT_LOADED + f"import runpy, sys\nsys.argv = {['buildlog', *argv[3:]]!r}\n" \
            "runpy.run_module('buildlog', run_name='__main__', alter_sys=True)\n"
    proc = subprocess.run([argv[0], "-c", code], env=env, capture_output=True, text=True, check=False)
    found = re.findall(r"^LOADED ?(.*)$", proc.stderr, re.MULTILINE)
    return (found[-1] or "none") if found else "?"


def import_profile(argv: list[str], env: dict[str, str], top: int) -> None:
    """The modules with the largest cumulative import time (µs), from ``-X importtime``, best of three runs."""
    best: dict[str, tuple[int, int]] = {}
    for _ in range(3):
        proc = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], env=env, capture_output=True, text=True,
                              check=False)
        for m in re.finditer(r"^import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)$", proc.stderr, re.MULTILINE):
            own, cumulative, name = int(m[1]), int(m[2]), m[4]
            if name not in best or cumulative < best[name][1]:
                best[name] = (own, cumulative)
    rows = sorted(best.items(), key=lambda kv: -kv[1][1])[:top]
    print(f"\n-X importtime, {' '.join(argv[1:3])}...: top {top} by cumulative time (ms, best of 3)")
    print(f"  {'module':<40} {'self':>8} {'cumulative':>11}")
    for name, (own, cumulative) in rows:
        print(f"  {name:<40} {own / 1000:8.1f} {cumulative / 1000:11.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=7, help="fresh processes per command; the best counts")
    ap.add_argument("--importtime", action="store_true", help="also print the costliest imports")
    ap.add_argument("--top", type=int, default=15, help="modules shown with --importtime")
    args = ap.parse_args()

    env = environment()
    cmds = commands(small_log())
    print(f"python {platform.python_version()} ({sys.executable}), {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"package: {ROOT / 'buildlog'}; best of {args.repeat} fresh processes, interleaved\n")

    times: dict[str, list[float]] = {name: [] for name in cmds}
    for argv in cmds.values():  # once unmeasured, so that every file is in the page cache
        wall(argv, env)
    for _ in range(args.repeat):
        for name, argv in cmds.items():
            times[name].append(wall(argv, env))

    base = min(times["python -c pass"])
    print(f"{'command':<32} {'best ms':>8} {'median ms':>10} {'over pass':>10}  loaded")
    for name, argv in cmds.items():
        runs = sorted(times[name])
        best, median = runs[0], runs[len(runs) // 2]
        over = "" if argv[1:] == ["-c", "pass"] else f"{(best - base) * 1000:+10.1f}"
        heavy = "" if argv[1:] == ["-c", "pass"] else loaded(argv, env)
        print(f"{name:<32} {best * 1000:8.1f} {median * 1000:10.1f} {over:>10}  {heavy}")

    if args.importtime:
        import_profile(cmds["python -c 'import buildlog'"], env, args.top)
        import_profile(cmds["buildlog classify LOG"], env, args.top)


if __name__ == "__main__":
    main()
