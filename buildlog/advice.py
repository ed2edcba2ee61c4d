"""Cache advice read from one build's log alone, as a table a user can scan and extend.

Each ``AdviceRule`` has a name, a check over the build's facts (``BuildFacts``) that returns the step it is about
(or ``""`` for the build as a whole, ``None`` when it does not apply), and the advice text (``{step}`` is filled
in). The command families the checks look for are tables too (``DEPENDENCY_INSTALLS``, ``PACKAGE_DOWNLOADS``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import attrs
import regex

from .buildfacts import VertexRecord

# Commands that install a project's dependencies from its manifest files (the step a broad COPY should follow).
DEPENDENCY_INSTALLS: list[tuple[str, str]] = [
    ("npm", r"\bnpm (?:ci|install|i)\b"),
    ("yarn", r"\byarn(?: install)?(?:\s|$|&&)"),
    ("pnpm", r"\bpnpm (?:install|i)\b"),
    ("pip", r"\bpip3? install\b"),
    ("poetry", r"\bpoetry install\b"),
    ("uv", r"\buv (?:sync|pip install)\b"),
    ("pipenv", r"\bpipenv (?:install|sync)\b"),
    ("go", r"\bgo mod (?:download|vendor)\b"),
    ("cargo", r"\bcargo (?:fetch|build)\b"),
    ("maven", r"\bmvn\b.*\b(?:dependency:go-offline|package|install)\b"),
    ("gradle", r"\bgradlew? .*\b(?:dependencies|build)\b"),
    ("bundler", r"\bbundle install\b"),
    ("composer", r"\bcomposer install\b"),
    ("dotnet", r"\bdotnet restore\b"),
]

# Commands that download packages (what a ``--mount=type=cache`` keeps between builds).
PACKAGE_DOWNLOADS: list[tuple[str, str]] = [
    *DEPENDENCY_INSTALLS,
    ("apt", r"\bapt(?:-get)? (?:-\S+ )*install\b"),
    ("apk", r"\bapk add\b(?!.*--no-cache)"),
    ("dnf/yum", r"\b(?:dnf|yum|microdnf) (?:-\S+ )*install\b"),
]

_INSTALL = regex.compile("|".join(f"(?:{p})" for _n, p in DEPENDENCY_INSTALLS))
_DOWNLOAD = regex.compile("|".join(f"(?:{p})" for _n, p in PACKAGE_DOWNLOADS))
_CACHE_MOUNT = regex.compile(r"--mount=(?:\S*,)?type=cache\b")
_BROAD_COPY = regex.compile(r"^(?:--\S+\s+)*\.\/?\s+\S+\s*$")  # COPY . .  /  ADD . /app  /  COPY --chown=x . .


@attrs.define
class BuildFacts:
    """What the checks read."""

    vertices: Sequence[VertexRecord]
    first_miss: VertexRecord | None
    imports_missed: list[str]  # refs of cache imports that were not found
    imports_found: bool
    exports: list[str]  # backends of the cache exports


@attrs.define
class Advice:
    rule: str
    step: str | None  # the step (its name) the advice is about; None for the build as a whole
    text: str

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class AdviceRule:
    name: str
    check: Callable[[BuildFacts], str | None]
    text: str


def _broad_copy_before_install(f: BuildFacts) -> str | None:
    miss = f.first_miss
    if miss is None or miss.instruction not in ("COPY", "ADD") or not _BROAD_COPY.match(miss.args or ""):
        return None
    later = [r for r in f.vertices if r.kind == "step" and r.stage == miss.stage and r.target == miss.target
             and r.platform == miss.platform and (r.index or 0) > (miss.index or 0) and r.instruction == "RUN"]
    return miss.name if any(_INSTALL.search(r.args or "") for r in later) else None


def _import_not_found(f: BuildFacts) -> str | None:
    return "" if f.imports_missed and not f.imports_found else None


def _min_mode_multi_stage(f: BuildFacts) -> str | None:
    # A min-mode export (inline always is) keeps only the final stage's layers: the other stages miss every time
    # the cache is imported into a fresh builder.
    if "inline" not in f.exports or not f.imports_found:
        return None
    missed_stages = {(r.target, r.stage) for r in f.vertices if r.kind == "step" and r.cacheable and r.ran}
    return "" if len(missed_stages) > 1 else None


def _download_without_cache_mount(f: BuildFacts) -> str | None:
    for r in f.vertices:
        if r.instruction == "RUN" and r.ran and r.args and _downloads_without_cache_mount(r.args):
            return r.name
    return None


@lru_cache(maxsize=4096)
def _downloads_without_cache_mount(args: str) -> bool:
    # by text: the same RUN steps come back in every build of a project, and two searches each cost more than the
    # rest of the advice
    return bool(_DOWNLOAD.search(args)) and not _CACHE_MOUNT.search(args)


ADVICE_RULES: list[AdviceRule] = [
    AdviceRule("copy-manifests-first", _broad_copy_before_install,
               "The first cache miss is a copy of the whole context ({step}) and dependencies are installed after "
               "it: any change to any file reinstalls them. Copy the manifest files (package.json and its lock, "
               "requirements.txt, go.mod/go.sum, ...) first, install, then copy the rest."),
    AdviceRule("cache-import-not-found", _import_not_found,
               "No cache import was found, so the build ran cold. If this happens on every build, the --cache-to "
               "ref differs from the --cache-from ref, or the export never completes."),
    AdviceRule("min-mode-multi-stage", _min_mode_multi_stage,
               "The cache is exported inline (mode=min: the final stage's layers only) and steps of several stages "
               "ran: export the cache with mode=max to a registry or gha cache to keep the other stages."),
    AdviceRule("download-without-cache-mount", _download_without_cache_mount,
               "{step} downloads packages without --mount=type=cache: every miss downloads them again. Add a cache "
               "mount for the package manager's cache directory."),
]


def advise(facts: BuildFacts, rules: Sequence[AdviceRule] = ADVICE_RULES) -> list[Advice]:
    out = []
    for rule in rules:
        step = rule.check(facts)
        if step is not None:
            out.append(Advice(rule.name, step or None, rule.text.format(step=step or "a step")))
    return out
