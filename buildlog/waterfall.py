"""A build's steps as a text waterfall for the terminal (``buildlog summary --timeline``), drawn with rich.

One row per vertex that ran or was cached, in start order: its number, its name, a bar from its start to its end
on the build's time axis, and its time. The bar column takes what the terminal's width leaves. Cached steps are a
dim diamond, the failed step is red, the critical path bold yellow.
"""

from __future__ import annotations

import io
import os

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .render import _seconds
from .summary import LogSummary
from .timeline import BuildTimeline, LogTimeline, failed_vertex

NAME_WIDTH = 48
_EIGHTHS = " ▏▎▍▌▋▊▉█"  # a bar's ends to an eighth of a cell


def _bar(start: float, end: float, total: float, width: int) -> str:
    """The cells of a bar from ``start`` to ``end`` on an axis of ``total`` seconds, ``width`` cells wide."""
    a = start / total * width
    b = max(end / total * width, a + 1 / 8)  # something that took no measurable time is still drawn
    first, last = int(a), min(int(b), width)
    cells = [" "] * width
    if first >= width:
        first = width - 1
    if last == first:
        cells[first] = _EIGHTHS[max(1, round((b - a) * 8))] if b - a < 1 else "█"
        return "".join(cells)
    for i in range(first, last):
        cells[i] = "█"
    rest = round((b - last) * 8)
    if last < width and rest:
        cells[last] = _EIGHTHS[rest]
    return "".join(cells)


def _build_table(b: BuildTimeline, failed: int | None, width: int) -> Table:
    critical, _how = b.critical_path()
    on_path = set(critical)
    total = max(b.duration, 0.001)
    rows = sorted((v for v in b.vertices if v.spans or v.cached_at is not None),
                  key=lambda v: (v.start or 0.0, v.vertex))
    name_width = max(12, min(NAME_WIDTH, width // 3))
    bar_width = max(10, width - name_width - 4 - 9 - 6)
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False, padding=(0, 1), expand=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("step", no_wrap=True, max_width=name_width, overflow="ellipsis")
    table.add_column(f"0 … {_seconds(total)}", no_wrap=True, width=bar_width)
    table.add_column("time", justify="right", no_wrap=True)
    for v in rows:
        name = " ".join(v.name.split())
        if v.vertex == failed:
            style, mark = "red", "✘ "
        elif not v.spans:
            style, mark = "dim", ""
        elif v.vertex in on_path:
            style, mark = "bold yellow", ""
        else:
            style, mark = "cyan", ""
        if v.spans:
            bar = [" "] * bar_width
            for span in v.spans:
                for i, ch in enumerate(_bar(span.start, span.end, total, bar_width)):
                    if ch != " ":
                        bar[i] = ch
            cells = "".join(bar)
            when = _seconds(v.seconds)
        else:
            at = v.cached_at or 0.0
            pos = min(bar_width - 1, int(at / total * bar_width))
            cells = " " * pos + "◆" + " " * (bar_width - pos - 1)
            when = "cached"
        table.add_row(str(v.vertex), Text(mark + name, style=style), Text(cells, style=style), Text(when, style=style))
    return table


def render_waterfall(summary: LogSummary, timeline: LogTimeline, color: bool = False, width: int | None = None) -> str:
    """The last build's waterfall as text (ANSI colours when ``color``), ``width`` columns (default: the
    terminal's, or $COLUMNS, or 100)."""
    b = timeline.last
    if b is None or not any(v.spans or v.cached_at is not None for v in b.vertices):
        return "timeline: no step in this log\n"
    if width is None:
        try:
            width = os.get_terminal_size().columns
        except OSError:
            width = int(os.environ.get("COLUMNS", "100") or 100)
    width = max(40, width)
    s = next((x for x in summary.builds if x.index == b.index), None)
    failed = failed_vertex(b, s.failure.step if s is not None and s.failure is not None else None)
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=color, no_color=not color, color_system="standard"
                      if color else None, highlight=False, emoji=False, legacy_windows=False)
    timing = {"exact": "exact times (rawjson)", "none": "no times (legacy builder): order only"}.get(
        b.timing, "times reconstructed from " + ", ".join(b.basis))
    console.print(Text(f"timeline  build {b.index}, {_seconds(b.duration)}: {timing}", style="bold"))
    console.print(_build_table(b, failed, width))
    console.print(Text("◆ cached   █ ran   yellow: critical path   red ✘: failed", style="dim"))
    return out.getvalue()
