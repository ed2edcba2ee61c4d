"""The traps of TAXONOMY.md ("rules that are easy to get wrong"), each on a real log.

Where a trap needs a variant no real log shows, the variant is made from a real log by replacing one line and the
test says so (``synthetic variant``)."""

from __future__ import annotations

from fixturelib import SHARED

from buildlog import summarize_bytes, summarize_path


def lines(name: str) -> list[bytes]:
    return (SHARED / name).read_bytes().splitlines(keepends=True)


# -- A vertex ERROR is not a build failure by itself ----------

def test_cache_import_not_found_is_a_cold_cache_not_a_failure() -> None:
    s = summarize_path(SHARED / "s01-cold-plain.log")
    assert s.outcome == "success"
    assert s.failure is None
    last = s.last
    assert last is not None
    assert [(i.ref, i.found) for i in last.imports] == [("127.0.0.1:5000/app:buildcache", False)]
    assert last.cache_state == "cold"
    assert last.steps.errored == 1  # the import's ERROR is counted as an errored vertex, yet the build succeeded


def test_ignored_cache_export_error_is_not_a_failure() -> None:
    s = summarize_path(SHARED / "s07-cache-registry-down-ignore-error-plain.log")
    assert s.outcome == "success"
    last = s.last
    assert last is not None
    [export] = last.exports
    assert not export.completed and export.ignored
    assert export.error is not None and "connection refused" in export.error


# -- The innermost cause wins ----------

def test_push_failure_is_classed_by_its_cause() -> None:
    s = summarize_path(SHARED / "s08-proxy-503-plain.log")
    assert s.failure is not None
    assert s.failure.failure_class == "registry-unavailable"  # not a "push" class
    assert s.retryable
    s = summarize_path(SHARED / "s14-auth-no-credentials-plain.log")
    assert s.failure is not None and s.failure.failure_class == "auth" and not s.retryable


def test_disk_full_behind_a_plain_exit_code() -> None:
    s = summarize_path(SHARED / "s15-disk-full-run-plain.log")
    assert s.failure is not None
    assert s.failure.failure_class == "disk-full"
    assert s.failure.exit_code == 1
    assert not s.retryable


# -- Collateral damage is not the cause ----------

def test_canceled_sibling_is_not_the_cause() -> None:
    s = summarize_path(SHARED / "s08-proxy-503-plain.log")
    last = s.last
    assert last is not None and last.failure is not None
    assert last.steps.canceled == 1  # the cache export was CANCELED because the push failed
    assert last.failure.step == "exporting to image"


# -- BuildKit retries pushes itself ----------

def test_push_retries_that_succeed_are_not_a_failure() -> None:
    s = summarize_path(SHARED / "s08-proxy-reset-transient-plain.log")
    assert s.outcome == "success"
    last = s.last
    assert last is not None and last.pushed


# -- A log with no ending is incomplete ----------

def test_cut_log_is_incomplete_not_success() -> None:
    log = lines("s02-warm-plain.log")
    for cut in (10, 40, 60):
        s = summarize_bytes(b"".join(log[:cut]))
        assert s.outcome == "incomplete", cut
        assert not s.retryable


def test_cut_after_step_error_keeps_the_likely_class() -> None:
    log = lines("s04-fail-exit1-plain.log")
    error_line = next(i for i, line in enumerate(log) if line.startswith(b"#15 ERROR:"))
    s = summarize_bytes(b"".join(log[: error_line + 1]))
    assert s.outcome == "incomplete"
    assert s.failure is not None and s.failure.failure_class == "build-step"
    assert not s.failure.retryable


def test_client_that_died_silently_is_incomplete() -> None:
    log = lines("s06-daemon-killed-plain.log")
    s = summarize_bytes(b"".join(log[:-1]))  # without the client's final EOF line
    assert s.outcome == "incomplete"


# -- cache-export is about where it failed, the retry verdict about why ----------

def test_cache_export_connection_refused_is_retryable() -> None:
    s = summarize_path(SHARED / "s07-cache-registry-down-no-ignore-plain.log")
    assert s.failure is not None and s.failure.failure_class == "cache-export" and s.retryable


def _cache_export_failing_with(bad: bytes) -> bytes:
    """Synthetic variant of the real s07 log: its cache vertex's error and the final error replaced by ``bad``."""
    log = (SHARED / "s07-cache-registry-down-no-ignore-plain.log").read_bytes()
    head, _, _ = log.rpartition(b"ERROR: failed to build: failed to solve: ")
    vertex_error = log[log.index(b"ERROR: error writing layer blob"):].split(b"\n", 1)[0]
    return head.replace(vertex_error, b"ERROR: " + bad) + b"ERROR: failed to build: failed to solve: " + bad + b"\n"


def test_cache_export_400_is_not_retryable() -> None:
    data = _cache_export_failing_with(
        b"error writing manifest blob: failed commit on ref \"index-sha256:1\": unexpected status: 400 Bad Request")
    s = summarize_bytes(data)
    assert s.failure is not None and s.failure.failure_class == "cache-export"
    assert not s.retryable


def test_cache_export_429_is_retryable() -> None:
    data = _cache_export_failing_with(b"error writing layer blob: unexpected status: 429 Too Many Requests")
    s = summarize_bytes(data)
    assert s.failure is not None and s.failure.failure_class == "cache-export"
    assert s.retryable


# -- canceled ----------

def test_sigint_is_canceled_and_never_retried() -> None:
    s = summarize_path(SHARED / "s09-canceled-sigint-plain.log")
    assert s.outcome == "canceled"
    assert s.failure is not None and s.failure.failure_class == "canceled" and not s.retryable


# -- hints ----------

def test_secrets_hint_only_with_a_cache_export() -> None:
    s = summarize_path(SHARED / "s10-build-check-warnings-plain.log")
    assert s.last is not None and s.last.hints == []
    # synthetic variant: s10 with s01's real cache-export vertex spliced in before the warnings block
    s10 = lines("s10-build-check-warnings-plain.log")
    s01 = lines("s01-cold-plain.log")
    start = next(i for i, line in enumerate(s01) if line.startswith(b"#20 exporting cache to registry"))
    end = next(i for i, line in enumerate(s01) if line.startswith(b"#20 DONE"))
    cache = [b"\n"] + [line.replace(b"#20 ", b"#13 ") for line in s01[start : end + 1]]
    data = b"".join(s10[:80] + cache + s10[80:])
    s = summarize_bytes(data)
    assert s.last is not None
    assert any("SecretsUsedInArgOrEnv" in h for h in s.last.hints)
