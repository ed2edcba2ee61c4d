"""Shared test helpers: where the real logs are, and their labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = FIXTURES / "shared"  # byte-for-byte copies of the real logs (buildx v0.36 / BuildKit v0.32) and labels


def shared_logs(pattern: str = "*.log") -> list[Path]:
    return sorted(SHARED.glob(pattern))


def label_of(log: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(log.with_suffix(".json").read_text())
    return data
