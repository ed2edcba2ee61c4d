"""Each rule of the failure table, on a real line where a real log has one.

Lines marked ``synthetic`` have no real log here: their wording is taken from TAXONOMY.md / FORMAT.md (the
families of messages those documents list), not invented.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixturelib import FIXTURES, SHARED

from buildlog import DEFAULT_RULES, parse_bytes, rules_from_toml, summarize_bytes, summarize_path
from buildlog.events import BuildFailed
from buildlog.rules import BUILTIN_RULES, CLASSES, load_rules
from buildlog.summary import LogSummary
from buildlog.verdict import EXIT_FAILURE, EXIT_RETRYABLE, exit_code_for

LIVE = FIXTURES / "live"  # real logs made by Docker 20.10 (see tests/fixtures/live/README.md)


def real_line(log: str, number: int) -> str:
    """Line NUMBER (1-based) of a real log, without its terminator."""
    with open((LIVE if log.startswith("docker20-") else SHARED) / log, "rb") as f:
        for i, raw in enumerate(f, 1):
            if i == number:
                return raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
    raise AssertionError(f"{log} has no line {number}")


def message_of(line: str) -> tuple[str, str | None]:
    """The text a rule sees: the final error's message (the parser removes the ERROR: prefixes)."""
    events = parse_bytes(line.encode("utf-8", "surrogateescape") + b"\n")
    failed = [e for e in events if isinstance(e, BuildFailed)]
    return (failed[0].message, failed[0].style) if failed else (line, None)


# (rule name, expected class, scope, text source)
CASES = [
    ("build-step-exit", "build-step", "final", real_line("s04-fail-exit1-plain.log", 116)),
    ("disk-full-output", "disk-full", "step-output", real_line("s15-disk-full-run-plain.log", 64)),
    ("canceled", "canceled", "final", real_line("s09-canceled-sigint-plain.log", 86)),
    ("builder-connection-lost", "builder-connection-lost", "final", real_line("s06-daemon-killed-plain.log", 85)),
    ("auth", "auth", "final", real_line("s14-auth-no-credentials-plain.log", 101)),
    ("registry-5xx", "registry-unavailable", "final", real_line("s08-proxy-503-plain.log", 202)),
    ("network", "network", "final", real_line("s07-cache-registry-down-no-ignore-plain.log", 146)),
    ("network", "network", "final", real_line("s08-proxy-reset-transient-plain.log", 109)),
    ("context", "context", "final", real_line("s05-copy-missing-plain.log", 72)),
    ("dockerfile", "dockerfile", "final", real_line("s05-dockerfile-syntax-plain.log", 14)),
    # real lines from Docker 20.10 (its client prints the bare cause)
    ("killed-exit", "killed", "final", real_line("docker20-killed-137.log", 41)),
    ("client-eof", "builder-connection-lost", "final", real_line("docker20-daemon-killed.log", 29)),
    ("build-step-exit", "build-step", "final", real_line("docker20-fail-exit2.log", 52)),
    ("dockerfile", "dockerfile", "final", real_line("docker20-dockerfile-syntax.log", 10)),
    ("context", "context", "final", real_line("docker20-copy-missing.log", 38)),
    ("network", "network", "final", real_line("docker20-push-registry-down.log", 53)),
    # synthetic: wording from FORMAT.md / TAXONOMY.md, no real log of these here
    ("killed-exit", "killed", "final", 'ERROR: failed to solve: process "/bin/sh -c make" did not complete '
     "successfully: exit code: 137"),
    ("killed-exit", "killed", "final", "ERROR: failed to solve: executor failed running [/bin/sh -c make]: "
     "exit code: 143"),
    ("build-step-exit", "build-step", "final", "ERROR: failed to solve: executor failed running "
     "[/bin/sh -c make]: exit code: 2"),
    ("client-eof", "builder-connection-lost", "final", "unexpected EOF"),
    ("builder-connection-lost", "builder-connection-lost", "final",
     "ERROR: failed to solve: rpc error: code = Unavailable desc = transport is closing"),
    ("rate-limited", "rate-limited", "final", "ERROR: failed to solve: docker.io/library/node:20: failed to "
     "copy: httpReadSeeker: failed open: unexpected status code 429 Too Many Requests - Server message: "
     "toomanyrequests: You have reached your pull rate limit."),
    ("pull-access-denied", "not-found", "final", "ERROR: failed to solve: pull access denied, repository does "
     "not exist or may require authorization: server message: insufficient_scope"),
    ("timeout", "timeout", "final", "ERROR: failed to solve: no active session for abc123: context deadline "
     "exceeded"),
    ("network", "network", "final", "ERROR: failed to solve: failed to do request: Head "
     '"https://registry.example/v2/app/manifests/1.0": net/http: TLS handshake timeout'),
    ("not-found", "not-found", "final", "ERROR: failed to solve: registry.example/app:1.0: failed to resolve "
     "source metadata for registry.example/app:1.0: registry.example/app:1.0: not found"),
    ("not-found", "not-found", "final", "ERROR: failed to solve: no match for platform in manifest: not found"),
    ("auth", "auth", "final", "ERROR: failed to solve: failed to authorize: failed to fetch oauth token: "
     "unexpected status: 400 Bad Request"),
    # the innermost cause wins: the token could not be fetched because the name did not resolve
    ("network", "network", "final", "ERROR: failed to solve: failed to authorize: failed to fetch oauth token: "
     'Post "https://auth.docker.io/token": dial tcp: lookup auth.docker.io: no such host'),
    ("disk-full", "disk-full", "final", "ERROR: failed to solve: failed to copy files: write /var/lib/buildkit/x:"
     " no space left on device"),
    ("client-4xx", "unknown", "final", "ERROR: failed to solve: error writing manifest blob: failed commit on "
     "ref: unexpected status: 400 Bad Request"),
    # synthetic: the families of issue "Logs as people have them" (tests/fixtures/excerpts/ has them in context)
    ("killed-output", "killed", "step-output", "g++ -O2 -c src/layout.cc -o build/layout.o\nKilled"),
    ("killed-output", "killed", "step-output", "npm ERR! command sh -c webpack: exit code: 137\nnpm ERR! done"),
    ("builder-unreachable-vertex", "builder-connection-lost", "vertex", "[internal] booting buildkit"),
    ("builder-unreachable-vertex", "builder-connection-lost", "vertex", "[internal] waiting for connection"),
    ("builder-unreachable", "builder-connection-lost", "final", "ERROR: failed to initialize builder b (b0): "
     'error for bootstrap "b0": context deadline exceeded'),
    ("builder-unreachable", "builder-connection-lost", "final", "ERROR: failed to solve: listing workers for "
     'Build: failed to list workers: Unavailable: connection error: desc = "transport: Error while dialing: dial '
     'unix /run/buildkit/buildkitd.sock: connect: connection refused"'),
    ("cache-service", "cache-export", "final", "ERROR: failed to solve: Cache service responded with 503"),
    ("cache-service", "cache-export", "final", "ERROR: failed to solve: error writing layer blob: operation error "
     "S3: PutObject, https response error StatusCode: 503, RequestID: 8A1B, api error SlowDown: Please reduce"),
    ("cache-service", "cache-export", "final", "ERROR: failed to solve: failed to reserve cache: 429 Too Many "
     "Requests: Request was blocked due to exceeding usage of resource 'Count'"),
    ("build-check", "dockerfile", "final", "Check complete, 2 warnings have been found!"),
]


@pytest.mark.parametrize(("rule_name", "failure_class", "scope", "line"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_matches(rule_name: str, failure_class: str, scope: str, line: str) -> None:
    text, style = message_of(line) if scope == "final" else (line, None)
    found = DEFAULT_RULES.match(text, scope=scope, style=style)
    assert found is not None, f"no rule matched {text!r}"
    rule, _ = found
    assert (rule.name, rule.failure_class) == (rule_name, failure_class)


def test_every_rule_has_a_case() -> None:
    tested = {c[0] for c in CASES}
    assert {r.name for r in BUILTIN_RULES} <= tested


def test_every_class_is_reachable() -> None:
    # cache-export comes from where the error happened, not from a pattern (see the summary)
    reachable = {r.failure_class for r in BUILTIN_RULES} | {"cache-export"}
    assert reachable == set(CLASSES)


def test_quoted_command_cannot_decide() -> None:
    """A RUN step whose command line mentions 'connection refused' still fails as build-step."""
    from buildlog import summarize_bytes

    log = (SHARED / "s04-fail-exit1-plain.log").read_bytes()
    tampered = log.replace(b'sh tests/run.sh" did not', b'sh tests/run.sh || echo connection refused" did not')
    assert tampered != log  # synthetic variant of a real log
    s = summarize_bytes(tampered)
    assert s.failure is not None and s.failure.failure_class == "build-step"


def test_user_rules_take_precedence(tmp_path: object) -> None:
    rules = rules_from_toml(
        '[[rule]]\nname = "my-proxy"\npattern = "503 Service Unavailable"\nclass = "network"\n'
        'retryable = true\nreason = "our proxy flaps"\n'
    )
    ruleset = DEFAULT_RULES.with_rules(rules)
    text, style = message_of(real_line("s08-proxy-503-plain.log", 202))
    found = ruleset.match(text, style=style)
    assert found is not None and found[0].name == "my-proxy"


@pytest.mark.parametrize(
    "toml",
    [
        'rule = "x"',
        '[[rule]]\npattern = "x"\nclass = "nope"',
        '[[rule]]\nclass = "network"',
        '[[rule]]\npattern = "("\nclass = "network"',
        '[[rule]]\npattern = "x"\nclass = "network"\nretryable = "yes"',
        "not toml [",
    ],
)
def test_bad_user_rules_are_clear_errors(toml: str) -> None:
    with pytest.raises(ValueError):
        rules_from_toml(toml, "rules.toml")


def test_load_rules_from_file(tmp_path: pytest.TempPathFactory) -> None:
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "rules.toml"
    path.write_text('[[rule]]\npattern = "EOF"\nclass = "unknown"\n')
    ruleset = load_rules([path])
    assert ruleset.rules[0].failure_class == "unknown"


# ------------------------------------------------------------------------------ every rule pinned whole

# (rule name, scope, source, class, retryable, reason). The source is a real log (its whole verdict is taken) or a
# line marked synthetic (wording from TAXONOMY.md / FORMAT.md), given to the summary as a log of its own. The reason
# is the sentence a person reads: written out here, with the text the rule matched and the exit code filled in.
PINNED = [
    ("disk-full-output", "step-output", "s15-disk-full-run-plain.log", "disk-full", False,
     "The builder ran out of disk space while a step ran (No space left on device); free space or prune the "
     "cache first."),
    # docker20-killed-137.log line 36: the step's last words are the shell's "Killed", which names the cause
    ("killed-output", "step-output", "docker20-killed-137.log", "killed", False,
     "A process of the RUN step was killed (Killed: SIGKILL, usually the out-of-memory killer)."),
    ("killed-exit", "final", 'synthetic: ERROR: failed to solve: process "/bin/sh -c make" did not complete '
     "successfully: exit code: 137", "killed", False,
     "A RUN step was killed (exit code 137: SIGKILL or SIGTERM, usually the out-of-memory killer)."),
    # the families of "Logs as people have them" (tests/fixtures/excerpts/, written from the descriptions)
    ("builder-unreachable-vertex", "vertex", "excerpts/f09-booting-deadline-synthetic.log",
     "builder-connection-lost", True,
     "The builder could not be reached ([internal] booting buildkit failed); retry, recreating the builder if it "
     "persists."),
    ("builder-unreachable", "final", "excerpts/f09-bootstrap-synthetic.log", "builder-connection-lost", True,
     "The builder could not be reached (error for bootstrap); retry, recreating the builder if it persists."),
    ("cache-service", "final", "excerpts/f08-gha-unavailable-synthetic.log", "cache-export", True,
     "The cache service failed or throttled the cache export (cache entry: GitHub Actions cache is temporarily "
     "unavailable); retry."),
    ("build-check", "final", "excerpts/f10-check-one-warning-synthetic.log", "dockerfile", False,
     "The Dockerfile fails its build checks (Check complete, 1 warning has been found); fix the findings listed "
     "after it."),
    ("build-step-exit", "final", "s04-fail-exit1-plain.log", "build-step", False,
     "A RUN step's command exited with code 1: the build itself failed."),
    ("canceled", "final", "s09-canceled-sigint-plain.log", "canceled", False,
     "The build was canceled (interrupted, or the CI job was stopped)."),
    ("client-eof", "final", "docker20-daemon-killed.log", "builder-connection-lost", True,
     "The docker client lost its connection to the daemon (unexpected EOF); the builder probably died."),
    ("builder-connection-lost", "final", "s06-daemon-killed-plain.log", "builder-connection-lost", True,
     "The connection to the BuildKit daemon was lost (failed to receive status); retry on a healthy builder."),
    ("disk-full", "final", "synthetic: ERROR: failed to solve: failed to copy files: write /var/lib/buildkit/x: "
     "no space left on device", "disk-full", False,
     "The builder ran out of disk space (no space left on device); free space or prune the cache first."),
    ("rate-limited", "final", "synthetic: ERROR: failed to solve: docker.io/library/node:20: failed to copy: "
     "httpReadSeeker: failed open: unexpected status code 429 Too Many Requests - Server message: "
     "toomanyrequests: You have reached your pull rate limit.", "rate-limited", True,
     "The registry or cache service throttled the build (status code 429); retry after a pause."),
    ("pull-access-denied", "final", "synthetic: ERROR: failed to solve: pull access denied, repository does not "
     "exist or may require authorization: server message: insufficient_scope", "not-found", False,
     "An image does not exist or is not accessible (pull access denied)."),
    ("auth", "final", "s14-auth-no-credentials-plain.log", "auth", False,
     "The registry refused the credentials (401 Unauthorized); fix the login or the token's scope."),
    ("registry-5xx", "final", "s08-proxy-503-plain.log", "registry-unavailable", True,
     "A registry or cache service answered with a server error (503 Service Unavailable); retry later."),
    ("network", "final", "docker20-push-registry-down.log", "network", True,
     "A network connection failed (connection refused); retry."),
    ("timeout", "final", "synthetic: ERROR: failed to solve: failed to do request: Head "
     '"https://registry.example/v2/app/manifests/1.0": context deadline exceeded', "timeout", True,
     "An operation hit its deadline (context deadline exceeded); retry."),
    ("dockerfile", "final", "s05-dockerfile-syntax-plain.log", "dockerfile", False,
     "The Dockerfile is invalid (dockerfile parse error); fix it."),
    ("context", "final", "s05-copy-missing-plain.log", "context", False,
     "A file the build needs is not in the build context (failed to compute cache key)."),
    ("not-found", "final", "synthetic: ERROR: failed to solve: no match for platform in manifest: not found",
     "not-found", False,
     "An image, tag, manifest or platform does not exist (no match for platform in manifest)."),
    ("client-4xx", "final", "synthetic: ERROR: failed to solve: error writing manifest blob: failed commit on "
     "ref: unexpected status: 400 Bad Request", "unknown", False,
     "A registry or service rejected the request (status: 400); a retry will not change that."),
]


def _summary_of(source: str) -> LogSummary:
    if source.startswith("synthetic: "):
        return summarize_bytes(source.removeprefix("synthetic: ").encode() + b"\n")
    if source.startswith("excerpts/"):
        return summarize_path(LIVE.parent / source)
    return summarize_path((LIVE if source.startswith("docker20-") else SHARED) / source)


@pytest.mark.parametrize(("rule_name", "scope", "source", "failure_class", "retryable", "reason"), PINNED,
                         ids=[p[0] for p in PINNED])
def test_rule_pinned_whole(rule_name: str, scope: str, source: str, failure_class: str, retryable: bool,
                           reason: str) -> None:
    [rule] = [r for r in BUILTIN_RULES if r.name == rule_name]
    assert (rule.failure_class, rule.retryable, rule.scope) == (failure_class, retryable, scope)
    s = _summary_of(source)
    assert s.failure is not None
    assert (s.failure.rule, s.failure.failure_class, s.failure.retryable, s.failure.reason) == (
        rule_name, failure_class, retryable, reason)
    assert s.outcome == ("canceled" if failure_class == "canceled" else "failure")
    assert s.retryable is retryable
    assert exit_code_for(s) == (EXIT_RETRYABLE if retryable else EXIT_FAILURE)


def test_every_rule_is_pinned_once() -> None:
    assert sorted(p[0] for p in PINNED) == sorted(r.name for r in BUILTIN_RULES)


def test_no_rule_matches_keeps_the_line() -> None:
    """synthetic: a final error no rule knows is "unknown", not retryable, with the text kept for a new rule."""
    s = summarize_bytes(b"ERROR: failed to solve: the flux capacitor is out of alignment\n")
    assert s.failure is not None
    assert (s.failure.failure_class, s.failure.retryable, s.failure.rule) == ("unknown", False, None)
    assert s.failure.text is not None and s.failure.text.endswith("the flux capacitor is out of alignment")
    assert s.failure.reason.startswith("No rule recognises this failure")


def _taxonomy_table() -> dict[str, str]:
    """class -> the 'retry?' cell of the table in docs/taxonomy.md."""
    text = (Path(__file__).parent.parent / "docs" / "taxonomy.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and cells[0].endswith("`"):
            rows[cells[0].strip("`")] = cells[1]
    return rows


def test_taxonomy_lists_exactly_the_classes() -> None:
    assert list(_taxonomy_table()) == list(CLASSES)


def test_retry_column_of_the_taxonomy_matches_the_rules() -> None:
    """Each rule's retry verdict is the one docs/taxonomy.md gives its class (cache-export: that of the cause)."""
    table = _taxonomy_table()
    assert table["cache-export"].startswith("depends")
    for rule in BUILTIN_RULES:
        cell = table[rule.failure_class]
        if rule.failure_class == "cache-export":
            # a cache service's own errors (throttling, unavailable) are the kind the table says to retry
            assert rule.retryable, rule.name
            continue
        assert cell.split(",")[0].split(" ")[0] in ("yes", "no"), cell
        assert rule.retryable is cell.startswith("yes"), (rule.name, rule.failure_class, cell)
    retryable_classes = {c for c, cell in table.items() if cell.startswith("yes")}
    assert retryable_classes == {r.failure_class for r in BUILTIN_RULES
                                 if r.retryable and r.failure_class != "cache-export"}


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('rule = "x"', "rules.toml: expected [[rule]] tables"),
        ("rule = [1]", "rules.toml: rule 1: expected a table"),
        ('[[rule]]\npattern = "x"\nclass = "network"\n[[rule]]\npattern = "x"\nclass = "nope"',
         "rules.toml: rule 2: unknown class 'nope' (one of: builder-connection-lost, network, "),
        ('[[rule]]\nclass = "network"', "rules.toml: rule 1: missing key 'pattern'"),
        ('[[rule]]\npattern = "x"', "rules.toml: rule 1: missing key 'class'"),
        ('[[rule]]\npattern = "("\nclass = "network"', "rules.toml: rule 1: bad pattern: "),
        ('[[rule]]\npattern = "x"\nclass = "network"\nretryable = "yes"',
         "rules.toml: rule 1: retryable must be true or false"),
        ('[[rule]]\npattern = "x"\nclass = "network"\nscope = "everywhere"',
         "rules.toml: rule 1: scope must be one of final, step-output, vertex, not 'everywhere'"),
        ("not toml [", "rules.toml: not valid TOML: "),
    ],
)
def test_bad_user_rules_say_where_and_what(toml: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        rules_from_toml(toml, "rules.toml")
    assert str(info.value).startswith(message)


def test_user_rule_defaults() -> None:
    [first, second] = rules_from_toml('[[rule]]\npattern = "Artifactory returned 520"\nclass = "registry-unavailable"\n'
                                      '[[rule]]\nname = "mine"\npattern = "x"\nclass = "network"\nretryable = true\n'
                                      'reason = "why"\nscope = "step-output"\n')
    assert (first.name, first.failure_class, first.retryable, first.scope, first.style) == (
        "user-1", "registry-unavailable", False, "final", None)
    assert first.reason == "matched the user rule user-1"
    assert (second.name, second.retryable, second.reason, second.scope) == ("mine", True, "why", "step-output")
    # patterns are case-insensitive and "." crosses the continuation lines of a message, like the built-in ones
    assert first.pattern.search("ARTIFACTORY RETURNED 520") is not None
    assert second.pattern.search("a\nx") is not None
    assert rules_from_toml("") == []
    assert DEFAULT_RULES.rules == BUILTIN_RULES


def test_user_rule_default_reason_names_the_rule() -> None:
    [rule] = rules_from_toml('[[rule]]\nname = "flaky"\npattern = "x"\nclass = "network"\n')
    assert rule.reason == "matched the user rule flaky"


def test_rules_of_several_files_first_file_first(tmp_path: Path) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('[[rule]]\nname = "a"\npattern = "EOF"\nclass = "unknown"\n')
    b.write_text('[[rule]]\nname = "b"\npattern = "EOF"\nclass = "network"\nretryable = true\n')
    ruleset = load_rules([a, b])
    assert [r.name for r in ruleset.rules[:2]] == ["a", "b"]
    assert ruleset.rules[2:] == BUILTIN_RULES
    found = ruleset.match("unexpected EOF")
    assert found is not None and found[0].name == "a" and found[1] == "EOF"
    with pytest.raises(ValueError, match=r"^.*b\.toml: rule 1: missing key 'class'"):
        b.write_text('[[rule]]\npattern = "x"\n')
        load_rules([a, b])


def test_match_respects_scope_and_style() -> None:
    # "unexpected EOF" as the docker client's own last line (style client-eof) is the lost builder ...
    found = DEFAULT_RULES.match("unexpected EOF", style="client-eof")
    assert found is not None and found[0].name == "client-eof"
    # ... inside another message it is a network error
    found = DEFAULT_RULES.match("unexpected EOF")
    assert found is not None and found[0].name == "network"
    # step-output rules are not tried on the final message, nor final rules on step output
    assert DEFAULT_RULES.match("No space left on device")[0].name == "disk-full"  # type: ignore[index]
    assert DEFAULT_RULES.match("No space left on device", scope="step-output")[0].name == "disk-full-output"  # type: ignore[index]
    assert DEFAULT_RULES.match("connection refused", scope="step-output") is None
    assert DEFAULT_RULES.match("nothing known here") is None


def test_rule_validates_its_fields() -> None:
    from buildlog.rules import Rule

    with pytest.raises(ValueError):
        Rule("x", "x", "no-such-class", False, "r")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Rule("x", "x", "network", False, "r", scope="elsewhere")  # type: ignore[arg-type]
    rule = Rule("x", "Abc", "network", True, "r")  # type: ignore[arg-type]
    assert rule.pattern.search("xabcx") is not None and rule.scope == "final"


def test_rules_text_without_a_file_name_is_called_rules() -> None:
    with pytest.raises(ValueError) as info:
        rules_from_toml('[[rule]]\npattern = "x"')
    assert str(info.value) == "<rules>: rule 1: missing key 'class'"
