"""``buildlog stats`` as text, markdown and CSV, all from the ``buildlog/stats/1`` JSON object (so that every
format shows the same figures)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _tables(fig: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of each table of one set of figures."""
    runs = fig["runs"]
    d = fig["duration_s"]
    c = fig["cache"]
    tables: list[tuple[str, list[str], list[list[str]]]] = []
    outcomes = [[k, str(n), _pct(n / runs) if runs else "-"] for k, n in fig["outcomes"].items()]
    tables.append((f"Runs: {runs}", ["outcome", "runs", "share"], outcomes))
    if fig["failure_classes"]:
        tables.append((f"Failure classes ({fig['failed']} failed: {fig['infrastructure']} infrastructure, "
                       f"{fig['retryable']} retryable)",
                       ["class", "runs"], [[k, str(n)] for k, n in fig["failure_classes"].items()]))
    dur = [["all", str(d["count"]), _num(d["p50"]), _num(d["p90"]), _num(d["p99"]), _num(d["max"])]]
    dur += [[state, str(s["count"]), _num(s["p50"]), _num(s["p90"]), "", _num(s["max"])]
            for state, s in fig["duration_by_cache_state"].items()]
    tables.append((f"Duration, seconds ({d['estimated']} estimated from step times)",
                   ["runs", "count", "p50", "p90", "p99", "max"], dur))
    h = c["hit_ratio"]
    tables.append(("Cache", ["figure", "value"], [
        *[[f"state {k}", str(n)] for k, n in c["states"].items()],
        ["hit ratio p10/p50/p90", f"{_pct(h['p10'])} / {_pct(h['p50'])} / {_pct(h['p90'])}"],
        ["cached / cacheable steps", f"{c['cached_steps']} / {c['cacheable_steps']}"],
        ["runs with an import found / missed", f"{c['import_found']} / {c['import_missed']}"],
        ["runs with a failed cache export", str(c["export_failed"])],
    ]))
    if fig["steps"]:
        tables.append(("Steps by total time", ["total s", "p50 s", "runs", "cached", "ran", "failed", "miss",
                                               "first miss", "step"],
                       [[_num(s["seconds_total"]), _num(s["seconds_p50"]), str(s["runs"]), str(s["cached"]),
                         str(s["ran"]), str(s["failed"]), _pct(s["miss_rate"]), str(s["first_miss"]), s["name"]]
                        for s in fig["steps"]]))
    if fig["first_miss"]:
        tables.append(("First cache miss", ["runs", "step"], [[str(m["count"]), m["name"]] for m in fig["first_miss"]]))
    if fig["warnings"]:
        tables.append(("Build-check warnings", ["count", "rule"], [[str(w["count"]), w["rule"]]
                                                                    for w in fig["warnings"]]))
    if fig["advice"]:
        tables.append(("Cache advice", ["runs", "advice"], [[str(a["count"]), a["rule"]] for a in fig["advice"]]))
    return tables


def _sections(data: dict[str, Any]) -> Iterator[tuple[str | None, dict[str, Any]]]:
    yield None, data
    for g in data.get("groups", ()):
        yield g["group"], g


def _numeric(cell: str) -> bool:
    return cell in ("-", "") or cell.rstrip("%").replace(".", "", 1).isdigit()


def _clip(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def render_stats_text(data: dict[str, Any]) -> str:
    out = [f"{data['logs']} logs read ({data['bytes'] / 1e6:.1f} MB), {data['runs']} runs, "
           f"{len(data['errors'])} errors"]
    for group, fig in _sections(data):
        if group is not None:
            out += ["", f"=== {data['by']} {group} ==="]
        for title, header, rows in _tables(fig):
            rows = [[_clip(c) for c in r] for r in rows]
            widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=False)]
            out += ["", title]
            # numbers to the right, words (and the last column, a name) to the left
            left = [i == len(header) - 1 or not all(_numeric(r[i]) for r in rows) for i in range(len(header))]
            fmt = "  ".join(f"{{:{'<' if left[i] else '>'}{w}}}" for i, w in enumerate(widths))
            out.append("  " + fmt.format(*header).rstrip())
            out += ["  " + fmt.format(*r).rstrip() for r in rows]
    if data["errors"]:
        out += ["", "Errors"] + [f"  {e['path']}: {e['reason']}" for e in data["errors"]]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_stats_markdown(data: dict[str, Any]) -> str:
    out = [f"**{data['logs']}** logs read, **{data['runs']}** runs, **{len(data['errors'])}** errors"]
    for group, fig in _sections(data):
        if group is not None:
            out += ["", f"## {data['by']} {group}"]
        for title, header, rows in _tables(fig):
            out += ["", f"**{_md(title)}**", "", "| " + " | ".join(header) + " |",
                    "|" + "---|" * len(header)]
            out += ["| " + " | ".join(_md(c) for c in r) + " |" for r in rows]
    if data["errors"]:
        out += ["", "**Errors**", ""] + [f"- `{_md(e['path'])}`: {_md(e['reason'])}" for e in data["errors"]]
    return "\n".join(out) + "\n"


def render_stats_csv(data: dict[str, Any]) -> str:
    """One figure a row: ``group,section,name,metric,value`` (``group`` empty for the overall figures)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["group", "section", "name", "metric", "value"])
    w.writerow(["", "input", "", "logs", data["logs"]])
    w.writerow(["", "input", "", "bytes", data["bytes"]])
    w.writerow(["", "input", "", "errors", len(data["errors"])])
    for group, fig in _sections(data):
        g = group or ""
        w.writerow([g, "runs", "", "runs", fig["runs"]])
        for k, n in fig["outcomes"].items():
            w.writerow([g, "outcomes", k, "runs", n])
        for k, n in fig["failure_classes"].items():
            w.writerow([g, "failure_classes", k, "runs", n])
        w.writerow([g, "failures", "", "failed", fig["failed"]])
        w.writerow([g, "failures", "", "retryable", fig["retryable"]])
        w.writerow([g, "failures", "", "infrastructure", fig["infrastructure"]])
        for metric, value in fig["duration_s"].items():
            w.writerow([g, "duration_s", "all", metric, _csv(value)])
        for state, figs in fig["duration_by_cache_state"].items():
            for metric, value in figs.items():
                w.writerow([g, "duration_s", state, metric, _csv(value)])
        cache = fig["cache"]
        for k, n in cache["states"].items():
            w.writerow([g, "cache", "states", k, n])
        for metric, value in cache["hit_ratio"].items():
            w.writerow([g, "cache", "hit_ratio", metric, _csv(value)])
        for k in ("cached_steps", "cacheable_steps", "import_found", "import_missed", "export_failed"):
            w.writerow([g, "cache", "", k, cache[k]])
        for s in fig["steps"]:
            for metric, value in s.items():
                if metric not in ("name",):
                    w.writerow([g, "steps", s["name"], metric, _csv(value)])
        for m in fig["first_miss"]:
            w.writerow([g, "first_miss", m["name"], "count", m["count"]])
        for x in fig["warnings"]:
            w.writerow([g, "warnings", x["rule"], "count", x["count"]])
        for x in fig["advice"]:
            w.writerow([g, "advice", x["rule"], "count", x["count"]])
    for e in data["errors"]:
        w.writerow(["", "errors", e["path"], "reason", e["reason"]])
    return buf.getvalue()


def _csv(value: Any) -> Any:
    return "" if value is None else value
