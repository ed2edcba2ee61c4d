"""Secrets out of everything buildlog prints: a table of secret shapes, and one function that applies it.

Build logs carry secrets more often than anyone intends (a token in a ``--build-arg`` that a failed RUN echoes, a
password in a git URL, a registry ``Authorization`` header in a debug line), and buildlog's outputs go to places
many people read. Every renderer passes what it prints through ``redact()`` (a string, or JSON-like data: dicts,
lists, attrs instances such as a ``LogSummary``, walked and rebuilt). A secret is replaced by its recognisable
prefix and what it was: ``ghp_…[redacted github-token]``.

The table is data: each ``SecretPattern`` has a name, a pattern whose ``secret`` group is what gets replaced, how
many characters of the secret stay visible (a public prefix such as ``ghp_``), and a ``triggers``: literal strings
one of which every match contains. The text is lowered once and all triggers are looked for as plain substrings
(each ``in`` is a fast search of its own; one regular expression of alternatives would try each alternative at
each position, many times slower): a text that holds no secret costs that and nothing more. User rules files
add patterns (``[[redact]]`` tables, see ``rules.py`` and docs/security.md).

Every built-in pattern runs in linear time on adversarial input (benchmarks/redos.py feeds each one 100k-character
lines built from its own literal parts): no unbounded repetition that can be retried from many starting points.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

if TYPE_CHECKING:
    import regex

__all__ = [
    "BUILTIN_SECRETS",
    "DEFAULT_REDACTOR",
    "MARK",
    "Redactor",
    "SecretFinding",
    "SecretPattern",
    "redact",
    "redact_text",
    "redactor_for",
]

MARK = "…[redacted "  # what every replacement contains after the visible prefix; never itself matched again
# Whether the optional compiled search (the ``fast`` extra) is used when it is installed; BUILDLOG_PURE_PYTHON=1
# turns it off (to compare, or to rule it out).
ACCELERATE = os.environ.get("BUILDLOG_PURE_PYTHON", "") in ("", "0")
USER_PATTERN_TIMEOUT = 0.25  # seconds for one user pattern on one text (user patterns are untrusted input)

# The names of build args and environment variables whose values are secrets.
SECRET_NAME_WORDS = r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_?KEY|CREDENTIALS|ACCESS_?KEY"
# A value that is a reference or a redaction, not a secret: $VAR, ${VAR}, *** (masked by the CI), …[redacted
_NOT_A_VALUE = r"(?!\$|\*{3}|…)"
# Literal pre-checks (lower case): every match of a pattern holds one of its own
_NAME_WORDS = ("token", "secret", "passw", "api_key", "apikey", "private", "credential", "access_key", "accesskey")
_AWS_IDS = ("akia", "asia", "abia", "acca")
_GITHUB = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")
_GITLAB = ("glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "glft-", "glsoat-")


@attrs.frozen
class SecretPattern:
    """One shape of secret. ``pattern`` must have a group named ``secret`` (the part replaced); ``keep`` leading
    characters of the secret stay visible (a public prefix such as ``ghp_`` that says what the secret was);
    ``triggers`` are lower-case strings one of which every match contains (the pre-check; empty: always run)."""

    name: str
    pattern: str
    triggers: tuple[str, ...] = ()
    keep: int = 0
    ignore_case: bool = False
    user: bool = False  # from a user rules file: matched with a timeout
    _compiled: regex.Pattern[str] | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.user:
            self.compiled  # noqa: B018  (a user's pattern is checked when it is read, not when first used)

    @property
    def compiled(self) -> regex.Pattern[str]:
        """The pattern, compiled the first time it is used: most runs never need most of them."""
        if self._compiled is None:
            import regex

            compiled = regex.compile(self.pattern, regex.IGNORECASE if self.ignore_case else 0)
            if "secret" not in compiled.groupindex:
                raise ValueError("the pattern has no group named 'secret' (the part to redact)")
            object.__setattr__(self, "_compiled", compiled)  # a cache: the pattern stays the same value
        assert self._compiled is not None
        return self._compiled


def _p(name: str, pattern: str, triggers: tuple[str, ...], keep: int = 0,
       ignore_case: bool = False) -> SecretPattern:
    return SecretPattern(name, pattern, triggers, keep, ignore_case)


# Word boundaries are lookbehinds on the token's own alphabet: a match can only start where a token can, which
# keeps every pattern linear (a long run of token characters has one starting point, not one per character).
BUILTIN_SECRETS: tuple[SecretPattern, ...] = (
    # --- whole blocks first: a PEM private key (the body is the secret; BEGIN/END lines stay readable)
    _p("private-key", r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----(?P<secret>[A-Za-z0-9+/=\s:,-]*?)"
       r"(?=-----END|\Z)", ("private",)),
    # --- tokens with a published prefix
    _p("github-token", r"(?<![A-Za-z0-9_])(?P<secret>gh[pousr]_[A-Za-z0-9]{30,255})(?![A-Za-z0-9_])", _GITHUB, keep=4),
    _p("github-token", r"(?<![A-Za-z0-9_])(?P<secret>github_pat_[A-Za-z0-9_]{30,255})(?![A-Za-z0-9_])",
       ("github_pat_",), keep=11),
    _p("gitlab-token", r"(?<![A-Za-z0-9_-])(?P<secret>(?:glpat|gldt|glrt|glptt|glcbt|glft|glsoat)-[A-Za-z0-9_-]"
       r"{20,255})(?![A-Za-z0-9_-])", _GITLAB, keep=6),
    _p("slack-token", r"(?<![A-Za-z0-9_-])(?P<secret>xox[abposre]-[A-Za-z0-9-]{10,255})(?![A-Za-z0-9_-])",
       ("xox",), keep=5),
    _p("slack-token", r"(?<![A-Za-z0-9_-])(?P<secret>xapp-[0-9]-[A-Za-z0-9-]{10,255})(?![A-Za-z0-9_-])", ("xapp-",),
       keep=5),
    _p("slack-webhook", r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9_/-]{16,255})",
       ("hooks.slack.com",)),
    _p("npm-token", r"(?<![A-Za-z0-9_])(?P<secret>npm_[A-Za-z0-9]{36,255})(?![A-Za-z0-9_])", ("npm_",), keep=4),
    _p("jwt", r"(?<![A-Za-z0-9_-])(?P<secret>eyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]"
       r"{0,4096})(?![A-Za-z0-9_-])", ("eyj",), keep=3),
    # an AWS secret key is 40 characters of base64 with nothing to recognise it by, except the key id beside it
    _p("aws-secret-key", r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])[^\n]{0,120}?"
       r"(?<![A-Za-z0-9/+])(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])", _AWS_IDS),
    _p("aws-access-key-id", r"(?<![A-Z0-9])(?P<secret>(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})(?![A-Z0-9])",
       _AWS_IDS, keep=4),
    # --- credentials recognised by what stands before them
    _p("bearer-token", r"(?<![A-Za-z0-9_])Bearer\s{1,8}(?!realm\b)(?=[A-Za-z0-9._~+/=-]{0,2048}[0-9])"
       r"(?P<secret>[A-Za-z0-9._~+/-]{12,4096}=*)", ("bearer",), ignore_case=True),
    _p("basic-credentials", r"(?<![A-Za-z0-9_])Basic\s{1,8}(?=[A-Za-z0-9+/]{0,2048}[0-9+/=])"
       r"(?P<secret>[A-Za-z0-9+/]{8,4096}={0,2})(?![A-Za-z0-9+/=])", ("basic",), ignore_case=True),
    _p("url-password", r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s:/?#@\"'<>]{0,256}:"
       r"(?P<secret>" + _NOT_A_VALUE + r"[^\s/?#@\"'<>]{1,256})@", ("://",), ignore_case=True),
    # --- values of build args, env vars and settings whose names say they are secret
    _p("secret-variable", r"(?<![A-Za-z0-9_])(?>[A-Za-z0-9_.-]{0,64}?(?:" + SECRET_NAME_WORDS + r"))"
       r"(?>[A-Za-z0-9_]{0,64})[ \t]{0,4}=[ \t]{0,4}"
       r"(?:\"(?P<secret>" + _NOT_A_VALUE + r"[^\"\n…]{1,1024})\"|'(?P<secret>" + _NOT_A_VALUE + r"[^'\n…]{1,1024})'"
       r"|(?P<secret>" + _NOT_A_VALUE + r"[^\s\"'&;,)…]{1,1024}+(?!…)))", _NAME_WORDS, ignore_case=True),
    _p("secret-field", r"\"(?>[A-Za-z0-9_.-]{0,64}?(?:" + SECRET_NAME_WORDS + r"))(?>[A-Za-z0-9_]{0,64})\""
       r"[ \t]{0,4}:[ \t]{0,4}\"(?P<secret>" + _NOT_A_VALUE + r"[^\"\n…]{1,1024})\"", _NAME_WORDS,
       ignore_case=True),
)


# "İ" and the Kelvin sign "K": the only characters whose lower case ("i̇", "k") holds ASCII letters.
_ASCII_LOWER_CASES = ("\u0130", "\u212a")


def _trigger_automaton(triggers: tuple[bytes, ...]) -> Any:
    """One automaton that finds every trigger in a single pass (ahocorasick-rs, the ``fast`` extra), or None
    without it: then each trigger is a search of its own, about ten times slower on a long log. Both find the
    same stretches (tests/test_redact.py)."""
    if not ACCELERATE or not triggers:
        return None
    try:
        import ahocorasick_rs
    except ImportError:
        return None
    return ahocorasick_rs.BytesAhoCorasick(list(triggers))


# Literals every match of a built-in pattern holds besides one of its triggers, where a text often holds the trigger
# alone: "://" is in every URL of a log, "@" only in those with credentials (and mail addresses).
_ALSO_HELD = {"url-password": ("@",)}


@attrs.frozen
class _BuiltinGate:
    """What every match of a built-in pattern holds: once lowered, one of ``any_of`` (its triggers); as it is, each
    of ``all_of``. An ASCII text that lacks them cannot match, and find() does not run the pattern on it (outside
    ASCII, only ``all_of`` is asked: case-insensitive matching finds "ſ" where lower() makes no "s"; ``all_of``
    holds no letter). tests/test_redact.py checks that find() then finds what every pattern run on every text
    finds. User patterns (and others made outside this module, whose triggers nothing checks) have no gate: they
    run on every text that holds any trigger at all."""

    any_of: tuple[str, ...]
    all_of: tuple[str, ...]

    @classmethod
    def of(cls, pattern: SecretPattern) -> _BuiltinGate | None:
        if pattern not in BUILTIN_SECRETS or not pattern.triggers:
            return None
        return cls(tuple(t.lower() for t in pattern.triggers), _ALSO_HELD.get(pattern.name, ()))


@attrs.frozen
class SecretFinding:
    """Where a secret was found in a text: which pattern, and the character offset of the secret."""

    name: str
    start: int
    end: int


class Redactor:
    """A compiled set of secret patterns (user ones first, then the built-in table)."""

    def __init__(self, patterns: Sequence[SecretPattern] = BUILTIN_SECRETS, *, accelerate: bool = True) -> None:
        self.patterns = tuple(patterns)
        every = {t.lower() for p in self.patterns for t in p.triggers}
        # a trigger that holds another one is redundant: each one left costs a search of the whole text
        self.triggers = tuple(sorted(t for t in every if not any(o != t and o in t for o in every)))
        self._trigger_bytes = tuple(t.encode("utf-8") for t in self.triggers)
        self._ascii_triggers = all(t.isascii() for t in self.triggers)
        # the triggers' Aho-Corasick automaton, made on first use; False: none (accelerate=False: never)
        self._automaton: Any = None if accelerate else False
        # a user pattern without triggers (or with an empty one) always runs
        self._always = any(not p.triggers for p in self.patterns) or "" in self.triggers
        self.timeouts: dict[str, int] = {}  # user pattern -> times it timed out
        # What find() asks of a text before it runs each pattern (None: nothing): see _BuiltinGate; and the
        # patterns each gate's trigger opens.
        self._gates = tuple(_BuiltinGate.of(p) for p in self.patterns)
        self._opened_by: dict[str, set[int]] = {}
        for i, gate in enumerate(self._gates):
            for t in gate.any_of if gate is not None else ():
                self._opened_by.setdefault(t, set()).add(i)

    def might_hold_secret(self, text: str) -> bool:
        """False when no pattern can match ``text``: the cheap check made before any pattern runs."""
        if self._always:
            return True
        lowered = text.lower()
        return any(t in lowered for t in self.triggers)

    def might_hold_secrets(self, texts: Sequence[str]) -> set[int]:
        """The indexes of ``texts`` of which ``might_hold_secret`` is true, found in one pass over all of them
        joined (the summary's check of a whole log: a search per line and trigger would cost far more)."""
        if self._always:
            return set(range(len(texts)))
        if not self._ascii_triggers:  # a user's trigger outside ASCII: bytes.lower() would not lower its text
            return self._each_might_hold_secret(texts)
        joined = "\0".join(texts)  # no trigger holds "\0": none is found across two texts
        if joined.isascii():  # (known without a look at the text: Python keeps it as a flag of the string)
            # one encoding of the whole batch, whose byte offsets are the joined text's character offsets
            lowered = joined.encode("ascii").lower()
            starts = self._trigger_starts(lowered)
            if not starts:
                return set()
            lengths: Iterable[int] = map(len, texts)
        else:
            # Searched as UTF-8 bytes: bytes.lower() lowers ASCII only, at memory speed, where str.lower() of a
            # text with one character outside Latin-1 ("✔") is ten times slower. The triggers are ASCII, and only
            # two characters have a lower case with ASCII in it: where either is present, the texts are lowered as
            # text.
            if _ASCII_LOWER_CASES[0] in joined or _ASCII_LOWER_CASES[1] in joined:
                return self._each_might_hold_secret(texts)
            encoded = [text.encode("utf-8", "surrogateescape") for text in texts]
            starts = self._trigger_starts(b"\0".join(encoded).lower())
            if not starts:
                return set()
            lengths = map(len, encoded)
        ends = list(itertools.accumulate(n + 1 for n in lengths))  # each text's "\0" in the joined
        return {bisect.bisect_right(ends, at) for at in starts}

    def _each_might_hold_secret(self, texts: Sequence[str]) -> set[int]:
        """``might_hold_secrets`` one text at a time, lowered as text: where lowering bytes would differ."""
        return {i for i, text in enumerate(texts) if self.might_hold_secret(text)}

    def _trigger_starts(self, data: bytes) -> list[int]:
        """Where triggers begin in ``data``: at least one position inside each stretch between two "\0" that
        holds one (not every occurrence)."""
        if self._automaton is None:
            self._automaton = _trigger_automaton(self._trigger_bytes) or False
        if self._automaton:
            return [start for _index, start, _end in self._automaton.find_matches_as_indexes(data)]
        starts: list[int] = []
        for trigger in self._trigger_bytes:
            at = data.find(trigger)
            while at >= 0:
                starts.append(at)
                end = data.find(b"\0", at)
                if end < 0:
                    break
                at = data.find(trigger, end)  # the next stretch that holds it
        return starts

    def _matches(self, pattern: SecretPattern, text: str) -> Iterator[regex.Match[str]]:
        if not pattern.user:
            yield from pattern.compiled.finditer(text)
            return
        try:
            yield from pattern.compiled.finditer(text, timeout=USER_PATTERN_TIMEOUT)
        except TimeoutError:
            # an untrusted pattern that backtracks forever is skipped for this text, never allowed to hang us
            self.timeouts[pattern.name] = self.timeouts.get(pattern.name, 0) + 1

    def find(self, text: str) -> list[SecretFinding]:
        """Every secret in ``text`` (overlaps possible), in table order. A finding may be empty: a PEM key's BEGIN
        line without its body (a log read line by line) says that the lines after it are a key."""
        if not self.might_hold_secret(text):
            return []
        opened: set[int] | None = None  # the gated patterns whose triggers the text holds (None: all of them)
        if text.isascii():  # outside ASCII, case-insensitive matching and lower() may disagree ("ſ" matches "s")
            lowered = text.lower()
            opened = set()
            for trigger, patterns in self._opened_by.items():
                if trigger in lowered:
                    opened |= patterns
        return [SecretFinding(p.name, m.start("secret"), m.end("secret"))
                for i, (p, gate) in enumerate(zip(self.patterns, self._gates, strict=True))
                if gate is None or ((opened is None or i in opened) and all(t in text for t in gate.all_of))
                for m in self._matches(p, text) if m.start("secret") >= 0]

    def text(self, text: str) -> str:
        """``text`` with every secret replaced by its visible prefix and ``…[redacted NAME]``."""
        if not self.might_hold_secret(text):
            return text
        for pattern in self.patterns:
            if pattern.user or pattern.compiled.search(text) is not None:
                text = self._replace(pattern, text)
        return text

    def _replace(self, pattern: SecretPattern, text: str) -> str:
        out: list[str] = []
        pos = 0
        label = f"{MARK}{pattern.name}]"
        for m in self._matches(pattern, text):
            start, end = m.span("secret")
            secret = m.group("secret")
            if start < pos or not secret.strip():
                continue
            keep = secret[: pattern.keep] if len(secret) > 2 * pattern.keep else ""
            out += [text[pos:start], keep, label]
            pos = end
        if not out:
            return text
        out.append(text[pos:])
        return "".join(out)

    def data(self, value: Any) -> Any:
        """``value`` with every string in it redacted: str, dict (keys too), list, tuple, and attrs instances
        (rebuilt with ``attrs.evolve``); anything else is returned as it is."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        if isinstance(value, tuple):
            items = [self.data(v) for v in value]
            return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
        if attrs.has(type(value)):
            changes = {}
            for f in attrs.fields(type(value)):
                if not f.init:
                    continue
                old = getattr(value, f.name)
                new = self.data(old)
                if new is not old:
                    changes[f.alias or f.name] = new
            return attrs.evolve(value, **changes) if changes else value
        return value


DEFAULT_REDACTOR = Redactor()


@functools.lru_cache(maxsize=16)
def redactor_for(patterns: tuple[SecretPattern, ...]) -> Redactor:
    """A redactor for these patterns (user patterns first) followed by the built-in ones."""
    return Redactor(patterns + BUILTIN_SECRETS) if patterns else DEFAULT_REDACTOR


T = TypeVar("T")


def redact(value: T, redactor: Redactor | None = None) -> T:
    """The one function every renderer calls on what it prints: a rendered string, JSON-like data, or a summary
    object before rendering it (better: a secret cut short by a renderer's truncation is still redacted)."""
    result: T = (redactor or DEFAULT_REDACTOR).data(value)
    return result


def redact_text(text: str, redactor: Redactor | None = None) -> str:
    return (redactor or DEFAULT_REDACTOR).text(text)
