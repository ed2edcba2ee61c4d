"""Every event the parser emits, in one place.

Events are immutable values. Each one carries where it came from:

* ``line`` / ``end_line`` — the 1-based line span in the input (lines are counted by ``\\n``, as an editor does);
* ``raw`` — the exact input text of that span, terminators included, decoded with ``surrogateescape`` so that
  ``event.raw_bytes()`` gives the input bytes back unchanged (invalid UTF-8 included);
* ``build`` — which build of the log the event belongs to (1-based; 0 for text before the first build);
* ``ci`` — the CI prefix that was stripped from the line (GitHub timestamp, GitLab section marker, ...), if any.

Concatenating ``raw_bytes()`` of all events, in order, gives back the whole input. Events with an empty ``raw`` are
of two sorts: synthetic ones (``BuildStarted`` with ``inferred=True``, ``FormatDetected``), which mark a boundary
before a line; and the events derived from a line that means several things (a rawjson line updating many
vertices, a tty line redrawing rows, a legacy failure line that is both the step's error and the build's): the
FIRST event of such a line carries its raw text and span, the following ones have ``raw=""`` and the same
``line``/``end_line``. So each input line belongs to the span of exactly one event with raw text.

``docs/events.md`` documents each type; a test keeps it in step with this module.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import attrs
from attrs import field


class _Value:
    """Equality, hash and repr for the classes of this module, from their attrs fields.

    attrs would write and compile ``__eq__``, ``__hash__`` and ``__repr__`` for each class, which makes creating the
    ~70 classes the largest part of ``import buildlog``; these generic ones behave the same: values of the same class
    with equal fields are equal and hash alike, and the repr is ``Class(field=value, ...)`` without ``raw``."""

    # weak references are the base's, not each class's own: a class that adds ``__weakref__`` beside its fields
    # has a layout no other class shares, which ``builders`` needs
    __slots__ = ("__weakref__",)
    _values: ClassVar[Callable[[Any], tuple[Any, ...]]]  # the fields' values, in attrs order
    _repr_fields: ClassVar[tuple[str, ...]]

    def __eq__(self, other: object) -> bool:
        cls = self.__class__
        if other.__class__ is not cls:
            return NotImplemented
        return cls._values(self) == cls._values(other)

    def __ne__(self, other: object) -> bool:
        cls = self.__class__
        if other.__class__ is not cls:
            return NotImplemented
        return cls._values(self) != cls._values(other)

    def __hash__(self) -> int:
        cls = self.__class__
        return hash((cls, cls._values(self)))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._repr_fields)
        return f"{self.__class__.__qualname__}({fields})"


if TYPE_CHECKING:  # type checkers know attrs' own decorator; the one below only leaves out what _Value gives
    from attrs import frozen
else:

    def frozen(cls: type | None = None, /, **options: Any) -> Any:
        """``attrs.frozen`` (slotted, immutable) generating only ``__init__``: the rest comes from ``_Value``."""

        def make(c: type) -> type:
            made = attrs.frozen(c, eq=False, order=False, repr=False, **options)
            names = tuple(a.name for a in attrs.fields(made))
            made._values = staticmethod(_getter(names))
            made._repr_fields = tuple(a.name for a in attrs.fields(made) if a.repr)
            return made

        return make if cls is None else make(cls)


def builders(*classes: type[Any]) -> tuple[Callable[..., Any], ...]:
    """For each class, a function that makes an instance from all its field values given positionally, in
    ``attrs.fields`` order, with no default filled in: the same value as ``cls(**fields)``, about five times faster.

    The parser's hot paths build an event for nearly every line, and a frozen attrs ``__init__`` sets each field
    through ``object.__setattr__`` (the class's own ``__setattr__`` refuses). A builder fills an instance of a
    private twin class instead, whose fields are plain slot stores: the twin has the same base and the same
    ``__slots__``, so the instance can then be given the real class (``__class__`` assignment between classes of
    one layout), and is as frozen as any other. One builder is made per class and kept; the functions of the
    classes asked for at once are written and compiled together. ``tests/test_event_builders.py`` checks every class
    against its attrs constructor."""
    new = [cls for cls in dict.fromkeys(classes) if cls not in _BUILDERS]
    source: list[str] = []
    names: dict[str, Any] = {"_new": object.__new__}
    for i, cls in enumerate(new):
        fields = attrs.fields(cls)
        if any(a.converter is not None or a.validator is not None or not a.init for a in fields):
            raise TypeError(f"{cls.__qualname__}: only plain fields can be built this way")
        twin = type(cls.__name__, cls.__bases__, {
            "__slots__": cls.__dict__.get("__slots__", ()), "__module__": cls.__module__,
            "__setattr__": object.__setattr__, "__delattr__": object.__delattr__})
        names[f"_twin{i}"] = twin
        names[f"_cls{i}"] = cls
        params = ", ".join(a.name for a in fields)
        stores = "".join(f"    o.{a.name} = {a.name}\n" for a in fields)
        source.append(f"def build{i}({params}):\n    o = _new(_twin{i})\n{stores}    o.__class__ = _cls{i}\n"
                      f"    return o\n")
    if new:
        exec(compile("\n".join(source), f"<buildlog.events builders of {len(new)} classes>", "exec"), names)
        _BUILDERS.update((cls, names[f"build{i}"]) for i, cls in enumerate(new))
    return tuple(_BUILDERS[cls] for cls in classes)


_BUILDERS: dict[type[Any], Callable[..., Any]] = {}
_T = TypeVar("_T")


def builders_on_first_use(namespace: dict[str, Any], **classes: type[Any]) -> tuple[Callable[..., Any], ...]:
    """Stand-ins for the builders of these classes, to be bound to these names in ``namespace`` (a module's
    globals): the first call of any makes all the builders, binds them to the names in the stand-ins' place and
    passes its call on. For events only some logs have (a failed build's last lines), whose builders every ``import
    buildlog`` would otherwise make; code that looks the name up at each call gets the builder itself afterwards."""

    def make_all() -> None:
        namespace.update(zip(classes, builders(*classes.values()), strict=True))

    def stand_in(name: str) -> Callable[..., Any]:
        def first_call(*fields: Any) -> Any:
            make_all()
            return namespace[name](*fields)

        return first_call

    return tuple(stand_in(name) for name in classes)


def builder(cls: type[_T]) -> Callable[..., _T]:
    """``builders(cls)[0]``: the builder of one class (for classes chosen at run time, such as a status's)."""
    made = _BUILDERS.get(cls)
    return made if made is not None else builders(cls)[0]


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if len(names) > 1:
        return operator.attrgetter(*names)
    # attrgetter of one name gives the value itself, not a 1-tuple
    return lambda value: tuple(getattr(value, name) for name in names)


@frozen
class CIPrefix(_Value):
    """What a CI system added in front of a line, removed before the line was matched."""

    timestamp: str | None = None  # GitHub Actions "2024-03-01T12:00:00.1234567Z" or Buildkite epoch ms
    marker: str | None = None  # "group", "endgroup", "error", "warning", "section_start", "section_end", ...
    section: str | None = None  # GitLab section name; the step of a downloaded GitHub log
    job: str | None = None  # the job of a downloaded GitHub log (`gh run view --log`: "JOB<TAB>STEP<TAB>...")


@frozen
class VertexName(_Value):
    """A vertex name split into its parts. ``kind`` says which shape it had (see ``vertex_names.py``)."""

    kind: str  # step | internal | auth | cache-import | cache-export | image-export | resolve | frontend | other
    target: str | None = None  # bake/compose target ("api" in "[api build 1/7]")
    platform: str | None = None  # "linux/amd64"
    stage: str | None = None  # "builder", "stage-1"; None for single-stage "[2/3]"
    index: int | None = None  # step number within the stage
    total: int | None = None  # steps in the stage
    instruction: str | None = None  # "RUN", "COPY", "FROM", ...
    args: str | None = None  # the instruction's arguments as printed
    image: str | None = None  # FROM steps and "load metadata for": the image reference
    ref: str | None = None  # cache import ref, export ref, resolved image ref
    backend: str | None = None  # cache exports: registry | gha | local | inline | s3 | azblob | unknown
    exporter: str | None = None  # image exports: image | docker | oci | local | tar


# ---------------------------------------------------------------------------------------------------------------
# Base classes. Fields are keyword-only so that subclasses can add required fields.


@frozen(kw_only=True)
class Event(_Value):
    """Base of all events."""

    line: int
    end_line: int
    raw: str = field(repr=False)
    build: int = 0
    ci: CIPrefix | None = None

    def raw_bytes(self) -> bytes:
        """The exact input bytes this event came from."""
        return self.raw.encode("utf-8", "surrogateescape")

    @property
    def type(self) -> str:
        return type(self).__name__


@frozen(kw_only=True)
class VertexEvent(Event):
    """An event about one vertex (a build-graph node: a Dockerfile step, an internal load, an exporter)."""

    vertex: int


# ---------------------------------------------------------------------------------------------------------------
# Structure of the log


@frozen(kw_only=True)
class BuildStarted(Event):
    """A build begins: the ``#0 building with "X" instance using Y driver`` line, or a boundary the parser
    inferred (vertex numbering restarted, a new build after a final error); inferred ones have an empty ``raw``."""

    builder: str | None = None
    driver: str | None = None
    inferred: bool = False


@frozen(kw_only=True)
class BlankLine(Event):
    """An empty line (the plain printer separates vertex blocks with them)."""


@frozen(kw_only=True)
class UnrecognizedLine(Event):
    """A line that matches no known shape: foreign text, kept so that nothing is lost."""

    text: str


@frozen(kw_only=True)
class LineFragment(Event):
    """The rest of a line longer than the parser's bound, in pieces. The line's first piece was parsed as usual
    (its event has ``truncated`` in its text's stead); the last fragment gives the line's true length in bytes."""

    length: int  # bytes in this fragment
    final: bool
    total_length: int | None = None  # bytes in the whole line, on the final fragment


@frozen(kw_only=True)
class CIMarker(Event):
    """A line that is only a CI system's marker: ``##[group]Title``, ``##[endgroup]``, a GitLab section line."""

    kind: str
    text: str


@frozen(kw_only=True)
class ClientLogLine(Event):
    """A stray line from the client's own logger (``2026/11/28 02:27:56 http2: ...``)."""

    timestamp: str
    text: str


# ---------------------------------------------------------------------------------------------------------------
# Vertices (plain progress)


@frozen(kw_only=True)
class VertexHeader(VertexEvent):
    """``#N NAME``: output switches to vertex N. ``repeat`` is true when N was shown before in this build."""

    name: str
    info: VertexName
    repeat: bool = False


@frozen(kw_only=True)
class VertexInterrupted(VertexEvent):
    """``#N ...``: the printer leaves vertex N unfinished to show another one."""


@frozen(kw_only=True)
class VertexDigest(VertexEvent):
    """``#N sha256:DIGEST`` right after the header (BuildKit <= 0.8)."""

    digest: str


@frozen(kw_only=True)
class VertexStatus(VertexEvent):
    """``#N ID [CUR / TOTAL] [SECSs] [done]``: a progress item inside a vertex."""

    id: str
    current: int | None = None  # bytes
    total: int | None = None  # bytes
    seconds: float | None = None
    done: bool = False


@frozen(kw_only=True)
class StepOutput(VertexEvent):
    """``#N SECS TEXT``: what a step printed, one line or a run of consecutive lines of the same vertex
    (``line``..``end_line``). ``text`` is the run's lines joined with ``\\n`` (``lines`` splits them again);
    ``elapsed`` is the first line's time since the step started and ``last_elapsed`` the last line's (None in output
    without times, older BuildKit). A run holds at most ``MAX_RUN_LINES`` lines and ``MAX_RUN_CHARS`` characters
    of raw text (or the parser's ``max_line``, when smaller), of lines without CI prefix or escape sequence; any
    other output line is an event of its own. Where a run ends depends only on the text, never on how it was
    chunked: a live consumer gets a run when the next line that is not part of it arrives, when the run reaches its
    bound, or at the end of the input."""

    elapsed: float | None
    text: str
    truncated: bool = False
    last_elapsed: float | None = field(default=attrs.Factory(lambda self: self.elapsed, takes_self=True))

    @property
    def lines(self) -> list[str]:
        """The text of each line of the run."""
        return self.text.split("\n")

    @property
    def line_count(self) -> int:
        return self.end_line - self.line + 1

    def last_lines(self, count: int) -> list[str]:
        """The text of the last ``count`` lines (all of them when fewer): ``lines[-count:]``, without reading the
        whole run's text when it has not been read yet (a summary keeps only each step's last lines)."""
        text: str | None = _TEXT_SLOT.__get__(self, StepOutput)
        if text is not None:
            return text.rsplit("\n", count)[-count:]
        raw = self.raw
        cut = len(raw) - 1 if raw.endswith("\n") else len(raw)
        for _ in range(count):
            cut = raw.rfind("\n", 0, cut)
            if cut < 0:
                return run_text(raw, self.end_line != self.line).split("\n")
        return run_text(raw[cut + 1 :], True).split("\n")


MAX_RUN_LINES = 256
MAX_RUN_CHARS = 1 << 18

# A run's text is its raw lines without their "#N SECS " prefixes. The plain grammar leaves it to be made from
# ``raw`` on the first read: most readers (a summary, a count of lines) never read it, and making it is a pass over
# the run that costs as much as finding the run. ``StepOutput.text`` reads the slot through ``_RunText``, which
# fills it then; to everything else (attrs, equality, JSON, copies) it is the field it always was.
_RUN_HEAD = re.compile(r"#[0-9]+ \d+\.\d{1,3} ?")
_RUN_PREFIX = re.compile(r"\n#[0-9]+ \d+\.\d{1,3} ?")  # a literal start: the engine finds it fast


def run_text(raw: str, several: bool) -> str:
    """The text of a run of output lines of one vertex (``raw``: whole ``#N SECS[ TEXT]`` lines, the last one
    possibly cut before its line end; ``several``: whether it has more than one line), as ``StepOutput.text``."""
    head = _RUN_HEAD.match(raw)
    text = raw[head.end() if head is not None else 0 :]
    if several:
        text = _RUN_PREFIX.sub("\n", text)
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    if raw.endswith("\n"):
        return text[:-1]
    # the log's last line, cut before its line end (a "\r" left alone there was the line end)
    return text[:-1] if text.endswith("\r") else text


class _RunText:
    """``StepOutput.text``: the field's slot, filled from ``raw`` on the first read when the grammar left it
    empty (``None``)."""

    __slots__ = ("_slot",)

    def __init__(self, slot: Any) -> None:
        self._slot = slot

    def __get__(self, event: StepOutput | None, owner: type | None = None) -> Any:
        if event is None:
            return self
        text = self._slot.__get__(event, owner)
        if text is None:
            raw = event.raw
            if raw.__class__ is not str:
                return None  # (an event made by hand with a raw that is not text: nothing to make it from)
            text = run_text(raw, event.end_line != event.line)
            self._slot.__set__(event, text)
        return text

    def __set__(self, event: StepOutput, value: str | None) -> None:
        self._slot.__set__(event, value)

    def __delete__(self, event: StepOutput) -> None:
        self._slot.__delete__(event)


_TEXT_SLOT = StepOutput.__dict__["text"]
type.__setattr__(StepOutput, "text", _RunText(_TEXT_SLOT))


@frozen(kw_only=True)
class OutputClipped(StepOutput):
    """``[output clipped, log limit 2MiB reached]``: BuildKit dropped the rest of the step's output."""

    limit: str


@frozen(kw_only=True)
class VertexWarning(VertexEvent):
    """``#N WARN: TEXT``. Build-check warnings are split into rule, message and Dockerfile line."""

    text: str
    rule: str | None = None
    message: str | None = None
    source_line: int | None = None


@frozen(kw_only=True)
class VertexCached(VertexEvent):
    """``#N CACHED``: the vertex was satisfied from cache and did not run."""


@frozen(kw_only=True)
class VertexDone(VertexEvent):
    """``#N DONE 1.1s``: the vertex finished; ``seconds`` is its run time."""

    seconds: float


@frozen(kw_only=True)
class VertexError(VertexEvent):
    """``#N ERROR: TEXT`` (with continuation lines). Not necessarily fatal: see the summary."""

    message: str
    exit_code: int | None = None  # for "did not complete successfully: exit code: N" and the older form


@frozen(kw_only=True)
class VertexCanceled(VertexEvent):
    """``#N CANCELED``."""


# ---------------------------------------------------------------------------------------------------------------
# Domain events: statuses, headers and errors that mean something about caches and images.


@frozen(kw_only=True)
class CacheImportRequested(VertexHeader):
    """First header of an ``importing cache manifest from REF`` vertex."""

    ref: str


@frozen(kw_only=True)
class CacheManifestFound(VertexStatus):
    """``inferred cache manifest type: MEDIATYPE``: the cache import found its manifest."""

    media_type: str


@frozen(kw_only=True)
class CacheImportFailed(VertexError):
    """An error inside a cache-import vertex; ``not_found`` when the ref does not exist (a cold cache)."""

    ref: str | None
    not_found: bool


@frozen(kw_only=True)
class CacheExportStarted(VertexHeader):
    """First header of a cache-export vertex (``exporting cache to registry``, GitHub Actions cache, ...)."""

    backend: str


@frozen(kw_only=True)
class CacheExportPreparing(VertexStatus):
    """``preparing build cache for export``."""


@frozen(kw_only=True)
class CacheExportSending(VertexStatus):
    """``sending cache export``."""


@frozen(kw_only=True)
class CacheLayerWritten(VertexStatus):
    """``writing layer sha256:...`` inside a cache export."""

    digest: str


@frozen(kw_only=True)
class CacheConfigWritten(VertexStatus):
    """``writing config sha256:...`` inside a cache export."""

    digest: str


@frozen(kw_only=True)
class CacheManifestWritten(VertexStatus):
    """``writing cache image manifest sha256:...`` (``manifest_kind`` "image-manifest") or
    ``writing cache manifest sha256:...`` (an index, ``manifest_kind`` "index")."""

    digest: str
    manifest_kind: str


@frozen(kw_only=True)
class CacheExportFailed(VertexError):
    """An error inside a cache-export vertex."""


@frozen(kw_only=True)
class ImageExportStarted(VertexHeader):
    """First header of an image-export vertex (``exporting to image``, ``... docker image format``, ...)."""

    exporter: str


@frozen(kw_only=True)
class ImageLayersExported(VertexStatus):
    """``exporting layers``."""


@frozen(kw_only=True)
class ImageManifestExported(VertexStatus):
    """``exporting manifest sha256:...``."""

    digest: str


@frozen(kw_only=True)
class ImageConfigExported(VertexStatus):
    """``exporting config sha256:...``."""

    digest: str


@frozen(kw_only=True)
class AttestationManifestExported(VertexStatus):
    """``exporting attestation manifest sha256:...``."""

    digest: str


@frozen(kw_only=True)
class ManifestListExported(VertexStatus):
    """``exporting manifest list sha256:...``."""

    digest: str


@frozen(kw_only=True)
class ImageNamed(VertexStatus):
    """``naming to REF``."""

    ref: str


@frozen(kw_only=True)
class ImageUnpacked(VertexStatus):
    """``unpacking to REF``."""

    ref: str


@frozen(kw_only=True)
class ImageWritten(VertexStatus):
    """``writing image sha256:...``."""

    digest: str


@frozen(kw_only=True)
class LayersPushing(VertexStatus):
    """``pushing layers``."""


@frozen(kw_only=True)
class ManifestPushed(VertexStatus):
    """``pushing manifest for REF@sha256:...``; ``done`` when the registry accepted it."""

    ref: str
    digest: str | None


@frozen(kw_only=True)
class TarballSent(VertexStatus):
    """``sending tarball``."""


@frozen(kw_only=True)
class ImageResolved(VertexStatus):
    """``resolve REF@sha256:...``: a base image was resolved."""

    ref: str


@frozen(kw_only=True)
class LayerTransfer(VertexStatus):
    """``sha256:... 1.08MB / 1.08MB``: a layer download."""

    digest: str


@frozen(kw_only=True)
class LayerExtracted(VertexStatus):
    """``extracting sha256:...``."""

    digest: str


# ---------------------------------------------------------------------------------------------------------------
# What the client prints after the vertices


@frozen(kw_only=True)
class ErrorBlockRule(Event):
    """``------``: opens or closes the block that repeats a failed vertex's last output."""

    opens: bool


@frozen(kw_only=True)
class ErrorBlockHeader(Event):
    """`` > NAME:`` inside an error block: which vertex failed."""

    name: str


@frozen(kw_only=True)
class ErrorBlockOutput(Event):
    """A repeated output line inside an error block (``1.058 not ok 3``)."""

    elapsed: float | None
    text: str


@frozen(kw_only=True)
class SourceLocation(Event):
    """``Dockerfile:19``: the file and line of the failing instruction."""

    file: str
    source_line: int


@frozen(kw_only=True)
class SourceRule(Event):
    """``--------------------`` around a source excerpt."""


@frozen(kw_only=True)
class SourceExcerptLine(Event):
    """``  19 | >>> RUN ...``: one line of the source excerpt; ``marked`` for the failing lines."""

    source_line: int
    text: str
    marked: bool


@frozen(kw_only=True)
class BuildFailed(Event):
    """The client's final error (``ERROR: failed to build: failed to solve: ...`` and every older spelling),
    with continuation lines. ``style`` names which generation printed it."""

    message: str
    style: str  # buildx | buildx-solve | lowercase | frontend-v0 | bake | client-eof | wrapper | other
    target: str | None = None  # bake: "ERROR: target NAME: ..."
    exit_code: int | None = None


@frozen(kw_only=True)
class ClientWarning(Event):
    """``WARNING: ...`` from the client."""

    text: str


@frozen(kw_only=True)
class WarningsSummary(Event):
    """``11 warnings found (use docker --debug to expand):``."""

    count: int


@frozen(kw_only=True)
class BuildCheckWarning(Event):
    """`` - RuleName: message (line N)`` in the warnings block."""

    rule: str
    message: str
    source_line: int | None


@frozen(kw_only=True)
class BuildDetailsLink(Event):
    """``View build details: URL``."""

    url: str


# ---------------------------------------------------------------------------------------------------------------
# `docker push` output, which CI scripts print right after a build (Docker 20.10's `docker build` cannot push)


@frozen(kw_only=True)
class PushStarted(Event):
    """``The push refers to repository [REPO]``."""

    repository: str


@frozen(kw_only=True)
class PushLayerStatus(Event):
    """``ID: Preparing`` / ``Pushed`` / ``Layer already exists`` / ``Mounted from REPO`` / ``Retrying in N seconds``."""

    layer: str
    status: str


@frozen(kw_only=True)
class PushDigest(Event):
    """``TAG: digest: sha256:... size: N``: the push of REPO:TAG completed."""

    ref: str  # the repository of the PushStarted line and this tag
    tag: str
    digest: str
    size: int


# ---------------------------------------------------------------------------------------------------------------
# Other shapes of the same output: rawjson, tty captures, the legacy builder (docs/formats.md).
#
# A rawjson or tty line first gives the event that carries its raw text (SolveStatusLine, TtyLine); the events
# that line means follow it with an empty ``raw`` and the same span. Whatever the format, the vertex events are
# the plain ones (VertexHeader, VertexCached, VertexDone, ...), so that a verdict never depends on the format.


@frozen(kw_only=True)
class FormatDetected(Event):
    """A build whose text is not plain progress: ``format`` is ``rawjson``, ``tty`` or ``legacy``; ``forced`` when
    the caller chose it. Synthetic (empty ``raw``), right after the build's ``BuildStarted``."""

    format: str
    forced: bool = False


@frozen(kw_only=True)
class SolveStatusLine(Event):
    """One rawjson line, a JSON ``SolveStatus``, with how many objects of each kind it held."""

    vertexes: int
    statuses: int
    logs: int
    warnings: int


@frozen(kw_only=True)
class MalformedJson(Event):
    """A line of a rawjson stream that is not a JSON object: cut short, longer than the line bound, or foreign
    text. ``text`` is the line (its first piece for an over-long one)."""

    text: str
    error: str


@frozen(kw_only=True)
class VertexInputs(VertexEvent):
    """rawjson: the vertex's digest and the digests of the vertices it consumes, the edges of the build graph.
    Given once, right after the vertex's first header; inputs may name vertices never shown (never started)."""

    digest: str
    inputs: tuple[str, ...]


@frozen(kw_only=True)
class VertexTiming(VertexEvent):
    """rawjson: exact times of a vertex that reached an end state (done, cached, error, canceled): its first
    start and last completion as sent (RFC 3339, nanoseconds), and its run time with overlapping runs merged
    (what plain's ``DONE`` rounds to a tenth). A vertex that runs again gets another one; the last one holds."""

    started: str
    completed: str
    seconds: float


@frozen(kw_only=True)
class TtyLine(Event):
    """A line of tty frames: the rows it draws (cursor movement can put several on one line), colours and
    cursor movement removed, padding kept."""

    rows: tuple[str, ...]


@frozen(kw_only=True)
class TtyFrame(Event):
    """``[+] Building 12.3s (15/20)``, the header of a tty frame (``FINISHED`` on the last one)."""

    seconds: float
    completed: int
    total: int
    finished: bool


@frozen(kw_only=True)
class LegacyContextSent(Event):
    """``Sending build context to Docker daemon  2.048kB``: the legacy builder's first line."""

    size: int | None  # bytes


@frozen(kw_only=True)
class LegacyContainerStarted(VertexEvent):
    """`` ---> Running in 3f2a...``: the step runs in this container."""

    container: str


@frozen(kw_only=True)
class LegacyStepImage(VertexEvent):
    """`` ---> 9c1d...`` after a cached step: the image the cache gave."""

    image: str


@frozen(kw_only=True)
class LegacyStepDone(VertexDone):
    """`` ---> 9c1d...`` after a step that ran: the step is done and this is its image. The legacy builder prints
    no times: ``seconds`` is 0.0 and means nothing."""

    image: str


@frozen(kw_only=True)
class LegacyContainerRemoved(VertexEvent):
    """``Removing intermediate container 3f2a...``."""

    container: str


@frozen(kw_only=True)
class LegacyImageBuilt(Event):
    """``Successfully built 9c1d...``."""

    image: str


@frozen(kw_only=True)
class LegacyImageTagged(Event):
    """``Successfully tagged app:latest``."""

    ref: str


# ---------------------------------------------------------------------------------------------------------------


def _all_event_types() -> tuple[type[Event], ...]:
    found: list[type[Event]] = []
    for value in list(globals().values()):
        if isinstance(value, type) and issubclass(value, Event) and value not in (Event, VertexEvent):
            found.append(value)
    return tuple(found)


EVENT_TYPES: tuple[type[Event], ...] = _all_event_types()
"""Every concrete event class, in the order they are defined here."""

EVENT_TYPES_BY_NAME: dict[str, type[Event]] = {cls.__name__: cls for cls in EVENT_TYPES}


# ---------------------------------------------------------------------------------------------------------------
# Events as JSON. ``buildlog events`` writes one line per event, so this runs once per event: the fields of each
# class are looked up once, and its JSON text is written by a function made for that class (as attrs makes each
# class's ``__init__``) instead of a dict handed to the JSON encoder, which cost four times as much.


def _jsonable(value: Any) -> Any:
    if attrs.has(type(value)):
        return {k: _jsonable(v) for k, v in attrs.asdict(value, recurse=False).items() if v is not None}
    return value


_DICT_FIELDS: dict[type[Event], tuple[str, ...]] = {}


def _dict_fields(cls: type[Event]) -> tuple[str, ...]:
    names = _DICT_FIELDS.get(cls)
    if names is None:
        names = _DICT_FIELDS[cls] = tuple(a.name for a in attrs.fields(cls)
                                          if a.name not in ("line", "end_line", "raw"))
    return names


def event_to_dict(event: Event, *, with_raw: bool = False) -> dict[str, Any]:
    """The event as a JSON-ready dict: ``type``, ``line``, ``end_line``, ``build``, then its own fields.

    Fields that are ``None`` are left out; ``raw`` only with ``with_raw``."""
    out: dict[str, Any] = {"type": type(event).__name__, "line": event.line, "end_line": event.end_line}
    for name in _DICT_FIELDS.get(type(event)) or _dict_fields(type(event)):
        value = getattr(event, name)
        if value is None:
            continue
        out[name] = _jsonable(value) if hasattr(value, "__attrs_attrs__") else value
    if with_raw:
        out["raw"] = event.raw
    return out


_dumps = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode
_escape: Callable[[str], str] = json.encoder.encode_basestring_ascii
_JSON_WRITERS: dict[type[Any], Callable[[Any, bool], str]] = {}

# How a field of each declared type is written, as an expression on the field's value ``v``; each one checks the
# value's type and hands anything else to ``_any``, so that a value of an unexpected type is still written as the
# JSON encoder would. Fields of other declared types always go to ``_any``.
_FIELD_WRITERS = {
    "int": "(f'{v}' if v.__class__ is int else _any(v))",
    "str": "(_escape(v) if v.__class__ is str else _any(v))",
    "float": "(f'{v!r}' if v.__class__ is float and v - v == 0.0 else _any(v))",  # NaN and infinities: _any
    "bool": "('true' if v is True else 'false' if v is False else _any(v))",
    "VertexName": "_name_json(v)",
}


def _any(value: Any) -> str:
    if hasattr(value, "__attrs_attrs__"):
        return _json_writer(type(value))(value, False)
    return _dumps(value)


# A header's parsed name as JSON, by the object's identity: the parser's names come from a cache
# (``parse_vertex_name``), so a name shown again is the same object, and every header and status of a vertex holds it.
_NAMES_WRITTEN: dict[int, tuple[VertexName, str]] = {}


def _name_json(value: Any) -> str:
    known = _NAMES_WRITTEN.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    if value.__class__ is not VertexName:
        return _any(value)
    if len(_NAMES_WRITTEN) >= 4096:
        _NAMES_WRITTEN.clear()
    text = _json_writer(VertexName)(value, False)
    _NAMES_WRITTEN[id(value)] = (value, text)  # (the object is kept: its id cannot be reused while it is here)
    return text


def _json_writer(cls: type[Any]) -> Callable[[Any, bool], str]:
    """The function that writes an instance of ``cls`` as ``event_to_json`` does, made on first use."""
    writer = _JSON_WRITERS.get(cls)
    if writer is not None:
        return writer
    event = issubclass(cls, Event)
    start = '{"type":' + _dumps(cls.__name__) if event else ""
    code = ["def write(e, with_raw):", f"    s = {start!r}"]
    for a in attrs.fields(cls):
        if event and a.name == "raw":
            continue
        declared = str(a.type)
        expression = _FIELD_WRITERS.get(declared.removesuffix(" | None"), "_any(v)")
        code.append(f"    v = e.{a.name}")
        if event and a.name in ("line", "end_line"):
            code.append(f"    s += {',' + _dumps(a.name) + ':'!r} + {expression}")  # written even if None
        else:
            code.append("    if v is not None:")
            code.append(f"        s += {',' + _dumps(a.name) + ':'!r} + {expression}")
    if event:
        code += ["    if with_raw:", "        v = e.raw", f"        s += ',{_dumps('raw')}:' + {_FIELD_WRITERS['str']}",
                 "    return s + '}'"]
    else:
        code.append("    return '{' + s[1:] + '}'")
    namespace: dict[str, Any] = {"_any": _any, "_escape": _escape, "_name_json": _name_json}
    exec("\n".join(code), namespace)  # the source is made above from the class's own fields
    made: Callable[[Any, bool], str] = namespace["write"]
    _JSON_WRITERS[cls] = made
    return made


def event_to_json(event: Event, *, with_raw: bool = False) -> str:
    """``event_to_dict(event, with_raw=...)`` as one line of JSON, exactly as
    ``json.dumps(..., ensure_ascii=True, separators=(",", ":"))`` writes it (ASCII escapes keep the text valid
    UTF-8 whatever bytes the input held)."""
    writer = _JSON_WRITERS.get(type(event))
    if writer is None:
        writer = _json_writer(type(event))
    return writer(event, with_raw)
