"""The YAML examples of the README and the docs, checked against the real action.yml and templates/buildlog.yml:
every `uses:` of the action and every `include: component:` passes only inputs that exist (of the right type, the
required ones present), names the current version, and reads only outputs that exist. The tables of inputs in
docs/github-action.md and docs/gitlab.md list exactly the real inputs, with their real defaults."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cilib import ACTION_YML, ROOT, component_inputs, load_component

import buildlog
from buildlog.outputs import KEYS, dotenv_name

ACTION_REF = "buildx-log/buildx-log"  # where the action is published: `uses: buildx-log/buildx-log@vX.Y.Z`
COMPONENT = "buildx-log/buildx-log/buildlog"  # the component's path after the instance's host
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def yaml_blocks(path: Path) -> list[Any]:
    """Each ```yaml block of a markdown file, parsed. A block that is a list of steps is indented under `steps:`
    in the docs; it parses as it is."""
    blocks = re.findall(r"```yaml\n(.*?)```", path.read_text(), flags=re.S)
    return [yaml.safe_load(block) for block in blocks]


def walk(node: Any) -> list[dict[str, Any]]:
    """Every mapping in a parsed YAML document."""
    found = []
    if isinstance(node, dict):
        found.append(node)
        for v in node.values():
            found += walk(v)
    elif isinstance(node, list):
        for v in node:
            found += walk(v)
    return found


def action_steps() -> list[tuple[Path, dict[str, Any], Any]]:
    """(file, the step that uses the action, its whole document) for every use in the docs."""
    out = []
    for path in DOCS:
        for doc in yaml_blocks(path):
            out += [(path, m, doc) for m in walk(doc) if str(m.get("uses", "")).startswith(ACTION_REF + "@")]
    return out


def component_includes() -> list[tuple[Path, dict[str, Any], Any]]:
    out = []
    for path in DOCS:
        for doc in yaml_blocks(path):
            for m in walk(doc):
                if "component" in m and COMPONENT in str(m["component"]):
                    out.append((path, m, doc))
    return out


def test_the_docs_show_the_action_and_the_component() -> None:
    uses = {p.name for p, _, _ in action_steps()}
    includes = {p.name for p, _, _ in component_includes()}
    assert {"README.md", "github-action.md"} <= uses
    assert {"README.md", "gitlab.md"} <= includes
    # the three workflows docs/github-action.md promises
    text = (ROOT / "docs" / "github-action.md").read_text()
    assert "mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true" in text
    assert "docker/build-push-action@" in text
    assert "hit-ratio" in text


def test_readme_shows_both_in_its_first_screen() -> None:
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:40])
    assert f"uses: {ACTION_REF}@" in first_screen
    assert f"/{COMPONENT}@" in first_screen


@pytest.mark.parametrize(("path", "step", "doc"), action_steps(),
                         ids=lambda v: v.name if isinstance(v, Path) else "")
def test_action_uses_match_action_yml(path: Path, step: dict[str, Any], doc: Any) -> None:
    action = yaml.safe_load(ACTION_YML.read_text())
    assert step["uses"] == f"{ACTION_REF}@v{buildlog.__version__}", "examples name the current release"
    given = set(step.get("with", {}))
    assert given <= set(action["inputs"]), f"{path.name}: unknown inputs {given - set(action['inputs'])}"
    assert len(given & {"run", "log"}) == 1, "exactly one of run and log"
    # every output read from this step exists
    step_id = step.get("id")
    if step_id is None:
        return
    text = yaml.safe_dump(doc, width=1000)
    read = set(re.findall(rf"steps\.{re.escape(step_id)}\.outputs\.([\w-]+)", text))
    assert read <= set(action["outputs"]), f"{path.name}: unknown outputs {read - set(action['outputs'])}"


@pytest.mark.parametrize(("path", "include", "doc"), component_includes(),
                         ids=lambda v: v.name if isinstance(v, Path) else "")
def test_component_includes_match_the_spec(path: Path, include: dict[str, Any], doc: Any) -> None:
    spec, _config = load_component()
    assert include["component"].endswith(f"/{COMPONENT}@{buildlog.__version__}")
    component_inputs(spec, include.get("inputs", {}))  # unknown, mistyped or missing inputs fail here
    # jobs that read the report read names it has
    text = yaml.safe_dump(doc, width=1000)
    names = {dotenv_name(k) for k in KEYS}
    read = set(re.findall(r"\$\{?(BUILDLOG_[A-Z_]+)", text))
    assert read <= names, f"{path.name}: {read - names} are not in the dotenv report"


def _table(path: Path, heading: str) -> dict[str, str]:
    """`input -> default` from the first column pair of the markdown table under HEADING."""
    section = path.read_text().split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {re.sub(r"`", "", cells[1].strip()): cells[2].strip()
            for cells in (row.split("|") for row in rows)}


def test_action_inputs_table() -> None:
    action = yaml.safe_load(ACTION_YML.read_text())
    table = _table(ROOT / "docs" / "github-action.md", "Inputs")
    assert list(table) == list(action["inputs"])
    for name, default in table.items():
        real = action["inputs"][name].get("default", "")
        if real:
            assert default == f"`{real}`", name


def test_component_inputs_table() -> None:
    spec, _ = load_component()
    inputs = spec["spec"]["inputs"]
    table = _table(ROOT / "docs" / "gitlab.md", "Inputs")
    assert list(table) == list(inputs)
    for name, default in table.items():
        decl = inputs[name]
        if "default" not in decl:
            assert default == "(required)", name
        elif decl["default"] not in ("", None):
            real = decl["default"]
            shown = f"[{', '.join(real)}]" if isinstance(real, list) else str(real).lower() if isinstance(
                real, bool) else str(real)
            assert default == f"`{shown}`", name


def test_component_default_version_is_this_release() -> None:
    spec, _ = load_component()
    assert spec["spec"]["inputs"]["version"]["default"] == buildlog.__version__
