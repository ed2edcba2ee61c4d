"""Summaries for people: a terminal report and a CI job summary in Markdown.

Both redact secrets by default (``redactor``; ``None`` renders the text as the log has it): the summary is
redacted before it is rendered, so a secret that a column width cuts short is still hidden.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .redact import DEFAULT_REDACTOR, Redactor, redact
from .summary import BuildSummary, LogSummary

if TYPE_CHECKING:
    from .timeline import LogTimeline

NAME_WIDTH = 72

_COLORS = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "dim": "2", "bold": "1"}
_OUTCOME_COLOR = {"success": "green", "failure": "red", "canceled": "yellow", "incomplete": "yellow"}
_OUTCOME_MARK = {"success": "✔", "failure": "✘", "canceled": "■", "incomplete": "?"}
_OUTCOME_EMOJI = {"success": "✅", "failure": "❌", "canceled": "⏹️", "incomplete": "⚠️"}


def _short(text: str, width: int = NAME_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _seconds(value: float) -> str:
    if value >= 60:
        return f"{int(value // 60)}m{value % 60:04.1f}s"
    return f"{value:.1f}s"


def _cache_line(b: BuildSummary) -> str:
    s = b.steps
    parts = [b.cache_state]
    if s.user_cacheable:
        ratio = f" ({b.hit_ratio:.0%})" if b.hit_ratio is not None else ""
        parts.append(f"{s.user_cached}/{s.user_cacheable} cacheable steps cached{ratio}")
    for imp in b.imports:
        parts.append(f"import {imp.ref}: {'found' if imp.found else 'not found'}")
    for exp in b.exports:
        state = "exported" if exp.completed else ("failed (ignored)" if exp.ignored else "failed")
        parts.append(f"export to {exp.backend}{' ' + exp.ref if exp.ref else ''}: {state}")
    return " · ".join(parts)


def _steps_line(b: BuildSummary) -> str:
    s = b.steps
    return (f"{s.total} vertices: {s.cached} cached, {s.executed} ran, {s.errored} errored, {s.canceled} canceled"
            f" · user steps {s.user_total} ({s.from_} FROM, {s.miss} missed the cache)")


def render_text(summary: LogSummary, color: bool = False, redactor: Redactor | None = DEFAULT_REDACTOR) -> str:
    """A compact report a person reads in ten seconds: verdict first, then cache, steps, time, pushes, warnings."""
    if redactor is not None:
        summary = redact(summary, redactor)

    def c(text: str, name: str) -> str:
        return f"\x1b[{_COLORS[name]}m{text}\x1b[0m" if color else text

    b = summary.last
    if b is None:
        return c("? no build found in this log", "yellow") + "\n"
    out: list[str] = []
    outcome = b.outcome
    head = f"{_OUTCOME_MARK[outcome]} {outcome.upper()}"
    f = b.failure
    if f is not None:
        verdict = "retryable" if b.retryable else "not retryable"
        head += f"  {f.failure_class} ({verdict})"
    about = "about " if b.duration_estimated else ""  # summed from step times: the log has no clock
    out.append(c(head, _OUTCOME_COLOR[outcome]) + (c(f"  in {about}{_seconds(b.duration_s)}", "dim")
                                                      if b.duration_s is not None else ""))
    if f is not None:
        out.append(f"  {f.reason}")
        if f.step:
            code = f"  exit code {f.exit_code}" if f.exit_code is not None else ""
            out.append(f"  step: {_short(f.step)}{code}")
        if f.text and f.line is not None:
            out.append(c(f"  line {f.line}: {_short(f.text, 110)}", "dim"))
    out.append(f"{c('cache   ', 'bold')}{_cache_line(b)}")
    if b.first_miss is not None:
        out.append(f"        first miss: {_short(b.first_miss.name)}")
    out.append(f"{c('steps   ', 'bold')}{_steps_line(b)}")
    for i, (name, secs) in enumerate(b.slowest):
        label = "slowest " if i == 0 else "        "
        out.append(f"{c(label, 'bold')}{_seconds(secs):>7}  {_short(name)}")
    if b.pushed:
        for i, p in enumerate(b.pushed):
            label = "pushed  " if i == 0 else "        "
            pushed_digest = p.get("digest")
            digest = f" @ {pushed_digest[:19]}…" if pushed_digest else ""
            out.append(f"{c(label, 'bold')}{p['ref']}{digest}")
    elif b.exported:
        out.append(f"{c('image   ', 'bold')}exported (not pushed)")
    if b.warnings:
        out.append(c(f"warnings {len(b.warnings)}", "yellow"))
        for w in b.warnings[:8]:
            rule = f"{w['rule']}: " if w["rule"] else ""
            out.append(f"  - {rule}{_short(w['text'], 100)}")
        if len(b.warnings) > 8:
            out.append(f"  … and {len(b.warnings) - 8} more")
    for hint in b.hints:
        out.append(c(f"hint    {hint}", "yellow"))
    if summary.attempts > 1:
        seen = ", ".join(x.outcome + (f" ({x.failure.failure_class})" if x.failure else "") for x in summary.builds)
        out.append(f"{c('builds  ', 'bold')}{summary.attempts} in this log: {seen}")
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def render_markdown(summary: LogSummary, title: str = "Build", timeline: LogTimeline | None = None,
                    gantt_steps: int = 25, redactor: Redactor | None = DEFAULT_REDACTOR) -> str:
    """For a CI job summary: a verdict line, a small table, a Mermaid gantt of the steps when ``timeline`` is given
    (at most ``gantt_steps`` of them, and the failed one), collapsed details. Secrets are redacted (the summary
    and the timeline) unless ``redactor`` is None."""
    if redactor is not None:
        summary = redact(summary, redactor)
        timeline = redact(timeline, redactor)
    b = summary.last
    if b is None:
        return f"### ⚠️ {title}: no build found in this log\n"
    f = b.failure
    words = {"success": "succeeded", "failure": "failed", "canceled": "was canceled",
             "incomplete": "log ends without a verdict"}[b.outcome]
    head = f"### {_OUTCOME_EMOJI[b.outcome]} {title} {words}"
    if f is not None:
        head += f": `{f.failure_class}` ({'retryable' if b.retryable else 'not retryable'})"
    out = [head, ""]
    if f is not None:
        out += [f"> {_md(f.reason)}", ""]
    rows: list[tuple[str, str]] = []
    if f is not None and f.step:
        code = f" (exit code {f.exit_code})" if f.exit_code is not None else ""
        rows.append(("Failed step", f"`{_md(_short(f.step))}`{code}"))
    if f is not None and f.text:
        rows.append(("Error", f"line {f.line}: `{_md(_short(f.text, 160))}`"))
    rows.append(("Cache", _md(_cache_line(b))))
    if b.first_miss is not None:
        rows.append(("First cache miss", f"`{_md(_short(b.first_miss.name))}`"))
    rows.append(("Steps", _md(_steps_line(b))))
    if b.duration_s is not None:
        rows.append(("Duration", _seconds(b.duration_s) + (" (estimated from step times)"
                                                            if b.duration_estimated else "")))
    if b.pushed:
        rows.append(("Pushed", "<br>".join(f"`{_md(str(p['ref']))}`" for p in b.pushed)))
    elif b.exported:
        rows.append(("Image", "exported (not pushed)"))
    if summary.attempts > 1:
        rows.append(("Builds in log", str(summary.attempts)))
    out += ["| | |", "|---|---|"] + [f"| **{k}** | {v} |" for k, v in rows] + [""]
    timed = next((t for t in timeline.builds if t.index == b.index), None) if timeline is not None else None
    if timed is not None:
        from .mermaid import gantt_markdown

        chart = gantt_markdown(timed, f.step if f is not None else None,
                               f"{title} {b.index} · {b.outcome}" if summary.attempts > 1 else f"{title} · {b.outcome}",
                               gantt_steps)
        if chart:
            out += [chart]
    if b.slowest:
        out += ["<details><summary>Slowest steps</summary>", "", "| seconds | step |", "|---:|---|"]
        out += [f"| {s:.1f} | `{_md(_short(n))}` |" for n, s in b.slowest]
        out += ["", "</details>", ""]
    if b.warnings:
        out += [f"<details><summary>Warnings ({len(b.warnings)})</summary>", ""]
        out += [f"- {'**' + w['rule'] + '**: ' if w['rule'] else ''}{_md(w['text'])}" for w in b.warnings]
        out += ["", "</details>", ""]
    if b.hints:
        out += [f"> **Hint:** {_md(h)}" for h in b.hints] + [""]
    if summary.attempts > 1:
        out += ["<details><summary>Every build in this log</summary>", "", "| # | outcome | class | lines |",
                "|---:|---|---|---|"]
        for x in summary.builds:
            cls = f"`{x.failure.failure_class}`" if x.failure else ""
            out.append(f"| {x.index} | {x.outcome} | {cls} | {x.first_line}–{x.last_line} |")
        out += ["", "</details>", ""]
    return "\n".join(out)
