"""Step outputs for CI: a handful of ``key=value`` facts that later steps of a job read.

``buildlog summary --github-output`` / ``--dotenv FILE`` and the same options of ``buildlog run`` write them;
the GitHub Action (action.yml) and the GitLab component (templates/buildlog.yml) expose them. The keys and what
they hold are a contract (docs/cli.md#step-outputs): keys are only ever added.

Two file formats:

- GitHub Actions' ``$GITHUB_OUTPUT``: ``key=value`` lines, and ``key<<DELIMITER`` ... ``DELIMITER`` for a value
  that may hold line breaks (``reason``: a final error can continue over several lines). The file is appended to:
  other steps' outputs may already be in it.
- A dotenv file as GitLab's ``artifacts:reports:dotenv`` reads it. GitLab accepts only letters, digits and ``_``
  in a name, no multi-line value, no quoting, and at most 5 KB in all: names become ``BUILDLOG_FAILURE_CLASS``
  (the prefix keeps them apart from the other variables of the jobs that inherit them), ``reason`` is folded onto
  one line and cut to a length that keeps the file small. The file is replaced, not appended to.

No I/O here but the final write; nothing heavier than the standard library is imported (the CLI's start time).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the types only: importing run.py would pull in subprocess, signal, selectors
    from .run import RunResult
    from .summary import LogSummary

# The keys, in the order they are written. Each one's meaning is in docs/cli.md#step-outputs.
KEYS = (
    "outcome",  # success, failure, canceled, incomplete (and interrupted, for `buildlog run`)
    "failure-class",  # a class of docs/taxonomy.md, empty when there is no failure
    "retryable",  # true / false
    "reason",  # one sentence (may span lines in the log's own words), empty for a success
    "cache-state",  # cold, warm, partial, none
    "hit-ratio",  # cached-steps / cacheable-steps, 0..1; empty when nothing is cacheable
    "cached-steps",
    "cacheable-steps",
    "duration",  # seconds
    "attempts",  # builds in the log (summary), attempts made (run)
    "image-digest",  # the digest pushed, empty when nothing was pushed
)

DOTENV_PREFIX = "BUILDLOG_"
# GitLab refuses a dotenv report over 5 KB; the other keys take about 400 bytes at most.
DOTENV_REASON_MAX = 2000

# Why a run without a failure verdict in its log still failed (RunResult.stopped), for ``reason``.
_RUN_REASONS = {
    "incomplete": "The command exited with code {code} and its log ends without a verdict "
                  "(cut, or the client died without a word).",
    "command-failed": "The command exited with code {code} although the build in its log succeeded.",
    "cannot-start": "The command could not be started (exit code {code}).",
}
_NO_VERDICT = "The log ends without a verdict (cut, or the client died without a word)."
# A run that stopped on one of these ended on a transient failure: a retry on a fresh runner may succeed.
_TRANSIENT_STOPS = frozenset({"attempts-exhausted", "max-time", "before-retry-failed"})


class OutputError(Exception):
    """An output target that cannot be used; the message is for the user."""


def _number(value: float | None, digits: int) -> str:
    return "" if value is None else str(round(value, digits))


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _build_values(summary: LogSummary) -> dict[str, str]:
    """The keys that describe the last build of a log: cache, steps, image."""
    last = summary.last
    if last is None:
        return {"cache-state": "none", "hit-ratio": "", "cached-steps": "0", "cacheable-steps": "0",
                "image-digest": ""}
    # The digest of the first push that reported one; the manifest list's when the log shows only that.
    digests = [p["digest"] for p in last.pushed if p.get("digest")]
    digest = digests[0] if digests else (last.manifest_list if last.pushed else None)
    return {
        "cache-state": last.cache_state,
        "hit-ratio": _number(last.hit_ratio, 4),
        "cached-steps": str(last.steps.user_cached),
        "cacheable-steps": str(last.steps.user_cacheable),
        "image-digest": digest or "",
    }


def summary_outputs(summary: LogSummary) -> dict[str, str]:
    """The step outputs of ``buildlog summary``: the verdict of the log's last build."""
    failure = summary.failure
    if summary.outcome == "success":
        reason = ""
    elif failure is not None:
        reason = failure.reason
    else:
        reason = _NO_VERDICT
    last = summary.last
    values = {
        "outcome": summary.outcome,
        "failure-class": failure.failure_class if failure is not None else "",
        "retryable": _bool(summary.retryable),
        "reason": reason,
        # where the log tells it: a duration estimated from step times (plain without timestamps) is left empty
        "duration": _number(last.duration_s if last and not last.duration_estimated else None, 3),
        "attempts": str(summary.attempts),
        **_build_values(summary),
    }
    return {key: values[key] for key in KEYS}


def run_outputs(result: RunResult) -> dict[str, str]:
    """The step outputs of ``buildlog run``: how the run ended (its exit code's story), and the last attempt's
    build. ``retryable`` is true when the run gave up on a transient failure (exit 75): a retry of the job may
    succeed. ``duration`` is the run's own wall time, every attempt and wait included."""
    outcome = result.outcome
    last = result.attempts[-1] if result.attempts else None
    failure = result.summary.failure
    if outcome == "success":
        reason, failure_class = "", ""
    else:
        failure_class = failure.failure_class if failure is not None else ""
        if result.stopped == "interrupted":
            reason = f"Interrupted by {result.run_json()['interrupted_by']}; not retried."
        elif failure is not None and result.stopped not in ("command-failed", "cannot-start"):
            reason = failure.reason
        elif last is not None and last.note:
            reason = last.note[:1].upper() + last.note[1:] + "."
        else:
            reason = _RUN_REASONS.get(result.stopped, _NO_VERDICT).format(code=result.exit_code)
    values = {
        "outcome": outcome,
        "failure-class": failure_class,
        "retryable": _bool(outcome != "success" and result.stopped in _TRANSIENT_STOPS),
        "reason": reason,
        "duration": _number(result.duration_s, 3),
        "attempts": str(len(result.attempts)),
        **_build_values(result.summary),
    }
    return {key: values[key] for key in KEYS}


def _delimiter(value: str) -> str:
    # A random delimiter, like GitHub's own toolkit: no line of the value can end the block early.
    import secrets

    while True:
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        if delimiter not in value:
            return delimiter


def format_github_output(values: Mapping[str, str]) -> str:
    """``$GITHUB_OUTPUT`` text: ``key=value``, or the heredoc form for ``reason`` and any value with a line
    break (GitHub would otherwise end the value at the first one)."""
    parts = []
    for key, value in values.items():
        if key == "reason" or "\n" in value or "\r" in value:
            delimiter = _delimiter(value)
            parts.append(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            parts.append(f"{key}={value}\n")
    return "".join(parts)


def dotenv_name(key: str) -> str:
    """``failure-class`` -> ``BUILDLOG_FAILURE_CLASS``."""
    return DOTENV_PREFIX + key.upper().replace("-", "_")


def format_dotenv(values: Mapping[str, str]) -> str:
    """A dotenv file GitLab's ``artifacts:reports:dotenv`` accepts (see the module doc for its limits)."""
    lines = []
    for key, value in values.items():
        flat = " ".join(value.split())  # no line breaks; GitLab strips the ends anyway
        if len(flat) > DOTENV_REASON_MAX:
            flat = flat[: DOTENV_REASON_MAX - 1].rstrip() + "…"
        lines.append(f"{dotenv_name(key)}={flat}\n")
    return "".join(lines)


def github_output_path(environ: Mapping[str, str] | None = None) -> str:
    """The file ``$GITHUB_OUTPUT`` names; OutputError when it is not set (outside GitHub Actions)."""
    path = (os.environ if environ is None else environ).get("GITHUB_OUTPUT", "")
    if not path:
        raise OutputError("--github-output: $GITHUB_OUTPUT is not set (it is set in GitHub Actions steps)")
    return path


def check_dotenv_path(path: str) -> str:
    """Fail early, before a build runs, on a dotenv file in a directory that does not exist."""
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise OutputError(f"--dotenv {path}: no such directory")
    return path


def write_outputs(values: Mapping[str, str], github_output: str | None, dotenv: str | None) -> list[str]:
    """Append to the GitHub output file, replace the dotenv file; returns an error message per file that
    could not be written (the caller decides what that means for its exit code)."""
    errors = []
    targets = []
    if github_output:
        targets.append((github_output, "a", format_github_output(values)))
    if dotenv:
        targets.append((dotenv, "w", format_dotenv(values)))
    for path, mode, text in targets:
        try:
            # newline="" : the files are read by Linux runners; no \r\n on any platform.
            with open(path, mode, encoding="utf-8", newline="") as f:
                f.write(text)
        except OSError as exc:
            errors.append(f"cannot write {path}: {exc.strerror or exc}")
    return errors
