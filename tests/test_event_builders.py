"""``events.builders``: the parser's fast way to make an event gives the very value the class's constructor gives."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from buildlog import events as ev
from buildlog.events import EVENT_TYPES, builder, builders

CLASSES = (*EVENT_TYPES, ev.Event, ev.VertexEvent, ev.CIPrefix, ev.VertexName)

VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(),
    st.builds(ev.CIPrefix, timestamp=st.none() | st.text(), marker=st.none() | st.text()),
    st.builds(ev.VertexName, kind=st.text(), index=st.none() | st.integers()),
)


@settings(max_examples=400, deadline=None)
@given(cls=st.sampled_from(CLASSES), data=st.data())
def test_a_built_value_is_the_constructed_value(cls: type[Any], data: st.DataObject) -> None:
    fields = {a.name: data.draw(VALUES, label=a.name) for a in attrs.fields(cls)}
    made = cls(**fields)
    built = builder(cls)(*fields.values())
    assert type(built) is cls
    assert built == made and not built != made
    assert hash(built) == hash(made)
    assert repr(built) == repr(made)
    assert attrs.asdict(built, recurse=False) == attrs.asdict(made, recurse=False)
    assert pickle.loads(pickle.dumps(built)) == made
    assert copy.copy(built) == made


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_a_built_value_is_frozen(cls: type[Any]) -> None:
    fields = attrs.fields(cls)
    built = builder(cls)(*(None for _ in fields))
    for a in fields:
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(built, a.name, 1)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            delattr(built, a.name)
    assert all(isinstance(built, base) for base in cls.__mro__)


def test_several_classes_at_once_and_the_kept_builder() -> None:
    done, blank = builders(ev.VertexDone, ev.BlankLine)
    assert done(3, 3, "#5 DONE 0.1s\n", 1, None, 5, 0.1) == ev.VertexDone(
        line=3, end_line=3, raw="#5 DONE 0.1s\n", build=1, vertex=5, seconds=0.1)
    assert blank(4, 4, "\n", 1, None) == ev.BlankLine(line=4, end_line=4, raw="\n", build=1)
    assert builder(ev.VertexDone) is builder(ev.VertexDone)


def test_every_field_is_given() -> None:
    """No default is filled in: a builder is for code that knows every field (StepOutput's ``last_elapsed`` too)."""
    with pytest.raises(TypeError):
        builder(ev.StepOutput)(1, 1, "#5 0.1 x\n", 1, None, 5, 0.1, "x", False)


def test_a_class_with_a_converter_is_refused() -> None:
    @attrs.frozen
    class Converted:
        value: int = attrs.field(converter=int)

    with pytest.raises(TypeError, match="only plain fields"):
        builders(Converted)


def test_stand_ins_make_the_builders_on_their_first_call_and_give_way_to_them() -> None:
    namespace: dict[str, Any] = {}
    rule, location = ev.builders_on_first_use(namespace, rule=ev.ErrorBlockRule, location=ev.SourceLocation)
    namespace.update(rule=rule, location=location)
    made = location(7, 7, "Dockerfile:12\n", 1, None, "Dockerfile", 12)
    assert made == ev.SourceLocation(line=7, end_line=7, raw="Dockerfile:12\n", build=1, ci=None, file="Dockerfile",
                                     source_line=12)
    # the first call bound both names to the builders themselves, the one not called yet too
    assert namespace["location"] is builder(ev.SourceLocation)
    assert namespace["rule"] is builder(ev.ErrorBlockRule)
    # a stand-in kept elsewhere still makes the right value
    assert rule(1, 1, "------\n", 1, None, True) == ev.ErrorBlockRule(line=1, end_line=1, raw="------\n", build=1,
                                                                       ci=None, opens=True)
