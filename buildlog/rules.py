"""Failure rules: which text means which failure class, and whether a retry can help.

The table is ordered; the first rule that matches wins. Rules are matched against the build's final error message
(with its continuation lines), with the quoted command of a failed RUN step blanked out so that words inside a
command line (``curl ... || echo connection refused``) cannot decide anything. Rules with ``scope="step-output"`` are
matched against the last lines the failed step printed, and win over the final message when they match: they
catch causes that the final message hides (a RUN step that exits 1 because the disk is full). Rules with
``scope="vertex"`` are matched against the name of the vertex that failed (or that an error block names) and come
next: where an error happened can say more than its message (a deadline while booting the builder is a builder that
cannot be reached, not a slow operation).

Class names are the public vocabulary of TAXONOMY.md (docs/taxonomy.md). Users add rules from a TOML file
(``load_rules``); theirs are tried before these.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .redact import Redactor, SecretPattern, redactor_for

if TYPE_CHECKING:
    import regex

CLASSES: tuple[str, ...] = (
    "builder-connection-lost",
    "network",
    "registry-unavailable",
    "rate-limited",
    "timeout",
    "auth",
    "not-found",
    "build-step",
    "killed",
    "dockerfile",
    "context",
    "disk-full",
    "cache-export",
    "canceled",
    "unknown",
)

SCOPES = ("final", "step-output", "vertex")


def _compile(pattern: str | regex.Pattern[str]) -> regex.Pattern[str]:
    if isinstance(pattern, str):
        import regex  # on first use: importing and compiling with ``regex`` is most of what importing rules cost

        return regex.compile(pattern, regex.IGNORECASE | regex.DOTALL)
    return pattern


@attrs.frozen
class Rule:
    """One line of the table. ``reason`` may use ``{match}`` (the matched text) and ``{exit_code}``. ``pattern``
    is given as text (compiled the first time the rule is tried) or compiled (user rules: checked when read)."""

    name: str
    source: str | regex.Pattern[str] = attrs.field(alias="pattern")
    failure_class: str = attrs.field(validator=attrs.validators.in_(CLASSES))
    retryable: bool
    reason: str
    scope: str = attrs.field(default="final", validator=attrs.validators.in_(SCOPES))
    style: str | None = None  # only for BuildFailed lines printed in this style (see plain.FINAL_ERRORS)
    timeout: float | None = None  # seconds per search: user rules are untrusted input
    _compiled: regex.Pattern[str] | None = attrs.field(default=None, init=False, eq=False, repr=False)
    _needles: Needles | None = attrs.field(default=None, init=False, eq=False, repr=False)

    @property
    def pattern(self) -> regex.Pattern[str]:
        """The compiled pattern."""
        if self._compiled is None:
            object.__setattr__(self, "_compiled", _compile(self.source))  # a cache: the rule stays the same value
        assert self._compiled is not None
        return self._compiled

    @property
    def needles(self) -> Needles:
        """For a built-in rule: clauses of texts (ASCII, lower case), every match holding all the texts of one of
        them (``required_literals``). Empty when there are none, and for any other rule: its pattern may use syntax
        of the ``regex`` module that the standard library's parser reads otherwise (fuzzy matching)."""
        if self._needles is None:
            needles = required_literals(self.source) if id(self) in _BUILTIN_IDS else None
            object.__setattr__(self, "_needles", needles or ())
        assert self._needles is not None
        return self._needles


Needles = tuple[tuple[str, ...], ...]  # see required_literals
_MAX_CLAUSES = 16  # clauses a sequence's conditions are multiplied into, at most


def required_literals(pattern: str | regex.Pattern[str]) -> Needles | None:
    """Clauses of texts (ASCII, lower case): every case-insensitive match of ``pattern`` holds all the texts of at
    least one clause. None when the pattern's syntax says nothing of the kind, or cannot be read with the standard
    library's parser.

    A necessary condition only: an ASCII text that holds no clause whole (compared in lower case) cannot match, so
    its search can be skipped. A chain of literal characters is a text every match of the sequence holds (a
    zero-width assertion does not break a chain: it consumes nothing); a sequence holds each of its parts' texts,
    an alternation one of its alternatives' (nothing, when an alternative requires nothing), a group or a repeat
    of at least once what its content requires. Only ASCII characters make a chain: a non-ASCII text may match an
    ASCII letter with another letter (``K``, the Kelvin sign, is a ``k``), which is why only ASCII texts are
    filtered."""
    if not isinstance(pattern, str):
        return None
    try:
        import importlib

        # the standard library's own regular-expression parser: ``re._parser`` from Python 3.11, ``sre_parse`` before
        parser: Any = importlib.import_module("re._parser" if sys.version_info >= (3, 11) else "sre_parse")
        found = _required(parser.parse(pattern, parser.SRE_FLAG_IGNORECASE | parser.SRE_FLAG_DOTALL), parser)
    except Exception:  # no filter is always right: the pattern is then searched every time
        return None
    if found is None:
        return None
    return tuple(sorted(found))


def _required(items: Any, p: Any) -> frozenset[tuple[str, ...]] | None:
    """The clauses (see ``required_literals``) of the sequence ``items``; None if it requires no text."""
    conditions: list[frozenset[tuple[str, ...]]] = []
    chain: list[str] = []

    def cut() -> None:
        if chain:
            conditions.append(frozenset({("".join(chain),)}))
            chain.clear()

    for op, av in items:
        if op is p.LITERAL and av < 128:
            chain.append(chr(av).lower())
        elif op in (p.AT, p.ASSERT, p.ASSERT_NOT):
            continue  # zero width: the characters on both sides are next to each other in the match
        else:
            cut()
            inner: frozenset[tuple[str, ...]] | None = None
            if op is p.SUBPATTERN:
                inner = _required(av[-1], p)
            elif op in (p.MAX_REPEAT, p.MIN_REPEAT) and av[0] >= 1:
                inner = _required(av[2], p)
            elif op is p.BRANCH:
                alternatives = [_required(a, p) for a in av[1]]
                if all(a is not None for a in alternatives):
                    inner = frozenset().union(*[a for a in alternatives if a is not None])
            if inner:
                conditions.append(inner)
    cut()
    # all the conditions hold: their product, unless it multiplies clauses past _MAX_CLAUSES (leaving a condition
    # out only weakens the filter)
    clauses: frozenset[tuple[str, ...]] = frozenset({()})
    for condition in sorted(conditions, key=len):
        product = frozenset(_clause(a + b) for a in clauses for b in condition)
        if len(clauses) == 1 or len(condition) == 1 or len(product) <= _MAX_CLAUSES:
            clauses = product
    return None if clauses == frozenset({()}) else clauses


def _clause(texts: tuple[str, ...]) -> tuple[str, ...]:
    # the longest first (the likeliest to be missing); a text inside another of the clause says nothing more, and
    # a single character next to a longer text hardly ever rules a text out
    kept = {t for t in texts if not any(t != u and t in u for u in texts)}
    if any(len(t) > 1 for t in kept):
        kept = {t for t in kept if len(t) > 1}
    return tuple(sorted(kept, key=lambda t: (-len(t), t)))


def _may_match(lowered: str, needles: Needles) -> bool:
    """Whether the text holds every text of one of the clauses."""
    for clause in needles:
        for text in clause:
            if text not in lowered:
                break
        else:
            return True
    return False


def _r(name: str, pattern: str, cls: str, retryable: bool, reason: str, scope: str = "final",
       style: str | None = None) -> Rule:
    return Rule(name, pattern, cls, retryable, reason, scope=scope, style=style)


# Ordered: more specific and more "inner" causes first. No unbounded ``.*`` between two parts: a message that
# repeats the first part would make each occurrence scan to the end (quadratic; benchmarks/redos.py). A gap is
# bounded (``[^\n]{0,300}?``), or stops where the next occurrence begins (the tempered ``(?:(?!X).)*?``). The
# standard library's parser reads these patterns too (Rule.needles): only syntax it reads as ``regex`` does (no
# fuzzy matching, ``{e<=1}``, which it would take for literal text).
BUILTIN_RULES: tuple[Rule, ...] = (
    # --- step output: causes the final "exit code: 1" hides
    _r("disk-full-output", r"no space left on device|disk quota exceeded", "disk-full", False,
       "The builder ran out of disk space while a step ran ({match}); free space or prune the cache first.",
       scope="step-output"),
    # the shell's "Killed" as the step's last words, or a 137 its own tools report: the kernel killed a process
    _r("killed-output", r"(?:^|\n)Killed\s*\Z|\bexit (?:code|status):? 137\b|\bError 137\b|signal:? SIGKILL\b",
       "killed", False,
       "A process of the RUN step was killed ({match}: SIGKILL, usually the out-of-memory killer).",
       scope="step-output"),

    # --- where it failed: a builder that never answered is unreachable, whatever deadline message it gave
    _r("builder-unreachable-vertex", r"^\[internal\] (?:booting buildkit|waiting for connection)\b",
       "builder-connection-lost", True,
       "The builder could not be reached ({match} failed); retry, recreating the builder if it persists.",
       scope="vertex"),

    # --- a RUN step's own exit status is the innermost cause when it is there
    _r("killed-exit", r"(?:did not complete successfully"
       r"|executor failed running \[(?:(?!executor failed running ).)*?\]|returned a non-zero code):"
       r" ?(?:exit code: )?(?:137|143)\b", "killed", False,
       "A RUN step was killed (exit code {exit_code}: SIGKILL or SIGTERM, usually the out-of-memory killer)."),
    _r("build-step-exit", r"did not complete successfully: exit code: \d+"
       r"|executor failed running \[(?:(?!executor failed running ).)*?\]:"
       r" exit code: \d+|returned a non-zero code: \d+", "build-step", False,
       "A RUN step's command exited with code {exit_code}: the build itself failed."),

    # --- cancellation
    _r("canceled", r"\bCanceled: context canceled|^context canceled\s*$|: context canceled\s*$", "canceled", False,
       "The build was canceled (interrupted, or the CI job was stopped)."),

    # --- the builder went away
    _r("client-eof", r"^unexpected EOF\s*$", "builder-connection-lost", True,
       "The docker client lost its connection to the daemon (unexpected EOF); the builder probably died.",
       style="client-eof"),
    _r("builder-connection-lost",
       r"error reading from server: EOF|rpc error: code = Unavailable|failed to receive status"
       r"|transport is closing|the client connection is closing|received prior goaway"
       r"|frontend grpc server closed unexpectedly|read/write on closed pipe|failed to dial gRPC"
       r"|Cannot connect to the Docker daemon|error during connect|no active sessions?\b(?![\s\S]{0,500}?deadline)"
       r"|failed to get status: rpc error|buildkitd? (?:has )?(?:exited|crashed)",
       "builder-connection-lost", True,
       "The connection to the BuildKit daemon was lost ({match}); retry on a healthy builder."),

    # --- a builder that cannot be reached at all
    _r("builder-unreachable",
       r"error for bootstrap|failed to dial\b|buildkitd?\.sock\b[^\n]{0,1000}?connection refused"
       r"|connection refused[^\n]{0,1000}?buildkitd?\.sock\b|failed to list workers|booting buildkit",
       "builder-connection-lost", True,
       "The builder could not be reached ({match}); retry, recreating the builder if it persists."),

    # --- the disk
    _r("disk-full", r"no space left on device|disk quota exceeded"
       r"|ResourceExhausted(?:(?!ResourceExhausted)[\s\S]){0,300}?(?:disk|space|storage)",
       "disk-full", False, "The builder ran out of disk space ({match}); free space or prune the cache first."),

    # --- cache services (GitHub Actions cache, S3, Azure blob): their errors are the cache export's, and transient
    _r("cache-service",
       r"Cache service responded with (?:5\d\d|429)\b|\bInternal: not found\b"
       r"|429\b[^\n]{0,1000}?request (?:was )?blocked|(?:cache|gha)\b[^\n]{0,1000}?temporarily unavailable"
       r"|operation error S3: [^\n]{0,1000}?(?:StatusCode: (?:5\d\d|429)|SlowDown|ServiceUnavailable|InternalError"
       r"|RequestTimeout)"
       r"|blob\.core\.windows\.net[^\n]{0,1000}?(?:RESPONSE (?:5\d\d|429)|ServerBusy|OperationTimedOut|InternalError)",
       "cache-export", True,
       "The cache service failed or throttled the cache export ({match}); retry."),

    # --- throttling, before the generic status codes
    _r("rate-limited", r"429 Too Many Requests|toomanyrequests|You have reached your (?:pull )?rate limit"
       r"|RequestBlockedException|rate limit exceeded|status(?: code)?:? 429\b|error response 429\b|SlowDown"
       r"|\b429 (?:Too Many|-)",
       "rate-limited", True, "The registry or cache service throttled the build ({match}); retry after a pause."),

    # --- image references that do not exist ("pull access denied" is how Docker Hub says it too)
    _r("pull-access-denied", r"pull access denied|repository does not exist", "not-found", False,
       "An image does not exist or is not accessible ({match})."),

    # --- credentials
    _r("auth", r"401 Unauthorized|403 Forbidden|authentication required|insufficient_scope|\bdenied:"
       r"|failed to fetch \w+ token: unexpected status:? 40\d|no basic auth credentials|\bunauthorized:"
       r"|access (?:to the resource )?(?:is )?denied|status(?: code)?:? 40[13]\b|invalid username/password",
       "auth", False, "The registry refused the credentials ({match}); fix the login or the token's scope."),

    # --- registry / cache service errors
    _r("registry-5xx", r"\b50[0-4] (?:Internal Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out)"
       r"|failed to parse error response 50\d|status(?: code)?:? 50[0-4]\b|unexpected status: 50\d"
       r"|blob upload unknown|\b50[0-4]\b[\s\S]{0,300}?<html", "registry-unavailable", True,
       "A registry or cache service answered with a server error ({match}); retry later."),

    # --- connection-level failures
    _r("network", r"i/o timeout|TLS handshake timeout|connection reset by peer|connection refused|broken pipe"
       r"|no such host|Temporary failure in name resolution|use of closed network connection"
       r"|server closed idle connection|Client\.Timeout exceeded|network is unreachable|no route to host"
       r"|unexpected EOF|: EOF\s*$|tls: bad record MAC|connection timed out|server misbehaving"
       r"|http2: (?:server sent GOAWAY|client connection lost)|commit[\s\S]{0,300}?no response",
       "network", True, "A network connection failed ({match}); retry."),

    # --- deadlines without a clearer cause
    _r("timeout", r"DeadlineExceeded|context deadline exceeded|maximum timeout reached|timed out waiting",
       "timeout", True, "An operation hit its deadline ({match}); retry."),

    # --- the Dockerfile
    _r("build-check", r"^Check complete, \d+ warnings? ha(?:ve|s) been found", "dockerfile", False,
       "The Dockerfile fails its build checks ({match}); fix the findings listed after it.", style="check"),
    _r("dockerfile", r"dockerfile parse error|unknown instruction|failed to create LLB definition"
       r"|failed to read dockerfile|failed to parse stage name|failed to parse platform|lint violation"
       r"|Dockerfile[^\n]{0,300}?cannot be empty|unknown flag:|base name [^\n]{0,300}? should not be blank|syntax error"
       r"|failed to process \"|no build stage in current context|circular dependency detected on stage"
       r"|invalid reference format|stage [^\n]{0,300}? not found|unsupported frontend capability",
       "dockerfile", False, "The Dockerfile is invalid ({match}); fix it."),

    # --- the build context
    _r("context", r"failed to compute cache key|failed to calculate checksum of ref|\"[^\"]+\": not found"
       r"|\"/[^\"]*\" not found\b"  # Docker 20.10's COPY vertex: "/config/logging.yaml" not found: not found
       r"|unable to prepare context|failed to walk|lstat [^\n]{0,1000}?: no such file or directory"
       r"|failed to read (?:context|\.dockerignore)|path [^\n]{0,1000}? not found|file not found in build context"
       r"|(?:COPY|ADD) failed: [^\n]{0,1000}?(?:no such file|does not exist|not found|outside the build context)",
       "context", False, "A file the build needs is not in the build context ({match})."),

    # --- images, tags, manifests, platforms that do not exist
    _r("not-found", r"manifest unknown|no match for platform in manifest|not found: not found"
       r"|failed to resolve source metadata for [^\n]{0,1000}?not found|: not found\s*$|name unknown|unknown blob",
       "not-found", False, "An image, tag, manifest or platform does not exist ({match})."),

    # --- other 4xx answers: the request itself was refused, a retry will not change that
    _r("client-4xx", r"\b40[0-9] (?:Bad Request|Not Found|Method Not Allowed|Conflict|Gone)"
       r"|status(?: code)?:? 40[0-9]\b", "unknown", False,
       "A registry or service rejected the request ({match}); a retry will not change that."),
)

_BUILTIN_IDS = frozenset(id(rule) for rule in BUILTIN_RULES)  # the rules whose needles are used (Rule.needles)


@attrs.frozen
class RuleSet:
    """User rules (tried first) followed by the built-in table; user secret patterns for the redaction."""

    rules: tuple[Rule, ...] = BUILTIN_RULES
    secrets: tuple[SecretPattern, ...] = ()

    def with_rules(self, extra: Iterable[Rule], secrets: Iterable[SecretPattern] = ()) -> RuleSet:
        return RuleSet(tuple(extra) + self.rules, tuple(secrets) + self.secrets)

    @property
    def redactor(self) -> Redactor:
        """The redaction table: these user secret patterns, then the built-in ones."""
        return redactor_for(self.secrets)

    def match(self, text: str, scope: str = "final", style: str | None = None,
              on_timeout: Callable[[Rule], None] | None = None, *, also: str | None = None) -> tuple[Rule, str] | None:
        """The first rule whose pattern is found in ``text``, or in ``also``: the same text in another form (a
        hard-wrapped message with its pieces joined). Rules are tried in their order over both forms, so that a
        user rule comes first whichever form it matches. A user rule's pattern is searched with a timeout (it is
        untrusted input); one that runs out of time is skipped and passed to ``on_timeout``."""
        forms = (text,) if also is None else (text, also)
        # a built-in rule whose needles an ASCII form does not hold cannot match it: most are ruled out without a
        # search (searching is what matching costs)
        lowered: tuple[str | None, ...] | None = None
        for rule in self.rules:
            if rule.scope != scope or (rule.style is not None and rule.style != style):
                continue
            needles = rule.needles
            for i, form in enumerate(forms):
                if needles:
                    if lowered is None:
                        lowered = tuple(f.lower() if f.isascii() else None for f in forms)
                    low = lowered[i]
                    if low is not None and not _may_match(low, needles):
                        continue
                if rule.timeout is None:
                    m = rule.pattern.search(form)
                else:
                    try:
                        m = rule.pattern.search(form, timeout=rule.timeout)
                    except TimeoutError:
                        if on_timeout is not None:
                            on_timeout(rule)
                        break
                if m is not None:
                    return rule, m.group(0)
        return None


DEFAULT_RULES = RuleSet()

USER_RULE_TIMEOUT = 0.25  # seconds for one user pattern on one text
RULE_KEYS = frozenset({"name", "pattern", "class", "retryable", "reason", "scope"})
SECRET_KEYS = frozenset({"name", "pattern", "keep", "trigger"})
TOP_KEYS = frozenset({"rule", "redact"})


class RulesError(ValueError):
    """A rules file that cannot be used: the message is one line naming the file, the rule and the mistake."""


def _keys_error(where: str, entry: dict[str, Any], allowed: frozenset[str]) -> str | None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        return f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} " \
               f"(known: {', '.join(sorted(allowed))})"
    return None


def _entry_name(entry: dict[str, Any], kind: str, i: int) -> str:
    name = entry.get("name")
    return f"{kind} {i} ({name!r})" if isinstance(name, str) else f"{kind} {i}"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _rule_from(entry: dict[str, Any], where: str, i: int) -> Rule:
    import regex

    problem = _keys_error(where, entry, RULE_KEYS)
    if problem:
        raise RulesError(problem)
    for key in ("pattern", "class"):
        if key not in entry:
            raise RulesError(f"{where}: missing key {key!r}")
    for key in ("name", "pattern", "class", "reason", "scope"):
        if key in entry and not isinstance(entry[key], str):
            raise RulesError(f"{where}: {key} must be a string")
    cls = entry["class"]
    if cls not in CLASSES:
        raise RulesError(f"{where}: unknown class {cls!r} (one of: {', '.join(CLASSES)})")
    try:
        compiled = regex.compile(entry["pattern"], regex.IGNORECASE | regex.DOTALL)
    except (regex.error, OverflowError, RecursionError, ValueError) as exc:
        raise RulesError(f"{where}: bad pattern: {_one_line(str(exc))}") from None
    scope = entry.get("scope", "final")
    if scope not in SCOPES:
        raise RulesError(f"{where}: scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    retryable = entry.get("retryable", False)
    if not isinstance(retryable, bool):
        raise RulesError(f"{where}: retryable must be true or false")
    name = entry.get("name", f"user-{i}")
    reason = entry.get("reason", f"matched the user rule {name}")
    try:
        # as the summary may fill it in: no exit code is the strictest case ("{exit_code:d}" fails on none only)
        reason.format(match="", exit_code=None)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        raise RulesError(f"{where}: reason may use only {{match}} and {{exit_code}} ({_one_line(str(exc))})") \
            from None
    return Rule(name, compiled, cls, retryable, reason, scope=scope, timeout=USER_RULE_TIMEOUT)


def _secret_from(entry: dict[str, Any], where: str, i: int) -> SecretPattern:
    import regex

    problem = _keys_error(where, entry, SECRET_KEYS)
    if problem:
        raise RulesError(problem)
    if "pattern" not in entry:
        raise RulesError(f"{where}: missing key 'pattern'")
    for key in ("name", "pattern", "trigger"):
        if key in entry and not isinstance(entry[key], str):
            raise RulesError(f"{where}: {key} must be a string")
    keep = entry.get("keep", 0)
    if not isinstance(keep, int) or isinstance(keep, bool) or not 0 <= keep <= 16:
        raise RulesError(f"{where}: keep must be a whole number from 0 to 16")
    pattern = entry["pattern"]
    try:
        compiled = regex.compile(pattern)
    except (regex.error, OverflowError, RecursionError, ValueError) as exc:
        raise RulesError(f"{where}: bad pattern: {_one_line(str(exc))}") from None
    if "secret" not in compiled.groupindex:
        # the whole match is the secret unless the pattern says which part is
        pattern = f"(?P<secret>{pattern})"
    try:
        trigger = entry.get("trigger")
        return SecretPattern(entry.get("name", f"user-secret-{i}"), pattern, (trigger,) if trigger else (), keep,
                             user=True)
    except (regex.error, ValueError) as exc:
        raise RulesError(f"{where}: bad pattern: {_one_line(str(exc))}") from None


def rules_from_toml(data: str, source: str = "<rules>") -> list[Rule]:
    """Parse user rules from TOML text (see ``user_rules_from_toml``, which also returns secret patterns)."""
    return user_rules_from_toml(data, source)[0]


def user_rules_from_toml(data: str, source: str = "<rules>") -> tuple[list[Rule], list[SecretPattern]]:
    """Parse user rules and secret patterns from TOML text::

        [[rule]]
        name = "artifactory-flaky"          # optional
        pattern = "Artifactory returned 520"
        class = "registry-unavailable"
        retryable = true
        reason = "Artifactory is having a bad day"
        scope = "final"                     # or "step-output", "vertex"; optional

        [[redact]]                          # a secret shape of yours (docs/security.md)
        name = "acme-token"
        pattern = "acme_[A-Za-z0-9]{32}"    # a group named 'secret' narrows what is replaced
        keep = 5                            # characters left visible; optional
        trigger = "acme_"                   # text every match holds: skips texts without it; optional

    Raises ``RulesError`` (a ``ValueError``) whose message is one line naming the file, the rule and the
    mistake; unknown keys and classes are mistakes."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

    try:
        doc = tomllib.loads(data)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source}: not valid TOML: {_one_line(str(exc))}") from None
    problem = _keys_error(source, doc, TOP_KEYS)
    if problem:
        raise RulesError(problem.replace(": unknown key", ": unknown table or key", 1))
    rules: list[Rule] = []
    secrets: list[SecretPattern] = []
    for key, build in (("rule", _rule_from), ("redact", _secret_from)):
        entries = doc.get(key, [])
        if not isinstance(entries, list):
            raise RulesError(f"{source}: expected [[{key}]] tables")
        for i, entry in enumerate(entries, 1):
            if not isinstance(entry, dict):
                raise RulesError(f"{source}: {key} {i}: expected a table")
            made = build(entry, f"{source}: {_entry_name(entry, key, i)}", i)
            (rules if key == "rule" else secrets).append(made)  # type: ignore[arg-type]
    return rules, secrets


def load_rules(paths: Sequence[str | Path]) -> RuleSet:
    """The built-in table with the rules of these TOML files in front (first file first). Raises ``RulesError``
    (one line) for a file that cannot be read or used."""
    extra: list[Rule] = []
    secrets: list[SecretPattern] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise RulesError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise RulesError(f"{path}: not UTF-8 text") from None
        rules, found = user_rules_from_toml(text, str(path))
        extra += rules
        secrets += found
    return DEFAULT_RULES.with_rules(extra, secrets)
