"""Start-up cost: ``import buildlog`` and a whole ``buildlog`` process on a small log, beside the interpreter's own.

    python3 benchmarks/startup.py                 # best of 7 fresh processes each
    python3 benchmarks/startup.py --repeat 15     # more runs on a busy machine
    python3 benchmarks/startup.py --no-bytecode   # compiling every module from source each time
    python3 benchmarks/startup.py --importtime    # and the modules that cost the most, from ``-X importtime``

Every figure is a fresh process (``subprocess``, from fork to exit): its wall time and its CPU time (user + system),
the best of ``--repeat`` runs, the runs of all the commands interleaved so that a burst of load elsewhere hits them
all alike. The baseline is ``python -c pass`` in the same run: what the interpreter costs before buildlog does
anything; the rows give the wall time over it too. The package measured is the one of this checkout
(``PYTHONPATH``).

Bytecode: an installed package has its modules compiled to ``.pyc`` at install time, so by default the processes
get a bytecode cache (``PYTHONPYCACHEPREFIX``, a temporary directory filled by an unmeasured first run) even where
``PYTHONDONTWRITEBYTECODE`` is set. ``--no-bytecode`` measures without it (every module of this checkout compiled
from source in every process), which is what a checkout used without a cache costs.

The small log is ``s04-fail-exit1-plain.log`` (6 KB, a failed build: the rules run). For each command the script
also says which of the heavy command-line modules (typer, click, rich, pydantic) the process loaded.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
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


def environment(package: Path, bytecode_dir: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(package) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    if bytecode_dir is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = bytecode_dir
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def checkout(env: dict[str, str]) -> str:
    """Where a process runs: in the checkout measured, because ``-c`` and ``-m`` put the current directory first on
    ``sys.path`` (from another checkout, its buildlog would be measured instead)."""
    return env["PYTHONPATH"].split(os.pathsep)[0]


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=checkout(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def loaded(argv: list[str], env: dict[str, str]) -> str:
    """The heavy modules the command's process loaded (run once more, with a hook that reports them)."""
    if argv[1] == "-c":
        code = REPORT_LOADED + argv[2]
    else:  # -m buildlog ARGS: run the module the way -m does, after installing the hook
        code = REPORT_LOADED + f"import runpy, sys\nsys.argv = {['buildlog', *argv[3:]]!r}\n" \
            "runpy.run_module('buildlog', run_name='__main__', alter_sys=True)\n"
    proc = subprocess.run([argv[0], "-c", code], env=env, cwd=checkout(env), capture_output=True,
                          text=True, check=False)
    found = re.findall(r"^LOADED ?(.*)$", proc.stderr, re.MULTILINE)
    return (found[-1] or "none") if found else "?"


def import_profile(argv: list[str], env: dict[str, str], top: int, repeat: int) -> None:
    """The modules with the largest cumulative import time, from ``-X importtime``, best of ``repeat`` runs."""
    best: dict[str, tuple[int, int]] = {}
    for _ in range(repeat):
        proc = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], env=env, cwd=checkout(env),
                              capture_output=True, text=True, check=False)
        for m in re.finditer(r"^import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)$", proc.stderr, re.MULTILINE):
            own, cumulative, name = int(m[1]), int(m[2]), m[4]
            if name not in best or cumulative < best[name][1]:
                best[name] = (own, cumulative)
    rows = sorted(best.items(), key=lambda kv: -kv[1][1])[:top]
    print(f"\n-X importtime, {' '.join(argv[1:3])}...: top {top} by cumulative time (ms, best of {repeat})")
    print(f"  {'module':<40} {'self':>8} {'cumulative':>11}")
    for name, (own, cumulative) in rows:
        print(f"  {name:<40} {own / 1000:8.1f} {cumulative / 1000:11.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=7, help="fresh processes per command; the best counts")
    ap.add_argument("--no-bytecode", action="store_true", help="no bytecode cache: compile every module each time")
    ap.add_argument("--compare", type=Path, metavar="CHECKOUT",
                    help="also measure the buildlog of another checkout (its root directory), interleaved")
    ap.add_argument("--importtime", action="store_true", help="also print the costliest imports")
    ap.add_argument("--top", type=int, default=15, help="modules shown with --importtime")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="buildlog-pycache-") as cache:
        bytecode = None if args.no_bytecode else cache
        env = environment(ROOT, bytecode)
        cmds = commands(small_log())
        rows = [(name, argv, env) for name, argv in cmds.items()]
        if args.compare is not None:
            other = environment(args.compare.resolve(), bytecode)
            rows += [(f"{name} [{args.compare.name}]", argv, other) for name, argv in cmds.items()
                     if argv[1:] != ["-c", "pass"]]
        print(f"python {platform.python_version()} ({sys.executable}), {os.cpu_count()} CPUs, "
              f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"package: {ROOT / 'buildlog'}; {'no bytecode cache' if args.no_bytecode else 'bytecode cached'}; "
              f"best of {args.repeat} fresh processes, interleaved\n")

        for _, argv, e in rows:  # once unmeasured: the page cache, and the bytecode cache when there is one
            run_once(argv, e)
        walls: dict[str, list[float]] = {name: [] for name, _, _ in rows}
        cpus: dict[str, list[float]] = {name: [] for name, _, _ in rows}
        for _ in range(args.repeat):
            for name, argv, e in rows:
                wall, cpu = run_once(argv, e)
                walls[name].append(wall)
                cpus[name].append(cpu)

        base = min(walls["python -c pass"])
        width = max(len(name) for name, _, _ in rows)
        print(f"{'command':<{width}} {'wall ms':>8} {'median':>8} {'over pass':>10} {'CPU ms':>8}  loaded")
        for name, argv, e in rows:
            runs = sorted(walls[name])
            best, median = runs[0], runs[len(runs) // 2]
            baseline = argv[1:] == ["-c", "pass"]
            over = "" if baseline else f"{(best - base) * 1000:+10.1f}"
            heavy = "" if baseline else loaded(argv, e)
            cpu = min(cpus[name])
            print(f"{name:<{width}} {best * 1000:8.1f} {median * 1000:8.1f} {over:>10} {cpu * 1000:8.1f}  {heavy}")

        if args.importtime:
            import_profile(cmds["python -c 'import buildlog'"], env, args.top, args.repeat)
            import_profile(cmds["buildlog classify LOG"], env, args.top, args.repeat)


if __name__ == "__main__":
    main()
