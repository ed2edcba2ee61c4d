"""The real plain logs in tests/fixtures/shared/ against reviewed expectations in tests/expected/*.events.

Each ``.events`` file was written by reading its log, not by dumping the parser's output, so that a parser change
that misreads a line shows up here. The format (also in tests/expected/README.md):

* ``# ...`` is a comment, a blank line is ignored;
* ``@build N``: the events that follow belong to build N;
* ``LINE Type key=value ...``: one event on line LINE; ``A-B Type ...``: one event spanning lines A to B;
* ``A-B each Type key=value ...``: one event per line from A to B, each with these fields;
* values: ``none``, ``true``, ``false``, numbers, a JSON string ``"..."`` or a bare word;
  ``key^="..."`` checks that the field starts with that text, ``key$="..."`` that it ends with it;
  ``info.kind=step`` looks inside the ``info`` field, ``len(text)=3000`` checks a length.

Only the listed fields are checked (plus type, span and build). Every file must describe every line of its log.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from buildlog import parse_bytes
from buildlog.events import Event, LineFragment, StepOutput, UnrecognizedLine

HERE = Path(__file__).parent
LOGS = HERE / "fixtures" / "shared"
EXPECTED = HERE / "expected"
LOG_NAMES = sorted(p.stem for p in LOGS.glob("*-plain.log"))

_SPAN = re.compile(r"(?P<start>\d+)(?:-(?P<end>\d+))?")
_FIELD = re.compile(r'(?P<key>len\([a-z_.]+\)|[a-z_][a-z_.]*)(?P<op>[$^]?=)(?P<value>"(?:[^"\\]|\\.)*"|\S+)')
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Expected:
    """One expected event."""

    line: int
    end_line: int
    build: int
    type: str
    fields: tuple[tuple[str, str, Any], ...]  # (key, "=", "^=" or "$=", value)
    source: int  # line of the .events file, for messages


def _value(text: str) -> Any:
    if text.startswith('"'):
        return json.loads(text)
    if text == "none":
        return None
    if text in ("true", "false"):
        return text == "true"
    if _NUMBER.fullmatch(text):
        return float(text) if "." in text else int(text)
    return text


def read_expected(path: Path) -> list[Expected]:
    out: list[Expected] = []
    build = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@build "):
            build = int(line.split()[1])
            continue
        span, _, rest = line.partition(" ")
        m = _SPAN.fullmatch(span)
        assert m is not None, f"{path.name}:{number}: bad span {span!r}"
        start = int(m["start"])
        end = int(m["end"] or start)
        each = rest.startswith("each ")
        if each:
            rest = rest[5:]
        type_name, _, rest = rest.partition(" ")
        fields = []
        pos = 0
        rest = rest.strip()
        while pos < len(rest):
            f = _FIELD.match(rest, pos)
            assert f is not None, f"{path.name}:{number}: cannot read fields at {rest[pos:]!r}"
            fields.append((f["key"], f["op"], _value(f["value"])))
            pos = f.end()
            while pos < len(rest) and rest[pos] == " ":
                pos += 1
        spans = [(n, n) for n in range(start, end + 1)] if each else [(start, end)]
        for s, e in spans:
            out.append(Expected(s, e, build, type_name, tuple(fields), number))
    return out


def _get(event: Event, key: str) -> Any:
    if key.startswith("len("):
        return len(_get(event, key[4:-1]))
    value: Any = event
    for part in key.split("."):
        value = getattr(value, part)
    return value


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str) and re.fullmatch(r'[^\s"=]+', value) and _value(value) == value:
        return value
    return json.dumps(value, ensure_ascii=True)


def _render(line: int, end_line: int, build: int, type_name: str, fields: list[str]) -> str:
    span = str(line) if line == end_line else f"{line}-{end_line}"
    return " ".join([span, type_name, f"build={build}", *fields])


def render_expected(e: Expected) -> str:
    return _render(e.line, e.end_line, e.build, e.type, [f"{k}{op}{_show(v)}" for k, op, v in e.fields])


def render_actual(event: Event, like: Expected | None) -> str:
    """The event in the expected format, with the fields the matching expectation lists (or a default set)."""
    fields: list[str] = []
    if like is not None and like.type == event.type:
        for key, op, want in like.fields:
            try:
                got = _get(event, key)
            except AttributeError:
                fields.append(f"{key}=<missing>")
                continue
            if op == "^=" and isinstance(got, str) and isinstance(want, str) and got.startswith(want):
                fields.append(f"{key}^={_show(want)}")
            elif op == "$=" and isinstance(got, str) and isinstance(want, str) and got.endswith(want):
                fields.append(f"{key}$={_show(want)}")
            else:
                fields.append(f"{key}={_show(got)}")
    else:
        import attrs

        for a in attrs.fields(type(event)):
            if a.name in ("line", "end_line", "raw", "build", "ci", "info"):
                continue
            got = getattr(event, a.name)
            if isinstance(got, str) and len(got) > 60:
                fields.append(f"{a.name}^={_show(got[:50])}")
            else:
                fields.append(f"{a.name}={_show(got)}")
    return _render(event.line, event.end_line, event.build, event.type, fields)


def compare(expected: list[Expected], events: list[Event]) -> list[str]:
    """A unified diff between the expectations and the events (empty when they agree)."""
    by_start: dict[tuple[int, str], Expected] = {(e.line, e.type): e for e in expected}
    want = [render_expected(e) for e in expected]
    got = [render_actual(ev, by_start.get((ev.line, ev.type))) for ev in events]
    if want == got:
        return []
    return list(difflib.unified_diff(want, got, "expected", "parser", lineterm="", n=2))


def _events(name: str) -> list[Event]:
    return parse_bytes((LOGS / f"{name}.log").read_bytes())


# ---------------------------------------------------------------------------------------------------------------


def test_every_plain_log_has_expectations() -> None:
    assert len(LOG_NAMES) == 18
    missing = [n for n in LOG_NAMES if not (EXPECTED / f"{n}.events").is_file()]
    assert not missing
    extra = sorted({p.stem for p in EXPECTED.glob("*.events")} - set(LOG_NAMES))
    assert not extra


@pytest.mark.parametrize("name", LOG_NAMES)
def test_expectations_cover_every_line(name: str) -> None:
    """The .events file itself describes each line of the log exactly once, in order."""
    expected = read_expected(EXPECTED / f"{name}.events")
    line_count = (LOGS / f"{name}.log").read_bytes().count(b"\n")
    next_line = 1
    for e in expected:
        if e.type == "BuildStarted" and ("inferred", "=", True) in e.fields:
            continue  # a synthetic boundary takes no line
        assert e.line == next_line, f"{name}.events:{e.source}: expected line {next_line}, found {e.line}"
        assert e.end_line >= e.line
        next_line = e.end_line + 1
    assert next_line == line_count + 1, f"{name}.events stops at line {next_line - 1} of {line_count}"


@pytest.mark.parametrize("name", LOG_NAMES)
def test_events_match_expectations(name: str) -> None:
    expected = read_expected(EXPECTED / f"{name}.events")
    diff = compare(expected, _events(name))
    assert not diff, f"{name}: parser disagrees with tests/expected/{name}.events\n" + "\n".join(diff)


@pytest.mark.parametrize("name", LOG_NAMES)
def test_no_unrecognized_lines(name: str) -> None:
    """These logs hold nothing but buildx output: every line has a meaning."""
    unknown = [(e.line, e.raw) for e in _events(name) if isinstance(e, UnrecognizedLine)]
    assert not unknown


@pytest.mark.parametrize("name", LOG_NAMES)
def test_raw_bytes_round_trip(name: str) -> None:
    data = (LOGS / f"{name}.log").read_bytes()
    events = _events(name)
    assert b"".join(e.raw_bytes() for e in events) == data
    assert all(e.ci is None for e in events)


@pytest.mark.parametrize("name", LOG_NAMES)
def test_any_chunking_gives_the_same_events(name: str) -> None:
    from buildlog import Parser

    data = (LOGS / f"{name}.log").read_bytes()
    whole = _events(name)
    for size in (1, 7, 4096):
        parser = Parser()
        chunked: list[Event] = []
        for i in range(0, len(data), size):
            chunked.extend(parser.feed(data[i : i + size]))
        chunked.extend(parser.close())
        assert chunked == whole, f"chunks of {size} bytes"


def _long_lines(data: bytes) -> Iterator[tuple[int, int]]:
    for number, line in enumerate(data.split(b"\n")[:-1], 1):
        yield number, len(line) + 1


def test_over_long_lines_become_fragments() -> None:
    """s13-concurrent-noisy lines 31-33 are 3009, 10602 and 40020 characters of step output. With a bound below
    that, each gives its first piece as a truncated StepOutput, then LineFragments; every other event is the same
    (the output run of line 30, which takes line 31 when the line fits the bound, aside)."""
    name = "s13-concurrent-noisy-plain"
    data = (LOGS / f"{name}.log").read_bytes()
    bound = 2048
    whole = _events(name)
    pieces = parse_bytes(data, max_line=bound)
    assert b"".join(e.raw_bytes() for e in pieces) == data
    long = {n: length for n, length in _long_lines(data) if length > bound}
    assert sorted(long) == [31, 32, 33]
    def away(events: list[Event]) -> list[Event]:
        # output around the long lines is in runs whose ends depend on the bound: compare the events clear of them
        return [e for e in events if e.end_line < min(long) - 1 or e.line > max(long)]

    assert away(pieces) == away(whole)
    for n, length in long.items():
        on_line = [e for e in pieces if e.line == n]
        first, fragments = on_line[0], on_line[1:]
        assert isinstance(first, StepOutput) and first.truncated and first.vertex == 6
        assert fragments and all(isinstance(f, LineFragment) for f in fragments)
        assert [f.final for f in fragments] == [False] * (len(fragments) - 1) + [True]
        last = fragments[-1]
        assert isinstance(last, LineFragment) and last.total_length == length
