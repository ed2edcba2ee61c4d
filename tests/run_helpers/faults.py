"""A build command that misbehaves, for the fault tests of `buildlog run` (tests/test_run_faults.py).

    faults.py flood BYTES [--binary] [--exit N]
                                          BYTES of output as fast as one process can write it (1 MiB writes):
                                          a real log repeated, or (--binary) seeded random bytes with NULs,
                                          invalid UTF-8, CRs and escapes; exits N (0)
    faults.py close-stdout LOG EXIT       print LOG, close stdout, keep running (then say so on stderr), exit EXIT
    faults.py orphan LOG EXIT PIDFILE     start a child that outlives us holding our stdout/stderr (its pid goes
                                          to PIDFILE), print LOG, exit EXIT at once
A LOG without a directory is taken from tests/fixtures/shared. ``flood_bytes()`` gives the same bytes to a test.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent / "fixtures" / "shared"
TEXT_SOURCE = SHARED / "s13-concurrent-noisy-plain.log"
BLOCK = 1 << 20


def _block(binary: bool) -> bytes:
    if binary:
        rng = random.Random(1234)
        special = [b"\x00", b"\xff\xfe", b"\r", b"\n", b"\x1b[2K", b"\xc3", b"\xed\xa0\x80"]
        parts = [rng.choice(special) if rng.random() < 0.05 else rng.randbytes(rng.randint(1, 300))
                 for _ in range(12000)]
        data = b"".join(parts)
    else:
        data = TEXT_SOURCE.read_bytes()
    return (data * (BLOCK // len(data) + 1))[:BLOCK]


def flood_bytes(total: int, binary: bool) -> Iterator[bytes]:
    block = _block(binary)
    left = total
    while left > 0:
        piece = block[: min(left, BLOCK)]
        left -= len(piece)
        yield piece


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _log(name: str) -> bytes:
    path = Path(name) if "/" in name else SHARED / name
    return path.read_bytes()


def main(argv: list[str]) -> int:
    mode = argv[0]
    if mode == "flood":
        for piece in flood_bytes(int(argv[1]), "--binary" in argv):
            _write(1, piece)
        return int(argv[argv.index("--exit") + 1]) if "--exit" in argv else 0
    if mode == "close-stdout":
        _write(1, _log(argv[1]))
        os.close(1)
        time.sleep(0.5)  # still running, with stdout closed: buildlog must wait for the exit status
        _write(2, b"still running after closing stdout\n")
        return int(argv[2])
    if mode == "orphan":
        code = ("import os, sys, time; time.sleep(0.3); os.write(1, b'orphan output\\n'); time.sleep(60)")
        child = subprocess.Popen([sys.executable, "-c", code], start_new_session=False)
        Path(argv[3]).write_text(str(child.pid))
        _write(1, _log(argv[1]))
        os._exit(int(argv[2]))  # no wait for the child: it outlives us, holding both pipes
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
