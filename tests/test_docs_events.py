"""docs/events.md against buildlog.events: every event type documented, with exactly its fields and their types,
and nothing documented that does not exist. A type added to the code without its section fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import attrs
import pytest

from buildlog import event_to_dict, parse_path
from buildlog.events import EVENT_TYPES, CIPrefix, Event, VertexEvent, VertexName

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "events.md"
COMMON = ("line", "end_line", "raw", "build", "ci")

# "#### `Name` (`Parent`)" for an event type, "#### `Name` (value)" for a value held in a field.
_HEADING = re.compile(r"^#### `(?P<name>\w+)` \((?:`(?P<parent>\w+)`|(?P<value>value))\)$")
_ROW = re.compile(r"^\| `(?P<field>\w+)` \| `(?P<type>(?:[^`])+)` \|")


@attrs.frozen
class Section:
    name: str
    parent: str | None  # None for a value
    text: str
    fields: tuple[tuple[str, str], ...]  # (name, type) rows of its first field table


def _rows(lines: list[str]) -> tuple[tuple[str, str], ...]:
    """The (field, type) rows of the first ``| field | type | meaning |`` table in ``lines``."""
    rows: list[tuple[str, str]] = []
    in_table = False
    for line in lines:
        if line.startswith("| field | type |"):
            in_table = True
            continue
        if in_table:
            if not line.startswith("|"):
                break
            m = _ROW.match(line)
            if m is not None:
                rows.append((m["field"], m["type"].replace("\\|", "|")))
            else:
                assert line.startswith("|---"), f"unreadable row in docs/events.md: {line!r}"
    return tuple(rows)


def _sections(text: str) -> dict[str, Section]:
    lines = text.splitlines()
    found: dict[str, Section] = {}
    starts = [i for i, line in enumerate(lines) if line.startswith("#")]
    for k, i in enumerate(starts):
        m = _HEADING.match(lines[i])
        if lines[i].startswith("#### "):
            assert m is not None, f"docs/events.md: heading not of the form #### `Name` (`Parent`): {lines[i]!r}"
        if m is None:
            continue
        body = lines[i + 1 : starts[k + 1] if k + 1 < len(starts) else len(lines)]
        assert m["name"] not in found, f"{m['name']} documented twice"
        found[m["name"]] = Section(m["name"], m["parent"], "\n".join(body), _rows(body))
    return found


def _table_after(text: str, title: str) -> tuple[tuple[str, str], ...]:
    lines = text.splitlines()
    i = lines.index(title)
    return _rows(lines[i + 1 :])


def _own_fields(cls: type) -> tuple[tuple[str, str], ...]:
    base = cls.__bases__[0]
    inherited = {a.name for a in attrs.fields(base)} if attrs.has(base) else set()
    return tuple((a.name, str(a.type)) for a in attrs.fields(cls) if a.name not in inherited)


DOC_TEXT = DOC.read_text(encoding="utf-8")
SECTIONS = _sections(DOC_TEXT)
EVENT_SECTIONS = {name: s for name, s in SECTIONS.items() if s.parent is not None}


def test_every_event_type_is_documented_and_nothing_else() -> None:
    in_code = {cls.__name__ for cls in EVENT_TYPES}
    missing = sorted(in_code - set(EVENT_SECTIONS))
    unknown = sorted(set(EVENT_SECTIONS) - in_code)
    assert not missing, f"event types without a section in docs/events.md: {missing}"
    assert not unknown, f"docs/events.md documents types that do not exist: {unknown}"


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
def test_section_matches_the_class(cls: type[Event]) -> None:
    section = EVENT_SECTIONS.get(cls.__name__)
    if section is None:
        pytest.fail(f"{cls.__name__} is not documented in docs/events.md")
    assert section.parent == cls.__bases__[0].__name__, f"{cls.__name__}: parent"
    own = _own_fields(cls)
    assert section.fields == own, f"{cls.__name__}: documented fields (name, type) differ from the class"
    if not own:
        assert "No fields of its own." in section.text, f"{cls.__name__}: say that it has no fields of its own"
    assert (cls.__doc__ or "").strip(), f"{cls.__name__} has no docstring"


@pytest.mark.parametrize("cls", [CIPrefix, VertexName], ids=lambda c: c.__name__)
def test_values_are_documented(cls: type) -> None:
    section = SECTIONS.get(cls.__name__)
    assert section is not None and section.parent is None
    assert section.fields == tuple((a.name, str(a.type)) for a in attrs.fields(cls))


def test_common_fields() -> None:
    rows = _table_after(DOC_TEXT, "## Common fields")
    base = {a.name: str(a.type) for a in attrs.fields(Event)}
    assert sorted(rows) == sorted(base.items())
    assert {name for name, _ in rows} == set(COMMON)
    vertex_rows = _rows(DOC_TEXT.split("are subclasses of\n`VertexEvent` and also have:", 1)[1].splitlines())
    assert vertex_rows == _own_fields(VertexEvent)


def test_overview_lists_every_type_with_its_parent() -> None:
    body = DOC_TEXT.split("## Overview", 1)[1].split("\n## ", 1)[0]
    listed = dict(re.findall(r"^\| `(\w+)` \| `(\w+)` \|", body, re.M))
    assert listed == {cls.__name__: cls.__bases__[0].__name__ for cls in EVENT_TYPES}


def test_json_examples_are_what_the_cli_prints() -> None:
    block = DOC_TEXT.split("## `buildlog events`", 1)[1].split("```", 2)[1]
    examples = [json.loads(line) for line in block.splitlines() if line.strip()]
    events = {e.line: e for e in parse_path(ROOT / "tests" / "fixtures" / "shared" / "s01-cold-plain.log")}
    for example in examples:
        assert event_to_dict(events[example["line"]]) == example
        # the key order is part of the documented form
        assert list(event_to_dict(events[example["line"]])) == list(example)
