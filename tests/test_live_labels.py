"""The summary agrees with the label of every real Docker 20.10 log kept in tests/fixtures/live/ (labels record what
each scenario did; the integration tests make such logs afresh, these keep the checks when no daemon runs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixturelib import FIXTURES, label_of

from buildlog import summarize_path

LIVE = sorted((FIXTURES / "live").glob("docker20-*.log"))


@pytest.mark.parametrize("log", LIVE, ids=lambda p: p.stem)
def test_live_log_matches_label(log: Path) -> None:
    label = label_of(log)
    s = summarize_path(log).to_json()
    assert s["outcome"] == label["outcome"]
    assert (s["failure"]["class"] if s["failure"] else "none") == label["failure_class"]
    assert s["retryable"] == label["retryable"]
    if label.get("exit_code_of_failed_step") is not None:
        assert s["failure"]["exit_code"] == label["exit_code_of_failed_step"]
    assert s["steps"]["cached"] == label["steps_cached"]
    if label.get("cache_state") is not None:
        assert s["cache"]["state"] == label["cache_state"]
    if "pushed" in label:
        assert bool(s["image"]["pushed"]) == bool(label["pushed"])


def test_every_live_log_is_labelled() -> None:
    assert len(LIVE) >= 17
    assert all(log.with_suffix(".json").exists() for log in LIVE)
