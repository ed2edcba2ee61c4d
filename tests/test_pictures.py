"""The pictures of a build other than the trace: the Mermaid gantt of the Markdown summary (and of `run`), the text
waterfall of `summary --timeline`, and the HTML report (its making; tests/test_pictures_browser.py opens it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fixturelib import SHARED, shared_logs
from invariants import fixture_logs
from mermaid_lexer import statements

import buildlog
from buildlog import events as ev
from buildlog.mermaid import gantt, gantt_markdown, mermaid_text
from buildlog.report import expand_paths, facts_of, report_many, report_one
from buildlog.timeline import summarize_with_timeline
from buildlog.waterfall import render_waterfall

LOGS = fixture_logs()
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def timed(path: Path) -> tuple[list[ev.Event], buildlog.LogSummary, object]:
    events = list(buildlog.parse_path(path))
    summary, timeline = summarize_with_timeline(events)
    return events, summary, timeline


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "buildlog", *args], capture_output=True, timeout=120, env=env)


def mermaid_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```mermaid\n(.*?)^```$", markdown, re.MULTILINE | re.DOTALL)


def tasks(source: str) -> list[tuple[str, str]]:
    """(name, data) of each task line."""
    return [(t[0][1].strip(), t[1][1]) for t in statements(source) if t[0][0] == "taskTxt"]


# --------------------------------------------------------------------------------------------- Mermaid


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.stem)
def test_gantt_of_every_real_log_lexes_and_matches_the_events(log: Path) -> None:
    events, summary, timeline = timed(log)
    b = timeline.last  # type: ignore[attr-defined]
    if b is None:  # an excerpt with no vertex line (only the final error, a runner's tail): nothing to draw
        assert not any(isinstance(e, ev.VertexEvent) for e in events)
        return
    failed_step = summary.failure.step if summary.failure else None
    source, omitted = gantt(b, failed_step, title=log.name)
    shown = tasks(source)  # every line one statement of Mermaid's gantt grammar
    numbers = [int(name.split(" · ", 1)[0]) for name, _data in shown]
    assert len(numbers) == len(set(numbers))
    last = max((e.build for e in events if isinstance(e, ev.VertexEvent)), default=0)
    cached = {e.vertex for e in events if isinstance(e, ev.VertexCached) and e.build == last}
    ran = {e.vertex for e in events if isinstance(e, (ev.VertexDone, ev.VertexError)) and e.build == last}
    canceled = {e.vertex for e in events if isinstance(e, ev.VertexCanceled) and e.build == last}
    for (name, data), n in zip(shown, numbers, strict=True):
        tags = [t.strip() for t in data[1:].split(",")]
        if "milestone" in tags:
            assert n in cached and name.endswith("(cached)")
        elif name.endswith("(unfinished)"):
            assert n not in ran and n not in cached  # still running when the log ended
        elif name.endswith("(canceled)"):
            assert n in canceled
        else:
            assert n in ran
        if "FAILED" in name:
            assert tags[:2] == ["active", "crit"]
    if failed_step is not None and any(v.name == failed_step and v.status == "errored" for v in b.vertices):
        assert sum("FAILED" in name for name, _ in shown) == 1
    assert len(shown) + omitted == sum(1 for v in b.vertices if v.spans or v.cached_at is not None)


def test_gantt_keeps_the_longest_steps_and_the_failed_one() -> None:
    log = SHARED / "s13-concurrent-noisy-plain.log"
    events, summary, timeline = timed(log)
    b = timeline.last  # type: ignore[attr-defined]
    source, omitted = gantt(b, None, limit=3)
    shown = {int(name.split(" · ")[0]) for name, _ in tasks(source)}
    done = sorted(((e.seconds, e.vertex) for e in events if isinstance(e, ev.VertexDone)), reverse=True)
    assert shown == {v for _s, v in done[:3]}  # the three DONE lines with the most seconds
    assert omitted > 0

    log = SHARED / "s04-fail-exit1-plain.log"
    events, summary, timeline = timed(log)
    source, _omitted = gantt(timeline.last, summary.failure.step, limit=2)  # type: ignore[attr-defined,union-attr]
    names = [name for name, _ in tasks(source)]
    assert len(names) == 3 and sum("FAILED" in n for n in names) == 1


HOSTILE = [
    "[build 2/9] RUN echo a: b # c ; d %% e",
    "section pwned",
    "click v1 call alert(1)",
    "title Owned",
    "2024-01-01 starts like a date",
    "%%{init: {'theme': 'dark'}}%%",
    "accTitle: x",
    "```\n# a heading",
    "<script>alert(1)</script> & \"quotes\" 'single' `tick`",
    "tab\there\x1b[31m and a bell\x07",
    "dateFormat YYYY",
    "a" * 300,
]


def hostile_events() -> list[ev.Event]:
    out: list[ev.Event] = [ev.BuildStarted(line=1, end_line=1, raw="", build=1, inferred=True)]
    line = 2
    for i, name in enumerate(HOSTILE, start=1):
        info = ev.VertexName(kind="step", stage=f"stage:{i % 3} #x", instruction="RUN")
        out.append(ev.VertexHeader(line=line, end_line=line, raw="", build=1, vertex=i, name=name, info=info))
        out.append(ev.VertexDone(line=line + 1, end_line=line + 1, raw="", build=1, vertex=i, seconds=0.5 * i))
        line += 2
    return out


def test_hostile_names_cannot_break_the_chart() -> None:
    _summary, timeline = summarize_with_timeline(hostile_events())
    md = gantt_markdown(timeline.last)
    blocks = mermaid_blocks(md)
    assert len(blocks) == 1  # no name ends the fence early
    shown = tasks(blocks[0])  # no name becomes a section, a click, a title, a directive or a comment
    assert len(shown) == len(HOSTILE)
    assert sorted(int(name.split(" · ")[0]) for name, _ in shown) == list(range(1, len(HOSTILE) + 1))
    for name, _data in shown:
        original = HOSTILE[int(name.split(" · ")[0]) - 1]
        assert not re.search(r"[:#`<>{}\n\t\x1b\x07]", name)
        assert len(name) <= 70
        words = " ".join(original.split())[:20].translate(str.maketrans(":#`<>{}", "꞉♯ˋ‹›❴❵"))
        assert words.split()[0][:5] in name  # still readable
    assert mermaid_text("a:b") == "a꞉b" and mermaid_text("") == "-"


def test_markdown_summary_has_the_gantt(tmp_path: Path) -> None:
    log = SHARED / "s04-fail-exit1-rawjson.log"
    out = cli("summary", "--format", "markdown", str(log))
    assert out.returncode == 0, out.stderr
    md = out.stdout.decode()
    blocks = mermaid_blocks(md)
    assert len(blocks) == 1 and "**Timeline**: exact times (rawjson)" in md
    assert "critical path (from the build graph)" in md
    none = cli("summary", "--format", "markdown", "--gantt-steps", "0", str(log))
    assert none.returncode == 0 and "```mermaid" not in none.stdout.decode()
    plain = cli("summary", "--format", "markdown", str(SHARED / "s04-fail-exit1-plain.log")).stdout.decode()
    assert "times reconstructed from the log (DONE durations" in plain and len(mermaid_blocks(plain)) == 1


def test_run_markdown_summaries_have_the_gantt(tmp_path: Path) -> None:
    replay = Path(__file__).parent / "run_helpers" / "replay.py"
    out, step_summary = tmp_path / "summary.md", tmp_path / "step.md"
    env = dict(os.environ, GITHUB_STEP_SUMMARY=str(step_summary))
    p = cli("run", "--backoff", "0.01", "--summary-file", str(out), "--format", "markdown", "--github-summary", "--",
            sys.executable, str(replay), str(tmp_path / "state"), "s06-daemon-killed-plain.log:1",
            "s01-cold-plain.log:0", env=env)
    assert p.returncode == 0, p.stderr
    for path in (out, step_summary):
        blocks = mermaid_blocks(path.read_text())
        assert len(blocks) == 2  # one per attempt
        for block in blocks:
            assert tasks(block)


# --------------------------------------------------------------------------------------------- waterfall


@pytest.mark.parametrize("width", [60, 100, 180])
@pytest.mark.parametrize("log", ["s13-concurrent-noisy-plain.log", "s04-fail-exit1-rawjson.log",
                                 "s02-warm-plain.log"])
def test_waterfall_fits_the_width(log: str, width: int) -> None:
    events, summary, timeline = timed(SHARED / log)
    text = render_waterfall(summary, timeline, color=False, width=width)  # type: ignore[arg-type]
    lines = text.rstrip("\n").split("\n")
    assert all(len(line) <= width for line in lines), max(len(line) for line in lines)
    assert not ANSI.search(text)
    rows = [line for line in lines if re.match(r"\s*\d+ ", line)]
    last = max(e.build for e in events if isinstance(e, ev.VertexHeader))
    shown = {e.vertex for e in events if e.build == last and isinstance(e, (ev.VertexDone, ev.VertexCached,
                                                                             ev.VertexError))}
    assert {int(r.split()[0]) for r in rows} == shown  # one row per step that ran or was cached
    cached = {e.vertex for e in events if e.build == last and isinstance(e, ev.VertexCached)}
    for r in rows:
        if int(r.split()[0]) in cached and "█" not in r:
            assert "◆" in r and r.rstrip().endswith("cached")
    if summary.failure is not None and summary.failure.step:
        assert sum("✘" in r for r in rows) == 1


def test_summary_timeline_cli() -> None:
    log = str(SHARED / "s04-fail-exit1-plain.log")
    out = cli("summary", "--timeline", log, env=dict(os.environ, COLUMNS="90"))
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert "timeline  build 1" in text and all(len(line) <= 90 for line in text.splitlines() if "█" in line)
    colour = cli("summary", "--timeline", "--color", log)
    assert ANSI.search(colour.stdout.decode())
    bad = cli("summary", "--timeline", "--format", "json", log)
    assert bad.returncode == 2 and b"--timeline is for --format text" in bad.stderr


# --------------------------------------------------------------------------------------------- report


def test_report_of_one_log_is_self_contained() -> None:
    log = SHARED / "s04-fail-exit1-rawjson.log"
    _events, summary, timeline = timed(log)
    page = report_one(str(log), summary, timeline)  # type: ignore[arg-type]
    assert page.count('class="plotly-graph-div"') == 2  # the cache picture and the waterfall
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|@import", page)  # nothing fetched
    assert "Plotly.newPlot" in page and len(page) > 1_000_000  # plotly's own JavaScript is in the file
    assert "build-step" in page and "FAILURE" in page


def test_report_of_many_logs() -> None:
    logs = shared_logs()
    facts = []
    for log in logs:
        _events, summary, timeline = timed(log)
        facts.append(facts_of(str(log), summary, timeline, "prefix"))  # type: ignore[arg-type]
    page = report_many(facts, "prefix")
    assert page.count('class="plotly-graph-div"') == 5  # hit ratio, duration, cold/warm, classes, busters
    assert page.count("<tr><td>s") >= len(logs)  # every log in the table
    assert {f.group for f in facts} == {p.name.split("-")[0] for p in logs}
    assert expand_paths([str(SHARED)]) == [str(p) for p in logs]


def test_report_without_plotly_says_how_to_install(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['plotly'] = None; sys.modules['plotly.graph_objects'] = None\n"
            "from buildlog.cli import main; sys.argv = ['buildlog', 'report', sys.argv[1], '-o', sys.argv[2]]; main()")
    p = subprocess.run([sys.executable, "-c", code, str(SHARED / "s01-cold-plain.log"), str(tmp_path / "r.html")],
                       capture_output=True, timeout=60)
    assert p.returncode == 2
    assert b"pip install 'buildx-log[report]'" in p.stderr and b"Traceback" not in p.stderr
    assert not (tmp_path / "r.html").exists()


def test_import_buildlog_stays_light() -> None:
    code = "import sys, buildlog; print(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'plotly', 'typer'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert out.stdout.strip() == b"[]"
