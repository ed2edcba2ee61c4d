"""Session fixtures for the integration tests: a private dockerd 20.10, a local registry and a busybox base.

Missing packages are a test FAILURE, not a skip: a CI that silently skips these would hide that buildlog was
never checked against real output. Everything started here is stopped at the end of the session, also when
tests fail (the finalizer is registered before anything is started).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from .harness import CAPTURE_ENV, INSTALL_HINT, Daemon, Lab, missing_prerequisites

# What the terminal summary reports; filled in by the fixtures below.
_REPORT: dict[str, object] = {}


@pytest.fixture(scope="session")
def integration_lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    problems = missing_prerequisites()
    if problems:
        pytest.fail(
            "integration tests need Docker 20.10, a registry and a static busybox:\n  - "
            + "\n  - ".join(problems)
            + f"\nTo fix: {INSTALL_HINT}",
            pytrace=False,
        )
    t0 = time.monotonic()
    lab = Lab.create()
    _REPORT.update(root=lab.root, started=t0, lab=lab)

    def stop() -> None:
        try:
            lab.stop()
        finally:
            _REPORT["stopped"] = time.monotonic()

    request.addfinalizer(stop)
    try:
        lab.start()
    except Exception as exc:
        pytest.fail(f"could not start the integration environment in {lab.root}: {exc}", pytrace=False)
    _REPORT["setup_seconds"] = time.monotonic() - t0
    yield lab


@pytest.fixture
def lab(integration_lab: Lab) -> Lab:
    """The session lab, with daemon and registry brought back up if an earlier test left them down."""
    integration_lab.ensure_healthy()
    return integration_lab


@pytest.fixture
def restartable_daemon(lab: Lab) -> Iterator[Daemon]:
    """The session dockerd for a test that kills or restarts it.

    ``daemon.kill()`` SIGKILLs it like a crash; ``daemon.restart_script`` is a standalone script that brings
    it back (what a ``buildlog run --before-retry`` hook would call); ``daemon.env()`` is the client's
    environment.
    After the test the daemon is running again, whatever the test did to it.
    """
    yield lab.daemon
    lab.daemon.ensure_running()


@pytest.fixture(scope="session")
def capture_live() -> bool:
    """BUILDLOG_CAPTURE_LIVE=1 copies each scenario's log into tests/fixtures/live (see its README.md)."""
    return os.environ.get(CAPTURE_ENV, "") not in ("", "0")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    root = _REPORT.get("root")
    if root is None:
        return
    lab = _REPORT.get("lab")
    tr = terminalreporter
    tr.section("buildlog integration (Docker 20.10)")
    tr.write_line(f"logs of this run: {root}/logs  (dockerd log: {root}/daemon/dockerd.log)")
    started = _REPORT.get("started")
    stopped = _REPORT.get("stopped", time.monotonic())
    if isinstance(started, float) and isinstance(stopped, float):
        setup = _REPORT.get("setup_seconds")
        setup_text = f"{setup:.1f}s setup, " if isinstance(setup, float) else ""
        builds = f"{lab.builds} builds in {lab.build_seconds:.1f}s, " if isinstance(lab, Lab) else ""
        tr.write_line(
            f"integration total time: {stopped - started:.1f}s ({setup_text}{builds}incl. teardown)"
        )
