"""Build the sdist and the wheel once per test session (``python -m build``), for the tests that install them."""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cilib import checkout_action


@functools.lru_cache(maxsize=1)
def built_dists() -> tuple[Path, Path]:
    """(sdist, wheel), built from a copy of the source tree (a build writes into the tree it builds)."""
    work = Path(tempfile.mkdtemp(prefix="buildlog-dist-"))
    atexit.register(shutil.rmtree, work, True)
    src = checkout_action(work / "src")
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(src)],
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (sdist,) = (work / "dist").glob("*.tar.gz")
    (wheel,) = (work / "dist").glob("*.whl")
    return sdist, wheel


def built_wheel() -> Path:
    return built_dists()[1]
