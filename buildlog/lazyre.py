"""Patterns of the ``regex`` module, compiled the first time they are used rather than at import.

``regex`` takes longer to import than ``re`` and several times longer to compile a pattern; compiling the rule table
and the vertex-name shapes at import made up a large part of ``import buildlog``, though a log that succeeds never
consults a rule. So tables keep their patterns as text, and the code that matches asks ``compiled`` for them: each
pattern is compiled once per process, when first needed, and ``regex`` itself is imported then. Flags go into the
pattern text (``(?s)``, ``(?i)``). Patterns of the per-line grammars stay compiled at import: they use ``re``, which
compiles them fast, and every log needs them; those only some logs need are compiled on first use too (``later``).
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import regex


@cache  # keyed by the tables' patterns: as many entries as the tables have lines
def compiled(pattern: str | regex.Pattern[str]) -> regex.Pattern[str]:
    """``pattern`` compiled with ``regex`` (cached); an already compiled pattern is returned as it is."""
    if not isinstance(pattern, str):
        return pattern
    import regex

    return regex.compile(pattern)


class _Later:
    """A ``re`` pattern compiled the first time one of its attributes is used (``later``)."""

    def __init__(self, pattern: str, flags: int) -> None:
        self._source = (pattern, flags)

    def __getattr__(self, name: str) -> Any:
        # only reached until the first use: the compiled pattern's attributes are then the instance's own
        compiled = re.compile(*self._source)
        for attribute in ("match", "fullmatch", "search", "finditer", "findall", "sub", "split", "pattern", "flags",
                          "groups", "groupindex"):
            setattr(self, attribute, getattr(compiled, attribute))
        return getattr(compiled, name)


def later(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """A ``re`` pattern of a grammar that only some logs need (a failed build's final text, a push, a tty frame's
    status), compiled when first used: compiling them all made up a fifth of ``import buildlog``. The hot per-line
    patterns stay ``re.compile``d at import."""
    return cast("re.Pattern[str]", _Later(pattern, flags))
