"""``event_to_json`` (what ``buildlog events`` writes) against the JSON encoder on ``event_to_dict``, and
``event_to_dict`` against its definition on the attrs fields: every event of every real log, and events whose
fields hold values of any type (None, NaN, lone surrogates, nested values), so that the per-class writers can
never drift from the encoder."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs
import pytest
from fixturelib import SHARED
from hypothesis import given, settings
from hypothesis import strategies as st

from buildlog import event_to_dict, parse_bytes
from buildlog import events as ev
from buildlog.events import EVENT_TYPES, event_to_json

LIVE = Path(__file__).resolve().parent / "fixtures" / "live"
LOGS = sorted(SHARED.glob("*.log")) + sorted(LIVE.glob("*.log"))
_dumps = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


def _jsonable(value: Any) -> Any:
    if attrs.has(type(value)):
        return {k: _jsonable(v) for k, v in attrs.asdict(value, recurse=False).items() if v is not None}
    return value


def reference_dict(event: ev.Event, with_raw: bool) -> dict[str, Any]:
    """The documented shape: type, line, end_line, then the other fields in order, None left out."""
    out: dict[str, Any] = {"type": type(event).__name__, "line": event.line, "end_line": event.end_line}
    for a in attrs.fields(type(event)):
        value = getattr(event, a.name)
        if a.name not in ("line", "end_line", "raw") and value is not None:
            out[a.name] = _jsonable(value)
    if with_raw:
        out["raw"] = event.raw
    return out


def _check(event: ev.Event) -> None:
    for with_raw in (False, True):
        expected = reference_dict(event, with_raw)
        got = event_to_dict(event, with_raw=with_raw)
        assert got == expected
        assert list(got) == list(expected)
        assert event_to_json(event, with_raw=with_raw) == _dumps(expected)


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
def test_every_event_of_a_real_log(path: Path) -> None:
    events = parse_bytes(path.read_bytes())
    assert events
    for event in events:
        _check(event)


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(),
    st.sampled_from(["\udcff", "é\x00\n\"\\", "\u2028"]),
)
VALUES = st.one_of(
    SCALARS, st.tuples(st.text(), st.text()),
    st.builds(ev.CIPrefix, timestamp=st.none() | st.text(), marker=st.none() | st.text()),
    st.builds(ev.VertexName, kind=st.text(), index=st.none() | st.integers()),
)


@settings(max_examples=300, deadline=None)
@given(cls=st.sampled_from(EVENT_TYPES), data=st.data())
def test_events_with_values_of_any_type(cls: type[ev.Event], data: st.DataObject) -> None:
    # line, end_line and raw are written as they are (never a nested value): any JSON scalar or text
    fields = {a.name: data.draw(SCALARS if a.name in ("line", "end_line", "raw") else VALUES, label=a.name)
              for a in attrs.fields(cls)}
    event = cls(**fields)
    _check(event)


def test_non_finite_floats_are_written_as_the_encoder_writes_them() -> None:
    for value in (math.inf, -math.inf, math.nan):
        event = ev.VertexDone(line=1, end_line=1, raw="", vertex=1, seconds=value)
        assert event_to_json(event) == _dumps(event_to_dict(event))
