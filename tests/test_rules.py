"""Each rule of the failure table, on a real line where a real log has one.

Lines marked ``synthetic`` have no real log here: their wording is taken from TAXONOMY.md / FORMAT.md (the
families of messages those documents list), not invented.
"""

from __future__ import annotations

import pytest
from fixturelib import FIXTURES, SHARED

from buildlog import DEFAULT_RULES, parse_bytes, rules_from_toml
from buildlog.events import BuildFailed
from buildlog.rules import BUILTIN_RULES, CLASSES, load_rules

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
