"""Real logs as CI systems store them: each line prefixed, runner lines around the build.

The prefixes are synthetic (built in code around the real logs) in the shapes those CI systems write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fixturelib import SHARED
from invariants import merge_output

from buildlog import event_to_dict, parse_bytes, summarize_bytes

PREFIXES: dict[str, Callable[[int], bytes]] = {
    "jenkins-timestamper": lambda i: b"[2024-03-01T12:00:%02d.123Z] " % (i % 60),
    "jenkins-time-only": lambda i: b"12:00:%02d  " % (i % 60),
    "teamcity": lambda i: b"[12:00:%02d] :\t [Step 1/2] " % (i % 60),
    "cloud-build": lambda i: b'Step #1 - "build": ',
    "gitlab-timestamps": lambda i: b"2024-03-19T16:43:%02d.139432Z 00O " % (i % 60),
    "github": lambda i: b"2024-03-01T12:00:%02d.1234567Z " % (i % 60),
}

LOGS = ["s04-fail-exit1-plain.log", "s02-warm-plain.log", "s08-proxy-503-plain.log",
        "s10-build-check-warnings-plain.log"]


def prefixed(data: bytes, prefix: Callable[[int], bytes]) -> bytes:
    return b"".join(prefix(i) + line for i, line in enumerate(data.splitlines(keepends=True)))


def _essentials(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "ci"} for e in merge_output(events)]


@pytest.mark.parametrize("ci", sorted(PREFIXES))
@pytest.mark.parametrize("log", LOGS)
def test_prefixed_log_reads_like_the_original(ci: str, log: str) -> None:
    data = (SHARED / log).read_bytes()
    copy = prefixed(data, PREFIXES[ci])
    plain = [event_to_dict(e) for e in parse_bytes(data)]
    wrapped = [event_to_dict(e) for e in parse_bytes(copy)]
    assert _essentials(wrapped) == _essentials(plain)
    assert all("ci" in e for e in wrapped)
    assert summarize_bytes(copy).to_json()["outcome"] == summarize_bytes(data).to_json()["outcome"]


@pytest.mark.parametrize(
    "runner_tail",
    [b"Cleaning up project directory and file based variables\nERROR: Job failed: exit code 1\n",
     b"[Pipeline] }\n[Pipeline] // stage\nERROR: script returned exit code 1\n",
     b"##[error]Process completed with exit code 1.\n"],
    ids=["gitlab", "jenkins", "github"],
)
def test_runner_lines_after_the_build_are_not_the_verdict(runner_tail: bytes) -> None:
    ok = summarize_bytes((SHARED / "s02-warm-plain.log").read_bytes() + runner_tail)
    assert ok.outcome == "success"  # the job failed later, for another reason: the build did not
    failed = summarize_bytes((SHARED / "s06-daemon-killed-plain.log").read_bytes() + runner_tail)
    assert failed.failure is not None and failed.failure.failure_class == "builder-connection-lost"
