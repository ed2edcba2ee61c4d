"""Run the fuzz harness for a number of minutes.

    python3 fuzz/run.py --minutes 30 [--jobs 1]

Seeds are every log kept under tests/fixtures (the shared real logs and the live captures), plus windows of the
big ones (so that mutations reach the middle of a long log within ``--max-len``). The growing corpus lives in
``fuzz/corpus/`` (not committed); new crashers land in ``tests/fuzz_corpus/``, which the test suite replays
(tests/test_fuzz_corpus.py). Needs ``atheris`` (the ``fuzz`` extra).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "fuzz" / "seeds"
CORPUS = ROOT / "fuzz" / "corpus"
WINDOW = 4 * 1024


def prepare_seeds(max_len: int) -> None:
    SEEDS.mkdir(parents=True, exist_ok=True)
    for log in sorted((ROOT / "tests" / "fixtures").rglob("*.log")):
        data = log.read_bytes()
        pieces = [data]
        if len(data) > max_len:
            lines = data.splitlines(keepends=True)
            window: list[bytes] = []
            size = 0
            for line in lines:
                window.append(line)
                size += len(line)
                if size >= WINDOW:
                    pieces.append(b"".join(window))
                    window, size = [], 0
            if window:
                pieces.append(b"".join(window))
        for piece in pieces:
            (SEEDS / hashlib.sha1(piece).hexdigest()).write_bytes(piece)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--max-len", type=int, default=16 * 1024)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()
    prepare_seeds(args.max_len)
    CORPUS.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(ROOT / "fuzz" / "fuzz_parser.py"), f"-max_total_time={int(args.minutes * 60)}",
           f"-max_len={args.max_len}", "-timeout=60", "-rss_limit_mb=4096", "-print_final_stats=1",
           str(CORPUS), str(SEEDS)]
    if args.jobs > 1:
        cmd[2:2] = [f"-jobs={args.jobs}", f"-workers={args.jobs}"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.call(cmd, env=env)


if __name__ == "__main__":
    raise SystemExit(main())
