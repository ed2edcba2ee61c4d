"""Format detection on every real log, bare and wrapped the way CI systems and web pages wrap it; several builds
of several shapes in one log; malformed rawjson and tty input.

The wrapped copies are made here from the real logs (named synthetic-... where they appear as test ids): GitHub
Actions timestamps on every line, GitLab section markers around the log, ANSI colour around every line, text
copied from a web page (``owner/repo#N`` links, line numbers). They must be detected as the bare log is and give
the same events, but for ``raw`` and ``ci`` (and the line numbers the added marker lines shift)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fixturelib import SHARED, label_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from invariants import check_spans, dicts, merge_output, parse_chunks, parse_whole, split_by_sizes

from buildlog import Parser, parse_bytes
from buildlog import events as ev
from buildlog.detect import detect_format

LIVE = Path(__file__).parent / "fixtures" / "live"
SHARED_LOGS = sorted(SHARED.glob("*.log"))
LIVE_LOGS = sorted(LIVE.glob("docker20-*.log"))


def _expected_format(path: Path) -> str:
    if path.parent == SHARED:
        fmt: str = label_of(path)["format"]
        return fmt
    return "legacy" if "legacy" in path.name else "tty" if "-tty-" in path.name else "plain"


def _lines(data: bytes) -> list[bytes]:
    """Lines as the parser counts them: by "\\n" only (a lone "\\r" stays inside its line)."""
    parts = data.split(b"\n")
    return [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _body_and_end(line: bytes) -> tuple[bytes, bytes]:
    for end in (b"\r\n", b"\n"):
        if line.endswith(end):
            return line[: -len(end)], end
    return line, b""


# Each wrapper: (name, function from the bare log to the wrapped one, lines added before the log).
def github(data: bytes) -> bytes:
    return b"".join(b"2024-03-01T12:00:%02d.1234567Z " % (i % 60) + line for i, line in enumerate(_lines(data)))


def gitlab(data: bytes) -> bytes:
    return (b"section_start:1700000000:build_image\r\x1b[0KBuilding the image\n" + data
            + (b"" if data.endswith(b"\n") else b"\n") + b"section_end:1700000001:build_image\r\x1b[0K\n")


def colour(data: bytes) -> bytes:
    out = []
    for line in _lines(data):
        body, end = _body_and_end(line)
        out.append(b"\x1b[36m" + body + b"\x1b[0m" + end)
    return b"".join(out)


WRAPPERS: list[tuple[str, Callable[[bytes], bytes], int]] = [
    ("synthetic-github-timestamps", github, 0),
    ("synthetic-gitlab-sections", gitlab, 1),
    ("synthetic-ansi-colour", colour, 0),
    ("synthetic-github-and-colour", lambda d: github(colour(d)), 0),
]


def _comparable(events: list[ev.Event], shift: int) -> list[dict[str, Any]]:
    out = []
    for d in dicts(events):
        if d["type"] == "CIMarker":
            continue
        d.pop("raw")
        d.pop("ci", None)
        d["line"] -= shift
        d["end_line"] -= shift
        out.append(d)
    return merge_output(out)  # bare output comes in runs, prefixed output a line at a time


@pytest.mark.parametrize("path", SHARED_LOGS + LIVE_LOGS, ids=lambda p: p.name)
def test_detection_on_every_real_log(path: Path) -> None:
    data = path.read_bytes()
    fmt = _expected_format(path)
    assert detect_format(data) == fmt
    parser = Parser()
    parser.feed(data)
    parser.close()
    assert set(parser.formats.values()) == {fmt}


@pytest.mark.parametrize("wrapper", WRAPPERS, ids=[w[0] for w in WRAPPERS])
@pytest.mark.parametrize("path", SHARED_LOGS + LIVE_LOGS, ids=lambda p: p.name)
def test_wrapped_copies_are_read_as_the_bare_log(path: Path, wrapper: tuple[str, Callable[[bytes], bytes], int],
                                                 ) -> None:
    _, wrap, shift = wrapper
    data = path.read_bytes()
    wrapped = wrap(data)
    assert detect_format(wrapped) == _expected_format(path)
    bare = parse_bytes(data)
    events = parse_bytes(wrapped)
    check_spans(events, wrapped)
    assert _comparable(events, shift) == _comparable(bare, 0)


# ---------------------------------------------------------------------------------------------------------------
# Text copied from a web page


def repo_links(data: bytes) -> bytes:
    """GitHub's rendering: "#20 ..." at the start of a line linked as "octo/app#20 ..."."""
    out = []
    for line in _lines(data):
        if line[:1] == b"#" and line[1:2].isdigit():
            line = b"octo-org/app.api" + line
        out.append(line)
    return b"".join(out)


def line_numbers(sep: bytes, start: int = 1) -> Callable[[bytes], bytes]:
    def wrap(data: bytes) -> bytes:
        return b"".join(b"%d" % (start + i) + sep + line for i, line in enumerate(_lines(data)))

    return wrap


WEB: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("synthetic-web-repo-links", repo_links),
    ("synthetic-web-line-numbers-space", line_numbers(b" ")),
    ("synthetic-web-line-numbers-tab", line_numbers(b"\t", 120)),
    ("synthetic-web-line-numbers-glued", line_numbers(b"")),
    ("synthetic-web-numbers-and-links", lambda d: line_numbers(b" ")(repo_links(d))),
]
WEB_LOGS = [SHARED / f"{n}.log" for n in ("s01-cold-plain", "s04-fail-exit1-plain", "s04-fail-exit1-rawjson",
                                          "s12-bake-two-targets-plain")] + [LIVE / "docker20-legacy-failure.log"]


# Only plain progress has "#N" to turn into links: the rawjson and legacy logs get the other copies only.
WEB_CASES = [pytest.param(path, web, id=f"{path.name}-{web[0]}") for path in WEB_LOGS for web in WEB
             if "links" not in web[0] or path.read_bytes().startswith(b"#")]


@pytest.mark.parametrize(("path", "web"), WEB_CASES)
def test_web_copies(path: Path, web: tuple[str, Callable[[bytes], bytes]]) -> None:
    _, wrap = web
    data = path.read_bytes()
    copied = wrap(data)
    assert detect_format(copied) == _expected_format(path)
    events = parse_bytes(copied)
    check_spans(events, copied)
    assert _comparable(events, 0) == _comparable(parse_bytes(data), 0)


def test_web_copy_numbers_stop_when_the_count_breaks() -> None:
    """synthetic: numbered lines, then unnumbered ones: only the numbered ones lose their number."""
    data = b"1 #1 [internal] load build definition from Dockerfile\n2 #1 DONE 0.0s\n3 \n#2 [internal] load x\n"
    events = parse_bytes(data)
    check_spans(events, data)
    assert [type(e).__name__ for e in events] == ["BuildStarted", "VertexHeader", "VertexDone", "BlankLine",
                                                  "VertexHeader"]


def test_hard_wrapped_copy_does_not_break() -> None:
    """synthetic: a web page wrapped the long lines at 80 columns; what can be read still is."""
    data = (SHARED / "s04-fail-exit1-plain.log").read_bytes().decode()
    wrapped = "".join(line[i:i + 80] + "\n" for line in data.splitlines() for i in range(0, max(len(line), 1), 80))
    events = parse_bytes(wrapped.encode())
    check_spans(events, wrapped.encode())
    assert any(isinstance(e, ev.BuildFailed) for e in events)
    assert sum(isinstance(e, ev.VertexCached) for e in events) == 7


# ---------------------------------------------------------------------------------------------------------------
# Several builds, several shapes, one log


MIXED = ["s01-cold-rawjson", "s04-fail-exit1-tty", "s02-warm-plain", "s04-fail-exit1-rawjson", "s01-cold-tty",
         "s02-warm-rawjson", "s04-fail-exit1-plain"]


def _mixed() -> tuple[bytes, list[bytes]]:
    parts = [(SHARED / f"{n}.log").read_bytes() for n in MIXED]
    parts.insert(3, (LIVE / "docker20-legacy-success.log").read_bytes())
    parts.insert(5, (LIVE / "docker20-legacy-failure.log").read_bytes())
    return b"".join(parts), parts


def test_one_log_many_builds_many_shapes() -> None:
    """synthetic-concatenation: real logs one after the other, as one CI job running several builds."""
    data, parts = _mixed()
    parser = Parser()
    events = parser.feed(data) + parser.close()
    check_spans(events, data)
    expected = [detect_format(p) for p in parts]
    assert parser.formats == dict(enumerate(expected, 1))
    # each build gives the events of its log parsed alone (but for the build number and the line numbers)
    offset = 0
    for index, part in enumerate(parts, 1):
        alone = [d for d in dicts(parse_bytes(part))]
        mine = [d for d in dicts(events) if d["build"] == index]
        for d in mine:
            d["line"] -= offset
            d["end_line"] -= offset
            d["build"] = 1
        assert mine == alone, f"build {index} ({expected[index - 1]})"
        offset += part.count(b"\n")


def test_many_builds_in_chunks() -> None:
    data, _ = _mixed()
    whole = dicts(parse_whole(data))
    for sizes in ([1, 2, 3], [4096], [65536, 17]):
        assert dicts(parse_chunks(split_by_sizes(data, sizes))) == whole


def test_two_rawjson_builds_back_to_back() -> None:
    """synthetic-concatenation: two successful rawjson builds with nothing between them (no final line): the
    second starts at its "[internal] load build definition" vertex."""
    data = (SHARED / "s01-cold-rawjson.log").read_bytes() + (SHARED / "s02-warm-rawjson.log").read_bytes()
    parser = Parser()
    events = parser.feed(data) + parser.close()
    assert parser.formats == {1: "rawjson", 2: "rawjson"}
    first = parse_bytes((SHARED / "s01-cold-rawjson.log").read_bytes())
    assert [d for d in dicts(events) if d["build"] == 1] == dicts(first)


# ---------------------------------------------------------------------------------------------------------------
# Bad input never raises


BAD_JSON_LINES = [
    b'{"vertexes":',  # cut short
    b'{"vertexes": 5}',
    b'{"vertexes":[1, "x", null, {"digest": 5}, {"digest": "sha256:a", "name": 7}]}',
    b'{"vertexes":[{"digest":"sha256:b","name":"[s 1/2] RUN x","started":"yesterday",'
    b'"completed":"2026-01-01T00:00:00Z"}]}',
    b'{"vertexes":[{"digest":"sha256:c","name":"x","started":"2026-01-01T00:00:05Z","completed":"2026-01-01T00:00:01Z",'
    b'"error":5,"cached":"yes","inputs":[1,"sha256:zz"]}]}',
    b'{"statuses":[{"id":1},{"id":"x","vertex":"sha256:nobody","current":"big","completed":3}]}',
    b'{"logs":[{"vertex":"sha256:c","data":"!!!not base64","timestamp":5},{"vertex":"sha256:c","data":"aGk="}]}',
    b'{"logs":[{"vertex":"sha256:d","data":"aGVsbG8gd2l0aG91dCBuZXdsaW5l"}]}',  # "hello without newline"
    b'{"warnings":[{"vertex":"sha256:c","short":"!!"},{"vertex":"sha256:c","short":"UnknownRule: text (line 3)"}]}',
    b'{"warnings":[{"vertex":"sha256:c","short":"VW5rbm93blJ1bGU6IHRleHQgKGxpbmUgMyk="}]}',
    b'{"vertexes":' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # deeper than the JSON decoder goes
    b"[" * 10 + b"]" * 10,
    b'{"logs": []} trailing',
    b"{}",
    b"[]",
    b'"just a string"',
    b"{\xff\xfe}",
]


def test_malformed_rawjson_lines() -> None:
    """synthetic: JSON lines of every wrong shape, inside a real rawjson build."""
    real = _lines((SHARED / "s04-fail-exit1-rawjson.log").read_bytes())
    data = b"".join(real[:20]) + b"\n".join(BAD_JSON_LINES) + b"\n" + b"".join(real[20:])
    events = parse_bytes(data, format="rawjson")
    check_spans(events, data)
    malformed = [e for e in events if isinstance(e, ev.MalformedJson)]
    assert [e.line - 20 for e in malformed] == [1, 11, 13, 17]  # the lines that start with "{" but are no object
    assert all(isinstance(e, ev.UnrecognizedLine) for e in events if e.line - 20 in (12, 15, 16) and e.raw)
    assert dicts(parse_chunks(split_by_sizes(data, [1, 5, 300]), )) == dicts(parse_whole(data))
    assert sum(isinstance(e, ev.BuildFailed) for e in events) == 1


def test_over_long_rawjson_line() -> None:
    """synthetic: a warning carrying a big Dockerfile makes a line longer than the bound."""
    big = json.dumps({"warnings": [{"vertex": "sha256:x", "short": "eA==", "sourceInfo": {"data": "A" * 5000}}]})
    data = (SHARED / "s02-warm-rawjson.log").read_bytes() + big.encode() + b"\n"
    events = parse_bytes(data, max_line=1024)
    check_spans(events, data)
    assert isinstance(next(e for e in events if e.raw and e.line == data.count(b"\n")), ev.MalformedJson)
    assert any(isinstance(e, ev.LineFragment) for e in events)


def test_stray_tty_rows_and_garbage_frames() -> None:
    """synthetic: frame rows without a frame, frames with rows cut anywhere, escape sequences half written."""
    tty = _lines((SHARED / "s01-cold-tty.log").read_bytes())
    rng = random.Random(4)
    pieces = [rng.choice(tty)[: rng.randrange(1, 200)] + b"\n" for _ in range(400)]
    data = b"".join(pieces) + b" => => # orphan\n \x1b[ => ERROR\n[+] Building 9.9s (1/2) FINISHED\n => CACHED\n"
    events = parse_bytes(data)
    check_spans(events, data)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.sampled_from(["sha256:a", "sha256:b", "2026-01-01T00:00:01.5Z", "aGkK", "[s 1/2] RUN x"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["vertexes", "statuses", "logs", "warnings", "digest", "name", "started", "completed",
                         "cached", "error", "inputs", "vertex", "data", "id", "short", "timestamp", "current"]),
        children, max_size=6),
    max_leaves=30,
)


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(objs=st.lists(JSONISH, min_size=1, max_size=12), sizes=st.lists(st.integers(1, 50), min_size=1, max_size=5))
def test_random_json_lines(objs: list[Any], sizes: list[int]) -> None:
    data = b"".join(json.dumps({"vertexes": [], **o} if isinstance(o, dict) else o).encode() + b"\n"
                    for o in objs)
    events = parse_whole(data)
    check_spans(events, data)
    assert dicts(parse_chunks(split_by_sizes(data, sizes))) == dicts(events)


def test_build_start_name_with_a_digest_that_is_no_string() -> None:
    """synthetic: after a finished build, a vertex named as a build's first one whose digest is an object (which
    cannot be looked up): the line is read, nothing raises."""
    line = b'{"vertexes":[{"digest":{},"name":"[internal] load build definition from Dockerfile"}]}\n'
    data = (SHARED / "s02-warm-rawjson.log").read_bytes() + line
    events = parse_bytes(data)
    check_spans(events, data)
    last = [e for e in events if e.line == data.count(b"\n")]
    assert isinstance(last[-1], ev.SolveStatusLine) and last[-1].vertexes == 1
