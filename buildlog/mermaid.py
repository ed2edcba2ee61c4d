"""A build's steps as a Mermaid ``gantt`` chart, for Markdown that GitHub and GitLab render (job summaries, MRs).

Cached steps are milestones (diamonds), steps that ran are bars, the critical path is ``crit`` (red), the failed step
is ``active, crit`` and named ``FAILED``. At most ``limit`` steps (the longest) plus the failed one are drawn.

Names come from the log, so nothing in them may reach Mermaid's grammar: ``:`` ends a task's name, ``#...;`` is an
entity, ``%%{...}%%`` anywhere is a directive, a line starting with ``%%`` is a comment and one starting with a
keyword (``section``, ``click``, ``title``...) is that keyword, ``<`` starts HTML, and a backtick fence would end
the Markdown block. ``mermaid_text`` puts a look-alike in place of each such character and a space in place of
control characters, and every task name starts with its vertex number, so no name starts with a keyword or ``%%``
(``%`` and ``;`` inside a name are read as text: tests/mermaid_lexer.py has the lexer's rules).
"""

from __future__ import annotations

from .timeline import BuildTimeline, failed_vertex, pick_steps

DEFAULT_STEPS = 25
NAME_WIDTH = 60

# What Mermaid (or the Markdown around it) would read as syntax, and a harmless look-alike for each.
# (Common fonts draw these; fullwidth forms show as empty boxes in many.)
_LOOKALIKES = str.maketrans({":": "꞉", "#": "♯", "`": "ˋ", "<": "‹", ">": "›", "{": "❴", "}": "❵"})


def mermaid_text(text: str, width: int = NAME_WIDTH) -> str:
    """``text`` made safe for a Mermaid gantt name or section: one line, no syntax characters, at most ``width``."""
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split()).translate(_LOOKALIKES)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text or "-"


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def gantt(build: BuildTimeline, failed_step: str | None = None, title: str | None = None,
          limit: int = DEFAULT_STEPS) -> tuple[str, int]:
    """The chart's source (no Markdown fence) and how many steps it leaves out."""
    failed = failed_vertex(build, failed_step)
    steps, omitted = pick_steps(build, limit, [failed] if failed is not None else [])
    critical, _how = build.critical_path()
    on_path = set(critical)
    total = max(build.duration, 0.001)
    least = total / 150  # a step that took no measurable time still gets a sliver, or it would not be seen
    lines = ["gantt", f"    title {mermaid_text(title or f'Build {build.index}', 100)}", "    dateFormat x",
             # d3 formats the axis in the viewer's time zone; from the epoch, minutes and seconds are right in every
             # zone with a whole-hour offset
             "    axisFormat " + ("%H:%M:%S" if total >= 3600 else "%M:%S" if total >= 20 else "%M:%S.%L"),
             "    todayMarker off"]
    sections: dict[str, list[str]] = {}
    for v in steps:
        info = v.info
        section = info.stage or info.target or ("build" if info.kind == "step" else "BuildKit")
        name = f"{v.vertex} · {mermaid_text(v.name)}"
        start = v.start or 0.0
        if v.vertex == failed:
            tags, name = "active, crit, ", f"{v.vertex} · FAILED {mermaid_text(v.name)}"
        elif not v.spans:
            sections.setdefault(section, []).append(
                f"    {name} (cached) :done, milestone, v{v.vertex}, {_ms(start)}, 0ms")
            continue
        elif v.vertex in on_path:
            tags = "crit, "
        else:
            tags = ""
        if v.status in ("unfinished", "canceled"):
            name += f" ({v.status})"  # still running when the log ended, or stopped
        end = max(v.end or start, start + least)
        sections.setdefault(section, []).append(f"    {name} :{tags}v{v.vertex}, {_ms(start)}, {_ms(end)}")
    for section, tasks in sections.items():
        lines.append(f"    section {mermaid_text(section, 40)}")
        lines += tasks
    return "\n".join(lines) + "\n", omitted


def gantt_markdown(build: BuildTimeline, failed_step: str | None = None, title: str | None = None,
                   limit: int = DEFAULT_STEPS) -> str:
    """The chart in a ```` ```mermaid ```` block, with a line that says how to read it (empty without steps)."""
    if not any(v.spans or v.cached_at is not None for v in build.vertices):
        return ""
    source, omitted = gantt(build, failed_step, title, limit)
    if build.timing == "exact":
        timing = "exact times (rawjson)"
    elif build.timing == "none":
        timing = "order only: the legacy builder prints no times"
    else:
        timing = "times reconstructed from the log (" + ", ".join(build.basis) + ")"
    _path, how = build.critical_path()
    path = "critical path" + (" (from the build graph)" if how == "graph" else " (from timing)")
    more = f"; {omitted} shorter or cached steps not shown" if omitted else ""
    return (f"**Timeline**: {timing}. Red: {path}; diamonds: cached; FAILED: the failed step{more}.\n\n"
            f"```mermaid\n{source}```\n")
