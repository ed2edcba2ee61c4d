"""Patterns of the ``regex`` module, compiled the first time they are used rather than at import.

``regex`` takes longer to import than ``re`` and several times longer to compile a pattern; compiling the rule table
and the vertex-name shapes at import made up a large part of ``import buildlog``, though a log that succeeds never
consults a rule. So tables keep their patterns as text, and the code that matches asks ``compiled`` for them: each
pattern is compiled once per process, when first needed, and ``regex`` itself is imported then. Flags go into the
pattern text (``(?s)``, ``(?i)``). Patterns of the per-line grammars stay compiled at import: they use ``re``, which
compiles them fast, and every log needs them.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import regex


@cache  # keyed by the tables' patterns: as many entries as the tables have lines
def compiled(pattern: str | regex.Pattern[str]) -> regex.Pattern[str]:
    """``pattern`` compiled with ``regex`` (cached); an already compiled pattern is returned as it is."""
    if not isinstance(pattern, str):
        return pattern
    import regex

    return regex.compile(pattern)
