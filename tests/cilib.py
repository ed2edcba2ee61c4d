"""Run the GitHub Action (action.yml) and the GitLab component (templates/buildlog.yml) as written, without GitHub
or GitLab: the YAML is read, its expressions are filled in the way the CI system does it, and its shell steps are run
with the variables the CI system sets. What cannot run here (another action, such as actions/cache) is returned for
the test to check.

The expression evaluators know only what the two files use (dotted names); anything else fails the test, so that a
change in the YAML cannot slip through unevaluated.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION_YML = ROOT / "action.yml"
COMPONENT_YML = ROOT / "templates" / "buildlog.yml"
REPLAY = Path(__file__).resolve().parent / "run_helpers" / "replay.py"

# What GitHub's runner would check out for `uses: OWNER/REPO@REF`: the files the action and its install need.
ACTION_FILES = ("action.yml", "pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "buildlog")


def checkout_action(dest: Path) -> Path:
    """A copy of the action's repository files (the package source included), like the runner's checkout."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ACTION_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def job_environment(**extra: str) -> dict[str, str]:
    """The machine's environment, with this interpreter's ``python3`` first on PATH, and without what points
    Python at this source tree (a CI job does not have it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["CI"] = "true"
    env.update(extra)
    return env


# ----------------------------------------------------------------------------------------------- GitHub


_GH_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_DOTTED = re.compile(r"[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+")


def github_expand(text: str, context: Mapping[str, Any]) -> str:
    """Fill ``${{ a.b.c }}``. A step output that was not set is empty, as on GitHub; an input the action does not
    declare, or any other expression, is an error."""

    def value(m: re.Match[str]) -> str:
        expr = m.group(1)
        if not _DOTTED.fullmatch(expr):
            raise AssertionError(f"expression not understood by the test: {expr!r}")
        head, *path = expr.split(".")
        node: Any = context[head]
        for i, part in enumerate(path):
            if head == "steps" and i == 2:  # steps.ID.outputs.NAME: unset outputs are ""
                return str(node.get(part, ""))
            if part not in node:
                raise AssertionError(f"{expr}: {part!r} is not defined")
            node = node[part]
        return str(node)

    return _GH_EXPR.sub(value, text)


def parse_github_file(text: str) -> dict[str, str]:
    """``$GITHUB_OUTPUT`` / ``$GITHUB_ENV`` as GitHub's runner reads them: ``name=value`` lines and
    ``name<<DELIMITER`` blocks."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while lines[i] != delimiter:  # an IndexError here: the block is never closed (GitHub fails too)
                body.append(lines[i])
                i += 1
            i += 1
            values[name] = "\n".join(body)
        else:
            name, value = line.split("=", 1)
            values[name] = value
    return values


class ActionRun:
    """What one run of the action left: its outputs, the job files, each step's output, the skipped `uses:`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.outputs: dict[str, str] = {}
        self.steps: dict[str, dict[str, Any]] = {}
        self.uses: list[dict[str, Any]] = []
        self.returncode = 0
        self.stdout = ""
        self.stderr = ""
        self.summary_file = workdir / "step_summary.md"
        self.env_file = workdir / "github_env"
        self.path_file = workdir / "github_path"

    @property
    def summary(self) -> str:
        return self.summary_file.read_text() if self.summary_file.exists() else ""


def run_action(action_path: Path, workdir: Path, tool_cache: Path, inputs: Mapping[str, str],
               env: Mapping[str, str] | None = None, timeout: float = 300) -> ActionRun:
    """Run the composite action's steps in order, like GitHub's runner: each `run:` step in bash with its
    `env:`, a fresh ``$GITHUB_OUTPUT`` per step, the job's ``$GITHUB_STEP_SUMMARY``/``$GITHUB_ENV``/
    ``$GITHUB_PATH``; stop at the first step that fails; then evaluate the action's `outputs:`."""
    action = yaml.safe_load((action_path / "action.yml").read_text())
    declared = action["inputs"]
    unknown = set(inputs) - set(declared)
    assert not unknown, f"inputs the action does not declare: {unknown}"
    values = {name: str(inputs.get(name, spec.get("default", ""))) for name, spec in declared.items()}
    workdir.mkdir(parents=True, exist_ok=True)
    result = ActionRun(workdir)
    runner_temp = workdir / "runner_temp"
    runner_temp.mkdir(exist_ok=True)
    base = job_environment(
        GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(workdir), GITHUB_ACTION_PATH=str(action_path),
        GITHUB_STEP_SUMMARY=str(result.summary_file), GITHUB_ENV=str(result.env_file),
        GITHUB_PATH=str(result.path_file), RUNNER_OS="Linux", RUNNER_ARCH="X64", RUNNER_TEMP=str(runner_temp),
        RUNNER_TOOL_CACHE=str(tool_cache), **(env or {}))
    for f in (result.summary_file, result.env_file, result.path_file):
        f.touch()
    context: dict[str, Any] = {"inputs": values, "github": {"action_path": str(action_path)},
                               "steps": result.steps}
    for number, step in enumerate(action["runs"]["steps"]):
        if "uses" in step:
            result.uses.append({"uses": step["uses"],
                                "with": {k: github_expand(str(v), context) for k, v in step.get("with", {}).items()}})
            continue
        assert step.get("shell") == "bash", "every run step names its shell"
        assert "${{" not in step["run"], "expressions go through env:, never into the script text"
        output_file = workdir / f"github_output_{number}"
        output_file.write_text("")
        step_env = dict(base, GITHUB_OUTPUT=str(output_file))
        step_env.update({k: github_expand(str(v), context) for k, v in step.get("env", {}).items()})
        script = workdir / f"step_{number}.sh"
        script.write_text(step["run"])
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], env=step_env,
                              cwd=workdir, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)
        result.stdout += proc.stdout
        result.stderr += proc.stderr
        if "id" in step:
            result.steps[step["id"]] = {"outputs": parse_github_file(output_file.read_text()),
                                        "returncode": proc.returncode}
        if proc.returncode != 0:
            result.returncode = proc.returncode
            break
    result.outputs = {name: github_expand(spec["value"], context) for name, spec in action["outputs"].items()}
    return result


# ----------------------------------------------------------------------------------------------- GitLab


_GL_EXPR = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]")


def load_component(path: Path = COMPONENT_YML) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the spec header, the job configuration) of a CI/CD component file: two YAML documents."""
    spec, config = yaml.safe_load_all(path.read_text())
    return spec, config


def component_inputs(spec: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs as GitLab resolves them: given values, else defaults; a missing required input, an unknown
    one, a value outside `options:` or of the wrong type is an error (GitLab refuses the pipeline)."""
    declared = spec["spec"]["inputs"]
    unknown = set(given) - set(declared)
    assert not unknown, f"inputs the component does not declare: {unknown}"
    values = {}
    for name, decl in declared.items():
        decl = decl or {}
        if name in given:
            value = given[name]
        else:
            assert "default" in decl, f"required input {name} not given"
            value = decl["default"]
        kind = decl.get("type", "string")
        expected = {"string": str, "number": (int, float), "boolean": bool, "array": list}[kind]
        assert isinstance(value, expected) and not (kind == "number" and isinstance(value, bool)), \
            f"input {name}: {value!r} is not a {kind}"
        if "options" in decl:
            assert value in decl["options"], f"input {name}: {value!r} not in {decl['options']}"
        values[name] = value
    return values


def gitlab_interpolate(node: Any, inputs: Mapping[str, Any]) -> Any:
    """``$[[ inputs.NAME ]]`` in every string of the configuration (keys included). A string that is exactly
    one interpolation takes the input's own type (a number stays a number, an array an array), as in GitLab."""
    if isinstance(node, dict):
        return {gitlab_interpolate(k, inputs): gitlab_interpolate(v, inputs) for k, v in node.items()}
    if isinstance(node, list):
        return [gitlab_interpolate(v, inputs) for v in node]
    if isinstance(node, str):
        whole = _GL_EXPR.fullmatch(node.strip())
        if whole:
            return inputs[whole.group(1)]

        def text(m: re.Match[str]) -> str:
            value = inputs[m.group(1)]
            return str(value).lower() if isinstance(value, bool) else str(value)

        return _GL_EXPR.sub(text, node)
    return node


def gitlab_variables(config: Mapping[str, Any]) -> dict[str, str]:
    """A job's `variables:` as the runner exports them (``value:``/``expand: false`` forms included; the test
    gives no variable to expand, so expansion is not modelled)."""
    out = {}
    for name, value in (config.get("variables") or {}).items():
        out[name] = str(value["value"] if isinstance(value, dict) else value)
    return out


def run_gitlab_job(job: Mapping[str, Any], workdir: Path, variables: Mapping[str, str],
                   timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The job's `before_script` and `script` in one POSIX shell with ``set -e``, as GitLab's runner runs them;
    the job's exit code is that of the command that failed."""
    lines = [*job.get("before_script", []), *job["script"]]
    script = workdir / "gitlab_job.sh"
    script.write_text("set -e\n" + "\n".join(lines) + "\n")
    env = job_environment(**variables)
    return subprocess.run(["sh", str(script)], env=env, cwd=workdir, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False)


def parse_gitlab_dotenv(text: str) -> dict[str, str]:
    """A dotenv report under GitLab's documented rules; a line GitLab would refuse fails the test: names of
    letters, digits and ``_`` only, one ``NAME=value`` per line, no empty lines or comments, at most 5 KB."""
    assert len(text.encode()) <= 5 * 1024, "GitLab refuses a dotenv report over 5 KB"
    values = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        assert sep, f"not NAME=value: {line!r}"
        assert re.fullmatch(r"[A-Za-z0-9_]+", name.strip()), f"GitLab refuses the variable name {name!r}"
        values[name.strip()] = value.strip()
    return values
