"""A run's ``StepOutput.text`` is made from its ``raw`` when first read (``events.run_text``), and
``StepOutput.last_lines`` reads only the last lines of ``raw``: both must give what reading each raw line's text
gives (``line_texts`` below, the definition: each line without its ``#N SECS `` prefix and its line end), on every
run of every captured log, as it is, with CRLF line ends and cut anywhere, and on generated runs. An event whose
text was made lazily equals, and hashes as, the same event made with its text given."""

from __future__ import annotations

import re

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from invariants import fixture_logs, parse_whole

from buildlog import events as ev
from buildlog.events import run_text

_PREFIX = re.compile(r"#[0-9]+ \d+\.\d{1,3} ?")


def line_texts(raw: str) -> list[str]:
    """Each line of the run, read one at a time: the prefix off, then the line end ("\\n", "\\r\\n", or at the
    log's cut end a lone "\\r" or nothing)."""
    out = []
    for line in _split_on_newline(raw):
        prefix = _PREFIX.match(line)
        assert prefix is not None, line
        text = line[prefix.end() :]
        if text.endswith("\r\n"):
            text = text[:-2]
        elif text.endswith("\n") or text.endswith("\r"):
            text = text[:-1]
        out.append(text.replace("\r\n", "\n"))
    return out


def _split_on_newline(raw: str) -> list[str]:
    lines = raw.split("\n")
    whole = [line + "\n" for line in lines[:-1]]
    return whole + ([lines[-1]] if lines[-1] else [])


def _fresh(event: ev.StepOutput) -> ev.StepOutput:
    """The same run as the parser leaves it: its text not read yet."""
    return ev.StepOutput(line=event.line, end_line=event.end_line, raw=event.raw, build=event.build, ci=event.ci,
                         vertex=event.vertex, elapsed=event.elapsed, text=None,  # type: ignore[arg-type]
                         truncated=event.truncated, last_elapsed=event.last_elapsed)


def _runs(data: bytes) -> list[ev.StepOutput]:
    return [e for e in parse_whole(data) if type(e) is ev.StepOutput and e.ci is None and e.raw.startswith("#")
            and "\x1b" not in e.raw and (e.end_line > e.line or _PREFIX.match(e.raw) is not None)]


def _variants(data: bytes) -> list[bytes]:
    return [data, data.replace(b"\n", b"\r\n"), data[: len(data) // 2], data[: len(data) // 3 + 7],
            data.rstrip(b"\n"), data.rstrip(b"\n") + b"\r"]


@pytest.mark.parametrize("path", fixture_logs(), ids=lambda p: p.name)
def test_run_text_is_each_lines_text(path) -> None:  # type: ignore[no-untyped-def]
    checked = 0
    for data in _variants(path.read_bytes()):
        for event in _runs(data):
            expected = line_texts(event.raw)
            if len(expected) != event.line_count:
                continue  # a single output line the grammar read itself (its text is the grammar's, not a run's)
            lazy = _fresh(event)
            assert lazy.text == "\n".join(expected) == event.text, event
            for count in (1, 2, 3, 7, 20, 1000):
                assert _fresh(event).last_lines(count) == expected[-count:]
                assert lazy.last_lines(count) == expected[-count:]  # (its text read now)
            checked += 1
    if b"\n#2 0." in path.read_bytes() and b"\x1b" not in path.read_bytes():
        assert checked, "a log with step output gave no run"


def test_lazy_text_equals_given_text() -> None:
    raw = "#5 0.101 one\n#5 0.202 two\r\n#5 0.303\n#5 1.404 four"
    lazy = ev.StepOutput(line=3, end_line=6, raw=raw, build=1, vertex=5, elapsed=0.101,
                         text=None)  # type: ignore[arg-type]
    given_text = attrs.evolve(lazy, text="one\ntwo\n\nfour")
    assert hash(lazy) == hash(given_text)  # hashing reads the text, which fills it
    assert lazy == given_text
    assert lazy.text == "one\ntwo\n\nfour"
    assert lazy.lines == ["one", "two", "", "four"]
    assert lazy.last_lines(2) == ["", "four"]


_LINE_TEXT = st.text(st.sampled_from("ab #1.\r\t é✔"), max_size=12).filter(lambda t: not t.startswith("\r"))


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(_LINE_TEXT, min_size=1, max_size=8), crlf=st.booleans(), cut=st.booleans(),
       count=st.integers(1, 10))
def test_generated_runs(texts: list[str], crlf: bool, cut: bool, count: int) -> None:
    end = "\r\n" if crlf else "\n"
    lines = [f"#7 {i}.{i % 10}00{' ' + t if t else ''}{end}" for i, t in enumerate(texts)]
    if cut:
        lines[-1] = lines[-1].removesuffix(end)
    raw = "".join(lines)
    expected = line_texts(raw)
    assert run_text(raw, len(lines) > 1) == "\n".join(expected)
    event = ev.StepOutput(line=1, end_line=len(lines), raw=raw, build=1, vertex=7, elapsed=0.0,
                          text=None)  # type: ignore[arg-type]
    assert event.last_lines(count) == expected[-count:]
    assert event.text == "\n".join(expected)


def test_a_log_cut_after_an_output_lines_time_keeps_that_empty_line() -> None:
    # a real log cut right after the "#N SECS" of an output line: the run's last line is empty, and still a line
    data = (fixture_logs()[0].parent.parent / "shared" / "s13-log-clipped-plain.log").read_bytes()
    at = data.index(b"\n#6 1.051 checking") + len(b"\n#6 1.051")
    run = [e for e in parse_whole(data[:at]) if type(e) is ev.StepOutput][-1]
    assert run.raw.endswith("\n#6 1.051") and run.line_count > 1
    assert run.lines[-1] == "" and len(run.lines) == run.line_count
    assert run.last_lines(2) == run.lines[-2:]
