"""tty captures of Docker 20.10's client (tests/fixtures/live/docker20-tty-*.log, made with ``script``): read as tty,
with the verdict of their labels.

Their frames are drawn as buildx v0.36 draws them (tests/fixtures/shared/*-tty.log), but for a header without a
builder name, and the error block after the frames repeats the failed step's output as ``#N SECS TEXT`` (the
daemon's vertex number) before a bare final error (no ``ERROR:``, no Dockerfile excerpt)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixturelib import label_of
from invariants import check_spans

from buildlog import Parser, parse_path, summarize_bytes, summarize_path
from buildlog import events as ev

LIVE = Path(__file__).parent / "fixtures" / "live"
TTY_LOGS = sorted(LIVE.glob("docker20-tty-*.log"))


def test_the_captures_are_there() -> None:
    assert [p.stem for p in TTY_LOGS] == ["docker20-tty-cold", "docker20-tty-dockerfile-syntax",
                                          "docker20-tty-fail-exit1", "docker20-tty-warm"]


@pytest.mark.parametrize("log", TTY_LOGS, ids=lambda p: p.stem)
def test_summary_matches_label(log: Path) -> None:
    label = label_of(log)
    assert label["format"] == "tty"
    s = summarize_path(log).to_json()
    assert s["format"] == "tty"
    assert s["attempts"] == 1
    assert s["outcome"] == label["outcome"]
    assert (s["failure"]["class"] if s["failure"] else "none") == label["failure_class"]
    assert s["retryable"] == label["retryable"]
    if label["exit_code_of_failed_step"] is not None:
        assert s["failure"]["exit_code"] == label["exit_code_of_failed_step"]
    assert s["steps"]["cached"] == label["steps_cached"]
    assert s["steps"]["user_cached"] == label["user_steps_cached_by_design"]
    assert s["cache"]["state"] == label["cache_state"]
    assert s["cache"]["imports"] == []
    if s["failure"] is not None:
        assert s["failure"]["text"] == label["final_line"]


@pytest.mark.parametrize("log", TTY_LOGS, ids=lambda p: p.stem)
def test_raw_bytes_of_all_events_are_the_file(log: Path) -> None:
    data = log.read_bytes()
    events = list(parse_path(log))
    assert "".join(e.raw for e in events).encode("utf-8", "surrogateescape") == data
    check_spans(events, data)
    parser = Parser()
    parser.feed(data)
    parser.close()
    assert parser.formats == {1: "tty"}


def _events(name: str) -> list[ev.Event]:
    return list(parse_path(LIVE / f"docker20-tty-{name}.log"))


def test_cold_step_names_and_durations_from_the_last_frame() -> None:
    events = _events("cold")
    names = [e.name for e in events if isinstance(e, ev.VertexHeader)]
    assert len(names) == 15 == len(set(names))
    assert names[:4] == ["[internal] load build definition from Dockerfile", "[internal] load .dockerignore",
                         "[internal] load metadata for docker.io/library/blbase:latest",
                         "[builder 1/7] FROM docker.io/library/blbase:latest"]
    # a name cut at the terminal width stays cut, it is not mistaken for another vertex
    cut = ('[builder 6/7] RUN echo "compiling" && for f in src/*.c; do echo "  CC $f"; sleep 0.5; done '
           '&& echo "  LD orde')
    assert cut in names
    assert names[-1] == "exporting to image"
    s = summarize_path(LIVE / "docker20-tty-cold.log").to_json()
    assert s["duration_s"] == 6.8
    assert [(x["name"][:14], x["seconds"]) for x in s["slowest"]] == [
        ("[builder 4/7] ", 2.6), ("[builder 7/7] ", 2.5), ("[builder 6/7] ", 1.6), ("[stage-1 4/4] ", 0.1)]
    done = [e for e in events if isinstance(e, ev.VertexDone)]
    assert len(done) == 15 and len({e.vertex for e in done}) == 15
    output = [e.text for e in events if isinstance(e, ev.StepOutput)]
    assert output[:4] == ["resolving dependencies", "fetched libfoo-1.2.3", "fetched libbar-0.9.1",
                          "fetched libbaz-4.0.0"]
    assert output.count("ok - retry budget") == 1


def test_warm_every_cacheable_step_cached() -> None:
    events = _events("warm")
    frames = [e for e in events if isinstance(e, ev.TtyFrame)]
    assert [(f.completed, f.total, f.finished) for f in frames] == [(0, 1, False), (15, 15, True)]
    names = {e.vertex: e.name for e in events if isinstance(e, ev.VertexHeader)}
    cached = sorted(names[e.vertex] for e in events if isinstance(e, ev.VertexCached))
    assert len(cached) == 9
    assert all(n.startswith(("[builder ", "[stage-1 ")) and " FROM " not in n for n in cached)


def test_fail_exit1_error_block_lines_are_numbered() -> None:
    """Docker 20.10's tty client prints the failed step's output in the block as ``#8 0.051 TEXT``: that is the
    block's output, not a plain build starting."""
    events = _events("fail-exit1")
    assert {e.build for e in events} == {1}
    assert not any(isinstance(e, ev.BuildStarted) and e.line > 1 for e in events)
    block = [(e.elapsed, e.text) for e in events if isinstance(e, ev.ErrorBlockOutput)]
    assert block == [(0.051, "linting app.conf"), (1.052, "1:port=8080"), (1.052, "2:debug=true"),
                     (1.053, "checking debug flag")]
    rules = [e.opens for e in events if isinstance(e, ev.ErrorBlockRule)]
    assert rules == [True, False]
    failed = [e for e in events if isinstance(e, ev.BuildFailed)]
    assert len(failed) == 1 and failed[0].exit_code == 1 and failed[0].style == "bare"
    names = {e.vertex: e.name for e in events if isinstance(e, ev.VertexHeader)}
    errored = [names[e.vertex] for e in events if isinstance(e, ev.VertexError)]
    canceled = [names[e.vertex] for e in events if isinstance(e, ev.VertexCanceled)]
    assert [n[:16] for n in errored] == ["[lint 4/4] RUN e"]
    assert [n[:18] for n in canceled] == ["[assets 3/3] RUN e"]
    output = [e.text for e in events if isinstance(e, ev.StepOutput)]
    assert output == ["bundling assets", "linting app.conf", "1:port=8080", "2:debug=true", "checking debug flag"]
    s = summarize_path(LIVE / "docker20-tty-fail-exit1.log").to_json()
    assert s["failure"]["step"].startswith("[lint 4/4] RUN ")
    assert s["steps"]["canceled"] == 1 and s["steps"]["errored"] == 1


def test_a_build_after_the_failed_tty_build() -> None:
    """The numbered block lines are claimed only inside the block: a plain build after it is read as before."""
    failed = (LIVE / "docker20-tty-fail-exit1.log").read_bytes()
    plain = (LIVE / "docker20-cold.log").read_bytes()
    data = failed + b"\n" + plain
    s = summarize_bytes(data).to_json()
    assert s["attempts"] == 2
    assert [(b["format"], b["outcome"]) for b in s["builds"]] == [("tty", "failure"), ("plain", "success")]
    assert s["builds"][0]["failure"]["class"] == "build-step"
    alone = summarize_bytes(plain).to_json()
    assert s["steps"] == alone["steps"]


def test_numbered_lines_outside_the_block_stay_plain() -> None:
    """A ``#N SECS TEXT`` line after the block closed (the final error came) is the next plain build's output,
    as it was before the block was known."""
    failed = (LIVE / "docker20-tty-fail-exit1.log").read_bytes()
    p = Parser()
    events = p.feed(failed + b"\n#1 [internal] load build definition from Dockerfile\n#2 0.1 hello\n") + p.close()
    assert p.formats == {1: "tty", 2: "plain"}
    assert [e.text for e in events if isinstance(e, ev.StepOutput) and e.build == 2] == ["hello"]
