"""Properties of the streaming parser, checked on every captured log and on generated input.

* Chunking does not matter: feeding a log in pieces of any size (1 byte, a cut inside a multi-byte character
  or between ``\\r`` and ``\\n``, ...) gives exactly the events of feeding it whole, raw text included.
* Spans tile the input: events in order, every line covered once by an event carrying raw text, and the raw
  bytes of all events concatenated are the input (see ``invariants.check_spans``).
* The line framer cuts lines, and over-long lines into pieces, exactly as a plain reference model does.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from invariants import (
    check_spans,
    dicts,
    fixture_logs,
    parse_chunks,
    parse_whole,
    split_at,
    split_by_sizes,
    tricky_offsets,
)

from buildlog import parse_async, parse_file, parse_iter
from buildlog.framing import LineFramer, RawLine

LOGS = fixture_logs()
LOG_IDS = [p.relative_to(p.parents[1]).as_posix() for p in LOGS]
_DATA: dict[Path, bytes] = {}
_EXPECTED: dict[Path, list[dict[str, object]]] = {}


def data_of(path: Path) -> bytes:
    if path not in _DATA:
        _DATA[path] = path.read_bytes()
    return _DATA[path]


def expected_of(path: Path) -> list[dict[str, object]]:
    """The events of the log fed whole, computed once per log."""
    if path not in _EXPECTED:
        _EXPECTED[path] = dicts(parse_whole(data_of(path)))
    return _EXPECTED[path]


PROPERTY = settings(deadline=None, max_examples=12, suppress_health_check=[HealthCheck.too_slow])
RANDOM_INPUT = settings(
    deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

# Chunk sizes: mostly tiny (cuts everywhere), sometimes the size a pipe or a file read gives.
chunk_sizes = st.lists(
    st.one_of(st.integers(1, 8), st.integers(9, 300), st.sampled_from([4096, 65536])), min_size=1, max_size=40
)


def test_fixture_logs_are_there() -> None:
    names = {p.name for p in LOGS}
    assert len(LOGS) >= 23
    assert {"s01-cold-plain.log", "s01-cold-rawjson.log", "s01-cold-tty.log"} <= names


# ------------------------------------------------------------------------------------------------------------
# Real logs


@pytest.mark.parametrize("path", LOGS, ids=LOG_IDS)
def test_real_log_spans(path: Path) -> None:
    data = data_of(path)
    events = parse_whole(data)
    assert events, "a captured log gives events"
    check_spans(events, data)


@pytest.mark.parametrize("path", LOGS, ids=LOG_IDS)
def test_real_log_one_byte_chunks(path: Path) -> None:
    data = data_of(path)
    assert dicts(parse_chunks(data[i : i + 1] for i in range(len(data)))) == expected_of(path)


@pytest.mark.parametrize("path", LOGS, ids=LOG_IDS)
def test_real_log_cut_inside_characters_and_crlf(path: Path) -> None:
    """One chunk boundary at every offset inside a multi-byte UTF-8 character and between every ``\\r\\n``."""
    data = data_of(path)
    chunks = split_at(data, tricky_offsets(data))
    assert dicts(parse_chunks(chunks)) == expected_of(path)


def test_tricky_offsets_are_found() -> None:
    """The logs do hold multi-byte characters and CRLF, so the test above cuts through them."""
    found = {p.name: len(tricky_offsets(data_of(p))) for p in LOGS}
    assert sum(found.values()) > 100, found


@PROPERTY
@given(sizes=chunk_sizes)
@pytest.mark.parametrize("path", LOGS, ids=LOG_IDS)
def test_real_log_random_chunks(path: Path, sizes: list[int]) -> None:
    data = data_of(path)
    assert dicts(parse_chunks(split_by_sizes(data, sizes))) == expected_of(path)


@PROPERTY
@given(path=st.sampled_from(LOGS), cuts=st.lists(st.floats(0, 1), max_size=12), near=st.integers(-3, 3))
def test_real_log_cuts_near_tricky_offsets(path: Path, cuts: list[float], near: int) -> None:
    """Boundaries drawn among (and next to) the multi-byte characters and CRLFs of a log."""
    data = data_of(path)
    tricky = tricky_offsets(data) or [len(data) // 2]
    offsets = [tricky[int(c * (len(tricky) - 1))] + near for c in cuts]
    assert dicts(parse_chunks(split_at(data, offsets))) == expected_of(path)


@PROPERTY
@given(path=st.sampled_from(LOGS), size=st.integers(1, 5000))
def test_real_log_through_parse_file(path: Path, size: int) -> None:
    data = data_of(path)
    assert dicts(parse_file(io.BytesIO(data), chunk_size=size)) == expected_of(path)


@PROPERTY
@given(path=st.sampled_from(LOGS), sizes=chunk_sizes)
def test_real_log_as_text_chunks(path: Path, sizes: list[int]) -> None:
    """Text already decoded (``surrogateescape``) and cut anywhere gives the events of the bytes."""
    text = data_of(path).decode("utf-8", "surrogateescape")
    pieces = [text[i : i + n] for i, n in _walk(len(text), sizes)]
    assert dicts(parse_iter(pieces)) == expected_of(path)


@PROPERTY
@given(path=st.sampled_from(LOGS), sizes=chunk_sizes)
def test_real_log_through_parse_async(path: Path, sizes: list[int]) -> None:
    chunks = split_by_sizes(data_of(path), sizes)

    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    async def collect() -> list[dict[str, object]]:
        return dicts([e async for e in parse_async(source())])

    assert asyncio.run(collect()) == expected_of(path)


def _walk(total: int, sizes: list[int]) -> list[tuple[int, int]]:
    out = []
    pos = 0
    while pos < total:
        for n in sizes:
            if pos >= total:
                break
            out.append((pos, n))
            pos += n
    return out


# ------------------------------------------------------------------------------------------------------------
# Generated input


def _real_lines() -> list[bytes]:
    lines: list[bytes] = []
    for path in LOGS:
        lines += data_of(path).splitlines(keepends=True)[::7]
    return sorted(set(lines))


REAL_LINES = _real_lines()
SPECIAL = [
    # line ends, NUL, invalid and multi-byte UTF-8 (whole and cut), ANSI / OSC / APC escapes
    b"\n", b"\r", b"\r\n", b"\r\r\n", b"\x00", b"\x00\n", b"\xff", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98",
    b"\xed\xa0\x80", b"\xc0\xaf", "é".encode(), "€".encode(), "😀".encode(), b"\x1b[31m", b"\x1b[0m",
    b"\x1b[0K", b"\x1b[2K\r", b"\x1b]0;title\x07", b"\x1b_bk;t=1700000000000\x07", b"\x1b",
    # pieces of the grammar, to get the parser into its states
    b"#1 ", b"#12 0.123 ", b"#0 ", b'#0 building with "default" instance using docker driver\n',
    b"#3 DONE 0.1s\n", b"#3 ERROR: boom\n", b"ERROR: failed to build: failed to solve: x\n", b"------\n",
    b" > [2/3] RUN x:\n", b"Dockerfile:3\n", b"--------------------\n", b"   3 | >>> RUN x\n",
    b"2024-03-01T12:00:00.1234567Z ", b"##[group]", b"##[endgroup]\n", b'{"vertexes":[', b"}\n",
    b"section_start:1700000000:build\r\x1b[0K",
]

mixed_input = st.lists(
    st.one_of(st.sampled_from(REAL_LINES), st.sampled_from(SPECIAL), st.binary(max_size=12)), max_size=80
).map(b"".join)
any_input = st.one_of(st.binary(max_size=3000), mixed_input)


@RANDOM_INPUT
@given(data=any_input)
def test_random_input_spans(data: bytes) -> None:
    check_spans(parse_whole(data), data)


@RANDOM_INPUT
@given(data=any_input, sizes=chunk_sizes)
def test_random_input_chunking(data: bytes, sizes: list[int]) -> None:
    whole = parse_whole(data)
    assert dicts(parse_chunks(split_by_sizes(data, sizes))) == dicts(whole)


@RANDOM_INPUT
@given(data=any_input, sizes=chunk_sizes, max_line=st.integers(16, 80))
def test_random_input_small_max_line(data: bytes, sizes: list[int], max_line: int) -> None:
    """With a small bound, long lines come in pieces: spans and chunking hold all the same."""
    whole = parse_whole(data, max_line=max_line)
    check_spans(whole, data)
    assert dicts(parse_chunks(split_by_sizes(data, sizes), max_line=max_line)) == dicts(whole)
    for event in whole:
        longest = max(len(part) for part in event.raw.split("\n"))
        assert longest <= max_line, "no line or piece of one is longer than the bound (its terminator aside)"


# ------------------------------------------------------------------------------------------------------------
# The framer against a reference model


def reference_frames(data: bytes, max_line: int) -> list[tuple[object, ...]]:
    """Lines by ``\\n`` on the whole decoded text; a line over ``max_line`` characters (terminator not
    counted) in pieces of ``max_line``, the last one with the rest, the terminator and the line's length."""
    text = data.decode("utf-8", "surrogateescape")
    bodies = text.split("\n")
    out: list[tuple[object, ...]] = []
    for number, body in enumerate(bodies, 1):
        last = number == len(bodies)
        if last and not body:
            break
        terminator = "" if last else "\n"
        if len(body) <= max_line:
            out.append((number, body + terminator, 0, True, None))
            continue
        starts = range(0, len(body), max_line)
        total = len((body + terminator).encode("utf-8", "surrogateescape"))
        for piece, start in enumerate(starts):
            if piece == len(starts) - 1:
                out.append((number, body[start:] + terminator, piece, True, total))
            else:
                out.append((number, body[start : start + max_line], piece, False, None))
    return out


def frame(chunks: list[bytes], max_line: int) -> list[RawLine]:
    framer = LineFramer(max_line)
    out: list[RawLine] = []
    for chunk in chunks:
        out += framer.feed(chunk)
    return out + framer.close()


long_lines_input = st.lists(
    st.one_of(
        st.sampled_from(SPECIAL),
        st.binary(max_size=40),
        st.builds(lambda c, n: c * n, st.sampled_from([b"a", "é".encode(), b"\xff", "😀".encode(), b"\r"]),
                  st.integers(1, 200)),
    ),
    max_size=30,
).map(b"".join)


@RANDOM_INPUT
@given(data=st.one_of(long_lines_input, any_input), sizes=chunk_sizes, max_line=st.integers(16, 64))
def test_framer_matches_reference(data: bytes, sizes: list[int], max_line: int) -> None:
    expected = reference_frames(data, max_line)
    assert [tuple(r) for r in frame([data], max_line)] == expected
    assert [tuple(r) for r in frame(split_by_sizes(data, sizes), max_line)] == expected


@pytest.mark.parametrize("path", LOGS, ids=LOG_IDS)
def test_framer_on_real_logs(path: Path) -> None:
    data = data_of(path)
    chunks = split_by_sizes(data, [1, 7, 4096])
    assert [tuple(r) for r in frame(chunks, 1 << 20)] == reference_frames(data, 1 << 20)
    assert [tuple(r) for r in frame([data], 100)] == reference_frames(data, 100)


def test_framer_pieces_are_exact() -> None:
    """The edges of the bound: a line of ``max_line`` characters is whole; one more makes two pieces."""
    for length, pieces in [(16, 1), (17, 2), (32, 2), (33, 3)]:
        got = frame([b"x" * length + b"\n"], 16)
        assert len(got) == pieces
        assert "".join(r.text for r in got) == "x" * length + "\n"
        if pieces > 1:
            assert got[-1].total_length == length + 1
            assert [r.piece for r in got] == list(range(pieces))
            assert [r.final for r in got] == [False] * (pieces - 1) + [True]
