"""buildlog against what a real Docker 20.10 (embedded BuildKit and legacy builder) prints.

Two tests per scenario:

- ``test_scenario_happened``: the build did what the scenario was designed to do (exit code, the final line,
  the CACHED steps). Independent of buildlog; when this fails the machine or Docker behaved differently and
  the buildlog verdict below would be meaningless.
- ``test_summary``: ``buildlog summary --format json`` on the captured log gives the verdict the scenario
  implies (outcome, failure class, retryable, cached count, cache verdict, imports, pushes).
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from . import scenarios
from .harness import DOCKER, Lab, buildlog_summary
from .scenarios import Run, observed_cached, observed_user_cached, save_live_fixture

pytestmark = pytest.mark.integration

NAMES = scenarios.ORDER


def _where(r: Run) -> str:
    return f"\n(scenario {r.name}: {r.description}; log: {r.build.log_path}; command: {r.build.command})"


@pytest.mark.parametrize("name", NAMES)
def test_scenario_happened(lab: Lab, name: str, capture_live: bool) -> None:
    r = scenarios.run(lab, name)
    e = r.expected
    assert r.build.exit_code == e.client_exit_code, f"client exit code{_where(r)}\n{r.build.text[-3000:]}"
    if e.final_line is not None:
        assert re.search(e.final_line, r.build.last_line()), f"final line {r.build.last_line()!r}{_where(r)}"
    if e.user_cached is not None:
        assert observed_user_cached(r) == e.user_cached, f"CACHED user steps in the log{_where(r)}"
    for pattern in e.log_has:
        assert re.search(pattern, r.build.text, re.MULTILINE), f"log lacks /{pattern}/{_where(r)}"
    if e.pushed_ref is not None:
        assert r.pushed_digest, f"the registry has no manifest for the pushed tag{_where(r)}"
        assert r.pushed_digest in r.build.text, f"the push did not print the registry's digest{_where(r)}"
    if capture_live:
        # Only logs of scenarios that demonstrably did what they say become fixtures.
        save_live_fixture(r, lab)


def _get(data: dict[str, Any], dotted: str) -> Any:
    cur: Any = data
    for key in dotted.split("."):
        if not isinstance(cur, dict) or key not in cur:
            return "<missing>"
        cur = cur[key]
    return cur


@pytest.mark.parametrize("name", NAMES)
def test_summary(lab: Lab, name: str) -> None:
    r = scenarios.run(lab, name)
    e = r.expected
    summary = buildlog_summary(r.build.log_path)

    want: dict[str, Any] = {
        "schema": "buildlog/summary/1",
        "outcome": e.outcome,
        "retryable": e.retryable,
        "steps.cached": observed_cached(r),
    }
    if e.failure_class is None:
        want["failure"] = None
    else:
        want["failure.class"] = e.failure_class
        want["failure.retryable"] = e.retryable
        if e.step_exit_code is not None:
            want["failure.exit_code"] = e.step_exit_code
    if e.cache_state is not None:
        want["cache.state"] = e.cache_state
    got = {key: _get(summary, key) for key in want}
    wrong = [
        f"{key}: buildlog says {got[key]!r}, the scenario implies {want[key]!r}"
        for key in want
        if got[key] != want[key]
    ]
    if wrong:
        pytest.fail("buildlog summary disagrees with the scenario:\n  " + "\n  ".join(wrong) + _where(r))

    if e.cache_import is not None:
        ref, found = e.cache_import
        imports = _get(summary, "cache.imports")
        assert isinstance(imports, list), f"cache.imports: {imports!r}{_where(r)}"
        assert {"ref": ref, "found": found} in [
            {"ref": i.get("ref"), "found": i.get("found")} for i in imports if isinstance(i, dict)
        ], f"cache.imports {imports!r} lacks {ref} found={found}{_where(r)}"

    pushed = _get(summary, "image.pushed")
    if e.pushed_ref is not None:
        assert isinstance(pushed, list), f"image.pushed: {pushed!r}{_where(r)}"
        want_push = {"ref": e.pushed_ref, "digest": r.pushed_digest}
        got_push = [{"ref": p.get("ref"), "digest": p.get("digest")} for p in pushed if isinstance(p, dict)]
        assert want_push in got_push, f"image.pushed {pushed!r} lacks {want_push}{_where(r)}"
    else:
        # No push, or a push that failed: nothing may be reported as pushed.
        assert pushed in ([], None), f"image.pushed should be empty: {pushed!r}{_where(r)}"


def test_restart_script_brings_back_a_killed_daemon(restartable_daemon: Any) -> None:
    """The machinery a `buildlog run --before-retry` test will use: a crashed daemon, then the standalone
    restart script run as a plain subprocess, and the daemon answers again."""
    daemon = restartable_daemon
    daemon.kill()
    assert not daemon.alive()
    proc = subprocess.run(
        [str(daemon.restart_script)], capture_output=True, text=True, timeout=90, check=False
    )
    assert proc.returncode == 0, proc.stderr
    answer = subprocess.run(
        [DOCKER, "version", "--format", "{{.Server.Version}}"],
        env=daemon.env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert answer.returncode == 0 and answer.stdout.startswith("20.10"), answer.stdout + answer.stderr
