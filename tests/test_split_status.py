"""``split_status`` splits a status into id / sizes / time / done exactly as a token-by-token reading from the
right does (``reference_split`` below): on every status of every captured log and on generated strings made of
status-like tokens, including digits other than ASCII ones (``\\d`` matches them in both)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from invariants import fixture_logs

from buildlog.plain import split_status

_SIZE_TOKEN = re.compile(r"\d+(?:\.\d+)?[kKMGTP]?i?B")
_SECONDS_TOKEN = re.compile(r"\d+(?:\.\d+)?s")


def reference_split(text: str) -> tuple[str, str | None, str | None, str | None, bool]:
    """``ID [CUR[ / TOTAL]][ SECSs][ done]``, one space-separated token at a time from the right."""
    done = text.endswith(" done")
    if done:
        text = text[:-5]
    cur = total = secs = None
    head, sep, last = text.rpartition(" ")
    if sep and _SECONDS_TOKEN.fullmatch(last):
        secs = last[:-1]
        text = head
        head, sep, last = text.rpartition(" ")
    if sep and _SIZE_TOKEN.fullmatch(last):
        before, sep2, slash = head.rpartition(" ")
        if slash == "/" and sep2:
            before_cur, sep3, first = before.rpartition(" ")
            if sep3 and _SIZE_TOKEN.fullmatch(first):
                return before_cur, first, last, secs, done
        cur = last
        text = head
    return text, cur, total, secs, done


@pytest.mark.parametrize(("text", "expected"), [
    # s08-proxy-503-plain.log line 45
    ("sha256:3986055171dbe104b3eaeeb061c5aea53bba7205a67de673d8b05228bd3a71ca 202B / 202B 0.0s done",
     ("sha256:3986055171dbe104b3eaeeb061c5aea53bba7205a67de673d8b05228bd3a71ca", "202B", "202B", "0.0", True)),
    # s01-cold-plain.log line 18
    ("transferring context: 1.03kB done", ("transferring context:", "1.03kB", None, None, True)),
    # docker20-cold.log line 78
    ("exporting layers 0.0s done", ("exporting layers", None, None, "0.0", True)),
    # docker20-inline-cache-export.log line 66
    ("writing image sha256:0e8ef438ea022d1e1e825bafc979f463c2fb54a52763155fa6fb9022fdd78374 done",
     ("writing image sha256:0e8ef438ea022d1e1e825bafc979f463c2fb54a52763155fa6fb9022fdd78374", None, None, None,
      True)),
    # s13-concurrent-noisy-plain.log line 23
    ("extracting sha256:f88963c8ef9c4108446ea527038b80ba69300adf92f2c5bcdb8dfc72d05c9b18 done",
     ("extracting sha256:f88963c8ef9c4108446ea527038b80ba69300adf92f2c5bcdb8dfc72d05c9b18", None, None, None, True)),
])
def test_real_statuses(text: str, expected: tuple[str, str | None, str | None, str | None, bool]) -> None:
    assert split_status(text) == expected


def _real_rests() -> list[str]:
    rests: set[str] = set()
    for log in fixture_logs():
        for line in log.read_bytes().decode("utf-8", "replace").split("\n"):
            m = re.match(r"#[0-9]+ (.*)", line, re.DOTALL)
            if m is not None:
                rests.add(m.group(1))
    return sorted(rests)


def test_every_vertex_line_of_the_captured_logs() -> None:
    rests = _real_rests()
    assert len(rests) > 1000
    assert [r for r in rests if split_status(r) != reference_split(r)] == []


_digits = st.text(alphabet="0179٣", min_size=0, max_size=3)
_number = st.builds(lambda whole, frac: whole + frac, _digits,
                    st.sampled_from(["", ".", ".5", ".٣", ".05", "..5"]) | _digits.map(lambda d: "." + d))
_size = st.builds(lambda number, unit, binary, b: number + unit + binary + b, _number,
                  st.sampled_from(["", "k", "K", "M", "G", "T", "P", "m", "x"]), st.sampled_from(["", "i", "ii"]),
                  st.sampled_from(["B", "B", "", "b"]))
_seconds = st.builds(lambda number, s: number + s, _number, st.sampled_from(["s", "s", "", "S"]))
_token = _size | _seconds | st.sampled_from(
    ["/", "done", "", "sha256:ab", "writing", "image", "s", "B", "iB", "\n", "/ ", "dones", "done ", "x/", "1 B"])
_sep = st.sampled_from([" ", " ", " ", "", "  ", "\t", "\n"])


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.tuples(_token, _sep), max_size=8), st.booleans())
def test_status_like_tokens(parts: list[tuple[str, str]], leading_space: bool) -> None:
    text = (" " if leading_space else "") + "".join(token + sep for token, sep in parts)
    assert split_status(text) == reference_split(text)
    assert split_status(text.rstrip()) == reference_split(text.rstrip())


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=" /.019٣kKMGTPiBsdoneх\n", max_size=30))
def test_any_text_of_status_characters(text: str) -> None:
    assert split_status(text) == reference_split(text)


def test_every_short_sequence_of_tokens() -> None:
    tokens = ["1B", "2.5kB", "3s", "0.1s", "/", "done", "x", "", "/1B", "1B/", "4s done"]
    texts = [""]
    frontier = [""]
    for _ in range(5):
        frontier = [text + " " + token for text in frontier for token in tokens]
        texts += frontier
    texts += [text[1:] for text in texts]
    assert [t for t in texts if split_status(t) != reference_split(t)] == []
