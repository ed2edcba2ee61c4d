"""Statuses and errors that mean something about caches and images, as tables.

A status line inside a vertex (``#20 writing layer sha256:... 0.0s done``) is first split into id / sizes / time /
done by the plain grammar; its ``id`` is then matched here. Each rule says which kinds of vertex it applies to
(``None``: any), the pattern, and the event class it produces; named groups become fields of that class.
"""

from __future__ import annotations

import re
from typing import Any

from . import events as ev

DIGEST = r"(?P<digest>sha256:[0-9a-f]{64})"

# (vertex kinds or None, pattern on the status id, event class). First match wins.
STATUS_RULES: list[tuple[frozenset[str] | None, re.Pattern[str], type[ev.VertexStatus]]] = [
    (frozenset({"cache-import"}), re.compile(r"inferred cache manifest type: (?P<media_type>\S+)"),
     ev.CacheManifestFound),
    (frozenset({"cache-export"}), re.compile(r"preparing build cache for export"), ev.CacheExportPreparing),
    (frozenset({"cache-export"}), re.compile(r"sending cache export"), ev.CacheExportSending),
    (frozenset({"cache-export"}), re.compile(r"writing layer " + DIGEST), ev.CacheLayerWritten),
    (frozenset({"cache-export"}), re.compile(r"writing config " + DIGEST), ev.CacheConfigWritten),
    (frozenset({"cache-export"}), re.compile(r"writing cache (?P<manifest_kind>image manifest|manifest) " + DIGEST),
     ev.CacheManifestWritten),
    (None, re.compile(r"exporting layers"), ev.ImageLayersExported),
    (None, re.compile(r"exporting manifest list " + DIGEST), ev.ManifestListExported),
    (None, re.compile(r"exporting attestation manifest " + DIGEST), ev.AttestationManifestExported),
    (None, re.compile(r"exporting manifest " + DIGEST), ev.ImageManifestExported),
    (None, re.compile(r"exporting config " + DIGEST), ev.ImageConfigExported),
    (None, re.compile(r"naming to (?P<ref>\S+)"), ev.ImageNamed),
    (None, re.compile(r"unpacking to (?P<ref>\S+)"), ev.ImageUnpacked),
    (None, re.compile(r"writing image " + DIGEST), ev.ImageWritten),
    (None, re.compile(r"pushing layers"), ev.LayersPushing),
    (None, re.compile(r"pushing manifest for (?P<ref>[^@\s]+)(?:@(?P<digest>sha256:[0-9a-f]{64}))?"),
     ev.ManifestPushed),
    (None, re.compile(r"sending tarball"), ev.TarballSent),
    (None, re.compile(r"resolve (?P<ref>\S+)"), ev.ImageResolved),
    (None, re.compile(r"extracting " + DIGEST), ev.LayerExtracted),
    (None, re.compile(DIGEST + r"$"), ev.LayerTransfer),
]

# Cache manifest kinds as the status prints them -> the name used in events.
MANIFEST_KINDS = {"image manifest": "image-manifest", "manifest": "index"}

# (vertex kinds, pattern on the error message, event class, fixed fields).
ERROR_RULES: list[tuple[frozenset[str], re.Pattern[str], type[ev.VertexError], dict[str, object]]] = [
    (frozenset({"cache-import"}), re.compile(r".*\bnot found\s*$", re.DOTALL), ev.CacheImportFailed,
     {"not_found": True}),
    (frozenset({"cache-import"}), re.compile(r".*", re.DOTALL), ev.CacheImportFailed, {"not_found": False}),
    (frozenset({"cache-export"}), re.compile(r".*", re.DOTALL), ev.CacheExportFailed, {}),
]

# The exit code of a RUN step, in every generation's wording.
# (the command in [...] ends before the next "executor failed running ": an unbounded gap would be quadratic)
EXIT_CODE = re.compile(r"(?:did not complete successfully|executor failed running "
                       r"\[(?:(?!executor failed running ).)*?\]): exit code: (\d+)", re.DOTALL)


def _first_word(text: str) -> str:
    """What a status id starts with: its first word, or "sha256:" for a bare digest."""
    return "sha256:" if text.startswith("sha256:") or text.startswith("(?P<digest>") else text.split(" ", 1)[0]


# The rules by the first word of what they match, so that a status is tried only against rules that can match it
# (statuses are most of a log's lines; trying every rule on each was a third of the parser's time).
_RULES_BY_WORD: dict[str, list[tuple[frozenset[str] | None, re.Pattern[str], type[ev.VertexStatus]]]] = {}
for _rule in STATUS_RULES:
    _RULES_BY_WORD.setdefault(_first_word(_rule[1].pattern), []).append(_rule)


def status_event_class(kind: str, status_id: str) -> tuple[type[ev.VertexStatus], dict[str, Any]] | None:
    """The event class for a status id in a vertex of this kind, and its own fields (keyword arguments for the
    class, hence ``Any``); None for a plain ``VertexStatus``."""
    rules = _RULES_BY_WORD.get(_first_word(status_id))
    if rules is None:
        return None
    for kinds, pattern, cls in rules:
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
