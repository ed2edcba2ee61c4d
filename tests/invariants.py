"""What every parse must satisfy, whatever the input: helpers shared by the property and robustness tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import cycle, pairwise
from pathlib import Path
from typing import Any

from buildlog import Parser, event_to_dict
from buildlog.events import Event, LineFragment

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_logs() -> list[Path]:
    """Every captured log the tests keep (all formats, all generations), sorted for stable test ids."""
    return sorted(FIXTURES.rglob("*.log"))


def parse_chunks(chunks: Iterable[bytes], *, max_line: int | None = None) -> list[Event]:
    parser = Parser() if max_line is None else Parser(max_line=max_line)
    out: list[Event] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    out += parser.close()
    return out


def parse_whole(data: bytes, *, max_line: int | None = None) -> list[Event]:
    return parse_chunks([data], max_line=max_line)


def dicts(events: Iterable[Event]) -> list[dict[str, Any]]:
    """The events as comparable values, raw text included."""
    return [event_to_dict(e, with_raw=True) for e in events]


def split_by_sizes(data: bytes, sizes: Sequence[int]) -> list[bytes]:
    """Cut ``data`` into chunks of the given sizes, repeated until the data runs out."""
    out: list[bytes] = []
    pos = 0
    for size in cycle(sizes):
        if pos >= len(data):
            break
        out.append(data[pos : pos + size])
        pos += size
    return out


def split_at(data: bytes, offsets: Iterable[int]) -> list[bytes]:
    """Cut ``data`` at each offset (0 < offset < len(data)); empty chunks are kept out."""
    cuts = sorted({o for o in offsets if 0 < o < len(data)})
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


def tricky_offsets(data: bytes) -> list[int]:
    """Offsets where a cut falls inside a multi-byte UTF-8 character or between ``\\r`` and ``\\n``."""
    out = []
    for i in range(1, len(data)):
        byte = data[i]
        if 0x80 <= byte < 0xC0 and data[i - 1] >= 0x80:  # a continuation byte after a lead or a continuation
            out.append(i)
        elif byte == 0x0A and data[i - 1] == 0x0D:
            out.append(i)
    return out


def input_line_count(data: bytes) -> int:
    """Lines in ``data`` as the parser numbers them: by ``\\n``, a last unterminated line counted too."""
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def check_spans(events: Sequence[Event], data: bytes) -> None:
    """The span invariants of ``events`` parsed from ``data``:

    * events are in input order: ``line`` never goes down, and ``line <= end_line``;
    * the events that carry raw text tile the input: each input line is covered by exactly one of them (the
      later pieces of an over-long line, ``LineFragment``, continue the line of the event before them), and an
      event's raw text holds exactly the line ends of its span;
    * the ``raw_bytes()`` of all events, in order, are the input bytes.
    """
    previous = 0
    covered_to = 0  # the last line covered by an event with raw text
    for i, event in enumerate(events):
        where = f"event {i} ({type(event).__name__}, lines {event.line}-{event.end_line})"
        assert event.line >= previous, f"{where}: out of order after line {previous}"
        assert event.line <= event.end_line, f"{where}: ends before it starts"
        previous = event.line
        if not event.raw:
            continue
        ends = event.raw.count("\n")
        if isinstance(event, LineFragment):
            assert event.line == event.end_line == covered_to, f"{where}: a fragment of another line"
            assert ends == (1 if event.raw.endswith("\n") else 0), f"{where}: a fragment holds a line end"
            continue
        assert event.line == covered_to + 1, f"{where}: expected to start at line {covered_to + 1}"
        span = event.end_line - event.line + (1 if event.raw.endswith("\n") else 0)
        assert ends == span, f"{where}: raw holds {ends} line ends for its span"
        covered_to = event.end_line
    assert covered_to == input_line_count(data), f"lines covered: {covered_to} of {input_line_count(data)}"
    joined = b"".join(e.raw_bytes() for e in events)
    if joined != data:
        at = next((i for i, (a, b) in enumerate(zip(joined, data, strict=False)) if a != b), len(data))
        raise AssertionError(f"raw bytes differ from the input at byte {at} ({len(joined)} / {len(data)})")


def merge_output(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Event dicts with consecutive ``StepOutput`` of one vertex merged into one: output without CI prefix comes in
    runs of lines, prefixed output a line at a time (docs/events.md), and this compares them."""
    out: list[dict[str, Any]] = []
    for e in events:
        last = out[-1] if out else None
        if (e["type"] == "StepOutput" and last is not None and last["type"] == "StepOutput"
                and last["vertex"] == e["vertex"] and last["end_line"] + 1 == e["line"]
                and last.get("truncated") is False and e.get("truncated") is False):
            merged = dict(last)
            merged["end_line"] = e["end_line"]
            merged["text"] = last["text"] + "\n" + e["text"]
            merged["last_elapsed"] = e.get("last_elapsed")
            if "raw" in last:
                merged["raw"] = last["raw"] + e["raw"]
            out[-1] = merged
        else:
            out.append(e)
    return out
