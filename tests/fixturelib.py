"""Shared test helpers: where the real logs are, their labels, their lines, and texts several tests quote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = FIXTURES / "shared"  # byte-for-byte copies of the real logs (buildx v0.36 / BuildKit v0.32) and labels
LIVE = FIXTURES / "live"
EXCERPTS = FIXTURES / "excerpts"

# s04-fail-exit1-plain: the failed step (L78 "#15 ...") and its error (L94 "#15 ERROR: ...")
S04_STEP = '[builder 10/10] RUN echo "running unit tests" && sleep 1 && sh tests/run.sh'
S04_ERROR = ('process "/bin/sh -c echo \\"running unit tests\\" && sleep 1 && sh tests/run.sh" did not complete '
             "successfully: exit code: 1")

GH = "ghp_" + "Zx9Qw2" * 6  # a made-up token in the real shape (tests/test_redact.py)
HINT_END = ("; buildlog's output redacts it, the log itself does not: rotate it, and pass secrets with --secret / "
            "RUN --mount=type=secret.")  # docs/security.md, "The hint that says where"


def shared_logs(pattern: str = "*.log") -> list[Path]:
    return sorted(SHARED.glob(pattern))


def label_of(log: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(log.with_suffix(".json").read_text())
    return data


def log_lines(path: Path) -> list[bytes]:
    """The log's lines as the parser numbers them, each with its line feed (split at line feeds only: the legacy
    builder's first line ends in "\\r\\r\\n")."""
    return [line + b"\n" for line in path.read_bytes().split(b"\n")[:-1]]
