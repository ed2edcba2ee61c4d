"""Catastrophic backtracking: every built-in pattern against adversarial 100k-character lines.

    python3 benchmarks/redos.py              # every pattern; prints the worst time of each, slowest first
    python3 benchmarks/redos.py --top 15     # only the slowest 15
    python3 benchmarks/redos.py --size 20000 # shorter lines (a quick run)

The patterns: the failure rules (``rules.BUILTIN_RULES``), the secret table (``redact.BUILTIN_SECRETS``), and
every compiled pattern at the top level of a ``buildlog`` module (the grammars: plain, rawjson, tty, legacy, CI
prefixes, vertex names, ...).

The lines for a pattern are made of its own literal parts (``sre_parse`` finds them), each repeated on its own,
joined two by two, and followed by characters its classes accept (``a``, ``0``, ``A``, space, ``/``, ``:``,
``-``, ``=``, ``_``, ``.``), until the line has ``--size`` characters; plus plain runs of those characters. Each
line is matched the way the code uses the pattern: ``finditer`` to the end for the secret table (what the
redaction does) and for a grammar pattern that is searched, substituted or split with, ``search`` for the rules,
``match`` for a grammar pattern only ever matched at the start of a line or token. A pattern is linear when the time for
the full size is about four times the time for a quarter of it; ``NON-LINEAR`` marks one whose time grows more
than ten times (with at least 5 ms at full size). Exit status 1 if any pattern is marked.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import regex

import buildlog

try:  # Python >= 3.11
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_parse  # type: ignore[no-redef]

FILLERS = ["a", "0", "A", " ", "/", ":", "-", "=", "_", ".", "\t", "x1", "\\", '"']


def literal_parts(source: str, flags: int = 0) -> list[str]:
    """Runs of literal characters in a pattern (all branches, all depths), longest first, at most 12."""
    parts: list[str] = []

    def walk(items: Any) -> None:
        run: list[str] = []
        for op, arg in items:
            name = str(op)
            if name == "LITERAL":
                run.append(chr(arg))
                continue
            if run:
                parts.append("".join(run))
                run = []
            if name == "SUBPATTERN":
                walk(arg[-1])
            elif name == "BRANCH":
                for branch in arg[1]:
                    walk(branch)
            elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                walk(arg[2])
            elif name in ("ASSERT", "ASSERT_NOT"):
                walk(arg[1])
            elif name == "ATOMIC_GROUP":
                walk(arg)
        if run:
            parts.append("".join(run))

    try:
        walk(sre_parse.parse(source, flags & ~re.DEBUG))
    except Exception:  # a pattern only the regex module reads: fall back to a crude split on metacharacters
        parts = [p for p in re.split(r"[\\^$.|?*+()\[\]{}]+", source) if p]
    unique = sorted({p for p in parts if p.strip()}, key=lambda p: (-len(p), p))
    return unique[:12]


def lines_for(parts: list[str], size: int) -> list[str]:
    pieces = list(parts)
    pieces += [a + b for a in parts[:6] for b in parts[:6] if a != b]
    pieces += [p + f for p in parts[:6] for f in FILLERS]
    out = [(p * (size // len(p) + 1))[:size] for p in pieces]
    out += [(f * (size // len(f) + 1))[:size] for f in FILLERS]
    # one literal, then a long run of what the classes after it may accept
    out += [(p + f * size)[:size] for p in parts[:6] for f in ("a", "0", " ", "A")]
    return out


def uses(name: str) -> str:
    """How buildlog uses a pattern (its name looked up in every module, as modules import each other's):
    ``match`` when only match/fullmatch are ever called on it (one start per call, at the start of the line or
    token), else ``finditer`` (every start, as search/sub/split/findall do)."""
    source = "\n".join(p.read_text() for p in Path(buildlog.__file__).parent.glob("*.py"))
    methods = set(re.findall(rf"\b{re.escape(name)}\.(\w+)\(", source))
    return "match" if methods and methods <= {"match", "fullmatch"} else "finditer"


def collect() -> list[tuple[str, Any, str]]:
    """(label, compiled pattern, how it is used) for every built-in pattern."""
    from buildlog import redact, rules

    found: list[tuple[str, Any, str]] = []
    for rule in rules.BUILTIN_RULES:
        found.append((f"rule {rule.name}", rule.pattern, "search"))
    for secret in redact.BUILTIN_SECRETS:
        found.append((f"secret {secret.name}", secret.compiled, "finditer"))
    seen = {id(p) for _, p, _ in found}
    for info in pkgutil.iter_modules(buildlog.__path__):
        if info.name in ("cli", "__main__"):
            continue
        module = importlib.import_module(f"buildlog.{info.name}")
        for name, value in sorted(vars(module).items()):
            if isinstance(value, (re.Pattern, regex.Pattern)) and id(value) not in seen:
                seen.add(id(value))
                found.append((f"{info.name}.{name}", value, uses(name)))
    return found


def timed(pattern: Any, line: Any, how: str) -> float:
    t0 = time.perf_counter()
    if how == "match":
        pattern.match(line)
    elif how == "search":
        pattern.search(line)
    else:
        for _ in pattern.finditer(line):
            pass
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--top", type=int, default=0)
    args = ap.parse_args()
    results = []
    for label, pattern, how in collect():
        source = pattern.pattern if isinstance(pattern.pattern, str) else pattern.pattern.decode("latin-1")
        parts = literal_parts(source, pattern.flags if isinstance(pattern, re.Pattern) else 0)
        subjects: list[Any] = [line.encode("latin-1", "replace") if isinstance(pattern.pattern, bytes) else line
                               for line in lines_for(parts, args.size)]
        # one run per line to find the worst few, then the best of three for those (a shared machine's
        # scheduler adds whole time slices to single runs)
        rough = sorted(((timed(pattern, subject, how), i) for i, subject in enumerate(subjects)), reverse=True)
        worst = (0.0, "", 0.0)
        for _, i in rough[:3]:
            subject = subjects[i]
            full = min(timed(pattern, subject, how) for _ in range(3))
            if full >= worst[0]:
                quarter = min(timed(pattern, subject[: len(subject) // 4], how) for _ in range(3))
                start = subject[:24] if isinstance(subject, str) else subject[:24].decode("latin-1")
                worst = (full, start, quarter)
        results.append((worst[0], worst[2], f"{label} [{how}]", worst[1], len(parts)))
    results.sort(reverse=True)
    bad = 0
    print(f"{'full':>9} {'quarter':>9} {'growth':>7}  pattern (worst line starts with)")
    for full, quarter, label, start, _ in results[: args.top or None]:
        growth = full / quarter if quarter > 0 else 0.0
        mark = ""
        if growth > 10 and full > 0.005:
            mark, bad = "  NON-LINEAR", bad + 1
        print(f"{full * 1000:8.2f}ms {quarter * 1000:8.2f}ms {growth:6.1f}x  {label} ({start!r}){mark}")
    print(f"\n{len(results)} patterns, lines of {args.size} characters; worst: {results[0][0] * 1000:.1f} ms "
          f"({results[0][2]}); non-linear: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
