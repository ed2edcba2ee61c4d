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
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from pathlib import Path

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
        import regex  # here rather than at import: see lazyre.py

        return regex.compile(pattern, regex.IGNORECASE | regex.DOTALL)
    return pattern


@attrs.frozen
class Rule:
    """One line of the table. ``reason`` may use ``{match}`` (the matched text) and ``{exit_code}``.

    ``pattern`` is given as text (matched ignoring case, ``.`` matching newlines too) or compiled; text is compiled
    the first time the rule is tried, so that the table costs nothing to import (see lazyre.py)."""

    name: str
    source: str | regex.Pattern[str] = attrs.field(alias="pattern")
    failure_class: str = attrs.field(validator=attrs.validators.in_(CLASSES))
    retryable: bool
    reason: str
    scope: str = attrs.field(default="final", validator=attrs.validators.in_(SCOPES))
    style: str | None = None  # only for BuildFailed lines printed in this style (see plain.FINAL_ERRORS)
    _compiled: regex.Pattern[str] | None = attrs.field(default=None, init=False, eq=False, repr=False)

    @property
    def pattern(self) -> regex.Pattern[str]:
        """The compiled pattern."""
        if self._compiled is None:
            object.__setattr__(self, "_compiled", _compile(self.source))  # a cache: the rule stays the same value
        assert self._compiled is not None
        return self._compiled


def _r(name: str, pattern: str, cls: str, retryable: bool, reason: str, **kw: str) -> Rule:
    return Rule(name, pattern, cls, retryable, reason, **kw)


# Ordered: more specific and more "inner" causes first.
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
    _r("killed-exit", r"(?:did not complete successfully|executor failed running \[.*?\]|returned a non-zero code):"
       r" ?(?:exit code: )?(?:137|143)\b", "killed", False,
       "A RUN step was killed (exit code {exit_code}: SIGKILL or SIGTERM, usually the out-of-memory killer)."),
    _r("build-step-exit", r"did not complete successfully: exit code: \d+|executor failed running \[.*?\]:"
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
       r"|Cannot connect to the Docker daemon|error during connect|no active sessions?\b(?!.*deadline)"
       r"|failed to get status: rpc error|buildkitd? (?:has )?(?:exited|crashed)",
       "builder-connection-lost", True,
       "The connection to the BuildKit daemon was lost ({match}); retry on a healthy builder."),

    # --- a builder that cannot be reached at all
    _r("builder-unreachable",
       r"error for bootstrap|failed to dial\b|buildkitd?\.sock\b.*?connection refused"
       r"|connection refused.*?buildkitd?\.sock\b|failed to list workers|booting buildkit",
       "builder-connection-lost", True,
       "The builder could not be reached ({match}); retry, recreating the builder if it persists."),

    # --- the disk
    _r("disk-full", r"no space left on device|disk quota exceeded|ResourceExhausted.*(?:disk|space|storage)",
       "disk-full", False, "The builder ran out of disk space ({match}); free space or prune the cache first."),

    # --- cache services (GitHub Actions cache, S3, Azure blob): their errors are the cache export's, and transient
    _r("cache-service",
       r"Cache service responded with (?:5\d\d|429)\b|\bInternal: not found\b"
       r"|429\b[^\n]*?request (?:was )?blocked|(?:cache|gha)\b[^\n]*?temporarily unavailable"
       r"|operation error S3: .*?(?:StatusCode: (?:5\d\d|429)|SlowDown|ServiceUnavailable|InternalError|RequestTimeout)"
       r"|blob\.core\.windows\.net.*?(?:RESPONSE (?:5\d\d|429)|ServerBusy|OperationTimedOut|InternalError)",
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
       r"|blob upload unknown|\b50[0-4]\b.*?<html", "registry-unavailable", True,
       "A registry or cache service answered with a server error ({match}); retry later."),

    # --- connection-level failures
    _r("network", r"i/o timeout|TLS handshake timeout|connection reset by peer|connection refused|broken pipe"
       r"|no such host|Temporary failure in name resolution|use of closed network connection"
       r"|server closed idle connection|Client\.Timeout exceeded|network is unreachable|no route to host"
       r"|unexpected EOF|: EOF\s*$|tls: bad record MAC|connection timed out|server misbehaving"
       r"|http2: (?:server sent GOAWAY|client connection lost)|commit.*?no response",
       "network", True, "A network connection failed ({match}); retry."),

    # --- deadlines without a clearer cause
    _r("timeout", r"DeadlineExceeded|context deadline exceeded|maximum timeout reached|timed out waiting",
       "timeout", True, "An operation hit its deadline ({match}); retry."),

    # --- the Dockerfile
    _r("build-check", r"^Check complete, \d+ warnings? ha(?:ve|s) been found", "dockerfile", False,
       "The Dockerfile fails its build checks ({match}); fix the findings listed after it.", style="check"),
    _r("dockerfile", r"dockerfile parse error|unknown instruction|failed to create LLB definition"
       r"|failed to read dockerfile|failed to parse stage name|failed to parse platform|lint violation"
       r"|Dockerfile.*cannot be empty|unknown flag:|base name .* should not be blank|syntax error"
       r"|failed to process \"|no build stage in current context|circular dependency detected on stage"
       r"|invalid reference format|stage .* not found|unsupported frontend capability",
       "dockerfile", False, "The Dockerfile is invalid ({match}); fix it."),

    # --- the build context
    _r("context", r"failed to compute cache key|failed to calculate checksum of ref|\"[^\"]+\": not found"
       r"|\"/[^\"]*\" not found\b"  # Docker 20.10's COPY vertex: "/config/logging.yaml" not found: not found
       r"|unable to prepare context|failed to walk|lstat .*: no such file or directory"
       r"|failed to read (?:context|\.dockerignore)|path .* not found|file not found in build context"
       r"|(?:COPY|ADD) failed: .*?(?:no such file|does not exist|not found|outside the build context)",
       "context", False, "A file the build needs is not in the build context ({match})."),

    # --- images, tags, manifests, platforms that do not exist
    _r("not-found", r"manifest unknown|no match for platform in manifest|not found: not found"
       r"|failed to resolve source metadata for .*?not found|: not found\s*$|name unknown|unknown blob",
       "not-found", False, "An image, tag, manifest or platform does not exist ({match})."),

    # --- other 4xx answers: the request itself was refused, a retry will not change that
    _r("client-4xx", r"\b40[0-9] (?:Bad Request|Not Found|Method Not Allowed|Conflict|Gone)"
       r"|status(?: code)?:? 40[0-9]\b", "unknown", False,
       "A registry or service rejected the request ({match}); a retry will not change that."),
)


@attrs.frozen
class RuleSet:
    """User rules (tried first) followed by the built-in table."""

    rules: tuple[Rule, ...] = BUILTIN_RULES

    def with_rules(self, extra: Iterable[Rule]) -> RuleSet:
        return RuleSet(tuple(extra) + self.rules)

    def match(self, text: str, scope: str = "final", style: str | None = None) -> tuple[Rule, str] | None:
        for rule in self.rules:
            if rule.scope != scope or (rule.style is not None and rule.style != style):
                continue
            m = rule.pattern.search(text)
            if m is not None:
                return rule, m.group(0)
        return None


DEFAULT_RULES = RuleSet()


def rules_from_toml(data: str, source: str = "<rules>") -> list[Rule]:
    """Parse user rules from TOML text::

        [[rule]]
        name = "artifactory-flaky"          # optional
        pattern = "Artifactory returned 520"
        class = "registry-unavailable"
        retryable = true
        reason = "Artifactory is having a bad day"
        scope = "final"                     # or "step-output", "vertex"; optional

    Raises ``ValueError`` with the rule's position on any mistake."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    import regex

    try:
        doc = tomllib.loads(data)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML: {exc}") from None
    entries = doc.get("rule", [])
    if not isinstance(entries, list):
        raise ValueError(f"{source}: expected [[rule]] tables")
    out: list[Rule] = []
    for i, entry in enumerate(entries, 1):
        where = f"{source}: rule {i}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: expected a table")
        try:
            cls = entry["class"]
            pattern = entry["pattern"]
        except KeyError as exc:
            raise ValueError(f"{where}: missing key {exc.args[0]!r}") from None
        if cls not in CLASSES:
            raise ValueError(f"{where}: unknown class {cls!r} (one of: {', '.join(CLASSES)})")
        try:
            compiled = regex.compile(pattern, regex.IGNORECASE | regex.DOTALL)
        except regex.error as exc:
            raise ValueError(f"{where}: bad pattern: {exc}") from None
        scope = entry.get("scope", "final")
        if scope not in SCOPES:
            raise ValueError(f"{where}: scope must be one of {SCOPES}")
        retryable = entry.get("retryable", False)
        if not isinstance(retryable, bool):
            raise ValueError(f"{where}: retryable must be true or false")
        out.append(Rule(str(entry.get("name", f"user-{i}")), compiled, cls, retryable,
                        str(entry.get("reason", f"matched the user rule {entry.get('name', i)}")), scope=scope))
    return out


def load_rules(paths: Sequence[str | Path]) -> RuleSet:
    """The built-in table with the rules of these TOML files in front (first file first)."""
    extra: list[Rule] = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            extra.extend(rules_from_toml(f.read(), str(path)))
    return DEFAULT_RULES.with_rules(extra)
