"""Prints a lot of real build output, fast: for the memory bound of `buildlog run`.

    flood.py TOTAL_BYTES LONG_LINE_BYTES

A real log (s13-concurrent-noisy-plain, the noisiest one) repeated until TOTAL_BYTES - LONG_LINE_BYTES, then
LONG_LINE_BYTES of the same log with its line breaks turned into spaces: one very long line, with no line break
at the end. Exits 0. ``chunks()`` gives the same bytes to a test that wants to compare.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

LOG = Path(__file__).resolve().parent.parent / "fixtures" / "shared" / "s13-concurrent-noisy-plain.log"


def chunks(total: int, long_line: int) -> Iterator[bytes]:
    log = LOG.read_bytes()
    left = total - long_line
    while left > 0:
        piece = log[:left]
        left -= len(piece)
        yield piece
    flat = log.replace(b"\n", b" ")
    left = long_line
    while left > 0:
        piece = flat[:left]
        left -= len(piece)
        yield piece


def main() -> int:
    total, long_line = int(sys.argv[1]), int(sys.argv[2])
    for piece in chunks(total, long_line):
        view = memoryview(piece)
        while view:
            view = view[os.write(1, view):]
    return 0


if __name__ == "__main__":
    sys.exit(main())
