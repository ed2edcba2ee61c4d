"""Throughput of buildlog on the three mixes of real logs, each beside its baseline measured in the same run.

    python3 benchmarks/throughput.py                  # the full run (~100 / 20 / 50 MB inputs), a few minutes
    python3 benchmarks/throughput.py --scale 0.1      # a tenth of the sizes: a quick look
    python3 benchmarks/throughput.py --only heavy     # one mix (heavy, eventful, rawjson)
    python3 benchmarks/throughput.py --profile        # and a cProfile of `summary` on each mix
    python3 benchmarks/throughput.py --compare ../old # and the same figures of another checkout, in the same run

The inputs are made from the real logs in ``../shared/logs`` (or their copies in ``tests/fixtures/shared``),
concatenated and repeated to the size, in a temporary file read once before timing so that the page cache serves
every run:

* **output-heavy**: the two ``s13-*-plain.log`` logs (long runs of step output), 100 MB;
* **eventful**: every other ``*-plain.log`` (headers, statuses, errors, little output), 20 MB;
* **rawjson**: every ``*-rawjson.log``, 50 MB.

What is timed, best of ``--repeat`` runs each:

* the baseline: for the plain mixes one ``re.match(rb"^#(\\d+) (.*)$", line)`` per line of a binary file (what a
  grep-like script that picks out vertex lines costs); for rawjson one ``json.loads`` per line;
* ``summary``: ``summarize_path`` (parse and fold into verdicts), what ``buildlog summary`` / ``classify`` do;
* ``events``: every event as a JSON line written to ``/dev/null``, what ``buildlog events LOG > /dev/null`` does;
* ``parser``: ``parse_file``, every event built, nothing else.

Times are the process's CPU time (``time.process_time``), which other work on a busy machine disturbs far less
than wall time; the ratio printed beside each figure is its speed over the baseline's: compare ratios, not absolute
times. With ``--compare CHECKOUT`` each figure is also timed on the package of another checkout, in the same
rounds, and both checkouts are timed alike: a fresh process per measurement runs the function once untimed
(imports, patterns compiled on first use, caches filled) and then once timed. Then the start-up figures (best
of 7 fresh processes): ``python -c pass``, ``import buildlog``, and ``buildlog classify`` on a small log as a
whole process; and the peak RSS of ``summary`` on the largest input in a fresh process.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# measure the checkout this script is in (or, in a process of --compare, the other one)
sys.path.insert(0, os.environ.get("BUILDLOG_BENCH_CHECKOUT", str(ROOT)))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import environment, run_once  # noqa: E402  (the start-up measurement is startup.py's)

LOG_DIRS = [ROOT.parent / "shared" / "logs", ROOT / "tests" / "fixtures" / "shared"]
SMALL_LOG = ROOT / "samples" / "s04-fail-exit1-plain.log"
PLAIN_LINE = re.compile(rb"^#(\d+) (.*)$")
MB = 1_000_000


def _logs(pattern: str, exclude: str | None = None) -> list[Path]:
    for directory in LOG_DIRS:
        paths = sorted(p for p in directory.glob(pattern) if exclude is None or not p.match(exclude))
        if paths:
            return paths
    raise SystemExit(f"no {pattern} found in {', '.join(map(str, LOG_DIRS))}")


MIXES: dict[str, tuple[str, Callable[[], list[Path]], float]] = {
    "heavy": ("output-heavy (s13 plain logs)", lambda: _logs("s13-*-plain.log"), 100),
    "eventful": ("eventful (other plain logs)", lambda: _logs("*-plain.log", "s13-*"), 20),
    "rawjson": ("rawjson logs", lambda: _logs("*-rawjson.log"), 50),
}


def make_input(paths: list[Path], size_mb: float, directory: str | None) -> Path:
    block = b"".join(p.read_bytes() for p in paths)
    copies = max(1, round(size_mb * MB / len(block)))
    fd, name = tempfile.mkstemp(prefix="buildlog-bench-", suffix=".log", dir=directory)
    with os.fdopen(fd, "wb") as out:
        for _ in range(copies):
            out.write(block)
    with open(name, "rb") as stream:  # into the page cache
        while stream.read(1 << 20):
            pass
    return Path(name)


# ---------------------------------------------------------------------------------------------------------------
# What is timed


def one_regex(path: Path) -> int:
    matches = 0
    match = PLAIN_LINE.match
    with open(path, "rb") as stream:
        for line in stream:
            if match(line) is not None:
                matches += 1
    return matches


def json_loads(path: Path) -> int:
    objects = 0
    loads = json.loads
    with open(path, "rb") as stream:
        for line in stream:
            try:
                loads(line)
                objects += 1
            except ValueError:
                pass
    return objects


def summary(path: Path) -> int:
    from buildlog.summary import summarize_path

    result = summarize_path(path)
    return len(result.builds)


def events_to_devnull(path: Path) -> int:
    from buildlog import parse_file

    try:
        from buildlog.cli import write_events
    except ImportError:  # the code before the CLI had write_events: the same loop as its `events` command
        from buildlog.events import event_to_dict

        def write_events(events, out, raw=False):  # type: ignore[no-untyped-def]
            dumps = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode
            n = 0
            for event in events:
                out.write(dumps(event_to_dict(event, with_raw=raw)))
                out.write("\n")
                n += 1
            return n

    with open(path, "rb") as stream, open(os.devnull, "w") as out:
        return int(write_events(parse_file(stream), out) or 0)


def parser_only(path: Path) -> int:
    from buildlog import parse_file

    count = 0
    with open(path, "rb") as stream:
        for _ in parse_file(stream):
            count += 1
    return count


def in_checkout(checkout: Path, name: str, path: Path) -> float:
    """The CPU time of one figure, measured in a fresh process on the package of ``checkout``."""
    env = dict(os.environ, BUILDLOG_BENCH_CHECKOUT=str(checkout))
    out = subprocess.run([sys.executable, __file__, "--child", name, str(path)], capture_output=True, text=True,
                         check=True, env=env)
    return float(out.stdout)


FIGURES: dict[str, Callable[[Path], int]] = {
    "summary": summary, "events > /dev/null": events_to_devnull, "parser": parser_only}


def best_of(repeat: int, fn: Callable[[Path], int], path: Path) -> tuple[float, int]:
    best = float("inf")
    result = 0
    for _ in range(repeat):
        start = time.process_time()
        result = fn(path)
        best = min(best, time.process_time() - start)
    return best, result


# ---------------------------------------------------------------------------------------------------------------
# Start-up and memory, in fresh processes


def wall(command: list[str], repeat: int = 7) -> tuple[float, float]:
    """The best wall time and the best CPU time (user + system) of ``repeat`` runs of ``command``."""
    runs = [run_once(command, _env()) for _ in range(repeat)]
    return min(w for w, _c in runs), min(c for _w, c in runs)


def peak_rss_mib(path: Path) -> float:
    code = ("import resource, sys; from buildlog.summary import summarize_path; summarize_path(sys.argv[1]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True,
                         env=_env())
    return int(out.stdout.strip()) / 1024


def modules_after_import() -> list[str]:
    code = ("import buildlog, sys; "
            "print(' '.join(m for m in ('typer', 'rich', 'click', 'pydantic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_env())
    return out.stdout.split()


_PYCACHE = tempfile.mkdtemp(prefix="buildlog-bench-pycache.")


def _env() -> dict[str, str]:
    # start-up as an installed package has it: bytecode compiled (see benchmarks/startup.py)
    return environment(ROOT, _PYCACHE)


# ---------------------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the input sizes (default 1: 100/20/50 MB)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is kept (default 3)")
    ap.add_argument("--only", choices=sorted(MIXES), action="append", help="only these mixes (repeatable)")
    ap.add_argument("--no-startup", action="store_true", help="skip the start-up and memory figures")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of summary on each mix")
    ap.add_argument("--tmpdir", default=None, help="where to write the generated inputs (default: the system's)")
    ap.add_argument("--compare", type=Path, metavar="CHECKOUT", help="also time the package of another checkout")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)  # NAME PATH: one figure, for --compare
    args = ap.parse_args()
    if args.child:
        name, path = args.child
        FIGURES[name](Path(path))  # warm, as the rounds of this process warm its own figures
        print(best_of(1, FIGURES[name], Path(path))[0])
        return

    import buildlog  # imports are not timed
    import buildlog.summary

    print(f"python {platform.python_version()} on {platform.machine()} {platform.system()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}; buildlog from {Path(buildlog.__file__).parent}")
    from buildlog.redact import ACCELERATE

    try:
        import ahocorasick_rs  # noqa: F401
        fast = ACCELERATE
    except ImportError:
        fast = False
    print("the summary's secret search: " + ("compiled (the fast extra: ahocorasick-rs)" if fast else
          "pure Python (BUILDLOG_PURE_PYTHON=1, or the fast extra not installed)"))
    if args.compare:
        print(f"[{args.compare.name}]: the package of {args.compare.resolve()}, timed in the same rounds")
    print(f"best of {args.repeat}; ratio = speed / the baseline's speed in this run")
    biggest: tuple[float, Path] | None = None
    made: list[Path] = []
    try:
        for key in args.only or list(MIXES):
            title, paths, size_mb = MIXES[key]
            path = make_input(paths(), size_mb * args.scale, args.tmpdir)
            made.append(path)
            size = path.stat().st_size
            if biggest is None or size > biggest[0]:
                biggest = (size, path)
            print()
            print(f"{title}: {size / MB:.1f} MB")
            baseline_name, baseline = ("one json.loads per line", json_loads) if key == "rawjson" else (
                "one re.match per line", one_regex)
            # interleaved: each round times the baseline and every figure once, so that a slow spell of the
            # machine hits them alike; the best of the rounds is kept for each
            timed: list[tuple[str, Callable[[], float]]] = [
                (baseline_name, lambda fn=baseline, path=path: best_of(1, fn, path)[0])]  # type: ignore[misc]
            for name, fn in FIGURES.items():
                if args.compare:  # both checkouts alike: a fresh process per measurement
                    timed.append((name, lambda name=name, path=path: in_checkout(ROOT, name, path)))  # type: ignore[misc]
                else:
                    timed.append((name, lambda fn=fn, path=path: best_of(1, fn, path)[0]))  # type: ignore[misc]
                if args.compare:
                    timed.append((f"{name} [{args.compare.name}]",  # type: ignore[misc]
                                  lambda name=name, path=path: in_checkout(args.compare, name, path)))
            best = dict.fromkeys((name for name, _ in timed), float("inf"))
            for _ in range(args.repeat):
                for name, measure in timed:
                    best[name] = min(best[name], measure())
            t_base = best[baseline_name]
            print(f"  {baseline_name:34} {size / MB / t_base:8.1f} MB/s   (baseline)")
            for name, _ in timed[1:]:
                t = best[name]
                print(f"  {name:34} {size / MB / t:8.1f} MB/s   {t_base / t:6.1%} of the baseline")
            if args.profile:
                profile = cProfile.Profile()
                profile.runcall(summary, path)
                report = io.StringIO()
                pstats.Stats(profile, stream=report).sort_stats("tottime").print_stats(18)
                print(report.getvalue())

        if not args.no_startup:
            print()
            print("start-up, whole process, best of 7, bytecode compiled (as installed); wall time, CPU time:")
            wall([sys.executable, "-m", "buildlog", "classify", str(SMALL_LOG)], repeat=1)  # fills the cache
            t_pass, c_pass = wall([sys.executable, "-c", "pass"])
            t_import, c_import = wall([sys.executable, "-c", "import buildlog"])
            t_classify, c_classify = wall([sys.executable, "-m", "buildlog", "classify", str(SMALL_LOG)])
            print(f"  python -c pass                 {t_pass * 1000:6.0f} ms {c_pass * 1000:6.0f} ms CPU   (baseline)")
            loaded = ", ".join(modules_after_import()) or "none of typer/rich/click/pydantic"
            print(f"  import buildlog                {t_import * 1000:6.0f} ms {c_import * 1000:6.0f} ms CPU   "
                  f"({(t_import - t_pass) * 1000:.0f} ms over python itself); loaded: {loaded}")
            print(f"  buildlog classify {SMALL_LOG.name} {t_classify * 1000:6.0f} ms {c_classify * 1000:6.0f} ms CPU")
            if biggest is not None:
                print(f"  peak RSS of summary on {biggest[0] / MB:.0f} MB: {peak_rss_mib(biggest[1]):.1f} MiB")
    finally:
        for p in made:
            p.unlink(missing_ok=True)
        shutil.rmtree(_PYCACHE, ignore_errors=True)


if __name__ == "__main__":
    main()
