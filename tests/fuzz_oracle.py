"""What the fuzz harness (fuzz/) checks for each input, and what the test suite replays on every kept crasher.

A finding is any of:

* an exception from the parser, the summary, a renderer or the redaction;
* events whose spans do not tile the input (``invariants.check_spans``: in order, every line covered once,
  raw bytes concatenating to the input), also with a small ``max_line``;
* a chunking of the input that gives other events than feeding it whole.

Only public properties are checked (spans, raw bytes, events compared as dicts), never how many events a line
gives, so the oracle holds whatever way the parser groups lines into events.
"""

from __future__ import annotations

import json
import random
import zlib

from invariants import check_spans, dicts, parse_chunks, parse_whole, split_at, tricky_offsets

from buildlog.summary import summarize_events

SMALL_MAX_LINE = 64


def chunk_offsets(data: bytes) -> list[int]:
    """Cut points drawn from the input itself (so a crasher replays the same cuts): some random ones, and the
    offsets inside multi-byte characters and between CR and LF."""
    rng = random.Random(zlib.crc32(data))
    n = len(data)
    offsets = [rng.randrange(1, n) for _ in range(min(24, n // 2))] if n > 2 else []
    tricky = tricky_offsets(data)
    offsets += tricky if len(tricky) <= 64 else rng.sample(tricky, 64)
    return offsets


def check_input(data: bytes) -> None:
    """Raise on any finding (AssertionError for a broken invariant, anything else for a crash)."""
    from buildlog.redact import redact_text
    from buildlog.render import render_markdown, render_text

    events = parse_whole(data)
    check_spans(events, data)
    whole = dicts(events)
    chunked = dicts(parse_chunks(split_at(data, chunk_offsets(data))))
    assert chunked == whole, "chunking changed the events"
    check_spans(parse_whole(data, max_line=SMALL_MAX_LINE), data)

    summary = summarize_events(events)
    rendered = [json.dumps(summary.to_json(), ensure_ascii=True), render_text(summary, color=True),
                render_markdown(summary)]
    for text in rendered:
        once = redact_text(text)
        assert redact_text(once) == once, "redaction is not idempotent"
