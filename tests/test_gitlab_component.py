"""The GitLab CI/CD component (templates/buildlog.yml): its inputs resolved and interpolated as GitLab does, its job's
script run in a POSIX shell with GitLab's variables set (tests/cilib.py), on real logs; the dotenv report read under
GitLab's rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cilib import (
    REPLAY,
    component_inputs,
    gitlab_interpolate,
    gitlab_variables,
    load_component,
    parse_gitlab_dotenv,
    run_gitlab_job,
)
from fixturelib import SHARED, label_of
from packaging_helpers import built_wheel

from buildlog.outputs import KEYS, dotenv_name

S01 = SHARED / "s01-cold-plain.log"
S04 = SHARED / "s04-fail-exit1-plain.log"
S06 = SHARED / "s06-daemon-killed-plain.log"
S08 = SHARED / "s08-proxy-503-plain.log"


def job_of(given: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    spec, config = load_component()
    inputs = component_inputs(spec, given)
    resolved = gitlab_interpolate(config, inputs)
    ((name, job),) = resolved.items()
    return name, job


def replay(state: Path, *logs: Path) -> str:
    specs = " ".join(f"{log}:{label_of(log)['exit_code']}" for log in logs)
    return f"python3 {REPLAY} --stream stderr {state} {specs}"


def gitlab_ci_variables(project: Path) -> dict[str, str]:
    """The predefined variables a job sees (those a script may read), for a project checked out at PROJECT."""
    return {"GITLAB_CI": "true", "CI_PROJECT_DIR": str(project), "CI_JOB_ID": "4242", "CI_JOB_NAME": "build-image",
            "CI_PIPELINE_ID": "77", "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
            "CI_REGISTRY_IMAGE": "registry.example.com/acme/app", "CI_SERVER_FQDN": "gitlab.example.com"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel `python -m build` made, the runner's TMPDIR): the jobs of this module run on one "shell runner",
    so the first installs buildlog and the others reuse it."""
    return built_wheel(), tmp_path_factory.mktemp("runner-tmp")


def run_job(tmp_path: Path, wheel: tuple[Path, Path], **given: Any) -> tuple[dict[str, Any], Any, Path]:
    name, job = job_of({"package": str(wheel[0]), **given})
    project = tmp_path / "project"
    project.mkdir(parents=True)
    variables = {**gitlab_ci_variables(project), **gitlab_variables(job), "CI_JOB_NAME": name,
                 "TMPDIR": str(wheel[1])}
    proc = run_gitlab_job(job, project, variables)
    return job, proc, project


def test_spec_has_the_options_of_the_action() -> None:
    spec, _config = load_component()
    inputs = spec["spec"]["inputs"]
    assert {"run", "attempts", "backoff", "before-retry", "summary", "rules", "version", "max-time"} <= set(inputs)
    assert "default" not in inputs["run"]  # the one required input


def test_job_maps_75_to_a_retry_and_exports_the_dotenv_report() -> None:
    name, job = job_of({"run": "docker buildx build ."})
    assert name == "build-image"
    assert job["retry"]["exit_codes"] == [75] and job["retry"]["max"] == 2
    assert job["artifacts"]["reports"]["dotenv"] == "buildlog.env"
    assert job["artifacts"]["when"] == "always"
    assert job["services"] == ["docker:27-dind"]
    # the build command is not expanded by GitLab first: its own shell does it, once
    assert job["variables"]["BUILDLOG_INPUT_RUN"] == {"value": "docker buildx build .", "expand": False}


def test_inputs_are_typed() -> None:
    spec, _ = load_component()
    with pytest.raises(AssertionError):
        component_inputs(spec, {"run": "x", "retry-max": 3})
    with pytest.raises(AssertionError):
        component_inputs(spec, {"run": "x", "attempts": "three"})
    with pytest.raises(AssertionError):
        component_inputs(spec, {})  # run is required


@pytest.mark.packaging
def test_transient_failures_exit_75_with_the_report(tmp_path: Path, wheel: tuple[Path, Path]) -> None:
    job, proc, project = run_job(tmp_path, wheel, run=replay(tmp_path / "state", S08), attempts=2, backoff=0)
    assert proc.returncode == 75, proc.stderr
    assert proc.returncode in job["retry"]["exit_codes"]  # so GitLab re-runs the job
    report = parse_gitlab_dotenv((project / "buildlog.env").read_text())
    assert list(report) == [dotenv_name(k) for k in KEYS]
    label = label_of(S08)
    assert report["BUILDLOG_OUTCOME"] == label["outcome"] == "failure"
    assert report["BUILDLOG_FAILURE_CLASS"] == label["failure_class"]
    assert report["BUILDLOG_RETRYABLE"] == "true" and report["BUILDLOG_ATTEMPTS"] == "2"
    assert "503" in report["BUILDLOG_REASON"]
    summary = (project / "build-summary.md").read_text()
    assert "registry-unavailable" in summary and "| 2/2 |" in summary


@pytest.mark.packaging
def test_a_retry_that_succeeds(tmp_path: Path, wheel: tuple[Path, Path]) -> None:
    marker = tmp_path / "before-retry"
    _job, proc, project = run_job(tmp_path, wheel, run=replay(tmp_path / "state", S06, S01), backoff=0,
                                 **{"before-retry": f"touch {marker}"})
    assert proc.returncode == 0, proc.stderr
    assert marker.exists()
    report = parse_gitlab_dotenv((project / "buildlog.env").read_text())
    assert report["BUILDLOG_OUTCOME"] == "success" and report["BUILDLOG_ATTEMPTS"] == "2"
    assert report["BUILDLOG_IMAGE_DIGEST"].startswith("sha256:")
    assert report["BUILDLOG_IMAGE_DIGEST"] in S01.read_text()


@pytest.mark.packaging
def test_build_failure_keeps_its_exit_code(tmp_path: Path, wheel: tuple[Path, Path]) -> None:
    _, proc, project = run_job(tmp_path, wheel, run=replay(tmp_path / "state", S04, S01), summary=False,
                               dotenv="out.env")
    assert proc.returncode == 1  # not 75: GitLab does not re-run a build that fails for a reason of its own
    report = parse_gitlab_dotenv((project / "out.env").read_text())
    assert report["BUILDLOG_FAILURE_CLASS"] == "build-step" and report["BUILDLOG_RETRYABLE"] == "false"
    assert not (project / "build-summary.md").exists()


@pytest.mark.packaging
def test_the_build_command_sees_the_jobs_variables(tmp_path: Path, wheel: tuple[Path, Path]) -> None:
    seen = tmp_path / "seen"
    _, proc, _ = run_job(tmp_path, wheel, run=f'echo "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA" > {seen}', attempts=1)
    assert proc.returncode == 0, proc.stderr
    assert seen.read_text().strip() == "registry.example.com/acme/app:0123456789abcdef0123456789abcdef01234567"


@pytest.mark.packaging
def test_a_second_job_on_the_same_runner_reuses_buildlog(tmp_path: Path, wheel: tuple[Path, Path]) -> None:
    _, proc, _ = run_job(tmp_path / "first", wheel, run="true", attempts=1)
    assert proc.returncode == 0, proc.stderr
    # nothing could be installed now: the job works only with the environment the first one left
    _, job = job_of({"package": str(wheel[0]), "run": "true", "attempts": 1})
    project = tmp_path / "again"
    project.mkdir()
    env = {**gitlab_ci_variables(project), **gitlab_variables(job), "TMPDIR": str(wheel[1]), "PIP_NO_INDEX": "1",
           "PIP_FIND_LINKS": ""}
    proc = run_gitlab_job(job, project, env)
    assert proc.returncode == 0, proc.stderr
    assert parse_gitlab_dotenv((project / "buildlog.env").read_text())["BUILDLOG_OUTCOME"] == "success"


def test_script_text_gets_numbers_and_booleans() -> None:
    _, job = job_of({"run": "x", "attempts": 4, "backoff": 2.5, "max-time": 600, "summary": False})
    script = "\n".join(job["script"])
    assert "--attempts 4 --backoff 2.5" in script and "--max-time 600" in script
    assert '[ "false" = true ]' in script
    assert all(isinstance(v, (str, dict)) for v in job["variables"].values())
