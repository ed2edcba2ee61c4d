"""What start-up loads. ``import buildlog`` is a library import: no command-line stack. The commands that read a log
and print a verdict do not load pydantic or rich. Checked in fresh interpreters by looking at ``sys.modules``; how
long start-up takes is measured by ``benchmarks/startup.py``, not here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from fixturelib import SHARED

ROOT = Path(__file__).resolve().parent.parent
FAILED_LOG = SHARED / "s04-fail-exit1-plain.log"  # a RUN step failed: the failure rules run too

# Run in a fresh interpreter: the command line given, then the names of the loaded modules written to a file at exit
# (after typer's own SystemExit).
RUN_AND_LIST_MODULES = """
import atexit, json, runpy, sys
out, argv = sys.argv[1], sys.argv[2:]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
if argv[0] == "-c":
    exec(argv[1])
else:
    sys.argv = ["buildlog", *argv[2:]]
    runpy.run_module("buildlog", run_name="__main__", alter_sys=True)
"""


def loaded_by(tmp_path: Path, *argv: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python ARGV...`` (``-c CODE`` or ``-m buildlog ARGS``); its exit status and output, and the top-level
    packages it had loaded when it exited."""
    listing = tmp_path / "modules.json"
    proc = subprocess.run([sys.executable, "-c", RUN_AND_LIST_MODULES, str(listing), *argv], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert listing.exists(), proc.stderr
    return proc, {name.partition(".")[0] for name in json.loads(listing.read_text())}


def test_import_buildlog_loads_no_command_line_stack(tmp_path: Path) -> None:
    proc, loaded = loaded_by(tmp_path, "-c", "import buildlog; buildlog.Parser; buildlog.summarize_path")
    assert proc.returncode == 0, proc.stderr
    assert "buildlog" in loaded and "attrs" in loaded
    assert loaded.isdisjoint({"typer", "click", "rich", "pydantic"}), sorted(loaded & {"typer", "click", "rich",
                                                                                       "pydantic"})


READING_COMMANDS = [
    ("classify", FAILED_LOG),
    ("summary", "--format", "json", FAILED_LOG),
    ("summary", FAILED_LOG),
]


@pytest.mark.parametrize("command", READING_COMMANDS, ids=lambda c: " ".join(map(str, c[:-1])))
def test_reading_commands_do_not_load_rich(tmp_path: Path, command: tuple[str | Path, ...]) -> None:
    proc, loaded = loaded_by(tmp_path, "-m", "buildlog", *map(str, command))
    # it did its work: a failed build's verdict (exit 1 for classify), not a usage error
    assert proc.returncode == (1 if command[0] == "classify" else 0), proc.stderr
    assert "build-step" in proc.stdout
    assert "typer" in loaded
    assert "rich" not in loaded


def _typer_within_pin() -> bool:
    """pyproject.toml keeps typer below 0.29: from 0.29 on, typer validates every parameter with pydantic."""
    pin = re.search(r'"typer>=[\d.]+,<(\d+)\.(\d+)"', (ROOT / "pyproject.toml").read_text())
    assert pin is not None, "pyproject.toml no longer pins typer below a version: update this test"
    major, minor = (int(part) for part in re.findall(r"\d+", version("typer"))[:2])
    return (major, minor) < (int(pin[1]), int(pin[2]))


@pytest.mark.parametrize("command", READING_COMMANDS, ids=lambda c: " ".join(map(str, c[:-1])))
def test_reading_commands_do_not_load_pydantic(tmp_path: Path, command: tuple[str | Path, ...]) -> None:
    if not _typer_within_pin():
        pytest.skip(f"typer {version('typer')} is installed, newer than pyproject.toml allows")
    proc, loaded = loaded_by(tmp_path, "-m", "buildlog", *map(str, command))
    assert proc.returncode == (1 if command[0] == "classify" else 0), proc.stderr
    assert "pydantic" not in loaded and "pydantic_core" not in loaded
