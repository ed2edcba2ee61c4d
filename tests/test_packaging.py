"""buildlog as a real package: the sdist and the wheel `python -m build` makes, the wheel installed into a fresh
virtual environment and used from there (entry point, `python -m`, shell completion, a summary of a shipped sample),
the metadata PyPI shows, and `pipx run --spec .`."""

from __future__ import annotations

import email
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from cilib import ROOT, checkout_action, job_environment
from packaging_helpers import built_dists

import buildlog
from buildlog.summary import SCHEMA

pytestmark = pytest.mark.packaging

SAMPLE = ROOT / "samples" / "s04-fail-exit1-plain.log"


def sh(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None,
       timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          env=env if env is not None else job_environment(), cwd=cwd, stdin=subprocess.DEVNULL,
                          check=False)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with nothing but the wheel (and its dependencies) installed."""
    path = tmp_path_factory.mktemp("venv") / "env"
    _, wheel = built_dists()
    made = sh(sys.executable, "-m", "venv", path)
    assert made.returncode == 0, made.stderr
    installed = sh(path / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-input", wheel)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return path


def test_wheel_holds_the_package_its_entry_point_and_license() -> None:
    _, wheel = built_dists()
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "buildlog").rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts}
        assert sources <= names, f"missing from the wheel: {sorted(sources - names)}"
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = z.read(f"{dist_info}/entry_points.txt").decode()
        assert "buildlog = buildlog.cli:main" in entry_points
        assert any(n.startswith(f"{dist_info}/licenses/LICENSE") for n in names)
        meta = email.message_from_bytes(z.read(f"{dist_info}/METADATA"))
    assert meta["Name"] == "buildx-log" and meta["Version"] == buildlog.__version__
    assert meta["License-Expression"] == "MIT"
    classifiers = meta.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers and "Programming Language :: Python :: 3.10" in classifiers
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Changelog", "Issues", "Source"} <= set(urls)
    assert "buildkit" in (meta["Keywords"] or "")
    assert meta["Requires-Python"] == ">=3.10"
    assert "# buildlog" in meta.get_payload()  # the README is the long description


def test_sdist_can_rebuild_everything() -> None:
    sdist, _ = built_dists()
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    for needed in ("pyproject.toml", "README.md", "LICENSE", "buildlog/__init__.py", "buildlog/py.typed"):
        assert needed in names, needed


def test_installed_wheel_summarises_a_sample(venv: Path) -> None:
    out = sh(venv / "bin" / "buildlog", "summary", "--format", "json", SAMPLE, cwd=venv)
    assert out.returncode == 0, out.stderr
    assert f'"schema": "{SCHEMA}"' in out.stdout and '"class": "build-step"' in out.stdout
    # and the code that ran is the installed one, not this source tree
    where = sh(venv / "bin" / "python", "-c", "import buildlog; print(buildlog.__file__)", cwd=venv)
    assert Path(where.stdout.strip()).is_relative_to(venv)


def test_version_and_python_dash_m(venv: Path) -> None:
    expected = f"buildlog {buildlog.__version__}"
    assert sh(venv / "bin" / "buildlog", "--version", cwd=venv).stdout.strip() == expected
    assert sh(venv / "bin" / "python", "-m", "buildlog", "--version", cwd=venv).stdout.strip() == expected
    classify = sh(venv / "bin" / "python", "-m", "buildlog", "classify", SAMPLE, cwd=venv)
    assert classify.returncode == 1 and classify.stdout.startswith("build-step:")


def test_shell_completion(venv: Path) -> None:
    # the script typer's --show-completion prints, asked for by name: --show-completion itself guesses the shell
    # from the process's parents, which a test run does not always have
    script = sh(venv / "bin" / "buildlog", env=dict(job_environment(), _BUILDLOG_COMPLETE="source_bash"), cwd=venv)
    assert script.returncode == 0 and "_BUILDLOG_COMPLETE" in script.stdout
    env = dict(job_environment(), _BUILDLOG_COMPLETE="complete_bash", COMP_WORDS="buildlog cla", COMP_CWORD="1")
    completed = sh(venv / "bin" / "buildlog", env=env, cwd=venv)
    assert completed.stdout.split() == ["classify"]
    env.update(COMP_WORDS="buildlog run --att", COMP_CWORD="2")
    assert sh(venv / "bin" / "buildlog", env=env, cwd=venv).stdout.split() == ["--attempts"]


def test_pipx_run_from_the_source_tree(tmp_path: Path) -> None:
    src = checkout_action(tmp_path / "src")
    env = job_environment(PIPX_HOME=str(tmp_path / "pipx"), PIPX_BIN_DIR=str(tmp_path / "bin"),
                          PIPX_MAN_DIR=str(tmp_path / "man"))
    out = sh(sys.executable, "-m", "pipx", "run", "--spec", ".", "buildlog", "--version", env=env, cwd=src)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == f"buildlog {buildlog.__version__}"


def test_changelog_names_the_current_contracts() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    current = changelog.split("\n## ", 2)[1]  # the newest release's section
    assert current.startswith(buildlog.__version__)
    assert f"`{SCHEMA}`" in current

