"""Statuses and errors that mean something about caches and images, as tables.

A status line inside a vertex (``#20 writing layer sha256:... 0.0s done``) is first split into id / sizes / time /
done by the plain grammar; its ``id`` is then matched here. Each rule says which kinds of vertex it applies to
(``None``: any), the pattern, and the event class it produces; named groups become fields of that class.
"""

from __future__ import annotations

from typing import Any

import regex

from . import events as ev

DIGEST = r"(?P<digest>sha256:[0-9a-f]{64})"

# (vertex kinds or None, pattern on the status id, event class). First match wins.
STATUS_RULES: list[tuple[frozenset[str] | None, regex.Pattern[str], type[ev.VertexStatus]]] = [
    (frozenset({"cache-import"}), regex.compile(r"inferred cache manifest type: (?P<media_type>\S+)"),
     ev.CacheManifestFound),
    (frozenset({"cache-export"}), regex.compile(r"preparing build cache for export"), ev.CacheExportPreparing),
    (frozenset({"cache-export"}), regex.compile(r"sending cache export"), ev.CacheExportSending),
    (frozenset({"cache-export"}), regex.compile(r"writing layer " + DIGEST), ev.CacheLayerWritten),
    (frozenset({"cache-export"}), regex.compile(r"writing config " + DIGEST), ev.CacheConfigWritten),
    (frozenset({"cache-export"}), regex.compile(r"writing cache (?P<manifest_kind>image manifest|manifest) " + DIGEST),
     ev.CacheManifestWritten),
    (None, regex.compile(r"exporting layers"), ev.ImageLayersExported),
    (None, regex.compile(r"exporting manifest list " + DIGEST), ev.ManifestListExported),
    (None, regex.compile(r"exporting attestation manifest " + DIGEST), ev.AttestationManifestExported),
    (None, regex.compile(r"exporting manifest " + DIGEST), ev.ImageManifestExported),
    (None, regex.compile(r"exporting config " + DIGEST), ev.ImageConfigExported),
    (None, regex.compile(r"naming to (?P<ref>\S+)"), ev.ImageNamed),
    (None, regex.compile(r"unpacking to (?P<ref>\S+)"), ev.ImageUnpacked),
    (None, regex.compile(r"writing image " + DIGEST), ev.ImageWritten),
    (None, regex.compile(r"pushing layers"), ev.LayersPushing),
    (None, regex.compile(r"pushing manifest for (?P<ref>[^@\s]+)(?:@(?P<digest>sha256:[0-9a-f]{64}))?"),
     ev.ManifestPushed),
    (None, regex.compile(r"sending tarball"), ev.TarballSent),
    (None, regex.compile(r"resolve (?P<ref>\S+)"), ev.ImageResolved),
    (None, regex.compile(r"extracting " + DIGEST), ev.LayerExtracted),
    (None, regex.compile(DIGEST + r"$"), ev.LayerTransfer),
]

# Cache manifest kinds as the status prints them -> the name used in events.
MANIFEST_KINDS = {"image manifest": "image-manifest", "manifest": "index"}

# (vertex kinds, pattern on the error message, event class, fixed fields).
ERROR_RULES: list[tuple[frozenset[str], regex.Pattern[str], type[ev.VertexError], dict[str, object]]] = [
    (frozenset({"cache-import"}), regex.compile(r".*\bnot found\s*$", regex.DOTALL), ev.CacheImportFailed,
     {"not_found": True}),
    (frozenset({"cache-import"}), regex.compile(r".*", regex.DOTALL), ev.CacheImportFailed, {"not_found": False}),
    (frozenset({"cache-export"}), regex.compile(r".*", regex.DOTALL), ev.CacheExportFailed, {}),
]

# The exit code of a RUN step, in every generation's wording.
EXIT_CODE = regex.compile(r"(?:did not complete successfully|executor failed running \[.*?\]): exit code: (\d+)",
                          regex.DOTALL)


def status_event_class(kind: str, status_id: str) -> tuple[type[ev.VertexStatus], dict[str, Any]] | None:
    """The event class for a status id in a vertex of this kind, and its own fields (keyword arguments for the
    class, hence ``Any``); None for a plain ``VertexStatus``."""
    for kinds, pattern, cls in STATUS_RULES:
        if kinds is not None and kind not in kinds:
            continue
        m = pattern.match(status_id)
        if m is not None:
            fields = {k: v for k, v in m.groupdict().items() if v is not None}
            if "manifest_kind" in fields:
                fields["manifest_kind"] = MANIFEST_KINDS[fields["manifest_kind"]]
            if cls is ev.ManifestPushed:
                fields.setdefault("digest", None)
            return cls, fields
    return None


def error_event_class(kind: str, message: str) -> tuple[type[ev.VertexError], dict[str, Any]] | None:
    for kinds, pattern, cls, fixed in ERROR_RULES:
        if kind in kinds and pattern.match(message):
            return cls, dict(fixed)
    return None


def exit_code_of(message: str) -> int | None:
    m = EXIT_CODE.search(message)
    return int(m.group(1)) if m else None
