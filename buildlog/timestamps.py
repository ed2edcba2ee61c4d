"""Timestamps that logs carry: RFC 3339 with nanoseconds (rawjson, GitHub Actions), epoch milliseconds (Buildkite)."""

from __future__ import annotations

from datetime import datetime

import regex

_RFC3339 = regex.compile(
    r"(?P<base>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(?P<frac>\d+))?(?P<tz>Z|[+-]\d\d:\d\d)?"
)


def to_epoch(value: str) -> float | None:
    """Seconds since the epoch, keeping sub-microsecond digits as far as a float allows; None if unreadable."""
    if value.isdigit():
        return int(value) / 1000.0  # Buildkite: epoch milliseconds
    m = _RFC3339.fullmatch(value)
    if m is None:
        return None
    tz = m["tz"] or "Z"
    try:
        base = datetime.fromisoformat(m["base"] + ("+00:00" if tz == "Z" else tz))
    except ValueError:
        return None
    frac = m["frac"] or "0"
    seconds: float = base.timestamp() + int(frac) / 10 ** len(frac)
    return seconds


def seconds_between(start: str, end: str) -> float | None:
    a, b = to_epoch(start), to_epoch(end)
    if a is None or b is None:
        return None
    return round(b - a, 6)
