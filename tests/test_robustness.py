"""The parser never fails on what a real pipe can hand it: garbage, logs cut anywhere, invalid UTF-8, NUL bytes,
lines of any length, no trailing newline, nothing at all. The CLI turns unreadable input into exit code 2 and a
message, and anything readable into valid JSON lines."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from invariants import check_spans, dicts, fixture_logs, parse_chunks, parse_whole, split_by_sizes

from buildlog import Event, Parser, parse_bytes, parse_iter
from buildlog.events import BuildStarted, LineFragment, StepOutput

LOGS = fixture_logs()
LOG_IDS = [p.relative_to(p.parents[1]).as_posix() for p in LOGS]


# ---------------------------------------------------------------------------------------------------------------
# Garbage


@pytest.mark.parametrize("seed", range(6))
def test_random_bytes(seed: int) -> None:
    data = random.Random(seed).randbytes(200_000)
    check_spans(parse_whole(data), data)
    check_spans(parse_whole(data, max_line=64), data)


# Bytes that make random text look like plain progress output, to drive the grammar through its states.
GRAMMAR_BYTES = b"#0123456789 \n\n\n\r.:/-[]>|sha256:ERROR DONE CACHED WARN \x1b[0m\x00\xff\xc3\xa9"


@pytest.mark.parametrize("seed", range(6))
def test_random_grammar_soup(seed: int) -> None:
    rng = random.Random(seed)
    data = bytes(rng.choice(GRAMMAR_BYTES) for _ in range(100_000))
    events = parse_whole(data)
    check_spans(events, data)
    assert dicts(parse_chunks(split_by_sizes(data, [1, 3, 17, 4096]))) == dicts(events)


@pytest.mark.parametrize("seed", range(4))
def test_real_lines_shuffled(seed: int) -> None:
    """Lines of every captured log in random order: states the grammar never sees in one real build."""
    rng = random.Random(seed)
    lines = [line for path in LOGS for line in path.read_bytes().splitlines(keepends=True)]
    data = b"".join(rng.sample(lines, min(len(lines), 3000)))
    check_spans(parse_whole(data), data)


# ---------------------------------------------------------------------------------------------------------------
# Logs cut short


@pytest.mark.parametrize("path", LOGS, ids=LOG_IDS)
def test_truncated_log(path: Path) -> None:
    """A log cut at any byte (a killed CI job, a full disk) parses; what its complete lines settle agrees with the
    whole log: the whole log's events that end before the cut's last complete line are the cut's first events.
    (The last complete line may still be joined to an error message above it, so it is left out.)"""
    data = path.read_bytes()
    whole = dicts(parse_whole(data))
    rng = random.Random(path.name)
    offsets = {0, 1, len(data) - 1, *(rng.randrange(len(data)) for _ in range(40))}
    for offset in sorted(offsets):
        cut = data[:offset]
        events = parse_whole(cut)
        check_spans(events, cut)
        complete = cut.count(b"\n")
        settled = [e for e in whole if e["end_line"] < complete]
        assert whole[: len(settled)] == settled
        assert dicts(events)[: len(settled)] == settled, f"cut at byte {offset}"


@pytest.mark.parametrize("path", LOGS, ids=LOG_IDS)
def test_no_trailing_newline(path: Path) -> None:
    """Without the line end after its last line (and any blank lines after it) a log gives the same events;
    only the last line's raw text is shorter."""
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        # a real capture can end without one (docker20-tty-cold.log: the screen after the last frame ends in the
        # cursor's ESC[?25h): compared with the same log and a line end
        data += b"\r\n"
    cut = data.rstrip(b"\r\n")
    lines = cut.count(b"\n") + 1
    events = parse_whole(cut)
    check_spans(events, cut)

    def fields(event: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in event.items() if k != "raw"}

    expected = [fields(e) for e in dicts(parse_whole(data)) if e["line"] <= lines]
    assert [fields(e) for e in dicts(events)] == expected


# ---------------------------------------------------------------------------------------------------------------
# Odd bytes


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe\xfd\n",  # never valid in UTF-8
        b"\xc0\xaf\n",  # an overlong "/"
        b"\xed\xa0\x80\n",  # an encoded surrogate
        b"#1 [internal] load \xe2\x82\n#1 DONE 0.1s\n",  # a character cut short inside a line
        b"#1 0.100 caf\xc3",  # ... and at the very end of the input
        b"\xf0\x9f\x98\x80\xf0\x9f\x98\n",
        b"\x80" * 1000 + b"\n",
    ],
)
def test_invalid_utf8_round_trips(data: bytes) -> None:
    events = parse_whole(data)
    check_spans(events, data)
    assert dicts(parse_chunks([data[i : i + 1] for i in range(len(data))])) == dicts(events)


@pytest.mark.parametrize(
    "data",
    [
        b"\x00",
        b"\x00" * 10_000,
        b"\x00\n\x00\n",
        b"#1 \x00\n#1 0.1 \x00\x00\n#1 DONE 0.1s\x00\n",
        b'#0 building with "\x00" instance using docker driver\n',
        b"ERROR: failed to build: \x00\n\x00\n",
    ],
)
def test_nul_bytes(data: bytes) -> None:
    check_spans(parse_whole(data), data)


@pytest.mark.parametrize("data", [b"\r", b"\r\n", b"\r\r\r", b"\r" * 100_000 + b"\n", b"\r\n\r\n\r"])
def test_lines_of_carriage_returns(data: bytes) -> None:
    events = parse_whole(data)
    check_spans(events, data)
    assert all(e.line == e.end_line for e in events)


def test_empty_input() -> None:
    assert parse_bytes(b"") == []
    assert list(parse_iter([])) == []
    assert list(parse_iter([b"", "", b""])) == []
    parser = Parser()
    assert parser.feed(b"") == []
    assert parser.close() == []


def test_feed_after_close_is_an_error() -> None:
    parser = Parser()
    parser.feed(b"#1 [internal] load build definition from Dockerfile\n")
    parser.close()
    assert parser.close() == []  # closing twice is harmless
    with pytest.raises(ValueError, match="after close"):
        parser.feed(b"more\n")
    with pytest.raises(ValueError, match="after close"):
        parser.feed_text("more\n")


# ---------------------------------------------------------------------------------------------------------------
# Long lines


def _long_line_chunks(total: int, chunk: int) -> Iterator[bytes]:
    """A step output line of ``total`` bytes (terminator included) in ``chunk``-byte pieces, made as it goes:
    "ab", an "é" (two bytes, so chunk boundaries fall inside it) and a "\\r", over and over."""
    head = b"#5 0.100 "
    pattern = b"ab\xc3\xa9\r"
    body = total - len(head) - 1
    tile = pattern * (chunk // len(pattern) + 2)
    yield head
    sent = 0
    while sent < body:
        n = min(chunk, body - sent)
        offset = sent % len(pattern)
        yield tile[offset : offset + n]
        sent += n
    yield b"\n"


def test_long_line_memory_and_fragments() -> None:
    """A 50 MB line fed in 64 KiB chunks with a 64 KiB bound: the first piece is parsed as the step output it
    starts with, the rest comes as ``LineFragment`` events of at most ``max_line`` characters that add up to the
    line, and memory stays bounded by the bound, not by the line."""
    total = 50 * 2**20
    max_line = 2**16
    tail = b"#5 DONE 0.1s\n"
    parser = Parser(max_line=max_line)
    digest_in, digest_out = hashlib.sha256(), hashlib.sha256()
    seen: list[tuple[str, int]] = []
    first: StepOutput | None = None
    final: LineFragment | None = None
    fragment_bytes = 0

    def take(events: list[Event]) -> None:
        nonlocal first, final, fragment_bytes
        for event in events:
            assert isinstance(event, (BuildStarted, StepOutput, LineFragment)) or event.line == 2
            raw = event.raw
            digest_out.update(raw.encode("utf-8", "surrogateescape"))
            if isinstance(event, StepOutput) and event.line == 1:
                first = event
            elif isinstance(event, LineFragment):
                assert len(raw) <= max_line + (1 if event.final else 0)
                assert event.length == len(raw.encode("utf-8", "surrogateescape"))
                assert event.line == event.end_line == 1
                assert final is None, "nothing after the final fragment"
                assert (event.total_length is not None) == event.final
                fragment_bytes += event.length
                if event.final:
                    final = event
            if len(seen) < 4 or event.line == 2:
                seen.append((type(event).__name__, event.line))

    tracemalloc.start()
    try:
        for chunk in _long_line_chunks(total, 2**16):
            digest_in.update(chunk)
            take(parser.feed(chunk))
        digest_in.update(tail)
        take(parser.feed(tail))
        take(parser.close())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert first is not None and first.truncated and first.vertex == 5
    assert len(first.raw) == max_line
    assert final is not None and final.total_length == total
    assert len(first.raw_bytes()) + fragment_bytes == total
    assert digest_out.hexdigest() == digest_in.hexdigest()
    assert seen[-1] == ("VertexDone", 2)
    print(f"peak traced memory {peak / 2**20:.1f} MiB")
    assert peak < 20 * 2**20, f"peak {peak / 2**20:.1f} MiB for a {total / 2**20:.0f} MiB line"


def test_long_line_in_one_chunk() -> None:
    """A long line handed over in one piece is cut the same way as when it trickles in."""
    data = b"".join(_long_line_chunks(1_000_000, 4096)) + b"#5 DONE 0.1s\n"
    whole = parse_whole(data, max_line=1000)
    check_spans(whole, data)
    assert dicts(parse_chunks(split_by_sizes(data, [1, 999, 1001, 4096]), max_line=1000)) == dicts(whole)
    fragments = [e for e in whole if isinstance(e, LineFragment)]
    characters = len(data.split(b"\n")[0].decode())  # the bound is on characters, the terminator aside
    assert len(fragments) == (characters - 1) // 1000
    assert fragments[-1].total_length == 1_000_000


def test_max_line_below_minimum() -> None:
    with pytest.raises(ValueError, match="max_line"):
        Parser(max_line=4)


# ---------------------------------------------------------------------------------------------------------------
# The command line


def _cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "buildlog", *args], capture_output=True, timeout=120, check=False)


def test_cli_missing_file(tmp_path: Path) -> None:
    result = _cli("events", str(tmp_path / "nope.log"))
    assert result.returncode == 2
    assert b"nope.log" in result.stderr
    assert b"Traceback" not in result.stderr
    assert result.stdout == b""


def test_cli_directory(tmp_path: Path) -> None:
    result = _cli("events", str(tmp_path))
    assert result.returncode == 2
    assert str(tmp_path).encode() in result.stderr
    assert b"Traceback" not in result.stderr


def test_cli_binary_garbage(tmp_path: Path) -> None:
    data = random.Random(7).randbytes(100_000)
    path = tmp_path / "garbage.bin"
    path.write_bytes(data)
    result = _cli("events", "--raw", str(path))
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    objects = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert objects
    assert b"".join(o.get("raw", "").encode("utf-8", "surrogateescape") for o in objects) == data
