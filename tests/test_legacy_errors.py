"""The legacy builder's client prints its error bare, between steps, then exits.

Synthetic variants of the real Docker 20.10 legacy log (tests/fixtures/live/docker20-legacy-failure.log): its first
steps, then one error line in the wording of the daemon's error families."""

from __future__ import annotations

import pytest
from fixturelib import FIXTURES

from buildlog import summarize_bytes

HEAD = b"".join((FIXTURES / "live" / "docker20-legacy-failure.log").read_bytes().splitlines(keepends=True)[:3])


@pytest.mark.parametrize(
    ("line", "failure_class"),
    [
        (b"COPY failed: file not found in build context or excluded by .dockerignore: stat config.yml: file does "
         b"not exist", "context"),
        (b"Error response from daemon: dockerfile parse error line 5: unknown instruction: RUNN", "dockerfile"),
        (b"manifest for node:99 not found: manifest unknown: manifest unknown", "not-found"),
        (b'Get "https://registry-1.docker.io/v2/": net/http: request canceled while waiting for connection '
         b"(Client.Timeout exceeded while awaiting headers)", "network"),
        (b"toomanyrequests: You have reached your pull rate limit.", "rate-limited"),
        (b"The command '/bin/sh -c make' returned a non-zero code: 137", "killed"),
        (b"The command '/bin/sh -c make' returned a non-zero code: 2", "build-step"),
    ],
)
def test_bare_error_between_steps(line: bytes, failure_class: str) -> None:
    s = summarize_bytes(HEAD + line + b"\n")
    assert s.outcome == "failure"
    assert s.failure is not None and s.failure.failure_class == failure_class


def test_pull_progress_is_not_an_error() -> None:
    pull = (b"latest: Pulling from library/alpine\n4abcf2066143: Pull complete\nDigest: sha256:" + b"a" * 64
            + b"\nStatus: Downloaded newer image for alpine:latest\n ---> 05455a08881e\n"
            b"Successfully built 05455a08881e\nSuccessfully tagged app:latest\n")
    s = summarize_bytes(HEAD + pull)
    assert s.outcome == "success" and s.failure is None


def test_daemon_error_before_any_step() -> None:
    s = summarize_bytes(b"Sending build context to Docker daemon  2.048kB\r\r\n"
                        b"Error response from daemon: dockerfile parse error line 5: unknown instruction: RUNN\n")
    assert s.outcome == "failure" and s.failure is not None and s.failure.failure_class == "dockerfile"
