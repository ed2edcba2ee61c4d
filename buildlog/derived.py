"""Vertex events for the grammars that learn a vertex's state instead of reading its plain line (rawjson, tty,
legacy). They use the same classes, name parser and domain tables as the plain grammar, so a vertex that plain
shows as ``#5 importing cache manifest from REF`` / ``#5 ERROR: ...: not found`` gives the same
``CacheImportRequested`` / ``CacheImportFailed`` whatever the format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from . import domain
from . import events as ev
from .vertex_names import parse_vertex_name

# An error ending so is shown by the plain printer as "#N CANCELED", not as "#N ERROR: ...".
CANCELED_SUFFIX = "context canceled"


# The vertex kinds whose first header is an event of its own (``header_event``).
DOMAIN_HEADER_KINDS = frozenset({"cache-import", "cache-export", "image-export"})


def header_event(n: int, name: str, *, line: int, end_line: int, raw: str, build: int,
                 ci: ev.CIPrefix | None) -> ev.VertexHeader:
    """The first header of vertex ``n``: a domain header for cache imports/exports and image exports."""
    info = parse_vertex_name(name)
    kind = info.kind
    if kind == "cache-import" and info.ref:
        return ev.CacheImportRequested(line=line, end_line=end_line, raw=raw, build=build, ci=ci, vertex=n, name=name,
                                       info=info, ref=info.ref)
    if kind == "cache-export":
        return ev.CacheExportStarted(line=line, end_line=end_line, raw=raw, build=build, ci=ci, vertex=n, name=name,
                                     info=info, backend=info.backend or "unknown")
    if kind == "image-export":
        return ev.ImageExportStarted(line=line, end_line=end_line, raw=raw, build=build, ci=ci, vertex=n, name=name,
                                     info=info, exporter=info.exporter or "unknown")
    return _HEADER(line, end_line, raw, build, ci, n, name, info, False)


def error_event(n: int, name: str, message: str, *, line: int, end_line: int, raw: str, build: int,
                ci: ev.CIPrefix | None) -> ev.VertexEvent:
    """``VertexCanceled`` for a canceled vertex, else the error event plain gives for ``#N ERROR: message``."""
    if message.endswith(CANCELED_SUFFIX):
        return ev.VertexCanceled(line=line, end_line=end_line, raw=raw, build=build, ci=ci, vertex=n)
    return failed_event(n, name, message, line=line, end_line=end_line, raw=raw, build=build, ci=ci)


def failed_event(n: int, name: str, message: str, *, line: int, end_line: int, raw: str, build: int,
                 ci: ev.CIPrefix | None) -> ev.VertexError:
    info = parse_vertex_name(name)
    exit_code = domain.exit_code_of(message)
    special = domain.error_event_class(info.kind, message)
    if special is None:
        return ev.VertexError(line=line, end_line=end_line, raw=raw, build=build, ci=ci, vertex=n, message=message,
                              exit_code=exit_code)
    cls, fields = special
    if cls is ev.CacheImportFailed:
        fields["ref"] = info.ref
    return cls(line=line, end_line=end_line, raw=raw, build=build, ci=ci, vertex=n, message=message,
               exit_code=exit_code, **fields)


def status_event(n: int, kind: str, status_id: str, *, line: int, end_line: int, raw: str, build: int,
                 ci: ev.CIPrefix | None, current: int | None = None, total: int | None = None,
                 seconds: float | None = None, done: bool = False) -> ev.VertexStatus:
    """A status of vertex ``n`` (of this kind): a domain status when the id means something."""
    _cls, build_it, own = _maker(kind, status_id)
    return build_it(line, end_line, raw, build, ci, n, status_id, current, total, seconds, done, *own)  # type: ignore[no-any-return]


def make_status(line: int, raw: str, build: int, ci: ev.CIPrefix | None, n: int, kind: str, status_id: str,
                current: int | None, total: int | None, seconds: float | None, done: bool) -> ev.VertexStatus:
    """``status_event`` of a one-line status, its fields passed in order (the plain grammar's hot path)."""
    made = _STATUS_MAKERS.get(kind, _NO_MAKERS).get(status_id) or _status_maker(kind, status_id)
    own = made[2]
    if own:
        return made[1](line, line, raw, build, ci, n, status_id, current, total, seconds, done, *own)  # type: ignore[no-any-return]
    return made[1](line, line, raw, build, ci, n, status_id, current, total, seconds, done)  # type: ignore[no-any-return]


def status_class(kind: str, status_id: str) -> type[ev.VertexStatus]:
    """The class of the event ``status_event`` makes for this status id in a vertex of this kind."""
    return _maker(kind, status_id)[0]


_STATUS: Callable[..., ev.VertexStatus]
_HEADER: Callable[..., ev.VertexHeader]
_STATUS, _HEADER = ev.builders(ev.VertexStatus, ev.VertexHeader)
_STATUS_FIELDS = len(attrs.fields(ev.VertexStatus))
# vertex kind -> status id -> the class of its event, its builder and the values of the fields the class adds to
# VertexStatus's: a status id comes back on every line that updates it (a layer's progress), and finding its class
# is most of the cost of such a line. A dict per kind: no key tuple to make and hash for each line.
_StatusMaker = tuple[type[ev.VertexStatus], Callable[..., Any], tuple[Any, ...]]
_STATUS_MAKERS: dict[str, dict[str, _StatusMaker]] = {}
_NO_MAKERS: dict[str, _StatusMaker] = {}
STATUS_CACHE_BOUND = 4096  # ids kept per kind; the kinds are a few


def _maker(kind: str, status_id: str) -> _StatusMaker:
    return _STATUS_MAKERS.get(kind, _NO_MAKERS).get(status_id) or _status_maker(kind, status_id)


def _status_maker(kind: str, status_id: str) -> _StatusMaker:
    """What ``_STATUS_MAKERS`` keeps for this status, found and kept."""
    special = domain.status_event_class(kind, status_id)
    if special is None:
        made: _StatusMaker = (ev.VertexStatus, _STATUS, ())
    else:
        cls, extra = special
        own = [a.name for a in attrs.fields(cls)][_STATUS_FIELDS:]
        made = (cls, ev.builder(cls), tuple(extra[name] for name in own))
    makers = _STATUS_MAKERS.setdefault(kind, {})
    if len(makers) >= STATUS_CACHE_BOUND:
        makers.clear()
    makers[status_id] = made
    return made


def build_start(index: int, line: int, fmt: str, forced: bool) -> list[ev.Event]:
    """The synthetic events that open a build read by a non-plain grammar."""
    return [
        ev.BuildStarted(line=line, end_line=line, raw="", build=index, inferred=True),
        ev.FormatDetected(line=line, end_line=line, raw="", build=index, format=fmt, forced=forced),
    ]
