"""The fleet view: many logs summarised and counted together (``buildlog stats``, docs/stats.md).

Three parts, each usable on its own (an HTML report imports the aggregation):

* **inputs** — ``expand_inputs`` turns paths, directories, globs and ``-`` into a list of files (and errors);
  ``open_log`` reads gzip/bzip2/xz/zstd transparently (by their magic bytes);
* **per log** — ``summarize_log`` summarises one file into ``RunRecord``s, the few facts of each build that the
  report counts (picklable: they come back from worker processes);
* **aggregation** — ``Aggregate`` folds ``RunRecord``s one at a time; ``StatsReport`` holds the overall aggregate,
  the groups (``--by``), the files read and the errors, and gives the ``buildlog/stats/1`` JSON.

Memory does not grow with the number of logs: records are folded as they arrive and dropped; what is kept is the
figures of the report. Distributions keep their values exactly up to ``SAMPLE_CAP`` values and a uniform sample
beyond (percentiles are then estimates); the step table keeps at most ``MAX_STEP_KEYS`` distinct steps (the rest
are counted in ``steps_omitted``).
"""

from __future__ import annotations

import bz2
import glob
import gzip
import io
import lzma
import math
import os
import random
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from datetime import datetime, timezone
from typing import IO, Any, BinaryIO, cast

import attrs

from .stepkey import untruncate
from .summary import BuildSummary, LogSummary

SCHEMA = "buildlog/stats/1"
LOG_SUFFIXES = (".log", ".txt", ".json")
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")
SAMPLE_CAP = 50_000  # values kept exactly per distribution
STEP_SAMPLE_CAP = 1_000  # durations kept exactly per step
MAX_STEP_KEYS = 10_000
OUTCOMES = ("success", "failure", "canceled", "incomplete")
CACHE_STATES = ("cold", "warm", "partial", "none")
BINARY_PROBE = 8192  # bytes looked at to tell a binary file from a log
GROUPINGS = ("day", "week", "dir")
# The classes of docs/taxonomy.md caused by the infrastructure under the build rather than the build itself.
INFRASTRUCTURE_CLASSES = frozenset({"builder-connection-lost", "network", "registry-unavailable", "rate-limited",
                                    "timeout"})

# Status of a step in one run when the same key shows up more than once in a build: the most telling one wins.
_STATUS_RANK = {"errored": 4, "ran": 3, "canceled": 2, "cached": 1, "unfinished": 0}


class InputError(Exception):
    """A file that cannot be counted; its message is the reason listed under ``errors``."""


# -- inputs --------------------------------------------------------------------------------------------------------


def _is_log_name(name: str) -> bool:
    base = name
    for suffix in COMPRESSED_SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.endswith(LOG_SUFFIXES)


def expand_inputs(args: Sequence[str], stdin: IO[str] | None = None) -> tuple[list[str], list[dict[str, str]]]:
    """Files to read, in a stable order, and the inputs that gave none (``{path, reason}``).

    A directory is walked for ``*.log``, ``*.txt`` and ``*.json`` (compressed too); a path that does not exist is
    tried as a glob; ``-`` reads more paths from ``stdin``, one per line. A file named explicitly is read whatever
    its name."""
    files: list[str] = []
    errors: list[dict[str, str]] = []
    seen: set[str] = set()

    def add(path: str) -> None:
        if path not in seen:
            seen.add(path)
            files.append(path)

    def expand(arg: str) -> None:
        if os.path.isdir(arg):
            found: list[str] = []
            for root, dirs, names in os.walk(arg):
                dirs.sort()
                found.extend(os.path.join(root, n) for n in sorted(names) if _is_log_name(n))
            if not found:
                errors.append({"path": arg, "reason": "no *.log, *.txt or *.json files in this directory"})
            for path in found:
                add(path)
        elif os.path.exists(arg):
            add(arg)
        elif glob.has_magic(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                errors.append({"path": arg, "reason": "the pattern matches no file"})
            for m in matches:
                if os.path.isdir(m):
                    expand(m)
                else:
                    add(m)
        else:
            errors.append({"path": arg, "reason": "no such file or directory"})

    for arg in args:
        if arg == "-":
            for line in stdin if stdin is not None else ():
                line = line.strip()
                if line:
                    expand(line)
        else:
            expand(arg)
    return files, errors


def _zstd_reader(path: str) -> BinaryIO:
    try:
        import zstandard  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise InputError("zstd-compressed: install the zstandard package to read it "
                         "(pip install 'buildx-log[zstd]')") from None
    reader: BinaryIO = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)
    return reader


# (magic bytes, opener of a decompressing reader of the file; closing the reader closes the file)
DECOMPRESSORS: list[tuple[bytes, Callable[[str], BinaryIO]]] = [
    (b"\x1f\x8b", lambda path: cast(BinaryIO, gzip.open(path, "rb"))),
    (b"BZh", lambda path: cast(BinaryIO, bz2.open(path, "rb"))),
    (b"\xfd7zXZ\x00", lambda path: cast(BinaryIO, lzma.open(path, "rb"))),
    (b"\x28\xb5\x2f\xfd", _zstd_reader),
]


def open_log(path: str) -> BinaryIO:
    """The log's bytes, decompressed when the file starts with a gzip, bzip2, xz or zstd header."""
    with open(path, "rb") as f:
        head = f.read(8)
    for magic, opener in DECOMPRESSORS:
        if head.startswith(magic):
            return opener(path)
    return open(path, "rb")


class _BinaryCheck(io.RawIOBase):
    """Passes a stream through, refusing it when its first bytes hold a NUL (no build log does; images, archives
    and executables do)."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.checked = 0
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n)
        if self.checked < BINARY_PROBE and data:
            probe = data[: BINARY_PROBE - self.checked]
            if b"\x00" in probe:
                raise InputError("binary file (not a build log)")
            self.checked += len(probe)
        self.size += len(data)
        return data


# -- one log -------------------------------------------------------------------------------------------------------


@attrs.define(slots=True)
class StepRecord:
    key: str
    kind: str
    cacheable: bool
    status: str
    seconds: float | None


@attrs.define(slots=True)
class RunRecord:
    """The facts of one build that the report counts."""

    path: str
    build: int
    format: str  # plain, rawjson, tty, legacy: a tty capture's step names may be cut at the terminal's width
    outcome: str
    failure_class: str | None
    retryable: bool
    duration_s: float | None
    duration_estimated: bool
    cache_state: str
    hit_ratio: float | None
    cached_steps: int
    cacheable_steps: int
    import_found: bool
    import_missed: bool
    export_failed: bool
    first_miss: str | None  # step key
    warnings: list[str]  # build-check rule names
    advice: list[str]  # advice rule names
    steps: list[StepRecord]
    date: str | None  # YYYY-MM-DD (UTC) of the build: CI timestamps, else the file's mtime


def run_record(path: str, build: BuildSummary, mtime: float | None = None) -> RunRecord:
    """The record of one build of the log at ``path``."""
    steps: dict[str, StepRecord] = {}
    for v in build.vertices:
        seconds = v.seconds if v.ran else None
        s = steps.get(v.key)
        if s is None:
            steps[v.key] = StepRecord(v.key, v.kind, v.cacheable, v.status, seconds)
            continue
        if _STATUS_RANK[v.status] > _STATUS_RANK[s.status]:
            s.status = v.status
        if seconds is not None:
            s.seconds = seconds + (s.seconds or 0.0)
    miss_key = None
    if build.first_miss is not None:
        miss = next((v for v in build.vertices if v.vertex == build.first_miss.vertex), None)
        miss_key = miss.key if miss is not None else None
    date = None
    if build.started_at:
        date = build.started_at[:10]
    elif mtime is not None:
        date = datetime.fromtimestamp(mtime, tz=timezone.utc).strftime("%Y-%m-%d")
    return RunRecord(
        path=path, build=build.index, format=build.format, outcome=build.outcome,
        failure_class=build.failure.failure_class if build.failure is not None else None,
        retryable=build.retryable, duration_s=build.duration_s, duration_estimated=build.duration_estimated,
        cache_state=build.cache_state, hit_ratio=build.hit_ratio, cached_steps=build.steps.user_cached,
        cacheable_steps=build.steps.user_cacheable, import_found=any(i.found for i in build.imports),
        import_missed=any(not i.found for i in build.imports),
        export_failed=any(x.error is not None for x in build.exports),
        first_miss=miss_key, warnings=[w["rule"] for w in build.warnings if w.get("rule")],
        advice=[a.rule for a in build.advice], steps=list(steps.values()), date=date)


def records_of(path: str, summary: LogSummary, last_build_only: bool = False,
               mtime: float | None = None) -> list[RunRecord]:
    builds = summary.builds[-1:] if last_build_only else summary.builds
    return [run_record(path, b, mtime) for b in builds]


@attrs.define
class LogResult:
    path: str
    runs: list[RunRecord]
    bytes: int  # bytes of log text read (decompressed)
    error: str | None = None


def summarize_log(path: str, last_build_only: bool = False) -> LogResult:
    """Summarise one file; never raises for a bad file (its ``error`` says why)."""
    from .sources import parse_file
    from .summary import summarize_events

    try:
        mtime = os.stat(path).st_mtime
        with open_log(path) as stream:
            checked = _BinaryCheck(stream)
            summary = summarize_events(parse_file(checked))  # type: ignore[arg-type]
    except InputError as exc:
        return LogResult(path, [], 0, str(exc))
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:  # a corrupt or cut archive
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return LogResult(path, [], 0, f"cannot read: {reason}")
    except Exception as exc:
        if type(exc).__module__.startswith("zstandard"):  # a corrupt .zst (its error class is not importable here)
            return LogResult(path, [], 0, f"cannot read: {exc}")
        raise
    if not summary.builds:
        return LogResult(path, [], checked.size, "no build in this file")
    return LogResult(path, records_of(path, summary, last_build_only, mtime), checked.size)


# -- aggregation ---------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (the smallest value with at least p % of the values at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


class Sample:
    """Values of a distribution: all of them up to ``cap``, then a uniform sample of ``cap`` (reservoir, seeded:
    the same input gives the same report). ``count`` and ``max`` stay exact."""

    __slots__ = ("cap", "count", "max", "rng", "total", "values")

    def __init__(self, cap: int = SAMPLE_CAP) -> None:
        self.cap = cap
        self.values: list[float] = []
        self.count = 0
        self.total = 0.0
        self.max: float | None = None
        self.rng: random.Random | None = None

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.max = value if self.max is None else max(self.max, value)
        if len(self.values) < self.cap:
            self.values.append(value)
            return
        if self.rng is None:
            self.rng = random.Random(0)
        slot = self.rng.randrange(self.count)
        if slot < self.cap:
            self.values[slot] = value

    def summary(self, *ps: int) -> dict[str, Any]:
        out: dict[str, Any] = {"count": self.count}
        for p in ps:
            out[f"p{p}"] = percentile(self.values, p)
        return out


@attrs.define
class StepStats:
    key: str
    kind: str
    cacheable: bool
    runs: int = 0
    cached: int = 0
    ran: int = 0
    failed: int = 0
    canceled: int = 0
    first_miss: int = 0
    seconds: Sample = attrs.Factory(lambda: Sample(STEP_SAMPLE_CAP))

    def merged(self, other: StepStats) -> StepStats:
        """A new record counting both (the other's key is the same step, cut short)."""
        seconds = Sample(STEP_SAMPLE_CAP)
        for sample in (self.seconds, other.seconds):
            seconds.values.extend(sample.values)
            seconds.count += sample.count
            seconds.total += sample.total
            if sample.max is not None:
                seconds.max = sample.max if seconds.max is None else max(seconds.max, sample.max)
        key = self.key if len(self.key) >= len(other.key) else other.key
        return StepStats(key, self.kind, self.cacheable, self.runs + other.runs, self.cached + other.cached,
                         self.ran + other.ran, self.failed + other.failed, self.canceled + other.canceled,
                         self.first_miss + other.first_miss, seconds)

    def to_json(self) -> dict[str, Any]:
        decided = self.cached + self.ran + self.failed
        return {
            "name": self.key, "kind": self.kind, "runs": self.runs, "cached": self.cached, "ran": self.ran,
            "failed": self.failed, "canceled": self.canceled,
            "miss_rate": round((self.ran + self.failed) / decided, 4) if self.cacheable and decided else None,
            "seconds_p50": percentile(self.seconds.values, 50),
            "seconds_total": round(self.seconds.total, 6), "first_miss": self.first_miss,
        }


def _ranked(counts: dict[str, int], top: int | None, label: str) -> list[dict[str, Any]]:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{label: k, "count": n} for k, n in (items[:top] if top is not None else items)]


class Aggregate:
    """The figures of a set of runs, folded one run at a time (``add``)."""

    def __init__(self) -> None:
        self.runs = 0
        self.outcomes = dict.fromkeys(OUTCOMES, 0)
        self.failure_classes: dict[str, int] = {}
        self.failed = 0
        self.retryable = 0
        self.infrastructure = 0
        self.duration = Sample()
        self.duration_estimated = 0
        self.duration_by_state: dict[str, Sample] = {}
        self.states = dict.fromkeys(CACHE_STATES, 0)
        self.hit_ratio = Sample()
        self.cached_steps = 0
        self.cacheable_steps = 0
        self.import_found = 0
        self.import_missed = 0
        self.export_failed = 0
        self.steps: dict[str, StepStats] = {}
        self.full_keys: set[str] = set()  # step keys seen in a run that is no tty capture (never cut short)
        self.steps_omitted = 0
        self.first_miss: dict[str, int] = {}
        self.warnings: dict[str, int] = {}
        self.advice: dict[str, int] = {}

    def add(self, r: RunRecord) -> None:
        self.runs += 1
        self.outcomes[r.outcome] = self.outcomes.get(r.outcome, 0) + 1
        if r.outcome in ("failure", "canceled"):
            cls = r.failure_class or "unknown"
            self.failure_classes[cls] = self.failure_classes.get(cls, 0) + 1
        if r.outcome == "failure":
            self.failed += 1
            self.retryable += r.retryable
            self.infrastructure += r.failure_class in INFRASTRUCTURE_CLASSES
        if r.duration_s is not None:
            self.duration.add(r.duration_s)
            self.duration_estimated += r.duration_estimated
            self.duration_by_state.setdefault(r.cache_state, Sample()).add(r.duration_s)
        self.states[r.cache_state] = self.states.get(r.cache_state, 0) + 1
        if r.hit_ratio is not None:
            self.hit_ratio.add(r.hit_ratio)
        self.cached_steps += r.cached_steps
        self.cacheable_steps += r.cacheable_steps
        self.import_found += r.import_found
        self.import_missed += r.import_missed
        self.export_failed += r.export_failed
        for s in r.steps:
            if r.format != "tty":
                self.full_keys.add(s.key)
            st = self.steps.get(s.key)
            if st is None:
                if len(self.steps) >= MAX_STEP_KEYS:
                    self.steps_omitted += 1
                    continue
                st = self.steps[s.key] = StepStats(s.key, s.kind, s.cacheable)
            st.runs += 1
            if s.status == "cached":
                st.cached += 1
            elif s.status == "ran":
                st.ran += 1
            elif s.status == "errored":
                st.failed += 1
            elif s.status == "canceled":
                st.canceled += 1
            if s.seconds is not None and s.status in ("ran", "errored"):
                st.seconds.add(s.seconds)
        if r.first_miss is not None:
            self.first_miss[r.first_miss] = self.first_miss.get(r.first_miss, 0) + 1
            st = self.steps.get(r.first_miss)
            if st is not None:
                st.first_miss += 1
        for rule in r.warnings:
            self.warnings[rule] = self.warnings.get(rule, 0) + 1
        for rule in r.advice:
            self.advice[rule] = self.advice.get(rule, 0) + 1

    def merged_steps(self) -> tuple[dict[str, StepStats], dict[str, int]]:
        """The steps and first misses, with the keys a tty capture cut short counted under their full key."""
        renamed = untruncate([k for k in self.steps if k not in self.full_keys],
                             [k for k in self.full_keys if k in self.steps])
        if not renamed:
            return self.steps, self.first_miss
        steps: dict[str, StepStats] = {}
        for key, st in self.steps.items():
            target = renamed.get(key, key)
            into = steps.get(target)
            steps[target] = st if into is None else into.merged(st)
        first_miss: dict[str, int] = {}
        for key, n in self.first_miss.items():
            first_miss[renamed.get(key, key)] = first_miss.get(renamed.get(key, key), 0) + n
        return steps, first_miss

    def to_json(self, top: int = 20) -> dict[str, Any]:
        merged, first_miss = self.merged_steps()
        steps = sorted(merged.values(), key=lambda s: (-s.seconds.total, s.key))
        duration = self.duration.summary(50, 90, 99)
        duration["max"] = self.duration.max
        duration["estimated"] = self.duration_estimated
        return {
            "runs": self.runs,
            "outcomes": dict(self.outcomes),
            "failure_classes": dict(sorted(self.failure_classes.items(), key=lambda kv: (-kv[1], kv[0]))),
            "failed": self.failed,
            "retryable": self.retryable,
            "infrastructure": self.infrastructure,
            "duration_s": duration,
            "duration_by_cache_state": {
                state: {**self.duration_by_state[state].summary(50, 90), "max": self.duration_by_state[state].max}
                for state in CACHE_STATES if state in self.duration_by_state},
            "cache": {
                "states": dict(self.states),
                "hit_ratio": self.hit_ratio.summary(10, 50, 90),
                "cached_steps": self.cached_steps,
                "cacheable_steps": self.cacheable_steps,
                "import_found": self.import_found,
                "import_missed": self.import_missed,
                "export_failed": self.export_failed,
            },
            "steps": [s.to_json() for s in steps[:top]],
            "steps_omitted": self.steps_omitted,
            "first_miss": _ranked(first_miss, top, "name"),
            "warnings": _ranked(self.warnings, top, "rule"),
            "advice": _ranked(self.advice, top, "rule"),
        }


def group_key(record: RunRecord, by: str) -> str:
    if by == "dir":
        return os.path.dirname(record.path) or "."
    if record.date is None:
        return "unknown"
    if by == "week":
        year, week, _day = datetime.strptime(record.date, "%Y-%m-%d").isocalendar()
        return f"{year}-W{week:02d}"
    return record.date


@attrs.define
class StatsReport:
    """The whole report: ``overall`` figures, ``groups`` when grouped, files read, errors."""

    by: str | None = None
    top: int = 20
    overall: Aggregate = attrs.Factory(Aggregate)
    groups: dict[str, Aggregate] = attrs.Factory(dict)
    logs: int = 0
    bytes: int = 0
    errors: list[dict[str, str]] = attrs.Factory(list)

    def add_result(self, result: LogResult) -> None:
        if result.error is not None:
            self.errors.append({"path": result.path, "reason": result.error})
            return
        self.logs += 1
        self.bytes += result.bytes
        for r in result.runs:
            self.add_run(r)

    def add_run(self, r: RunRecord) -> None:
        self.overall.add(r)
        if self.by is not None:
            key = group_key(r, self.by)
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = Aggregate()
            group.add(r)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": SCHEMA, "logs": self.logs, "bytes": self.bytes,
                               "errors": sorted(self.errors, key=lambda e: e["path"])}
        out.update(self.overall.to_json(self.top))
        if self.by is not None:
            out["by"] = self.by
            out["groups"] = [{"group": k, **self.groups[k].to_json(self.top)} for k in sorted(self.groups)]
        return out


def _worker(path: str, last_build_only: bool) -> LogResult:
    try:
        return summarize_log(path, last_build_only)
    except Exception as exc:  # a bug must cost one log, not the run of a thousand
        return LogResult(path, [], 0, f"internal error: {type(exc).__name__}: {exc}")


def iter_results(files: Sequence[str], jobs: int = 1, last_build_only: bool = False) -> Iterator[LogResult]:
    """Each file's result as soon as it is ready (``jobs`` > 1: in worker processes, at most a few files ahead, so
    that finished results do not pile up)."""
    if jobs <= 1 or len(files) <= 1:
        for path in files:
            yield _worker(path, last_build_only)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        queue = iter(files)
        running: set[Future[LogResult]] = set()
        for path in queue:
            running.add(pool.submit(_worker, path, last_build_only))
            if len(running) >= jobs * 4:
                break
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                yield fut.result()
                nxt = next(queue, None)
                if nxt is not None:
                    running.add(pool.submit(_worker, nxt, last_build_only))


def collect(files: Sequence[str], *, jobs: int = 1, last_build_only: bool = False, by: str | None = None,
            top: int = 20, errors: Iterable[dict[str, str]] = (),
            on_result: Callable[[LogResult], None] | None = None) -> StatsReport:
    """Summarise and aggregate ``files``; ``on_result`` is called after each file (progress)."""
    report = StatsReport(by=by, top=top, errors=list(errors))
    for result in iter_results(files, jobs, last_build_only):
        report.add_result(result)
        if on_result is not None:
            on_result(result)
    return report


def aggregate_summaries(summaries: Iterable[tuple[str, LogSummary]], *, by: str | None = None, top: int = 20,
                        last_build_only: bool = False) -> StatsReport:
    """The report of summaries already made (``(path, summary)`` pairs): for a caller that has them in hand."""
    report = StatsReport(by=by, top=top)
    for path, summary in summaries:
        if not summary.builds:
            report.add_result(LogResult(path, [], 0, "no build in this file"))
            continue
        report.add_result(LogResult(path, records_of(path, summary, last_build_only), 0))
    return report


__all__ = ["Aggregate", "LogResult", "RunRecord", "StatsReport", "aggregate_summaries", "collect",
           "expand_inputs", "open_log", "percentile", "summarize_log"]
