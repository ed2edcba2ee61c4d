"""`buildlog run` wrapping a build that writes 1 GB as fast as it can: throughput and buildlog's peak memory.

    python3 benchmarks/run_volume.py                  # 1 GB of real log text (s13-concurrent-noisy repeated)
    python3 benchmarks/run_volume.py --binary         # 1 GB of random bytes with NULs, invalid UTF-8, CRs
    python3 benchmarks/run_volume.py --size-mb 200    # a quicker run

The build is tests/run_helpers/faults.py (``flood``: 1 MiB writes). buildlog's stdout is read and hashed by this
script, which checks that every byte came through unchanged. Printed: seconds, MB/s end to end, buildlog's peak
resident size (VmHWM, sampled from /proc while it runs), and the verdict in its --summary-file. The test suite
runs the same command with 32 MiB (tests/test_run_faults.py).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAULTS = ROOT / "tests" / "run_helpers" / "faults.py"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=1000)
    ap.add_argument("--binary", action="store_true")
    args = ap.parse_args()
    total = args.size_mb * 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "s.json"
        cmd = [sys.executable, "-m", "buildlog", "run", "--summary-file", str(summary), "--",
               sys.executable, str(FAULTS), "flood", str(total)] + (["--binary"] if args.binary else [])
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                env=dict(os.environ, PYTHONPATH=str(ROOT)))
        hwm: list[int] = []

        def sample() -> None:
            while proc.poll() is None:
                try:
                    m = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{proc.pid}/status").read_text())
                except OSError:
                    return
                if m:
                    hwm.append(int(m.group(1)))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        assert proc.stdout is not None and proc.stderr is not None
        digest, size = hashlib.sha256(), 0
        while chunk := proc.stdout.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
        err = proc.stderr.read()
        code = proc.wait()
        seconds = time.perf_counter() - t0
        sampler.join()
        spec = importlib.util.spec_from_file_location("faults", FAULTS)
        assert spec is not None and spec.loader is not None
        faults = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(faults)
        expected = hashlib.sha256()
        for piece in faults.flood_bytes(total, args.binary):
            expected.update(piece)
        verdict = json.loads(summary.read_text())["run"]["outcome"] if summary.exists() else None
    same = size == total and digest.hexdigest() == expected.hexdigest()
    print(f"{'binary' if args.binary else 'log text'}: {size / 1e6:.0f} MB through `buildlog run` in {seconds:.1f} s "
          f"({size / 1e6 / seconds:.1f} MB/s); peak RSS {max(hwm, default=0) / 1024:.1f} MB (VmHWM); exit {code}; "
          f"bytes unchanged: {same}; run outcome: {verdict}")
    if err.strip():
        print("stderr:", err.decode(errors="replace")[-500:])
    return 0 if same and code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
