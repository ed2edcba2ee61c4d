"""Exit codes for CI scripts: the contract of ``buildlog classify`` (docs/cli.md)."""

from __future__ import annotations

from .summary import LogSummary

EXIT_SUCCESS = 0
EXIT_FAILURE = 1  # a failure a retry will not fix (a canceled build included)
EXIT_USAGE = 2  # bad usage or unreadable input
EXIT_INCOMPLETE = 3  # the log ends without a verdict
EXIT_RETRYABLE = 75  # EX_TEMPFAIL: a transient failure, worth retrying

_BY_OUTCOME = {"success": EXIT_SUCCESS, "failure": EXIT_FAILURE, "canceled": EXIT_FAILURE,
               "incomplete": EXIT_INCOMPLETE}


def exit_code_for(summary: LogSummary) -> int:
    if summary.outcome == "failure" and summary.retryable:
        return EXIT_RETRYABLE
    return _BY_OUTCOME.get(summary.outcome, EXIT_FAILURE)


def one_line(summary: LogSummary) -> str:
    """``class: reason`` (``success: ...`` for a good build)."""
    failure = summary.failure
    if summary.outcome == "success":
        last = summary.last
        steps = last.steps if last else None
        detail = f"{steps.total} steps, {steps.cached} cached" if steps else "no steps"
        return f"success: the build succeeded ({detail})"
    if failure is None:
        return f"{summary.outcome}: the log ends without a verdict"
    prefix = "incomplete (" + failure.failure_class + ")" if summary.outcome == "incomplete" else failure.failure_class
    return f"{prefix}: {failure.reason}"
