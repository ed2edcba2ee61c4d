"""What happened in a build, as a fold over the event stream.

``Summarizer`` takes events one at a time (so it works live, while the build is still printing) and can be asked for
its ``LogSummary`` at any moment. Each build of the log is folded separately; the log's verdict is the last build's.
Memory is bounded by the number of vertices of one build (plus a compact record of each finished build, of which
the last ``MAX_BUILDS_KEPT`` are kept).
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from . import events as ev
from .domain import exit_code_of
from .graph import GraphVertex
from .graph import critical_path_in as graph_critical_path
from .graph import first_cache_miss_in as graph_first_miss
from .lazyre import compiled
from .rawjson import rfc3339_ns
from .redact import DEFAULT_REDACTOR, Redactor
from .rules import DEFAULT_RULES, Rule, RuleSet
from .vertex_names import parse_vertex_name

if TYPE_CHECKING:  # the fleet view's modules are imported when a build is summed up, not with the package
    from . import advice as _advice
    from . import buildfacts as _buildfacts
    from . import stepkey as _stepkey
    from .advice import Advice
    from .buildfacts import ContextUpload, MissImpact, VertexRecord

if TYPE_CHECKING:
    import regex

SCHEMA = "buildlog/summary/1"
MAX_BUILDS_KEPT = 100
OUTPUT_TAIL = 30  # lines of a step's output kept for step-output rules
SLOWEST = 5
MAX_BOXES = 16  # error blocks of one build kept (each with its last OUTPUT_TAIL lines)

# Events that carry a verdict even before any build began (an excerpt without vertex lines): a final error, an
# error block (its header, or its output when the header was cut too), a pushed image's digest, the end of a
# --check run.
VERDICT_BEFORE_BUILD = (ev.BuildFailed, ev.ErrorBlockHeader, ev.ErrorBlockOutput, ev.PushDigest,
                        ev.WarningsSummary)
# The styles of BuildFailed that only say a tool around the build failed (``make: *** [image] Error 1``): the verdict
# only of a build that has no other, never over the client's own final error.
WEAK_FINAL_STYLES = frozenset({"wrapper-exit"})
# Classes that name a failure of the build's own steps: an import error block in an excerpt does not override them.
STEP_CLASSES = frozenset({"build-step", "killed", "dockerfile", "context", "disk-full", "canceled"})
# Error blocks of these vertex kinds can stand in a successful build (a cache import not found, a cache export with
# ignore-error=true): they are not a verdict by themselves.
CACHE_KINDS = frozenset({"cache-import", "cache-export"})
# Events whose line is only a vertex number and a fixed word, a time or a digest: never looked at for secrets (the
# secret check costs a search of the text per secret shape, and these are a large share of a log's lines).
NO_SECRETS = frozenset({ev.BlankLine, ev.VertexDone, ev.VertexCached, ev.VertexCanceled, ev.VertexInterrupted,
                        ev.LayerTransfer, ev.LayerExtracted, ev.VertexDigest})
# Events whose texts are searched for secret triggers at once (Summarizer.feed_all): at most this many, holding at
# most about this many characters.
SECRET_BATCH = 512
SECRET_BATCH_CHARS = 1 << 20
SECRET_LINES_KEPT = 5  # line numbers named in a secret hint, per kind of secret and place

# Vertex kinds that are not "user steps" in buildctl --debug-json-cache-metrics' sense.
NON_USER_KINDS = frozenset({"internal", "auth", "cache-import", "cache-export", "image-export", "resolve"})
# Counted as user steps but never cacheable (and never a miss).
NOT_CACHEABLE_INSTRUCTIONS = frozenset({"FROM"})
NOT_CACHEABLE_KINDS = frozenset({"frontend"})

# Patterns compiled on first use (lazyre.py): most logs need none of them. The command's [...] ends at the last
# "]: exit code" before the next "executor failed running " (never beyond it: a gap without a bound would be
# quadratic on a message that repeats the phrase).
_QUOTED_COMMAND = (r'(?s)process "(?:[^"\\]|\\.)*"|(?<=executor failed running )\[(?:(?!executor failed '
                   r'running ).)*\](?=: exit code)')


def _blank_command(m: regex.Match[str]) -> str:
    return 'process "COMMAND"' if m.group(0).startswith("process") else "[COMMAND]"


_CLIENT_END_WARNINGS = r"(?i)No output specified|Build definition [^\n]{0,300}? is empty"
_LOCAL_CACHE_MISSING = r"local cache import at (?P<ref>\S+) not found"
# The build context's upload: "#5 [internal] load build context" / "#5 transferring context: 1.03MB 0.5s done"
CONTEXT_VERTEX = "load build context"
CONTEXT_STATUS = "transferring context"


@attrs.define
class Failure:
    failure_class: str
    retryable: bool
    reason: str
    line: int | None
    text: str | None
    step: str | None
    exit_code: int | None
    rule: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"class": self.failure_class, "retryable": self.retryable, "reason": self.reason,
                "line": self.line, "text": self.text, "step": self.step, "exit_code": self.exit_code,
                "rule": self.rule}


@attrs.define
class StepCounts:
    total: int = 0
    cached: int = 0
    executed: int = 0
    errored: int = 0
    canceled: int = 0
    user_total: int = 0
    user_cached: int = 0
    user_cacheable: int = 0
    from_: int = 0
    miss: int = 0

    def to_json(self) -> dict[str, Any]:
        d = attrs.asdict(self)
        d["from"] = d.pop("from_")
        return d


@attrs.define
class CacheImport:
    ref: str
    found: bool | None  # None while the import is still running

    def to_json(self) -> dict[str, Any]:
        return {"ref": self.ref, "found": bool(self.found)}


@attrs.define
class CacheExport:
    backend: str
    ref: str | None
    completed: bool
    error: str | None
    ignored: bool = False

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.define
class StepMiss:
    name: str
    stage: str | None
    index: int | None
    vertex: int
    line: int

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.define
class CriticalPath:
    """The chain of steps, input to consumer, whose run times add up the most (rawjson only)."""

    steps: list[str]
    seconds: float
    exact: bool

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.define
class BuildSummary:
    """The summary of one build. ``to_json()`` is the JSON contract (docs/json.md)."""

    index: int
    first_line: int
    last_line: int
    format: str
    outcome: str
    failure: Failure | None
    duration_s: float | None
    steps: StepCounts
    cache_state: str
    hit_ratio: float | None
    imports: list[CacheImport]
    exports: list[CacheExport]
    first_miss: StepMiss | None
    first_miss_by_stage: list[StepMiss]
    critical_path: CriticalPath | None
    exported: bool
    pushed: list[dict[str, str | None]]
    manifest_list: str | None
    step_times: list[tuple[str, float]]
    warnings: list[dict[str, Any]]
    hints: list[str]
    # -- the fleet view's facts (docs/json.md "The fleet view's facts"), set by _BuildFold._add_fleet_facts
    vertices: list[VertexRecord] = attrs.Factory(list)
    first_miss_impact: MissImpact | None = None
    context: ContextUpload | None = None
    platforms: list[str] = attrs.Factory(list)
    duration_estimated: bool = False
    started_at: str | None = None
    advice: list[Advice] = attrs.Factory(list)

    @property
    def retryable(self) -> bool:
        return self.failure is not None and self.outcome == "failure" and self.failure.retryable

    @property
    def slowest(self) -> list[tuple[str, float]]:
        return sorted(self.step_times, key=lambda t: -t[1])[:SLOWEST]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "build": self.index,
            "lines": [self.first_line, self.last_line],
            "format": self.format,
            "outcome": self.outcome,
            "retryable": self.retryable,
            "failure": self.failure.to_json() if self.failure else None,
            "duration_s": self.duration_s,
            "steps": self.steps.to_json(),
            "cache": {
                "state": self.cache_state,
                "hit_ratio": self.hit_ratio,
                "imports": [i.to_json() for i in self.imports],
                "exports": [e.to_json() for e in self.exports],
                "first_miss": self.first_miss.to_json() if self.first_miss else None,
                "first_miss_by_stage": [m.to_json() for m in self.first_miss_by_stage],
                "first_miss_impact": self.first_miss_impact.to_json() if self.first_miss_impact else None,
            },
            "image": {"exported": self.exported, "pushed": list(self.pushed), "manifest_list": self.manifest_list},
            "slowest": [{"name": n, "seconds": s} for n, s in self.slowest],
            "critical_path": self.critical_path.to_json() if self.critical_path else None,
            "warnings": list(self.warnings),
            "hints": list(self.hints),
            **self._fleet_json(),
        }

    def _fleet_json(self) -> dict[str, Any]:
        return {
            "duration_estimated": self.duration_estimated,
            "started_at": self.started_at,
            "platforms": list(self.platforms),
            "context": self.context.to_json() if self.context else None,
            "advice": [a.to_json() for a in self.advice],
            "vertices": [v.to_json() for v in self.vertices],
        }


@attrs.define
class LogSummary:
    """The whole log: the last build's verdict on top, every build in ``builds``."""

    builds: list[BuildSummary]
    attempts: int

    @property
    def last(self) -> BuildSummary | None:
        return self.builds[-1] if self.builds else None

    @property
    def outcome(self) -> str:
        return self.last.outcome if self.last else "incomplete"

    @property
    def failure(self) -> Failure | None:
        return self.last.failure if self.last else None

    @property
    def retryable(self) -> bool:
        return self.last.retryable if self.last else False

    def to_json(self) -> dict[str, Any]:
        if self.last is not None:
            top = self.last.to_json()
        else:
            top = _empty_build_json()
        top["attempts"] = self.attempts
        top["builds"] = [b.to_json() for b in self.builds]
        top["builds_omitted"] = self.attempts - len(self.builds)
        return top


def _empty_build_json() -> dict[str, Any]:
    return BuildSummary(0, 0, 0, "unknown", "incomplete", None, None, StepCounts(), "none", None, [], [], None,
                        [], None, False, [], None, [], [], []).to_json()


class _Vertex:
    __slots__ = ("cached", "canceled", "completed", "digest", "done", "error", "error_line", "exact", "exit_code",
                 "header_line", "info", "inputs", "keeps_output", "name", "number", "output", "output_elapsed",
                 "output_held", "output_held_lines", "seconds", "started")

    def __init__(self, number: int, name: str, info: ev.VertexName, line: int) -> None:
        self.number = number
        self.name = name
        self.info = info
        self.header_line = line
        self.cached = False
        self.done = False
        self.canceled = False
        self.error: str | None = None
        self.error_line: int | None = None
        self.exit_code: int | None = None
        self.seconds: float | None = None
        self.keeps_output = False  # a RUN step: its last output lines are kept for step-output rules
        self.output: collections.deque[str] | None = None  # made with its first line: most steps print nothing
        # The output events that came last, as few as hold the last OUTPUT_TAIL lines: their text joins
        # ``output`` only when read (``tail``). Most steps succeed and their output is never read, and a run's text
        # is made from its raw only then (``StepOutput.text``). A vertex holds at most OUTPUT_TAIL lines and one run
        # (MAX_RUN_CHARS), as ``output`` alone held OUTPUT_TAIL lines of up to ``max_line`` characters.
        self.output_held: list[ev.StepOutput] | None = None  # (made with the first: most vertices print nothing)
        self.output_held_lines = 0
        self.output_elapsed: float | None = None  # the time of its last output line: how long it ran at least
        # from rawjson: the graph and exact times
        self.digest: str | None = None
        self.inputs: tuple[str, ...] = ()
        self.started: str | None = None
        self.completed: str | None = None
        self.exact = False

    @property
    def finished(self) -> bool:
        return self.cached or self.done or self.canceled or self.error is not None

    def hold_output(self, e: ev.StepOutput) -> None:
        held = self.output_held
        lines = e.end_line - e.line + 1
        if held is None and lines == 1:
            # one line after nothing held: its text is as cheap to keep as the event, and smaller
            self._lines_kept().append(e.text)
            return
        if held is None or lines >= OUTPUT_TAIL:
            self.output_held = [e]
            total = lines
        else:
            held.append(e)
            total = self.output_held_lines + lines
            drop = 0
            while total - held[drop].line_count >= OUTPUT_TAIL:
                total -= held[drop].line_count
                drop += 1
            if drop:
                del held[:drop]
        self.output_held_lines = total
        if total >= OUTPUT_TAIL and self.output:
            self.output.clear()  # the lines held replace every line kept before them

    def settle_output(self) -> None:
        """The held events' last lines into ``output``."""
        held = self.output_held
        if held is not None:
            output = self._lines_kept()
            for e in held:
                output.extend(e.last_lines(OUTPUT_TAIL))
        self.output_held = None
        self.output_held_lines = 0

    def _lines_kept(self) -> collections.deque[str]:
        output = self.output
        if output is None:
            output = self.output = collections.deque(maxlen=OUTPUT_TAIL)
        return output

    def tail(self) -> list[str]:
        """The last lines of its output (at most OUTPUT_TAIL)."""
        self.settle_output()
        return list(self.output or ())


class _BuildFold:
    """Folds the events of one build."""

    def __init__(self, index: int, first_line: int, redactor: Redactor = DEFAULT_REDACTOR) -> None:
        self.index = index
        self.redactor = redactor
        # (kind of secret, where) -> [lines, count]: where the log holds secrets (never the values)
        self.secrets: dict[tuple[str, str], tuple[list[int], int]] = {}
        self.rule_timeouts: dict[str, int | None] = {}  # user rule -> the line it first timed out on
        self.first_line = first_line
        self.last_line = first_line
        self.format = "plain"
        self.vertices: dict[int, _Vertex] = {}
        self.final: ev.BuildFailed | None = None
        self.imports: dict[int, CacheImport] = {}
        self.extra_imports: list[CacheImport] = []
        self.exports: dict[int, CacheExport] = {}
        self.image_vertices: set[int] = set()
        self.pushed: dict[str, str | None] = {}
        self.manifest_list: str | None = None
        self.warnings: dict[tuple[str | None, str, int | None], dict[str, Any]] = {}
        self.ended_cleanly = False  # something the client prints only after the last vertex was seen
        self.concluded = False  # an end that needs no vertex to be seen: a pushed digest, a passed --check
        self.tty_finished = False  # a FINISHED tty frame was drawn
        self.weak_final: ev.BuildFailed | None = None
        # error blocks: the vertex name each names, with the last lines it repeats (the step's last output)
        self.boxes: dict[str, collections.deque[str]] = {}
        self._box: collections.deque[str] | None = None
        self.orphan_output: collections.deque[str] = collections.deque(maxlen=OUTPUT_TAIL)  # a block's, header cut
        self.first_ts: str | None = None
        self.last_ts: str | None = None
        self.duration: float | None = None
        self.context: dict[int, list[Any]] = {}  # build-context vertex -> [bytes, seconds] of its upload

    # -- folding --------------------------------------------------------------------------------------------

    def add(self, e: ev.Event) -> None:
        self.last_line = e.end_line
        raw = e.raw
        if raw and type(e) not in NO_SECRETS and self.redactor.might_hold_secret(raw):
            self._secrets_in(e, raw)
        if e.ci is not None:
            self.note_ci(e.ci)
        handler = _HANDLERS.get(type(e)) or _handler(type(e))
        handler(self, e)

    def note_ci(self, ci: ev.CIPrefix) -> None:
        if ci.timestamp is not None:
            if self.first_ts is None:
                self.first_ts = ci.timestamp
            self.last_ts = ci.timestamp

    def _secrets_in(self, e: ev.Event, raw: str) -> None:
        if isinstance(e, ev.StepOutput):
            where = "in step output"
        elif "build-arg" in raw or "ARG " in raw:
            where = "in a build arg"
        else:
            where = "in the log"
        for found in self.redactor.find(raw):
            line = e.line + raw.count("\n", 0, found.start)
            lines, count = self.secrets.get((found.name, where), ([], 0))
            if line not in lines:
                if len(lines) < SECRET_LINES_KEPT:
                    lines.append(line)
                self.secrets[(found.name, where)] = (lines, count + 1)

    def _vertex(self, e: ev.VertexEvent) -> _Vertex:
        # (handlers look the vertex up first, ``self.vertices.get(e.vertex) or self._vertex(e)``: a _Vertex is
        # never false, and a method call per event costs more than the look-up)
        v = self.vertices.get(e.vertex)
        if v is None:
            # a vertex line whose header we never saw (a log cut at the start)
            v = self.vertices[e.vertex] = _Vertex(e.vertex, f"#{e.vertex}", ev.VertexName(kind="other"), e.line)
        return v

    def on_header(self, e: ev.VertexHeader) -> None:
        v = self.vertices.get(e.vertex)
        if v is None:
            v = self.vertices[e.vertex] = _Vertex(e.vertex, e.name, e.info, e.line)
            kind = e.info.kind
            if kind == "cache-import" and e.info.ref:
                self.imports[e.vertex] = CacheImport(e.info.ref, None)
            elif kind == "cache-export":
                self.exports[e.vertex] = CacheExport(e.info.backend or "unknown", e.info.ref, False, None)
            elif kind == "image-export":
                self.image_vertices.add(e.vertex)
            elif kind == "step" and e.info.instruction == "RUN":
                v.keeps_output = True

    def on_cached(self, e: ev.VertexEvent) -> None:
        (self.vertices.get(e.vertex) or self._vertex(e)).cached = True

    def on_done(self, e: ev.VertexDone) -> None:
        v = self.vertices.get(e.vertex) or self._vertex(e)
        v.done = True
        if isinstance(e, ev.LegacyStepDone):
            return  # the legacy builder prints no times (its 0.0 is not a measurement)
        if not v.exact:
            v.seconds = e.seconds if v.seconds is None else max(v.seconds, e.seconds)
        imp = self.imports.get(e.vertex)
        if imp is not None and imp.found is None and v.error is None:
            imp.found = True
        exp = self.exports.get(e.vertex)
        if exp is not None and v.error is None:
            exp.completed = True

    def on_error(self, e: ev.VertexError) -> None:
        v = self.vertices.get(e.vertex) or self._vertex(e)
        if v.error is None:
            v.error = e.message
            v.error_line = e.line
            v.exit_code = e.exit_code
        imp = self.imports.get(e.vertex)
        if imp is not None:
            imp.found = False
        exp = self.exports.get(e.vertex)
        if exp is not None:
            exp.completed = False
            exp.error = e.message

    def on_canceled(self, e: ev.VertexEvent) -> None:
        (self.vertices.get(e.vertex) or self._vertex(e)).canceled = True

    def on_output(self, e: ev.StepOutput) -> None:
        v = self.vertices.get(e.vertex)
        if v is not None:
            if e.last_elapsed is not None:  # a run of output lines: its last line's time
                v.output_elapsed = e.last_elapsed
        if v is not None and v.keeps_output:
            v.hold_output(e)  # only its last lines can be read by step-output rules, and only if the step fails

    def on_timing(self, e: ev.VertexTiming) -> None:
        v = self.vertices.get(e.vertex) or self._vertex(e)
        v.started, v.completed, v.seconds, v.exact = e.started, e.completed, e.seconds, True

    def on_inputs(self, e: ev.VertexInputs) -> None:
        v = self.vertices.get(e.vertex) or self._vertex(e)
        v.digest, v.inputs = e.digest, e.inputs

    def on_format(self, e: ev.FormatDetected) -> None:
        self.format = e.format

    def on_tty_frame(self, e: ev.TtyFrame) -> None:
        self.duration = e.seconds  # the frame header's clock: "[+] Building 12.3s (20/20) FINISHED"
        if e.finished:
            self.tty_finished = True

    def on_box_header(self, e: ev.ErrorBlockHeader) -> None:
        box = self.boxes.get(e.name)
        if box is None:
            # past MAX_BOXES, a block's lines are dropped (a deque of length 0), not taken for a headless block's
            box = collections.deque(maxlen=OUTPUT_TAIL if len(self.boxes) < MAX_BOXES else 0)
            if box.maxlen:
                self.boxes[e.name] = box
        self._box = box

    def on_box_output(self, e: ev.ErrorBlockOutput) -> None:
        (self._box if self._box is not None else self.orphan_output).append(e.text)

    def on_box_rule(self, e: ev.ErrorBlockRule) -> None:
        self._box = None
        self.ended_cleanly = True

    def on_manifest_found(self, e: ev.VertexEvent) -> None:
        imp = self.imports.get(e.vertex)
        if imp is not None:
            imp.found = True

    def on_cache_manifest_written(self, e: ev.CacheManifestWritten) -> None:
        exp = self.exports.get(e.vertex)
        if exp is not None and e.done and exp.error is None:
            exp.completed = True

    def on_pushed(self, e: ev.ManifestPushed) -> None:
        if e.done:
            self.pushed[e.ref] = e.digest

    def on_push_digest(self, e: ev.PushDigest) -> None:
        self.pushed[e.ref] = e.digest
        self.concluded = True  # `docker push` after the build: the image was built

    def on_warnings_summary(self, e: ev.WarningsSummary) -> None:
        self.ended_cleanly = True
        if e.count == 0:
            self.concluded = True  # "Check complete, no warnings found.": a --check run that passed

    def on_manifest_list(self, e: ev.ManifestListExported) -> None:
        self.manifest_list = e.digest

    def on_vertex_warning(self, e: ev.VertexWarning) -> None:
        self._warn(e.rule, e.message or e.text, e.source_line, e.line)

    def on_check_warning(self, e: ev.BuildCheckWarning) -> None:
        self._warn(e.rule, e.message, e.source_line, e.line)
        self.ended_cleanly = True

    def on_client_warning(self, e: ev.ClientWarning) -> None:
        self._warn(None, e.text, None, e.line)
        m = compiled(_LOCAL_CACHE_MISSING).search(e.text)
        if m is not None:
            self.extra_imports.append(CacheImport(m["ref"], False))
        if compiled(_CLIENT_END_WARNINGS).search(e.text):
            self.ended_cleanly = True

    def on_build_failed(self, e: ev.BuildFailed) -> None:
        # The client prints one final error; what follows it (the docker/build-push-action wrapper repeating it,
        # a second bake target's error) does not replace the first.
        if e.style in WEAK_FINAL_STYLES:
            if self.weak_final is None:
                self.weak_final = e
        elif self.final is None:
            self.final = e

    def on_end_marker(self, e: ev.Event) -> None:
        self.ended_cleanly = True

    def on_status(self, e: ev.VertexStatus) -> None:
        if not e.id.startswith(CONTEXT_STATUS):
            return
        v = self.vertices.get(e.vertex)
        if v is None or CONTEXT_VERTEX not in v.name:
            return  # "load .dockerignore" transfers a context too; only the build context counts
        upload = self.context.setdefault(e.vertex, [0, None])
        if e.current is not None:
            upload[0] = max(upload[0], e.current)
        if e.seconds is not None:
            upload[1] = e.seconds if upload[1] is None else max(upload[1], e.seconds)

    def _warn(self, rule: str | None, text: str, source_line: int | None, line: int) -> None:
        key = (rule, text, source_line)
        if key not in self.warnings:
            self.warnings[key] = {"rule": rule, "text": text, "line": line, "source_line": source_line}

    # -- the verdict ---------------------------------------------------------------------------------------------

    def summary(self, rules: RuleSet) -> BuildSummary:
        vertices = self.vertices.values()
        counts = StepCounts()
        step_times: list[tuple[str, float]] = []
        # (target, stage) -> the first miss's rank and vertex (its StepMiss is made once the loop has found it)
        stage_misses: dict[tuple[str | None, str | None], tuple[tuple[int, int], _Vertex]] = {}
        for v in vertices:
            counts.total += 1
            counts.cached += v.cached
            counts.canceled += v.canceled
            counts.errored += v.error is not None
            counts.executed += v.done and not v.cached
            if v.seconds and v.done and not v.cached:
                step_times.append((v.name, v.seconds))
            info = v.info
            if info.kind in NON_USER_KINDS:
                continue
            counts.user_total += 1
            if info.instruction in NOT_CACHEABLE_INSTRUCTIONS or info.kind in NOT_CACHEABLE_KINDS:
                counts.from_ += 1
                continue
            if info.kind != "step":
                # a vertex that is no Dockerfile step ("resolving provenance for metadata file", a client-side
                # vertex of compose/bake) is nothing the cache answers: counted, never a miss
                continue
            counts.user_cacheable += 1
            if v.cached:
                counts.user_cached += 1
            else:
                # shown and not cached: it ran (done, failed, canceled, or still running when the log ends), so
                # it missed the cache; the printers show no vertex before it starts
                key = (info.target, info.stage)
                rank = (info.index or 0, v.header_line)
                best = stage_misses.get(key)
                if best is None or rank < best[0]:
                    stage_misses[key] = (rank, v)
        counts.miss = counts.user_cacheable - counts.user_cached
        imports = list(self.imports.values()) + self.extra_imports
        by_stage = sorted((StepMiss(v.name, v.info.stage, v.info.index, v.number, v.header_line)
                           for _rank, v in stage_misses.values()), key=lambda m: m.line)
        first_miss = by_stage[0] if by_stage else None
        critical = None
        graph: dict[int, GraphVertex] | None = None
        times = self._times()
        if any(v.digest is not None for v in vertices):
            # rawjson: the build graph says exactly which miss invalidated the rest, and what bounded the time
            graph = self._graph(times)
            graph_miss = graph_first_miss(graph)
            if graph_miss is not None:
                mv = self.vertices[graph_miss.vertex.vertex]
                first_miss = StepMiss(mv.name, mv.info.stage, mv.info.index, mv.number, mv.header_line)
            path = graph_critical_path(graph)
            if path is not None:
                critical = CriticalPath([g.name for g in path.vertices], round(path.seconds, 6), path.exact)
        outcome, failure = self._verdict(rules)
        exports = list(self.exports.values())
        for x in exports:
            x.ignored = x.error is not None and not (failure is not None and failure.failure_class == "cache-export")
        built = BuildSummary(
            index=self.index, first_line=self.first_line, last_line=self.last_line, format=self.format,
            outcome=outcome, failure=failure, duration_s=self._duration(times), steps=counts,
            cache_state=_cache_state(imports, counts), hit_ratio=(
                round(counts.user_cached / counts.user_cacheable, 4) if counts.user_cacheable else None),
            imports=imports, exports=exports, first_miss=first_miss,
            first_miss_by_stage=by_stage, critical_path=critical,
            exported=any(self.vertices[n].done and self.vertices[n].error is None for n in self.image_vertices),
            pushed=[{"ref": r, "digest": d} for r, d in self.pushed.items()], manifest_list=self.manifest_list,
            step_times=step_times, warnings=list(self.warnings.values()), hints=self._hints(exports),
        )
        self._add_fleet_facts(built, graph, times)
        return built

    # -- the fleet view's facts (buildfacts.py, advice.py) --------------------------------------------------------

    def _add_fleet_facts(self, built: BuildSummary, graph: dict[int, GraphVertex] | None,
                         times: dict[int, tuple[int | None, int | None]]) -> None:
        if not _fleet_imported:
            _import_fleet()
        bf = _buildfacts
        vertices = self.vertices
        records = [self._record(vertices[n], bf.VertexRecord, _stepkey.step_key) for n in sorted(vertices)]
        built.vertices = records
        miss = built.first_miss
        consumers: bf.Consumers | None = None  # read from the records once, for the miss's impact and the duration
        if miss is not None:
            if graph is not None:
                inputs = {n: g.inputs for n, g in graph.items()}
                built.first_miss_impact = bf.miss_impact_exact(records, miss.vertex, inputs)
            else:
                consumers = bf.stage_consumers(records)
                built.first_miss_impact = bf.miss_impact_estimated(records, miss.vertex, consumers)
        if self.context:
            # plain prints "transferring context: 1.03kB done" without a time: the vertex's own time is the upload's
            uploads = [(b, s if s is not None else self.vertices[n].seconds) for n, (b, s) in self.context.items()]
            seconds = [s for _b, s in uploads if s is not None]
            built.context = bf.ContextUpload(bytes=sum(b for b, _s in uploads),
                                             seconds=sum(seconds) if seconds else None)
        built.platforms = sorted({r.platform for r in records if r.platform})
        if built.duration_s is None and built.format != "legacy":
            built.duration_s = bf.estimate_duration(records, consumers)
            built.duration_estimated = built.duration_s is not None
        if self.first_ts:
            built.started_at = self.first_ts
        elif times:
            earliest = min((n for n, v in vertices.items() if v.started), key=lambda n: times[n][0] or 0,
                           default=None)
            built.started_at = vertices[earliest].started if earliest is not None else None
        first = next((r for r in records if r.vertex == miss.vertex), None) if miss is not None else None
        facts = _advice.BuildFacts(
            vertices=records, first_miss=first,
            imports_missed=[i.ref for i in built.imports if i.found is False],
            imports_found=any(i.found for i in built.imports), exports=[x.backend for x in built.exports])
        built.advice = _advice.advise(facts)
        built.hints.extend(a.text for a in built.advice)

    @staticmethod
    def _record(v: _Vertex, record: type[VertexRecord], step_key: Callable[[str, ev.VertexName], str]) -> VertexRecord:
        # record and step_key are passed in: their modules are imported on the first summary, not with this one
        info = v.info
        if v.error is not None:
            status = "errored"
        elif v.canceled:
            status = "canceled"
        elif v.cached:
            status = "cached"
        elif v.done:
            status = "ran"
        else:
            status = "unfinished"
        kind = info.kind
        # VertexRecord's fields in their order (a call by keyword costs twice as much, once per vertex and build):
        # vertex, name, key, kind, target, stage, platform, index, instruction, args, status, seconds, exit_code,
        # user, cacheable. A step that failed or was cut has no DONE time; its last output line says how long it
        # ran at least.
        return record(
            v.number, v.name, step_key(v.name, info), kind, info.target, info.stage, info.platform, info.index,
            info.instruction, info.args, status, v.seconds if v.seconds is not None else v.output_elapsed,
            v.exit_code, kind not in NON_USER_KINDS,
            kind == "step" and info.instruction not in NOT_CACHEABLE_INSTRUCTIONS)

    def _times(self) -> dict[int, tuple[int | None, int | None]]:
        """Each timed vertex's start and completion in epoch nanoseconds (rawjson), read once for the graph, the
        duration and the start."""
        ns = rfc3339_ns
        return {n: (ns(v.started) if v.started else None, ns(v.completed) if v.completed else None)
                for n, v in self.vertices.items() if v.started or v.completed}

    def _graph(self, times: dict[int, tuple[int | None, int | None]]) -> dict[int, GraphVertex]:
        vertices = self.vertices
        by_digest = {v.digest: n for n, v in vertices.items() if v.digest is not None}
        untimed = (None, None)
        graph = {}
        for n in sorted(vertices):
            v = vertices[n]
            info = v.info
            started, completed = times.get(n, untimed)
            # GraphVertex's fields in their order: vertex, name, kind, cacheable, cached, ran, seconds, exact,
            # started_ns, completed_ns, digest, inputs, input_digests
            graph[n] = GraphVertex(
                n, v.name, info.kind, info.kind == "step" and info.instruction != "FROM", v.cached,
                v.done or v.error is not None or v.canceled, v.seconds, v.exact, started, completed, v.digest,
                tuple(by_digest[d] for d in v.inputs if d in by_digest), v.inputs)
        return graph

    def _duration(self, times: dict[int, tuple[int | None, int | None]]) -> float | None:
        if self.duration is not None:
            return self.duration
        if times:
            vertices = self.vertices
            timed = [n for n, v in vertices.items() if v.started and v.completed]
            if timed:
                from .timestamps import seconds_between

                start = vertices[min(timed, key=lambda n: times[n][0] or 0)].started
                end = vertices[max(timed, key=lambda n: times[n][1] or 0)].completed
                if start and end:
                    return seconds_between(start, end)
        if self.first_ts and self.last_ts and self.first_ts != self.last_ts:
            from .timestamps import seconds_between

            return seconds_between(self.first_ts, self.last_ts)
        return None

    def _hints(self, exports: list[CacheExport]) -> list[str]:
        hints = []
        if exports and any(w["rule"] == "SecretsUsedInArgOrEnv" for w in self.warnings.values()):
            hints.append("SecretsUsedInArgOrEnv: secrets passed with ARG or ENV end up in the exported cache "
                         "layers; use RUN --mount=type=secret instead.")
        for (kind, where), (lines, count) in self.secrets.items():
            at = ", ".join(map(str, lines)) + (f" and {count - len(lines)} more" if count > len(lines) else "")
            hints.append(f"Secret in the log: what looks like a {kind} {where} (line{'s' if count > 1 else ''} {at}); "
                         "buildlog's output redacts it, the log itself does not: rotate it, and pass secrets "
                         "with --secret / RUN --mount=type=secret.")
        for name, line in self.rule_timeouts.items():
            where = f" on line {line}" if line is not None else ""
            hints.append(f"The user rule {name!r} took too long{where} (its pattern backtracks) and was skipped.")
        return hints

    def _verdict(self, rules: RuleSet) -> tuple[str, Failure | None]:
        final = self.final
        if final is not None:
            decided = self._classify(final.message, final.style, final.line, final.message, rules, final.exit_code)
            return ("canceled" if decided.failure_class == "canceled" else "failure"), decided
        running = [v for v in self.vertices.values() if not v.finished]
        fatal = [v for v in self.vertices.values()
                 if v.error is not None and v.number not in self.imports and v.number not in self.exports]
        if not running and not fatal and (
                self.concluded or self._finished_frame() or (
                    self.vertices and (self.ended_cleanly or self._exported_all()))):
            return "success", None
        weak = self.weak_final
        if weak is not None:
            # only a tool around the build said it failed (an excerpt that kept only its line)
            return "failure", self._classify(weak.message, weak.style, weak.line, weak.message, rules, None)
        box = self._step_box()
        if box is not None:
            # The client prints an error block for a failed step only once the build has failed: with the final
            # line cut off, the block is the verdict (a tty excerpt: the "ERROR" row and its block).
            failed = [v for v in fatal if _names(box, v.name)]
            v = failed[0] if failed else min(fatal, key=lambda v: v.error_line or 0) if fatal else None
            message = (v.error or "") if v is not None else ""
            line = v.error_line if v is not None else None
            return "failure", self._classify(message, None, line, message or box, rules,
                                             v.exit_code if v is not None else None, vertex=v, box=box)
        # No verdict in the log: it was cut, or the client died silently.
        failure: Failure | None = None
        if fatal:
            v = min(fatal, key=lambda v: v.error_line or 0)
            assert v.error is not None
            failure = self._classify(v.error, None, v.error_line, v.error, rules, v.exit_code)
            failure.retryable = False
            failure.reason = "The log ends without a verdict; so far: " + failure.reason
        return "incomplete", failure

    def _anonymous(self, vertex: _Vertex) -> bool:
        """A vertex whose header an excerpt cut off, in a build whose beginning is cut (every build shows vertex 1
        first): named by its number, or by the line that came first (a status: ``#20 writing layer sha256:...
        done``, ``#20 preparing build cache for export``), neither of which is the name of a known kind."""
        first = self.vertices.get(1)
        # vertex 1 itself may be the one whose header was cut: then it is known by a status line, of no known kind
        return vertex.info.kind == "other" and (first is None or first.info.kind == "other")

    def _finished_frame(self) -> bool:
        """A FINISHED tty frame ends a build that got past its frontend (an excerpt may keep only this frame, or
        only its header). One that shows only the internal loads is a build stopped by a Dockerfile error: the
        frontend's error has no row, only the final line says it."""
        return self.tty_finished and (
            not self.vertices or any(v.info.kind != "internal" for v in self.vertices.values()))

    def _step_box(self) -> str | None:
        """The name of the last error block that names no cache import or export (those stand in successful
        builds too)."""
        for name in reversed(self.boxes):
            if parse_vertex_name(name).kind not in CACHE_KINDS:
                return name
        return None

    def _box_for(self, vertex: _Vertex | None) -> str | None:
        """The error block that names the failed vertex; for a vertex whose header an excerpt cut off (or no
        vertex at all), the block that names a failed step, else a cache vertex."""
        if vertex is not None:
            for name in self.boxes:
                if _names(name, vertex.name):
                    return name
            if not self._anonymous(vertex):
                return None
        box = self._step_box()
        if box is None and self.boxes:
            # the last block whose vertex the log does not show (an excerpt cut its lines): a block of a shown
            # vertex that is not the failed one (an ignore-error=true export's) is not where the build failed
            shown = [v.name for v in self.vertices.values()]
            box = next((name for name in reversed(self.boxes) if not any(_names(name, n) for n in shown)), None)
        return box

    def _exported_all(self) -> bool:
        """True when the build reached its end: an image export finished (and every export after it)."""
        return any(self.vertices[n].done for n in self.image_vertices) or (
            bool(self.exports) and all(self.vertices[n].finished for n in self.exports))

    def _failed_vertex(self, message: str) -> _Vertex | None:
        errored = [v for v in self.vertices.values() if v.error is not None and v.number not in self.imports]
        joined = message.replace("\n", "") if "\n" in message else message  # a web view may have hard-wrapped it
        for v in errored:
            assert v.error is not None
            first = v.error.split("\n", 1)[0]
            if first and (first in message or first in joined):
                return v
        # Not named by the final message: a canceled vertex is collateral, and a cache export's error did not
        # fail the build (one that did is repeated in the final message; an ignore-error=true one went on).
        errored = [v for v in errored if not v.canceled and v.number not in self.exports]
        return min(errored, key=lambda v: v.error_line or 0) if errored else None

    def _classify(self, message: str, style: str | None, line: int | None, text: str, rules: RuleSet,
                  exit_code: int | None, vertex: _Vertex | None = None, box: str | None = None) -> Failure:
        if vertex is None:
            vertex = self._failed_vertex(message)
        if box is None:
            box = self._box_for(vertex)
        # Where it failed: the vertex the error block names (the failed vertex, or in an excerpt without its vertex
        # lines or header, the block's), else the failed vertex.
        place = box if box is not None else vertex.name if vertex is not None else None
        step = place
        if exit_code is None and vertex is not None:
            exit_code = vertex.exit_code
        if exit_code is None and "\n" in message:
            exit_code = exit_code_of(message.replace("\n", ""))  # "exit code: 2" hard-wrapped by a web view
        output = vertex.tail() if vertex is not None else []
        output += self.boxes[box] if box is not None else self.orphan_output
        matched = None

        def timed_out(rule: Rule, at: int | None = line) -> None:
            self.rule_timeouts.setdefault(rule.name, at)

        if output:
            matched = rules.match("\n".join(output), scope="step-output", on_timeout=timed_out)
        if matched is None and place is not None:
            matched = rules.match(place, scope="vertex", on_timeout=timed_out)
        if matched is None:
            # (neither of the pattern's shapes can match without its literal start: most messages need no search)
            blanked = compiled(_QUOTED_COMMAND).sub(_blank_command, message) if (
                'process "' in message or "executor failed running [" in message) else message
            # a web view may have hard-wrapped the line: its pieces joined are the line
            matched = rules.match(blanked, scope="final", style=style, on_timeout=timed_out,
                                  also=blanked.replace("\n", "") if "\n" in blanked else None)
        info = parse_vertex_name(place) if place is not None else None
        if matched is None and not message and info is not None and info.instruction == "RUN":
            # an error block (or tty row) names a failed RUN step and no line says more: the step's command failed
            failure = Failure("build-step", False, "A RUN step failed; the log does not say with which exit code.",
                              line, text, step, exit_code, None)
        elif matched is None:
            failure = Failure("unknown", False, "No rule recognises this failure; the decisive line is kept so that "
                              "a rule can be added.", line, text, step, exit_code)
        else:
            rule, snippet = matched
            reason = rule.reason.format(match=snippet.strip()[:120], exit_code=exit_code)
            failure = Failure(rule.failure_class, rule.retryable, reason, line, text, step, exit_code, rule.name)
        kind = info.kind if info is not None else None
        if vertex is not None and vertex.number in self.exports:
            kind = "cache-export"
        if failure.failure_class != "canceled" and (
                kind == "cache-export" or (kind == "cache-import" and failure.failure_class not in STEP_CLASSES)):
            # Where it failed decides the class, why it failed decides the retry verdict.
            what = "Exporting" if kind == "cache-export" else "Importing"
            failure.reason = f"{what} the build cache failed: " + failure.reason[0].lower() + failure.reason[1:]
            failure.failure_class = "cache-export"
        return failure


_fleet_imported = False


def _import_fleet() -> None:
    """Import the fleet view's modules as globals of this one, on the first summary: an import statement in a
    function costs a few microseconds at every call (resolving the relative name), once per build."""
    global _advice, _buildfacts, _stepkey, _fleet_imported
    from . import advice as _advice
    from . import buildfacts as _buildfacts
    from . import stepkey as _stepkey

    _fleet_imported = True


def _names(box: str, name: str) -> bool:
    """Whether an error block's header names this vertex (a tty row cuts names to the terminal's width)."""
    return box == name or (len(name) >= 8 and box.startswith(name))


def _cache_state(imports: list[CacheImport], counts: StepCounts) -> str:
    """docs/json.md's ``cache.state``: whether an import was found does not matter once a step was cached (a local
    cache warms a build as well as an imported one); with nothing cached, a cache looked for makes it cold."""
    if counts.user_cached == 0:
        if imports:
            return "cold"
        return "none"
    if counts.miss == 0:
        return "warm"
    return "partial"


def _ignore(fold: _BuildFold, e: ev.Event) -> None:
    return None


def _handler(cls: type[ev.Event]) -> Any:
    """The handler of an event class without one of its own: its nearest base's, or ``_ignore``."""
    for base in cls.__mro__[1:]:
        handler = _HANDLERS.get(base)
        if handler is not None:
            break
    else:
        handler = _ignore
    _HANDLERS[cls] = handler
    return handler


_HANDLERS: dict[type[ev.Event], Any] = {
    ev.VertexHeader: _BuildFold.on_header,
    ev.VertexCached: _BuildFold.on_cached,
    ev.VertexDone: _BuildFold.on_done,
    ev.VertexError: _BuildFold.on_error,
    ev.VertexCanceled: _BuildFold.on_canceled,
    ev.StepOutput: _BuildFold.on_output,
    ev.CacheManifestFound: _BuildFold.on_manifest_found,
    ev.CacheManifestWritten: _BuildFold.on_cache_manifest_written,
    ev.ManifestPushed: _BuildFold.on_pushed,
    ev.ManifestListExported: _BuildFold.on_manifest_list,
    ev.PushDigest: _BuildFold.on_push_digest,
    ev.VertexWarning: _BuildFold.on_vertex_warning,
    ev.BuildCheckWarning: _BuildFold.on_check_warning,
    ev.ClientWarning: _BuildFold.on_client_warning,
    ev.BuildFailed: _BuildFold.on_build_failed,
    ev.VertexTiming: _BuildFold.on_timing,
    ev.VertexInputs: _BuildFold.on_inputs,
    ev.FormatDetected: _BuildFold.on_format,
    ev.TtyFrame: _BuildFold.on_tty_frame,
    ev.LegacyImageBuilt: _BuildFold.on_end_marker,
    ev.LegacyImageTagged: _BuildFold.on_end_marker,
    ev.WarningsSummary: _BuildFold.on_warnings_summary,
    ev.BuildDetailsLink: _BuildFold.on_end_marker,
    ev.ErrorBlockRule: _BuildFold.on_box_rule,
    ev.ErrorBlockHeader: _BuildFold.on_box_header,
    ev.ErrorBlockOutput: _BuildFold.on_box_output,
    ev.VertexStatus: _BuildFold.on_status,
}


class Summarizer:
    """Feed events (``feed``/``feed_all``); ask for ``result()`` whenever you like."""

    def __init__(self, rules: RuleSet | None = None) -> None:
        self._rules = rules or DEFAULT_RULES
        self._redactor = self._rules.redactor
        self._fold: _BuildFold | None = None
        self._done: collections.deque[BuildSummary] = collections.deque(maxlen=MAX_BUILDS_KEPT)
        self._attempts = 0

    def feed(self, event: ev.Event) -> None:
        fold = self._fold
        if fold is None or event.build != fold.index:
            fold = self._next_fold(event)
            if fold is None:
                return
        fold.add(event)

    def _next_fold(self, event: ev.Event) -> _BuildFold | None:
        """The fold for the build ``event`` belongs to, once the event's build is not the one being folded."""
        fold = self._fold
        if event.build == 0 and fold is None and not isinstance(event, VERDICT_BEFORE_BUILD):
            # text before the first build (an error there is a build that failed before it began; an excerpt may
            # begin with the error block or the push that end a build)
            return None
        if fold is not None:
            self._done.append(fold.summary(self._rules))
        fold = self._fold = _BuildFold(event.build, event.line, self._redactor)
        self._attempts += 1
        return fold

    def feed_all(self, events: Iterable[ev.Event]) -> Summarizer:
        # feed() and _BuildFold.add() written out: this loop runs once per event, and most events (the line of a
        # rawjson status, a layer's progress) are read for their line only. Events come in batches so that the
        # secret check is one search per batch rather than one per event.
        handlers = _HANDLERS
        ignore = _ignore
        fold = self._fold
        might_hold_secrets = self._redactor.might_hold_secrets
        no_secrets = NO_SECRETS
        most_events, most_chars = SECRET_BATCH, SECRET_BATCH_CHARS
        it = iter(events)
        while True:
            # a batch: SECRET_BATCH events, or fewer holding SECRET_BATCH_CHARS characters (memory stays bounded)
            batch: list[ev.Event] = []
            texts: list[str] = []
            size = 0
            for event in it:
                batch.append(event)
                text = event.raw if type(event) not in no_secrets else ""
                texts.append(text)
                size += len(text)
                if size >= most_chars or len(batch) >= most_events:
                    break
            if not batch:
                return self
            marked = might_hold_secrets(texts)
            # the fold's last line, kept here and written to the fold when it changes or the batch ends
            end = fold.last_line if fold is not None else 0
            try:
                for index, event in enumerate(batch):
                    if fold is None or event.build != fold.index:
                        if fold is not None:
                            fold.last_line = end
                        fold = self._next_fold(event)
                        if fold is None:
                            continue
                    end = event.end_line
                    if marked and index in marked:
                        fold._secrets_in(event, texts[index])
                    if event.ci is not None:
                        fold.note_ci(event.ci)
                    handler = handlers.get(type(event))
                    if handler is None:
                        handler = _handler(type(event))
                    if handler is not ignore:
                        handler(fold, event)
            finally:
                if fold is not None:
                    fold.last_line = end

    def close(self) -> LogSummary:
        """The summary once the input has ended (the same as ``result()``: a log without a verdict is
        ``incomplete`` whether or not more could come)."""
        return self.result()

    def result(self) -> LogSummary:
        builds = list(self._done)
        if self._fold is not None:
            builds.append(self._fold.summary(self._rules))
            builds = builds[-MAX_BUILDS_KEPT:]
        return LogSummary(builds=builds, attempts=self._attempts)


def summarize_events(events: Iterable[ev.Event], rules: RuleSet | None = None) -> LogSummary:
    return Summarizer(rules).feed_all(events).close()


def summarize_path(path: str | os.PathLike[str], rules: RuleSet | None = None) -> LogSummary:
    from .sources import parse_path

    return summarize_events(parse_path(path), rules)


def summarize_bytes(data: bytes, rules: RuleSet | None = None) -> LogSummary:
    from .sources import parse_bytes

    return summarize_events(parse_bytes(data), rules)
