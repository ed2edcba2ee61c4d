"""Secrets never leave buildlog: each family of secret redacted on lines in its real shape, nothing redacted on
the real logs, every output format redacted (and `--no-redact`, `events --redact`), the hint that says where a
secret is, and user [[redact]] patterns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fixturelib import SHARED
from hypothesis import given
from hypothesis import strategies as st

from buildlog import summarize_bytes
from buildlog import summary as summary_module
from buildlog.redact import BUILTIN_SECRETS, MARK, Redactor, SecretFinding, SecretPattern, redact, redact_text
from buildlog.rules import load_rules

if TYPE_CHECKING:
    import regex

ROOT = Path(__file__).resolve().parents[1]
REPLAY = Path(__file__).parent / "run_helpers" / "replay.py"

# Made-up values in each family's real shape (lengths and alphabets as issued).
GH = "ghp_" + "Zx9Qw2" * 6  # 36 characters after the prefix
NPM = "npm_" + "a1B2c3" * 6
AWS_ID, AWS_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
JWT = ("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2Nlc3MiOlt7InR5cGUiOiJyZXBvc2l0b3J5In1dLCJleHAiOjE3MDB9"
       ".c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1oZXJl")

# (family, a line as the tool that prints it writes it, the secret in it, what stays visible before the mark)
FAMILIES = [
    ("github-token", f"#9 0.412 fatal: unable to access 'https://{GH}@github.com/acme/api.git/': The requested URL "
     "returned error: 403", GH, "ghp_"),
    ("github-token", "#9 0.101 remote: Invalid username or token. x-access-token:ghs_" + "16C7e42F292c6912E7710c8" * 2,
     "ghs_" + "16C7e42F292c6912E7710c8" * 2, "ghs_"),
    ("github-token", "##[debug]GITHUB_PAT=github_pat_11ABCDEFG0" + "abcdefghijKLMNOPQRST_0123456789" * 2,
     "github_pat_11ABCDEFG0" + "abcdefghijKLMNOPQRST_0123456789" * 2, ""),
    ("gitlab-token", "#7 0.233 + git clone https://oauth2:glpat-xY3zAbCdEfGhIjKlMnOp@gitlab.example.com/g/p.git",
     "glpat-xY3zAbCdEfGhIjKlMnOp", ""),
    ("aws-access-key-id", f"#12 1.520 An error occurred (InvalidAccessKeyId) when calling the PutObject operation: "
     f"The AWS Access Key Id you provided does not exist in our records. ({AWS_ID})", AWS_ID, "AKIA"),
    ("aws-secret-key", f"#12 0.004 [default] aws_access_key_id={AWS_ID} aws_secret_access_key={AWS_SECRET}",
     AWS_SECRET, ""),
    ("aws-secret-key", f"#12 0.004 using {AWS_ID} / {AWS_SECRET}", AWS_SECRET, ""),
    ("slack-token", "#5 0.300 curl -H 'Authorization: Bearer xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx'",
     "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-"),
    ("slack-webhook", "#5 0.300 posting to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
     "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", ""),
    ("npm-token", f"#8 0.051 //registry.npmjs.org/:_authToken={NPM}", NPM, "npm_"),
    ("jwt", f"#6 0.020 > Authorization: Bearer {JWT}", JWT, "eyJ"),
    ("bearer-token", "#6 0.020 > Authorization: Bearer 5f1d0a7c9e3b4f2a8d6c0e1b3a5f7d9c",
     "5f1d0a7c9e3b4f2a8d6c0e1b3a5f7d9c", ""),
    ("basic-credentials", "#6 0.020 > Authorization: Basic ZGVwbG95Omh1bnRlcjI=", "ZGVwbG95Omh1bnRlcjI=", ""),
    ("url-password", "#7 0.233 fatal: could not read from remote repository https://deploy:P4ssw0rd-9x@git.example.com/"
     "org/repo.git", "P4ssw0rd-9x", ""),
    ("url-password", "ERROR: failed to solve: failed to push redis://cache:s3cr3t!pw@10.0.0.5:6379/0",
     "s3cr3t!pw", ""),
    ("private-key", "-----BEGIN OPENSSH PRIVATE KEY-----\n"
     "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDx9qNp2kQ5Xw==\n"
     "-----END OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9u", ""),
    ("secret-variable", "#0 + docker buildx build --build-arg NPM_TOKEN=s3cretvalue42 --build-arg VERSION=1.2 .",
     "s3cretvalue42", ""),
    ("secret-variable", 'Step 3/9 : ENV DB_PASSWORD="correct horse battery"', "correct horse battery", ""),
    ("secret-variable", "#4 0.012 API_KEY='k-29fj2-0f9a'", "k-29fj2-0f9a", ""),
    ("secret-variable", "##[debug]Evaluating: secrets.AWS_SECRET_ACCESS_KEY = abcDEF123/xyz", "abcDEF123/xyz", ""),
    ("secret-field", '#4 0.012 {"auths": {"registry.example.com": {"password": "hunter2hunter2"}}}', "hunter2hunter2",
     ""),
]


@pytest.mark.parametrize(("family", "line", "secret", "prefix"), FAMILIES,
                         ids=[f"{f[0]}-{i}" for i, f in enumerate(FAMILIES)])
def test_each_family_is_redacted(family: str, line: str, secret: str, prefix: str) -> None:
    out = redact_text(line)
    assert secret not in out
    assert f"{prefix}{MARK}{family}]" in out
    assert redact_text(out) == out  # a redaction is never redacted again


def test_every_built_in_family_is_tested() -> None:
    assert {p.name for p in BUILTIN_SECRETS} == {f[0] for f in FAMILIES}


@pytest.mark.parametrize("line", [
    "#8 0.049 installing packages (token length: 25)",
    '#1 WARN: SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG "NPM_TOKEN") (line 3)',
    "ERROR: failed to solve: failed to fetch oauth token: unexpected status: 401 Unauthorized",
    "ERROR: failed to solve: no basic auth credentials",
    'www-authenticate: Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
    "#5 0.2 RUN --mount=type=secret,id=npm NPM_TOKEN=$(cat /run/secrets/npm) npm ci",
    "#5 0.2 TOKEN=${CI_JOB_TOKEN} make publish",
    "#5 [2/3] RUN echo $GITHUB_TOKEN | docker login ghcr.io -u x --password-stdin",
    "#5 0.2 git clone https://github.com/acme/api.git",
    "#5 0.2 export GITHUB_TOKEN=***",
])
def test_what_is_not_a_secret_stays(line: str) -> None:
    assert redact_text(line) == line


def test_real_logs_are_untouched() -> None:
    """No secret in the shared real logs: redacting them changes nothing (no false positive on real text)."""
    for log in sorted(SHARED.glob("*.log")):
        text = log.read_bytes().decode("utf-8", "surrogateescape")
        assert redact_text(text) == text, log.name


def _every_pattern(redactor: Redactor, text: str) -> list[SecretFinding]:
    """find() without its gates: every pattern run on a text that holds any trigger."""
    if not redactor.might_hold_secret(text):
        return []
    return [SecretFinding(p.name, m.start("secret"), m.end("secret"))
            for p in redactor.patterns for m in p.compiled.finditer(text) if m.start("secret") >= 0]


def _skipped(redactor: Redactor, text: str) -> set[str]:
    """The patterns find() does not run on a text that holds a trigger."""
    ran: set[str] = set()
    matches = redactor._matches

    def spy(pattern: SecretPattern, text: str) -> Iterator[regex.Match[str]]:
        ran.add(pattern.name)
        return matches(pattern, text)

    redactor._matches = spy  # type: ignore[method-assign]
    try:
        redactor.find(text)
    finally:
        del redactor._matches
    return {p.name for p in redactor.patterns} - ran if redactor.might_hold_secret(text) else set()


def test_find_runs_only_the_patterns_a_text_can_match() -> None:
    # Each family's line alone and after each other family's line (whose triggers make the text worth a look, not
    # the pattern worth running), and every line of the real logs that holds a trigger ("https://" in most).
    redactor = Redactor()
    family_lines = [f[1] for f in FAMILIES]
    texts = [*family_lines, *(a + " " + b for a in family_lines for b in family_lines)]
    for log in sorted(SHARED.glob("*.log")):
        texts += [line for line in log.read_bytes().decode("utf-8", "surrogateescape").splitlines()
                  if redactor.might_hold_secret(line)]
    for text in texts:
        assert redactor.find(text) == _every_pattern(redactor, text), text
    # the gates do skip patterns: a URL without credentials in it (s08 L111) runs none of them
    url = ("#19 0.020 error: unexpected status from POST request to http://127.0.0.1:5001/v2/app/blobs/uploads/: "
           "503 Service Unavailable")
    assert url in texts and _skipped(redactor, url) == {p.name for p in BUILTIN_SECRETS}


def test_find_runs_every_pattern_outside_ascii() -> None:
    # synthetic: "ſ" (long s) matches "s" case-insensitively, but "ſ".lower() is no "s": the line holds no trigger
    # of the basic-credentials pattern once lowered, and that pattern still finds the credentials
    line = "#6 0.020 > Authorization: Baſic ZGVwbG95Omh1bnRlcjI= (token)"
    found = Redactor().find(line)
    assert [(f.name, line[f.start:f.end]) for f in found] == [("basic-credentials", "ZGVwbG95Omh1bnRlcjI=")]


_FAMILY_PIECES = sorted({piece for f in FAMILIES for piece in f[1].replace("\n", " ").split(" ")}
                        | {"ſ", "K", "İ", "@", "://", " ", "=", "Bearer ", "BASIC ", "x:y@", "\n"})


@given(st.lists(st.sampled_from(_FAMILY_PIECES) | st.text(max_size=4), max_size=8).map("".join))
def test_find_finds_what_every_pattern_finds(text: str) -> None:
    redactor = Redactor()
    assert redactor.find(text) == _every_pattern(redactor, text)


def test_redact_walks_summaries_and_json() -> None:
    data = {"text": f"token {GH}", "list": [f"x {NPM}", 3, None], "nested": {"k": (f"{AWS_ID}",)}}
    out = redact(data)
    flat = json.dumps(out)
    assert GH not in flat and NPM not in flat and AWS_ID not in flat
    assert out["list"][1:] == [3, None]


def test_a_user_pattern_is_added_and_untrusted(tmp_path: Path) -> None:
    rules = tmp_path / "r.toml"
    rules.write_text('[[redact]]\nname = "acme-token"\npattern = "acme_(?P<secret>[a-z0-9]{16})"\n')
    redactor = load_rules([rules]).redactor
    assert redactor.text("key acme_0123456789abcdef here") == "key acme_…[redacted acme-token] here"
    assert redactor.text(f"and {GH}") == f"and ghp_{MARK}github-token]"  # the built-in ones still apply
    slow = Redactor([*load_rules([_write(tmp_path / "slow.toml", '[[redact]]\nname = "slow"\npattern = "(a|aa)+b"\n')])
                     .secrets])
    assert slow.text("a" * 60) == "a" * 60  # it timed out and was skipped
    assert slow.timeouts == {"slow": 1}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------------------ the CLI


def tampered_log(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """The real s04 log (a RUN step that exits 1) with secrets in the failing command and in its output; the line
    numbers where each secret is, found by reading the file."""
    log = (SHARED / "s04-fail-exit1-plain.log").read_bytes()
    url = b"https://deploy:P4ssw0rd-9x@git.example.com/org/repo.git"
    out = log.replace(b'-c echo \\"running', b"-c git clone " + url + b'; echo \\"running')
    out = out.replace(b'RUN echo "running', b"RUN git clone " + url + b'; echo "running')
    out = out.replace(b"#15 0.047 running unit tests\n",
                      b"#15 0.047 running unit tests\n#15 0.048 using token " + GH.encode() + b"\n")
    assert out.count(GH.encode()) == 1 and url in out
    path = tmp_path / "s04-with-secrets-synthetic.log"
    path.write_bytes(out)
    lines = out.split(b"\n")
    where = {"gh": next(i for i, line in enumerate(lines, 1) if GH.encode() in line),
             "url": next(i for i, line in enumerate(lines, 1) if url in line)}
    return path, where


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "buildlog", *args], capture_output=True, text=True, timeout=120,
                          env=dict(env or os.environ, PYTHONPATH=str(ROOT)), stdin=subprocess.DEVNULL, check=False)


SECRETS = (GH, "P4ssw0rd-9x")


def assert_redacted(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_summary_is_redacted_in_every_format(tmp_path: Path, fmt: str) -> None:
    log, _ = tampered_log(tmp_path)
    r = cli("summary", "--format", fmt, str(log))
    assert r.returncode == 0, r.stderr
    assert_redacted(r.stdout)
    raw = cli("summary", "--format", fmt, "--no-redact", str(log))
    assert "P4ssw0rd-9x" in raw.stdout  # in the failed step's command: the output would have shown it


def test_classify_is_redacted(tmp_path: Path) -> None:
    log, _ = tampered_log(tmp_path)
    rules = _write(tmp_path / "r.toml", '[[rule]]\nname = "git-url"\npattern = "https://\\\\S+"\nclass = "network"\n'
                   'reason = "could not clone {match}"\n')
    r = cli("classify", "--rules", str(rules), str(log))
    assert r.stdout.startswith("build-step:") or "could not clone" in r.stdout
    assert "P4ssw0rd-9x" not in r.stdout


def test_the_hint_says_where_without_the_value(tmp_path: Path) -> None:
    log, where = tampered_log(tmp_path)
    summary = summarize_bytes(log.read_bytes())
    assert summary.last is not None
    hints = [h for h in summary.last.hints if h.startswith("Secret in the log")]
    github = [h for h in hints if "github-token" in h]
    assert len(github) == 1 and "in step output" in github[0] and f"line {where['gh']}" in github[0]
    url = [h for h in hints if "url-password" in h]
    assert url and str(where["url"]) in url[0]
    for hint in hints:
        assert all(secret not in hint for secret in SECRETS)


def test_run_outputs_are_redacted(tmp_path: Path) -> None:
    log, _ = tampered_log(tmp_path)
    step_summary = tmp_path / "step.md"
    env = dict(os.environ, GITHUB_STEP_SUMMARY=str(step_summary))
    for fmt in ("json", "markdown", "text"):
        out = tmp_path / f"s.{fmt}"
        # the command line itself holds a secret too, as a build arg
        r = cli("run", "--attempts", "1", "--summary-file", str(out), "--format", fmt, "--github-summary", "--",
                "sh", "-c", f'exec "$0" {REPLAY} {tmp_path / "state"} {log}:1', sys.executable,
                "NPM_TOKEN=s3cretvalue42", env=env)
        assert r.returncode == 1, r.stderr
        text = out.read_text()
        assert_redacted(text)
        assert "s3cretvalue42" not in text
        assert all(secret not in line for line in r.stderr.splitlines() if line.startswith("buildlog:")
                   for secret in SECRETS)
    assert_redacted(step_summary.read_text())


def test_events_stay_raw_unless_asked(tmp_path: Path) -> None:
    log, _ = tampered_log(tmp_path)
    raw = cli("events", "--raw", str(log))
    assert GH in raw.stdout and "P4ssw0rd-9x" in raw.stdout  # lossless by contract
    redacted = cli("events", "--raw", "--redact", str(log))
    assert GH not in redacted.stdout and "P4ssw0rd-9x" not in redacted.stdout
    assert len(redacted.stdout.splitlines()) == len(raw.stdout.splitlines())
    assert all(json.loads(line) for line in redacted.stdout.splitlines())


@pytest.mark.parametrize("command", ["trace", "report", "summary --timeline", "summary --format markdown"])
def test_the_pictures_are_redacted(tmp_path: Path, command: str) -> None:
    if command == "report":
        pytest.importorskip("plotly")
    log, _ = tampered_log(tmp_path)
    page = tmp_path / "r.html"
    args = [*command.split(), str(log)] + (["-o", str(page)] if command == "report" else [])
    for flag, shown in (([], False), (["--no-redact"], True)):
        r = cli(*args, *flag)
        assert r.returncode == 0, r.stderr
        out = r.stdout + (page.read_text() if command == "report" else "")
        assert ("P4ssw0rd-9x" in out) is shown


# The batched check of Summarizer.feed_all must say of each text what the check of that text alone says, whatever
# the neighbours: triggers at the edges of texts, texts whose lower case is longer ("İ"), empty texts, "\0" in one.
_TRIGGER_PIECES = ["ghp_", "GHP_", "://", "Secret", "toKEN", "xox", "İ", "\0", "", "a", "b ", "ΣΑ", "K", "akia"]


@given(st.lists(st.lists(st.sampled_from(_TRIGGER_PIECES) | st.text(max_size=6), max_size=6).map("".join),
                max_size=40))
def test_the_batched_secret_check_agrees_with_each_text_alone(texts: list[str]) -> None:
    # with the compiled automaton (when the "fast" extra is installed) and without it
    for redactor in (Redactor(), Redactor(accelerate=False)):
        assert redactor.might_hold_secrets(texts) == {i for i, t in enumerate(texts)
                                                      if redactor.might_hold_secret(t)}


@given(st.lists(st.sampled_from(["пароль", "ПАРОЛЬ", "Пароль=1", "x", "İ", "token", ""]), max_size=12))
def test_the_batched_secret_check_agrees_with_a_user_trigger_outside_ascii(texts: list[str]) -> None:
    # a user's pattern with a Cyrillic trigger (illustrative): lowering as bytes would miss "ПАРОЛЬ"
    patterns = (SecretPattern("ru-password", r"пароль=(?P<secret>\S+)", ("пароль",), user=True), *BUILTIN_SECRETS)
    for redactor in (Redactor(patterns), Redactor(patterns, accelerate=False)):
        assert redactor.might_hold_secrets(texts) == {i for i, t in enumerate(texts)
                                                      if redactor.might_hold_secret(t)}


def test_the_compiled_search_is_there_when_installed() -> None:
    # CI installs the "fast" extra: the property above then compares both searches, not one with itself
    pytest.importorskip("ahocorasick_rs")
    redactor = Redactor()
    assert redactor.might_hold_secrets(["token=1"]) == {0}
    assert redactor._automaton


@pytest.mark.parametrize("batch", [1, 7, 512])
def test_the_summary_finds_secrets_in_any_event_of_a_batch(batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # the same secret on a line near the start, the middle and the end of a long real log, in batches of any size
    monkeypatch.setattr(summary_module, "SECRET_BATCH", batch)
    lines = (SHARED / "s13-log-clipped-plain.log").read_text().splitlines(keepends=True)
    assert len(lines) > 600
    for at in (3, 300, len(lines) - 2):
        secret_line = f"#6 0.500 + git clone https://x-access-token:{GH}@github.com/a/b.git\n"
        data = "".join([*lines[:at], secret_line, *lines[at:]])
        hints = [h for b in summarize_bytes(data.encode()).builds for h in b.hints if "github-token" in h]
        assert len(hints) == 1 and f"line {at + 1}" in hints[0], (at, hints)
