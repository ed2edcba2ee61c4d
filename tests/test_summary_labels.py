"""The summary agrees with the label of every real log (labels were set from what each scenario did)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixturelib import label_of, shared_logs

from buildlog import summarize_path

LOGS = shared_logs()


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.stem)
def test_summary_matches_label(log: Path) -> None:
    label = label_of(log)
    s = summarize_path(log).to_json()
    assert s["outcome"] == label["outcome"]
    failure_class = s["failure"]["class"] if s["failure"] else "none"
    assert failure_class == label["failure_class"]
    assert s["retryable"] == label["retryable"]
    if label["exit_code_of_failed_step"] is not None:
        assert s["failure"]["exit_code"] == label["exit_code_of_failed_step"]
    assert s["steps"]["cached"] == label["steps_cached"]

    imports = s["cache"]["imports"]
    if label["cache_import"] is None:
        assert imports == []
    else:
        refs = {r.strip() for r in label["cache_import"]["ref"].split(",")}
        assert {i["ref"] for i in imports} == refs
        assert all(i["found"] == label["cache_import"]["found"] for i in imports)

    exports = s["cache"]["exports"]
    if label["cache_export"] is None:
        assert exports == []
    else:
        assert exports, "a cache export was expected"
        assert all(e["completed"] == label["cache_export"]["completed"] for e in exports)

    assert bool(s["image"]["pushed"]) == label["pushed"]


def test_several_builds_last_one_decides() -> None:
    """A CI job that retried: the EOF failure, then the warm success, in one log."""
    data = (Path(LOGS[0].parent) / "s06-daemon-killed-plain.log").read_bytes()
    data += (Path(LOGS[0].parent) / "s02-warm-plain.log").read_bytes()
    from buildlog import summarize_bytes

    s = summarize_bytes(data).to_json()
    assert s["attempts"] == 2
    assert [b["outcome"] for b in s["builds"]] == ["failure", "success"]
    assert s["builds"][0]["failure"]["class"] == "builder-connection-lost"
    assert s["outcome"] == "success" and s["failure"] is None
    assert s["steps"]["cached"] == 12
