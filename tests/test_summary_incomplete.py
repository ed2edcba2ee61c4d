"""What the summary says of a log that ends without a verdict, and what a summary fed in several calls, of many
builds, or with the user's secret patterns keeps.

Expected values are read off the logs (line numbers cited) or taken from the documents that make them a contract
(docs/json.md, docs/taxonomy.md, docs/security.md, docs/performance.md); logs changed in code are named synthetic.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixturelib import LIVE, S04_ERROR, S04_STEP, SHARED, log_lines

from buildlog import RuleSet, parse_bytes, summarize_bytes
from buildlog.rules import user_rules_from_toml
from buildlog.summary import MAX_BUILDS_KEPT, Summarizer

REAL_LOGS = sorted(SHARED.glob("*.log")) + sorted(LIVE.glob("docker20-*.log"))
NO_VERDICT = "The log ends without a verdict; so far: "


def s04_until_its_error() -> list[bytes]:
    """s04 L1-L94: up to the failed step's ERROR line, before its error block and the client's final line."""
    log = log_lines(SHARED / "s04-fail-exit1-plain.log")
    assert log[93] == f"#15 ERROR: {S04_ERROR}\n".encode()
    return log[:94]


def test_a_log_cut_after_the_failed_steps_error_is_incomplete_with_that_error() -> None:
    """s04 cut after L94 ("#15 ERROR: ... exit code: 1"): no error block, no final line. docs/json.md: the outcome
    is incomplete, never retryable, and the failure is the most likely one seen so far: the step #15 names (L78),
    its ERROR line and text, its exit code; a RUN step that exited 1 is build-step (docs/taxonomy.md)."""
    s = summarize_bytes(b"".join(s04_until_its_error()))
    assert s.outcome == "incomplete" and s.failure is not None
    f = s.failure
    assert (f.failure_class, f.retryable, f.step, f.exit_code) == ("build-step", False, S04_STEP, 1)
    assert (f.line, f.text) == (94, S04_ERROR)
    assert f.reason.startswith(NO_VERDICT) and len(f.reason) > len(NO_VERDICT)


def test_the_first_error_of_a_log_without_a_verdict_is_its_failure() -> None:
    """synthetic variant of s04 L1-L94 with one more line: vertex #7 (a RUN step whose header, L26, came before
    #15's) fails after #15 did, with exit code 2. The log still ends without a verdict; the error printed first
    (L94, #15's) is the one the build failed of, not the error of the vertex shown first."""
    late = b'#7 ERROR: process "/bin/sh -c echo \\"compiling lib\\"" did not complete successfully: exit code: 2\n'
    s = summarize_bytes(b"".join([*s04_until_its_error(), late]))
    assert s.outcome == "incomplete" and s.failure is not None
    f = s.failure
    assert (f.line, f.text, f.step, f.exit_code, f.retryable) == (94, S04_ERROR, S04_STEP, 1, False)


@pytest.mark.parametrize("log", REAL_LOGS, ids=lambda p: p.name)
def test_a_summary_fed_in_two_calls_is_the_summary_of_the_whole(log: Path) -> None:
    """A live consumer feeds the summary what it has read so far, in as many calls as it likes (docs/summary.md's
    ``Summarizer``): a log fed in two halves, cut in the middle of a build, gives the summary of the whole log."""
    events = list(parse_bytes(log.read_bytes()))
    whole = Summarizer().feed_all(events).close()
    half = len(events) // 2
    halves = Summarizer().feed_all(events[:half]).feed_all(events[half:]).close()
    assert halves.to_json() == whole.to_json()
    assert len(halves.builds) == len(whole.builds)


def test_a_log_of_many_builds_keeps_the_last_ones() -> None:
    """docs/performance.md: the summary keeps the verdicts of the last 100 builds of a log. s04 (a failure) once,
    then s01 (a success) 100 times: the first build's verdict is gone, the attempts are all counted."""
    assert MAX_BUILDS_KEPT == 100
    failed = (SHARED / "s04-fail-exit1-plain.log").read_bytes()
    passed = (SHARED / "s01-cold-plain.log").read_bytes()
    s = summarize_bytes(failed + passed * 100)
    assert s.attempts == 101
    assert len(s.builds) == 100
    assert {b.outcome for b in s.builds} == {"success"}


def test_a_build_without_a_manifest_list_has_none() -> None:
    """docs/json.md: ``image.manifest_list`` is the digest of the exported manifest list when there is one, else
    null. s04 failed before its export (no "exporting manifest list" line): null, not an empty string; s01 exported
    one (L96 "#19 exporting manifest list sha256:ae9b95... done")."""
    s = summarize_bytes((SHARED / "s04-fail-exit1-plain.log").read_bytes())
    assert s.last is not None
    assert s.last.to_json()["image"]["manifest_list"] is None
    s = summarize_bytes((SHARED / "s01-cold-plain.log").read_bytes())
    assert s.last is not None
    assert str(s.last.to_json()["image"]["manifest_list"]).startswith("sha256:ae9b952f2eb6")


def test_the_users_secret_patterns_find_secrets_for_the_hints() -> None:
    """docs/security.md: a rules file's ``[[redact]]`` patterns are the user's secret patterns, looked for with the
    built-in ones. synthetic variant of s04: its failing step printed an ``acme_`` token (a shape no built-in
    pattern knows) on the line after L80; the hint names the user's pattern and the line."""
    log = log_lines(SHARED / "s04-fail-exit1-plain.log")
    at = next(i for i, line in enumerate(log) if line.startswith(b"#15 0."))
    log.insert(at + 1, b"#15 0.048 deploying with acme_" + b"k3y9" * 8 + b"\n")
    user, secrets = user_rules_from_toml(
        '[[redact]]\nname = "acme-token"\npattern = "acme_(?P<secret>[A-Za-z0-9]{32})"\n')
    rules = RuleSet().with_rules(user, secrets)
    s = Summarizer(rules).feed_all(parse_bytes(b"".join(log))).close()
    assert s.last is not None
    hints = [h for h in s.last.hints if h.startswith("Secret in the log")]
    assert len(hints) == 1 and hints[0].startswith(
        f"Secret in the log: what looks like a acme-token in step output (line {at + 2})")
    without = summarize_bytes(b"".join(log))
    assert without.last is not None
    assert not [h for h in without.last.hints if h.startswith("Secret in the log")]


def test_step_output_rules_read_only_the_last_lines_of_a_block_whose_header_was_cut() -> None:
    """docs/taxonomy.md: step-output rules look at the last 30 lines the failing step printed; in an excerpt that
    begins inside the error block (its "------" and " > [step]:" lines cut), those are the block's last lines.
    synthetic variant of s04 from L97 on (the block's body, its end, the Dockerfile excerpt, the final line), whose
    body begins with s15's dd line (L51) and 40 of s04's own block lines (L102) before s04's: a disk that filled
    up long before the end is not why the step failed (build-step, exit code 1); the same line among the last ones
    decides it (disk-full)."""
    log = (SHARED / "s04-fail-exit1-plain.log").read_bytes().split(b"\n")
    body = log[96:]
    assert body[0] == b"1.058   ---" and body[10] == b"------"
    dd = b"1.067 dd: error writing '/srv/index.5': No space left on device"
    filler = [log[101]] * 40
    assert filler[0] == b"1.058 ok 4 - version file"
    s = summarize_bytes(b"\n".join([dd, *filler, *body]))
    assert s.failure is not None
    assert (s.failure.failure_class, s.failure.exit_code) == ("build-step", 1)
    s = summarize_bytes(b"\n".join([*filler, dd, *body]))
    assert s.failure is not None and s.failure.failure_class == "disk-full"
