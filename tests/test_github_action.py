"""The GitHub Action (action.yml), run step by step as GitHub's runner runs a composite action (tests/cilib.py), on
real logs: installed from its own source into an environment of its own, outputs, job summary, PATH and ENV."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml
from cilib import ACTION_YML, REPLAY, ActionRun, checkout_action, run_action
from fixturelib import SHARED, label_of

from buildlog.outputs import KEYS

pytestmark = pytest.mark.packaging  # the action installs buildlog from its own source

S01 = SHARED / "s01-cold-plain.log"  # success, pushed, cache cold
S02 = SHARED / "s02-warm-plain.log"  # success, cache warm
S04 = SHARED / "s04-fail-exit1-plain.log"  # build-step, not retryable
S06 = SHARED / "s06-daemon-killed-plain.log"  # builder-connection-lost, retryable
S08 = SHARED / "s08-proxy-503-plain.log"  # registry-unavailable, retryable


@pytest.fixture(scope="module")
def action(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the action's checkout, the runner's tool cache), shared by the tests of this module: the first run
    installs buildlog, the others find it there, as on a runner whose cache was restored."""
    base = tmp_path_factory.mktemp("action")
    return checkout_action(base / "checkout"), base / "toolcache"


def run(action: tuple[Path, Path], workdir: Path, **inputs: str) -> ActionRun:
    return run_action(action[0], workdir, action[1], inputs)


def replay(state: Path, *logs: Path) -> str:
    """A `run` input: the real logs replayed as a build command prints them, each with its real exit code."""
    specs = " ".join(f"{log}:{label_of(log)['exit_code']}" for log in logs)
    return f"python3 {REPLAY} --stream stderr {state} {specs}"


def pushed_digest(log: Path) -> str:
    found = re.findall(r"pushing manifest for \S+@(sha256:[0-9a-f]{64}) .*done", log.read_text())
    assert found, "the log pushed an image"
    return found[-1]


def test_declared_outputs_are_the_step_output_keys() -> None:
    action = yaml.safe_load(ACTION_YML.read_text())
    assert list(action["outputs"]) == list(KEYS)
    assert action["runs"]["using"] == "composite"
    for name, spec in action["outputs"].items():
        assert spec["value"] == f"${{{{ steps.buildlog.outputs.{name} }}}}"
    assert set(action["inputs"]) >= {"run", "log", "attempts", "backoff", "before-retry", "summary", "rules",
                                     "version"}


def test_log_of_a_failed_build(action: tuple[Path, Path], tmp_path: Path) -> None:
    result = run(action, tmp_path, log=str(S04))
    label = label_of(S04)
    assert result.returncode == 0, result.stderr  # summarising a failed build is not a failure of the step
    out = result.outputs
    assert (out["outcome"], out["failure-class"], out["retryable"]) == (
        label["outcome"], label["failure_class"], str(label["retryable"]).lower())
    assert "exited with code 1" in out["reason"]
    assert out["image-digest"] == ""
    assert out["attempts"] == "1"
    # the job summary is the markdown report
    assert "build-step" in result.summary and result.summary.lstrip().startswith("###")
    # the text report went to the job's log
    assert "build-step" in result.stdout


def test_installed_apart_from_the_jobs_python(action: tuple[Path, Path], tmp_path: Path) -> None:
    result = run(action, tmp_path, log=str(S02))
    assert result.returncode == 0, result.stderr
    # no variable of the job changed (no VIRTUAL_ENV, PYTHONPATH, PYTHONHOME ...)
    assert result.env_file.read_text() == ""
    # one directory goes on PATH, and it holds the command alone: no python, pip or activate shadows the job's
    (added,) = result.path_file.read_text().splitlines()
    assert [p.name for p in Path(added).iterdir()] == ["buildlog"]
    venv = Path(result.steps["setup"]["outputs"]["venv"])
    assert Path(added, "buildlog").resolve() == (venv / "bin" / "buildlog").resolve()
    assert venv.is_relative_to(action[1])
    # buildlog runs from that environment, not from this source tree
    site = list(venv.glob("lib/python3*/site-packages/buildlog/__init__.py"))
    assert site, "buildlog is installed in the action's environment"
    # actions/cache keeps exactly that environment, under a key naming the Python and what was installed
    (cache,) = result.uses
    assert cache["uses"].startswith("actions/cache@")
    assert cache["with"]["path"] == str(venv)
    key = cache["with"]["key"]
    assert key.startswith("buildlog-Linux-X64-py") and f"py{sys.version_info[0]}.{sys.version_info[1]}" in key
    assert result.outputs["cache-state"] == "warm" and result.outputs["hit-ratio"] == "1.0"


def test_a_second_run_uses_the_cached_environment(action: tuple[Path, Path], tmp_path: Path) -> None:
    first = run(action, tmp_path / "first", log=str(S01))
    second = run(action, tmp_path / "second", log=str(S01))
    assert first.returncode == second.returncode == 0
    assert "using the cached environment" in second.stdout
    assert first.outputs == second.outputs
    assert second.outputs["image-digest"] == pushed_digest(S01)
    assert second.outputs["outcome"] == "success" and second.outputs["failure-class"] == ""


def test_run_retries_a_transient_failure(action: tuple[Path, Path], tmp_path: Path) -> None:
    result = run(action, tmp_path, run=replay(tmp_path / "state", S06, S01), backoff="0")
    assert result.returncode == 0, result.stderr
    out = result.outputs
    assert out["outcome"] == "success" and out["attempts"] == "2" and out["retryable"] == "false"
    assert out["image-digest"] == pushed_digest(S01)
    assert float(out["duration"]) > 0
    # the build's own output passed through to the job's log
    assert "pushing manifest for" in result.stderr
    assert "attempt 1/3 failed: builder-connection-lost" in result.stderr
    assert "buildlog run: succeeded (2 attempts)" in result.summary


def test_run_gives_up_with_75_and_says_why(action: tuple[Path, Path], tmp_path: Path) -> None:
    result = run(action, tmp_path, run=replay(tmp_path / "state", S08), attempts="2", backoff="0", summary="false")
    assert result.returncode == 75
    out = result.outputs  # set although the step failed: later steps (`if: failure()`) read them
    assert out["outcome"] == "failure" and out["failure-class"] == "registry-unavailable"
    assert out["retryable"] == "true" and out["attempts"] == "2"
    assert "503" in out["reason"]
    assert result.summary == ""  # summary: false


def test_run_not_retried_on_a_build_failure(action: tuple[Path, Path], tmp_path: Path) -> None:
    result = run(action, tmp_path, run=replay(tmp_path / "state", S04, S01), backoff="0")
    assert result.returncode == 1
    assert result.outputs["attempts"] == "1" and result.outputs["failure-class"] == "build-step"


def test_before_retry_and_rules_reach_buildlog(action: tuple[Path, Path], tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nname = "proxy-html"\npattern = "<h1>.*</html>"\nclass = "network"\n'
                     'retryable = false\nreason = "The proxy said: {match}"\n')
    marker = tmp_path / "before-retry-ran"
    result = run(action, tmp_path, run=replay(tmp_path / "state", S06, S08), backoff="0", rules=str(rules),
                 **{"before-retry": f"touch {marker}"})
    assert marker.exists()
    out = result.outputs
    # the user rule decided the second attempt: not retryable, so the command's own exit code
    assert result.returncode == 1 and out["failure-class"] == "network" and out["retryable"] == "false"
    # a reason over several lines comes through the heredoc form whole
    assert out["reason"].startswith("The proxy said: <h1>503 Service Unavailable</h1>\n")
    assert out["reason"].endswith("</body></html>")


@pytest.mark.parametrize("inputs", [{}, {"run": "true", "log": str(S01)}])
def test_run_or_log_exactly_one(action: tuple[Path, Path], tmp_path: Path, inputs: dict[str, str]) -> None:
    result = run(action, tmp_path, **inputs)
    assert result.returncode == 2
    assert "::error title=buildlog::" in result.stdout


def test_unreadable_log_fails_the_step(action: tuple[Path, Path], tmp_path: Path) -> None:
    result = run(action, tmp_path, log=str(tmp_path / "missing.log"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr

