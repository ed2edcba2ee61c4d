"""One name for the same Dockerfile step in every run of a build, so that runs can be compared and counted.

A vertex name carries things that change from run to run although the step does not: image digests pinned by the
frontend (``FROM base:latest@sha256:...``), the number of steps in the stage (``[builder 6/9]`` becomes
``[builder 6/10]`` when a step is added at the end), the padding the printer puts in (``[builder  9/10]``) and, in
tty captures, the time column. The key keeps what identifies the step: target, platform, stage and index, the
instruction and its arguments, e.g. ``[api linux/amd64 builder 6] RUN make``. Vertices that are no Dockerfile step
keep their name with the same things removed (``[internal] load metadata for base:latest``).

The substitutions are a table (``DROPPED``): each pattern is replaced in the name before the key is built. A tty
capture cuts long names at the terminal's width; ``untruncate`` matches such keys to the full ones of other runs.
"""

from __future__ import annotations

from collections.abc import Iterable

import regex

from .events import VertexName
from .vertex_names import parse_vertex_name

# (what, pattern, replacement): applied in order to the instruction's arguments and to non-step names.
DROPPED: list[tuple[str, regex.Pattern[str], str]] = [
    ("pinned digest", regex.compile(r"@sha256:[0-9a-f]{16,}"), ""),
    ("bare digest", regex.compile(r"\bsha256:[0-9a-f]{16,}"), "sha256"),
    ("tty time column", regex.compile(r"\s{2,}\d+(?:\.\d+)?s$"), ""),
    ("padding", regex.compile(r"\s+"), " "),
]


def _clean(text: str) -> str:
    for _what, pattern, replacement in DROPPED:
        text = pattern.sub(replacement, text)
    return text.strip()


_KEYS: dict[str, tuple[VertexName | None, str]] = {}  # name -> (the info its key was made with, the key)
KEYS_KEPT = 8192


def step_key(name: str, info: VertexName | None = None) -> str:
    """The normalised key of the vertex called ``name`` (``info``: its parsed name, when already known)."""
    # Kept by name, for the same info object: the parser's infos come from a cache (parse_vertex_name), so a name
    # seen again comes with the same one, and an identity test costs nothing where hashing an info costs its twelve
    # fields. An equal info that is another object only makes the key again.
    known = _KEYS.get(name)
    if known is not None and known[0] is info:
        return known[1]
    key = _key(name, info)
    if len(_KEYS) >= KEYS_KEPT:
        _KEYS.clear()
    _KEYS[name] = (info, key)
    return key


def _key(name: str, info: VertexName | None) -> str:
    if info is None:
        info = parse_vertex_name(name)
    if info.kind == "step" and info.index is not None:
        where = " ".join(str(p) for p in (info.target, info.platform, info.stage, info.index) if p is not None)
        what = info.instruction or ""
        if info.args:
            what = f"{what} {_clean(info.args)}"
        return f"[{where}] {what}".rstrip()
    return _clean(name)


def _bracket(key: str) -> str:
    return key[: key.find("] ") + 1] if key.startswith("[") else ""


def untruncate(short: Iterable[str], full: Iterable[str]) -> dict[str, str]:
    """Keys from tty captures, matched to the full keys of other runs.

    A tty row cuts a long name at the terminal's width, without a mark (``RUN make && make inst``). Each key of
    ``short`` that is not itself in ``full`` maps to the one key of ``full`` that begins with it in the same bracket
    (same stage and index), when there is exactly one; otherwise it stays as it is."""
    by_bracket: dict[str, list[str]] = {}
    known = set()
    for k in full:
        known.add(k)
        by_bracket.setdefault(_bracket(k), []).append(k)
    out: dict[str, str] = {}
    for k in short:
        if k in known:
            continue
        candidates = [f for f in by_bracket.get(_bracket(k), ()) if f.startswith(k)]
        if len(candidates) == 1:
            out[k] = candidates[0]
    return out
