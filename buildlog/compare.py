"""Two runs of the same build side by side (``buildlog compare A B``, docs/stats.md).

Steps are matched by their normalised key (``stepkey.py``), so that ``[builder 6/9]`` in A and ``[builder  6/10]``
in B, or an image pinned to another digest, are still the same step. Each log's last build is the run compared.
"""

from __future__ import annotations

from typing import Any

import attrs

from .buildfacts import VertexRecord
from .stepkey import untruncate
from .summary import BuildSummary

SCHEMA = "buildlog/compare/1"
THRESHOLD_PERCENT = 20.0
THRESHOLD_SECONDS = 1.0


def _delta(a: float | None, b: float | None, digits: int = 6) -> float | None:
    return None if a is None or b is None else round(b - a, digits)


@attrs.define
class StepChange:
    name: str
    a_seconds: float
    b_seconds: float

    @property
    def delta(self) -> float:
        return round(self.b_seconds - self.a_seconds, 6)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "a_seconds": self.a_seconds, "b_seconds": self.b_seconds, "delta": self.delta,
                "percent": round(100 * self.delta / self.a_seconds, 1) if self.a_seconds else None}


@attrs.define
class Comparison:
    a: BuildSummary
    b: BuildSummary
    regressions: list[str]  # step keys cached in A, run in B
    slower: list[StepChange]
    faster: list[StepChange]
    only_a: list[str]
    only_b: list[str]
    threshold_percent: float
    threshold_seconds: float

    def past_threshold(self, a: float | None, b: float | None) -> bool:
        if a is None or b is None:
            return False
        return b - a > self.threshold_seconds and (a == 0 or (b - a) / a * 100 > self.threshold_percent)

    @property
    def lost_cache(self) -> bool:
        return bool(self.regressions) or self.b.steps.user_cached < self.a.steps.user_cached

    @property
    def got_slower(self) -> bool:
        return self.past_threshold(self.a.duration_s, self.b.duration_s) or bool(self.slower)

    @property
    def regressed(self) -> bool:
        """B lost cache or got slower past the threshold (``--fail-on-regression``)."""
        return self.lost_cache or self.got_slower

    def to_json(self) -> dict[str, Any]:
        a, b = self.a, self.b
        miss = b.first_miss
        return {
            "schema": SCHEMA,
            "outcome": {"a": a.outcome, "b": b.outcome},
            "duration_s": {"a": a.duration_s, "b": b.duration_s, "delta": _delta(a.duration_s, b.duration_s),
                           "a_estimated": a.duration_estimated, "b_estimated": b.duration_estimated},
            "cache": {
                "state": {"a": a.cache_state, "b": b.cache_state},
                "hit_ratio": {"a": a.hit_ratio, "b": b.hit_ratio, "delta": _delta(a.hit_ratio, b.hit_ratio, 4)},
                "cached_steps": {"a": a.steps.user_cached, "b": b.steps.user_cached,
                                 "delta": b.steps.user_cached - a.steps.user_cached},
            },
            "regressions": {
                "steps": list(self.regressions),
                "first_miss": None if miss is None else {"name": miss.name, "stage": miss.stage},
                "impact": b.first_miss_impact.to_json() if b.first_miss_impact else None,
            },
            "slower": [c.to_json() for c in self.slower],
            "faster": [c.to_json() for c in self.faster],
            "only_in_a": list(self.only_a),
            "only_in_b": list(self.only_b),
            "threshold": {"percent": self.threshold_percent, "seconds": self.threshold_seconds},
            "regressed": self.regressed,
        }


def _by_key(build: BuildSummary, other: BuildSummary) -> dict[str, list[VertexRecord]]:
    """The build's vertices by step key; a tty capture's keys cut at the terminal's width take the other run's
    full key."""
    renamed: dict[str, str] = {}
    if build.format == "tty" and other.format != "tty":
        renamed = untruncate({v.key for v in build.vertices}, {v.key for v in other.vertices})
    out: dict[str, list[VertexRecord]] = {}
    for v in build.vertices:
        out.setdefault(renamed.get(v.key, v.key), []).append(v)
    return out


def _ran_seconds(records: list[VertexRecord]) -> float | None:
    times = [r.seconds for r in records if r.ran and r.seconds is not None]
    return round(sum(times), 6) if times else None


def compare_builds(a: BuildSummary, b: BuildSummary, threshold_percent: float = THRESHOLD_PERCENT,
                   threshold_seconds: float = THRESHOLD_SECONDS) -> Comparison:
    ka, kb = _by_key(a, b), _by_key(b, a)
    regressions = [k for k, rs in kb.items() if k in ka
                   and any(r.status == "cached" for r in ka[k]) and any(r.cacheable and r.ran for r in rs)
                   and not any(r.status == "cached" for r in rs)]
    cmp = Comparison(a, b, regressions, [], [], [k for k in ka if k not in kb], [k for k in kb if k not in ka],
                     threshold_percent, threshold_seconds)
    for k in ka.keys() & kb.keys():
        sa, sb = _ran_seconds(ka[k]), _ran_seconds(kb[k])
        if sa is None or sb is None:
            continue
        if cmp.past_threshold(sa, sb):
            cmp.slower.append(StepChange(k, sa, sb))
        elif cmp.past_threshold(sb, sa):
            cmp.faster.append(StepChange(k, sa, sb))
    cmp.slower.sort(key=lambda c: -c.delta)
    cmp.faster.sort(key=lambda c: c.delta)
    return cmp


# -- rendering -----------------------------------------------------------------------------------------------------


def _fmt(value: float | None, unit: str = "s") -> str:
    return "-" if value is None else f"{value:.1f}{unit}"


def _signed(value: float | None, unit: str = "s") -> str:
    return "" if value is None else f"{value:+.1f}{unit}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _rows(cmp: Comparison) -> list[tuple[str, str, str, str]]:
    a, b = cmp.a, cmp.b
    dh = _delta(a.hit_ratio, b.hit_ratio, 4)
    return [
        ("outcome", a.outcome, b.outcome, ""),
        ("duration", _fmt(a.duration_s) + ("~" if a.duration_estimated else ""),
         _fmt(b.duration_s) + ("~" if b.duration_estimated else ""), _signed(_delta(a.duration_s, b.duration_s))),
        ("cache", a.cache_state, b.cache_state, ""),
        ("hit ratio", _ratio(a.hit_ratio), _ratio(b.hit_ratio), "" if dh is None else f"{dh * 100:+.0f} pts"),
        ("cached steps", str(a.steps.user_cached), str(b.steps.user_cached),
         f"{b.steps.user_cached - a.steps.user_cached:+d}"),
    ]


def render_compare_text(cmp: Comparison) -> str:
    lines = [f"{'':14} {'A':>12} {'B':>12} {'delta':>10}"]
    lines += [f"{n:14} {x:>12} {y:>12} {d:>10}" for n, x, y, d in _rows(cmp)]
    if cmp.regressions:
        lines.append("")
        lines.append(f"Cache regressions ({len(cmp.regressions)} steps cached in A ran in B):")
        lines += [f"  {k}" for k in cmp.regressions]
        miss = cmp.b.first_miss
        if miss is not None:
            lines.append(f"  B's first miss: {miss.name} (stage {miss.stage or '-'})")
            impact = cmp.b.first_miss_impact
            if impact is not None:
                lines.append(f"  it cost {impact.steps} steps, {impact.seconds:.1f}s"
                             + ("" if impact.exact else " (estimated)"))
    for title, changes in (("Slower", cmp.slower), ("Faster", cmp.faster)):
        if changes:
            lines.append("")
            lines.append(f"{title} (past {cmp.threshold_percent:g} % and {cmp.threshold_seconds:g}s):")
            lines += [f"  {c.a_seconds:7.1f}s -> {c.b_seconds:7.1f}s  {c.name}" for c in changes]
    for title, keys in (("Only in A", cmp.only_a), ("Only in B", cmp.only_b)):
        if keys:
            lines.append("")
            lines.append(f"{title}:")
            lines += [f"  {k}" for k in keys]
    lines.append("")
    lines.append("Regression: B " + ("lost cache" if cmp.lost_cache else "")
                 + (" and " if cmp.lost_cache and cmp.got_slower else "")
                 + ("got slower" if cmp.got_slower else "") if cmp.regressed else "No regression.")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_compare_markdown(cmp: Comparison) -> str:
    out = ["| | A | B | delta |", "|---|---|---|---|"]
    out += [f"| {n} | {x} | {y} | {d} |" for n, x, y, d in _rows(cmp)]
    if cmp.regressions:
        out += ["", f"**Cache regressions** ({len(cmp.regressions)}):", ""]
        out += [f"- `{_md(k)}`" for k in cmp.regressions]
        miss = cmp.b.first_miss
        if miss is not None:
            out += ["", f"B's first miss: `{_md(miss.name)}` (stage {miss.stage or '-'})"]
    for title, changes in (("Slower", cmp.slower), ("Faster", cmp.faster)):
        if changes:
            out += ["", f"**{title}**", "", "| step | A | B | delta |", "|---|---|---|---|"]
            out += [f"| `{_md(c.name)}` | {c.a_seconds:.1f}s | {c.b_seconds:.1f}s | {c.delta:+.1f}s |"
                    for c in changes]
    for title, keys in (("Only in A", cmp.only_a), ("Only in B", cmp.only_b)):
        if keys:
            out += ["", f"**{title}**", ""] + [f"- `{_md(k)}`" for k in keys]
    out += ["", "**Regression**" if cmp.regressed else "No regression."]
    return "\n".join(out) + "\n"
