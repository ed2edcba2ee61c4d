"""``buildlog report``: one self-contained HTML file of pictures, for one build log or many.

* One log: the verdict, the cache picture (what the cache answered, step by step) and the waterfall of the steps.
* Many logs: tables per group (``--by``) and charts: cache hit ratio and duration over time, the duration
  distribution cold against warm, failure classes per group, the steps that most often were the first cache miss.

Charts are drawn by plotly (the optional extra ``buildx-log[report]``), whose JavaScript is written into the file,
so that it opens without a network. Each log is read once, into a ``LogFacts`` (the few facts the charts need): the
many-log part is a small interface over per-log summaries.
"""

from __future__ import annotations

import html
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

import attrs

from .summary import LogSummary
from .timeline import BuildTimeline, LogTimeline, failed_vertex

GROUPINGS = ("dir", "prefix", "format", "none")
TOP_BUSTERS = 15
INSTALL_HINT = "pip install 'buildx-log[report]'"

STATUS_COLOURS = {"ran": "#4c78a8", "cached": "#9aa5b1", "errored": "#d62728", "canceled": "#ff9f1c",
                  "unfinished": "#b07aa1"}
OUTCOME_COLOURS = {"success": "#2ca02c", "failure": "#d62728", "canceled": "#ff9f1c", "incomplete": "#b07aa1"}


class ReportUnavailable(RuntimeError):
    """The plotting library is not installed."""


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go  # type: ignore[import-untyped]
    except ImportError:
        raise ReportUnavailable(f"the HTML report needs plotly: {INSTALL_HINT}") from None
    return go


@attrs.frozen
class LogFacts:
    """What the report keeps of one log (its last build)."""

    path: str
    group: str
    when: datetime  # the build's start when the log tells it, else the file's modification time
    when_from_log: bool
    outcome: str
    failure_class: str | None
    duration_s: float | None
    hit_ratio: float | None
    cache_state: str
    format: str
    first_miss: str | None


def group_of(path: str, by: str, fmt: str) -> str:
    if by == "dir":
        return os.path.basename(os.path.dirname(os.path.abspath(path))) or "/"
    if by == "prefix":
        name = os.path.basename(path)
        return name.split("-", 1)[0] if "-" in name else os.path.splitext(name)[0]
    if by == "format":
        return fmt
    return "all"


def facts_of(path: str, summary: LogSummary, timeline: LogTimeline, by: str) -> LogFacts:
    b = summary.last
    timed = next((t for t in timeline.builds if b is not None and t.index == b.index), None)
    started = _parse_time(timed.started_at) if timed is not None else None
    when = started or datetime.fromtimestamp(os.path.getmtime(path), tz=timezone.utc)
    fmt = b.format if b is not None else "unknown"
    # the summary's own estimate (plain without timestamps) gives way to the timeline's reconstruction
    duration = b.duration_s if b is not None and not b.duration_estimated else None
    if duration is None and timed is not None and timed.timing != "none":
        duration = round(timed.duration, 3)  # reconstructed from the log's DONE times (plain without timestamps)
    return LogFacts(
        path=path, group=group_of(path, by, fmt), when=when, when_from_log=started is not None,
        outcome=summary.outcome, failure_class=summary.failure.failure_class if summary.failure else None,
        duration_s=duration, hit_ratio=b.hit_ratio if b is not None else None,
        cache_state=b.cache_state if b is not None else "none", format=fmt,
        first_miss=_step_key(b.first_miss.name) if b is not None and b.first_miss is not None else None)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    from .timestamps import to_epoch

    epoch = to_epoch(value)
    return datetime.fromtimestamp(epoch, tz=timezone.utc) if epoch is not None else None


def _step_key(name: str) -> str:
    """A step's name without what changes from build to build of the same Dockerfile (its number, spacing)."""
    from .vertex_names import parse_vertex_name

    info = parse_vertex_name(name)
    if info.kind == "step" and info.instruction:
        where = " ".join(x for x in (info.target, info.stage) if x)
        text = f"{info.instruction} {' '.join((info.args or '').split())}"
        return f"[{where}] {text}" if where else text
    return " ".join(name.split())


# ---------------------------------------------------------------------------------------------------------------


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="buildlog {version}"><title>{title}</title>
<style>
body {{ font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1200px;
       padding: 0 16px; color: #1b1f24; }}
h1 {{ font-size: 22px; margin: 0 0 4px; }} h2 {{ font-size: 17px; margin: 28px 0 8px; }}
.verdict {{ padding: 10px 14px; border-radius: 6px; margin: 10px 0; border-left: 6px solid; background: #f6f8fa; }}
.success {{ border-color: #2ca02c; }} .failure {{ border-color: #d62728; }} .canceled, .incomplete {{ border-color:
#ff9f1c; }}
table {{ border-collapse: collapse; margin: 6px 0 14px; }} th, td {{ padding: 4px 10px; border-bottom: 1px solid
#e1e4e8; text-align: left; vertical-align: top; }} th {{ background: #f6f8fa; }} td.num {{ text-align: right; }}
code {{ font: 12px ui-monospace, monospace; background: #f3f4f6; padding: 1px 4px; border-radius: 3px; }}
.muted {{ color: #57606a; }} .chart {{ margin: 8px 0 18px; }}
</style></head><body>
{body}
<p class="muted">Made by buildlog {version} from {n} log{s}. Charts: plotly; this file needs no network.</p>
</body></html>
"""


class _Charts:
    """Turns plotly figures into HTML; the first one carries plotly's JavaScript, inlined."""

    def __init__(self) -> None:
        self.go = _plotly()
        self.count = 0

    def html(self, fig: Any, height: int) -> str:
        fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 30}, template="plotly_white",
                          font={"size": 12})
        div = fig.to_html(full_html=False, include_plotlyjs=self.count == 0, div_id=f"chart-{self.count + 1}",
                          config={"displaylogo": False, "responsive": True})
        self.count += 1
        return f'<div class="chart">{div}</div>'


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _secs(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{int(value // 60)}m{value % 60:04.1f}s" if value >= 60 else f"{value:.1f}s"


def _waterfall(charts: _Charts, b: BuildTimeline, failed_step: str | None) -> str:
    go = charts.go
    failed = failed_vertex(b, failed_step)
    critical, how = b.critical_path()
    on_path = set(critical)
    rows = sorted((v for v in b.vertices if v.spans or v.cached_at is not None),
                  key=lambda v: (v.start or 0.0, v.vertex))
    if not rows:
        return "<p>No step in this log.</p>"
    labels = [f"{v.vertex} · {' '.join(v.name.split())[:70]}" for v in rows]
    fig = go.Figure()
    groups: dict[str, list[tuple[str, float, float, Any]]] = defaultdict(list)
    for label, v in zip(labels, rows, strict=True):
        status = "failed" if v.vertex == failed else v.status
        for span in v.spans:
            key = "critical path" if v.vertex in on_path and status == "ran" else status
            key = "cached (loading)" if key == "cached" else key
            groups[key].append((label, span.start, max(span.seconds, b.duration / 400), v))
    colours = {**STATUS_COLOURS, "failed": "#d62728", "critical path": "#e45756", "cached (loading)": "#9aa5b1"}
    for key, items in groups.items():
        fig.add_trace(go.Bar(
            name=key, orientation="h", y=[i[0] for i in items], x=[i[2] for i in items], base=[i[1] for i in items],
            marker={"color": colours.get(key, "#4c78a8"),
                    "line": {"width": 2 if key == "critical path" else 0, "color": "#7f1d1d"}},
            customdata=[[round(i[3].seconds, 3), i[3].status] for i in items],
            hovertemplate="%{y}<br>%{customdata[1]}, %{customdata[0]} s<extra></extra>"))
    cached = [(label, v) for label, v in zip(labels, rows, strict=True) if v.cached_at is not None and not v.spans]
    if cached:
        fig.add_trace(go.Scatter(name="cached", mode="markers", y=[c[0] for c in cached],
                                 x=[c[1].cached_at for c in cached],
                                 marker={"symbol": "diamond", "size": 10, "color": STATUS_COLOURS["cached"]},
                                 hovertemplate="%{y}<br>cached<extra></extra>"))
    timing = {"exact": "exact times (rawjson)", "none": "no times (legacy builder)"}.get(
        b.timing, "times reconstructed from the log")
    fig.update_layout(title={"text": f"Steps over time: {timing}<br><sup>outlined: the critical path (from the "
                                     f"{'build graph' if how == 'graph' else 'timing'})</sup>"},
                      barmode="overlay", xaxis={"title": {"text": "seconds since the build started"}},
                      yaxis={"autorange": "reversed", "categoryorder": "array", "categoryarray": labels,
                             "automargin": True}, legend={"orientation": "h", "y": -0.12})
    return charts.html(fig, max(320, 26 * len(rows) + 140))


def _cache_chart(charts: _Charts, summary: LogSummary, timed: BuildTimeline | None) -> str:
    """Per stage, how many of its Dockerfile steps the cache answered and how many ran."""
    go = charts.go
    b = summary.last
    assert b is not None
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for v in timed.vertices if timed is not None else []:
        info = v.info
        if info.kind != "step":
            continue
        stage = " ".join(x for x in (info.target, info.stage) if x) or "build"
        status = "FROM" if info.instruction == "FROM" else v.status
        counts[stage][status] += 1
    ratio = f"{b.hit_ratio:.0%}" if b.hit_ratio is not None else "n/a"
    title = f"Dockerfile steps per stage: cache {b.cache_state}, hit ratio {ratio} of cacheable steps"
    if not counts:
        return f"<p>{_e(title)}; no Dockerfile step in this log.</p>"
    stages = list(counts)
    fig = go.Figure()
    for status in ("cached", "ran", "errored", "canceled", "unfinished", "FROM"):
        values = [counts[st][status] for st in stages]
        if any(values):
            fig.add_trace(go.Bar(name=status, y=stages, x=values, orientation="h", text=values,
                                 marker={"color": STATUS_COLOURS.get(status, "#c7c7c7")}))
    first = b.first_miss.name if b.first_miss else None
    if first:
        title += f"<br><sup>first miss: {_e(first[:100])}</sup>"
    fig.update_layout(barmode="stack", title={"text": title}, yaxis={"autorange": "reversed", "automargin": True},
                      xaxis={"title": {"text": "steps"}}, legend={"orientation": "h", "y": -0.25})
    return charts.html(fig, max(240, 40 * len(stages) + 160))


def _one_log(charts: _Charts, path: str, summary: LogSummary, timeline: LogTimeline) -> str:
    b = summary.last
    name = _e(os.path.basename(path))
    if b is None:
        return f"<h1>{name}</h1><div class='verdict incomplete'>No build found in this log.</div>"
    f = b.failure
    head = f"<b>{_e(b.outcome.upper())}</b>"
    if f is not None:
        head += f" · <code>{_e(f.failure_class)}</code> ({'retryable' if b.retryable else 'not retryable'})"
        head += f"<br>{_e(f.reason)}"
        if f.step:
            code = f", exit code {f.exit_code}" if f.exit_code is not None else ""
            head += f"<br>Failed step: <code>{_e(f.step)}</code>{_e(code)}"
    out = [f"<h1>{name}</h1>", f"<div class='verdict {_e(b.outcome)}'>{head}</div>"]
    timed = next((t for t in timeline.builds if t.index == b.index), None)
    duration = _secs(b.duration_s) + (" (estimated)" if b.duration_estimated else "")
    if (b.duration_s is None or b.duration_estimated) and timed is not None and timed.timing != "none":
        duration = f"{_secs(timed.duration)} (reconstructed)"
    rows = [("Format", b.format), ("Duration", duration), ("Cache", b.cache_state),
            ("Hit ratio", f"{b.hit_ratio:.0%}" if b.hit_ratio is not None else "n/a"),
            ("First cache miss", b.first_miss.name if b.first_miss else "–")]
    rows += [("Cache import", f"{i.ref}: {'found' if i.found else 'not found'}") for i in b.imports]
    rows += [("Cache export", f"{x.backend} {x.ref or ''}: {'exported' if x.completed else 'failed'}")
             for x in b.exports]
    rows += [("Pushed", str(p["ref"])) for p in b.pushed]
    out.append("<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>")
    out.append("<h2>Cache</h2>")
    out.append(_cache_chart(charts, summary, timed))
    out.append("<h2>Waterfall</h2>")
    if timed is not None:
        how = {"exact": "Exact times: rawjson gives each vertex's start and end in nanoseconds.",
               "none": "The legacy builder prints no times: the steps are in order, without durations."}.get(
            timed.timing, "Times reconstructed from the log (" + ", ".join(timed.basis) + "): good to a tenth of "
            "a second for each step, less so for when concurrent steps started (docs/trace.md).")
        out.append(f"<p class='muted'>{_e(how)}</p>")
        out.append(_waterfall(charts, timed, f.step if f else None))
    else:
        out.append("<p>No timeline.</p>")
    return "\n".join(out)


def _many_logs(charts: _Charts, facts: list[LogFacts], by: str) -> str:
    go = charts.go
    facts = sorted(facts, key=lambda x: (x.when, x.path))
    groups: dict[str, list[LogFacts]] = defaultdict(list)
    for x in facts:
        groups[x.group].append(x)
    out = [f"<h1>{len(facts)} build logs</h1>"]
    counts = Counter(x.outcome for x in facts)
    out.append("<div class='verdict " + ("success" if counts["success"] == len(facts) else "failure") + "'>"
               + " · ".join(f"{_e(k)}: <b>{n}</b>" for k, n in counts.most_common()) + "</div>")
    from_log = sum(x.when_from_log for x in facts)
    # Where some logs tell no time, their files' times may all be the same (a copied directory): the charts then
    # put the builds in order rather than on a time axis that would stack them on one instant.
    dated = from_log == len(facts)
    position = {x.path: i + 1 for i, x in enumerate(facts)}
    out.append(f"<p class='muted'>Grouped by {_e(by)}. The build's start is in {from_log} of {len(facts)} logs"
               + ("." if dated else "; the charts put the builds in order (by that start, else the file's "
                  "modification time).") + " Durations of plain logs without timestamps are reconstructed from "
               "their steps' times.</p>")
    out.append("<h2>Per group</h2><table><tr><th>group</th><th>builds</th><th>success</th><th>median duration</th>"
               "<th>mean hit ratio</th><th>cold / warm / partial</th></tr>")
    for g, xs in sorted(groups.items()):
        durations = sorted(x.duration_s for x in xs if x.duration_s is not None)
        median = durations[len(durations) // 2] if durations else None
        ratios = [x.hit_ratio for x in xs if x.hit_ratio is not None]
        mean_ratio = f"{sum(ratios) / len(ratios):.0%}" if ratios else "n/a"
        states = Counter(x.cache_state for x in xs)
        ok = sum(x.outcome == "success" for x in xs)
        out.append(f"<tr><td>{_e(g)}</td><td class='num'>{len(xs)}</td><td class='num'>{ok / len(xs):.0%}</td>"
                   f"<td class='num'>{_secs(median)}</td><td class='num'>{mean_ratio}</td>"
                   f"<td>{states['cold']} / {states['warm']} / {states['partial']}</td></tr>")
    out.append("</table>")

    def over_time(value: Callable[[LogFacts], float | None], title: str, axis: str, fmt: str) -> str:
        fig = go.Figure()
        for g, xs in sorted(groups.items()):
            pts = [(x.when if dated else position[x.path], value(x), os.path.basename(x.path))
                   for x in xs if value(x) is not None]
            if pts:
                fig.add_trace(go.Scatter(name=g, mode="lines+markers", x=[p[0] for p in pts], y=[p[1] for p in pts],
                                         text=[p[2] for p in pts],
                                         hovertemplate=f"%{{text}}<br>%{{y:{fmt}}}<extra>{_e(g)}</extra>"))
        fig.update_layout(title={"text": title}, yaxis={"title": {"text": axis}},
                          xaxis={"title": {"text": "when" if dated else "builds, in order"}})
        return charts.html(fig, 340)

    out.append("<h2>Cache hit ratio over time</h2>")
    out.append(over_time(lambda x: x.hit_ratio, "Share of cacheable steps answered from cache", "hit ratio", ".0%"))
    out.append("<h2>Duration over time</h2>")
    out.append(over_time(lambda x: x.duration_s, "Build duration", "seconds", ".1f"))

    out.append("<h2>Duration: cold against warm cache</h2>")
    fig = go.Figure()
    for state in ("cold", "partial", "warm", "none"):
        ys = [x.duration_s for x in facts if x.cache_state == state and x.duration_s is not None]
        if ys:
            fig.add_trace(go.Box(name=f"{state} ({len(ys)})", y=ys, boxpoints="all", jitter=0.4, pointpos=0))
    fig.update_layout(title={"text": "Duration by cache state"}, yaxis={"title": {"text": "seconds"}},
                      showlegend=False)
    out.append(charts.html(fig, 360))

    out.append("<h2>Failure classes per group</h2>")
    classes = sorted({x.failure_class or x.outcome for x in facts if x.outcome != "success"})
    fig = go.Figure()
    names = sorted(groups)
    for c in classes:
        fig.add_trace(go.Bar(name=c, x=names, y=[sum((x.failure_class or x.outcome) == c and x.outcome != "success"
                                                    for x in groups[g]) for g in names]))
    fig.add_trace(go.Bar(name="success", x=names, y=[sum(x.outcome == "success" for x in groups[g]) for g in names],
                         marker={"color": OUTCOME_COLOURS["success"]}))
    fig.update_layout(barmode="stack", title={"text": "Outcomes and failure classes"},
                      yaxis={"title": {"text": "builds"}})
    out.append(charts.html(fig, 380))

    out.append("<h2>Top cache-busting steps</h2>")
    busters = Counter(x.first_miss for x in facts if x.first_miss)
    if busters:
        top = busters.most_common(TOP_BUSTERS)
        labels = [k if len(k) <= 80 else k[:79] + "…" for k, _n in top]
        fig = go.Figure(go.Bar(x=[n for _k, n in top], y=labels, orientation="h", marker={"color": "#e45756"},
                               hovertemplate="%{y}<br>first cache miss in %{x} builds<extra></extra>"))
        fig.update_layout(title={"text": "Steps that were the first cache miss (what invalidated the rest)"},
                          yaxis={"autorange": "reversed", "automargin": True}, xaxis={"title": {"text": "builds"}})
        out.append(charts.html(fig, max(260, 28 * len(top) + 120)))
    else:
        out.append("<p>No build in these logs missed the cache.</p>")

    out.append("<h2>Every log</h2><table><tr><th>log</th><th>group</th><th>when</th><th>outcome</th>"
               "<th>class</th><th>duration</th><th>cache</th><th>hit ratio</th></tr>")
    for x in facts:
        ratio = f"{x.hit_ratio:.0%}" if x.hit_ratio is not None else "–"
        out.append(f"<tr><td>{_e(os.path.basename(x.path))}</td><td>{_e(x.group)}</td>"
                   f"<td>{_e(x.when.strftime('%Y-%m-%d %H:%M:%S'))}</td><td>{_e(x.outcome)}</td>"
                   f"<td>{_e(x.failure_class or '')}</td><td class='num'>{_secs(x.duration_s)}</td>"
                   f"<td>{_e(x.cache_state)}</td><td class='num'>{ratio}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def _page(body: str, title: str, n: int) -> str:
    from . import __version__

    return _PAGE.format(version=_e(__version__), title=_e(title), body=body, n=n, s="" if n == 1 else "s")


def report_one(path: str, summary: LogSummary, timeline: LogTimeline) -> str:
    """The HTML report of one log: verdict, cache picture, waterfall. Raises ``ReportUnavailable`` without
    plotly."""
    return _page(_one_log(_Charts(), path, summary, timeline), f"buildlog: {os.path.basename(path)}", 1)


def report_many(facts: Sequence[LogFacts], by: str = "dir") -> str:
    """The HTML report of many logs (``facts_of`` each). Raises ``ReportUnavailable`` without plotly."""
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r} ({', '.join(GROUPINGS)})")
    return _page(_many_logs(_Charts(), list(facts), by), f"buildlog: {len(facts)} build logs", len(facts))


def expand_paths(paths: Sequence[str]) -> list[str]:
    """Files as given; a directory stands for the ``*.log`` files under it."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            for root, _dirs, files in sorted(os.walk(p)):
                out += sorted(os.path.join(root, f) for f in files if f.endswith(".log"))
        else:
            out.append(p)
    return out
