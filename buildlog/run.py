"""Run a build command, pass its output through untouched, and retry it only when the failure is transient.

    result = run_with_retries(["docker", "buildx", "build", "--progress=plain", "."], attempts=3)
    sys.exit(result.exit_code)

The command's stdout and stderr are forwarded chunk by chunk as they are read (stdout to ``stdout``, stderr to
``stderr``, each write flushed), and the same bytes are fed, both pipes into one ``Parser``, to a ``Summarizer``.
Nothing of the output is kept: memory is what the parser and the summary fold hold, whatever the command prints.

When an attempt ends, its exit code and the log's verdict decide (docs/run.md has the contract):

- exit 0: success, whatever the log says. The exit code is the command's own statement; a log verdict that
  contradicts it is more likely a misreading (or a failure the command itself handled) than a hidden failure.
- non-zero and the log's verdict is a retryable failure: wait (exponential back-off with jitter, longer for
  ``rate-limited``), run the ``before_retry`` hook, run the command again; when no attempt is left (or the next
  one would start after ``max_time``) the result is ``EXIT_RETRYABLE`` (75).
- non-zero otherwise (a build failure, a canceled build, a log without a verdict, a log that says success): no
  retry, the command's own exit code.
- SIGINT/SIGTERM/SIGHUP: forwarded to the command's process group, SIGKILL after ``kill_grace`` seconds, never
  retried; the result is 128 + the signal number, as shells report it.

The command runs in a session of its own so that a Ctrl-C at a terminal reaches it once, through us, rather
than twice (directly from the terminal and again forwarded), which BuildKit's client would take as "force quit".
A session rather than only a process group: a background group that reads the terminal is stopped (SIGTTIN),
a process without a controlling terminal is not.

This module does not import typer: the command line in ``cli.py`` is a thin layer over ``run_with_retries``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import FrameType
from typing import Any, Protocol

import attrs

from .parser import Parser
from .redact import DEFAULT_REDACTOR, Redactor, redact, redact_text
from .rules import RuleSet
from .summary import LogSummary, Summarizer
from .timeline import LogTimeline, TimelineBuilder
from .verdict import EXIT_RETRYABLE, EXIT_USAGE

__all__ = [
    "DEFAULT_ATTEMPTS",
    "DEFAULT_BACKOFF",
    "EXIT_NOT_EXECUTABLE",
    "EXIT_NOT_FOUND",
    "EXIT_RETRYABLE",
    "EXIT_USAGE",
    "Attempt",
    "ByteSink",
    "RunResult",
    "retry_delay",
    "run_with_retries",
]

EXIT_NOT_EXECUTABLE = 126  # what a shell answers for a file that exists but cannot be run
EXIT_NOT_FOUND = 127  # ... and for a command that does not exist

DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF = 5.0  # seconds before the first retry
DEFAULT_MAX_BACKOFF = 120.0
# A throttled registry needs a pause measured in tens of seconds, not the few seconds a dropped connection needs.
RATE_LIMIT_FACTOR = 6.0
DEFAULT_JITTER = 0.2  # +-20%: parallel CI jobs hit by the same outage do not all come back at the same instant
DEFAULT_KILL_GRACE = 10.0  # seconds between a forwarded signal and SIGKILL

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_READ_SIZE = 1 << 16
# An unfinished line of one pipe is held back from the parser (so that a line of the other pipe cannot be spliced
# into it) up to this many bytes; beyond that it goes to the parser as it is, which bounds memory.
_PENDING_MAX = 1 << 16
_LINE_PIECE = 1 << 18
# A command can exit while a background child of it still holds the pipes open; read what is left for this long.
_DRAIN_AFTER_EXIT = 2.0
_POLL = 0.05


class ByteSink(Protocol):
    """Where the output goes: a binary stream (``sys.stdout.buffer``, a file opened ``"wb"``, ``io.BytesIO``)."""

    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> object: ...


@attrs.define
class Attempt:
    """One run of the command."""

    number: int
    exit_code: int  # as a shell reports it: 128+N when killed by signal N, 126/127 when it could not start
    duration_s: float
    summary: LogSummary
    signal: int | None = None  # the signal that ended the command, if one did
    delay_s: float | None = None  # the wait before the next attempt, when one followed
    note: str | None = None  # what went wrong on our side (the command could not start, the parser failed)
    started: bool = True  # False when the command could not be started at all
    timeline: LogTimeline | None = None  # when the run was asked for one (a Markdown summary draws it)

    @property
    def outcome(self) -> str:
        """The log's verdict: success, failure, canceled or incomplete."""
        return self.summary.outcome

    @property
    def failure_class(self) -> str | None:
        failure = self.summary.failure
        return failure.failure_class if failure is not None else None

    @property
    def retryable(self) -> bool:
        """The command failed and its log says the failure is transient."""
        return self.exit_code != 0 and self.summary.outcome == "failure" and self.summary.retryable

    @property
    def reason(self) -> str | None:
        failure = self.summary.failure
        return failure.reason if failure is not None else None

    def to_json(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "exit_code": self.exit_code,
            "signal": _signal_name(self.signal) if self.signal else None,
            "outcome": self.outcome,
            "class": self.failure_class,
            "retryable": self.retryable,
            "reason": self.reason,
            "duration_s": round(self.duration_s, 3),
            "delay_s": round(self.delay_s, 3) if self.delay_s is not None else None,
            "note": self.note,
            "started": self.started,
        }


# Why the run stopped (RunResult.stopped).
STOP_REASONS = (
    "success",  # the last attempt exited 0
    "failure",  # a failure that a retry will not fix (canceled builds included): the command's exit code
    "incomplete",  # the command failed and its log has no verdict: the command's exit code
    "command-failed",  # the command failed although the build in its log succeeded: the command's exit code
    "attempts-exhausted",  # transient failures until no attempt was left: 75
    "max-time",  # a transient failure, and the next attempt would have started after max_time: 75
    "before-retry-failed",  # the before_retry hook failed, so the retry was not made: 75
    "interrupted",  # SIGINT/SIGTERM/SIGHUP: 128 + the signal number
    "cannot-start",  # the command does not exist (127) or cannot be executed (126)
)


@attrs.define
class RunResult:
    argv: list[str]
    exit_code: int
    stopped: str  # one of STOP_REASONS
    attempts: list[Attempt]
    max_attempts: int
    interrupted_by: int | None = None  # the signal we received and forwarded
    duration_s: float = 0.0

    @property
    def summary(self) -> LogSummary:
        """The last attempt's summary (an empty, incomplete one when no attempt ran)."""
        if self.attempts:
            return self.attempts[-1].summary
        return Summarizer().close()

    @property
    def outcome(self) -> str:
        """The run's verdict: ``success`` when it exits 0, ``interrupted`` when it was stopped, else the last
        attempt's log verdict (``failure``, ``canceled``, ``incomplete``), ``failure`` when nothing ran."""
        if self.exit_code == 0:
            return "success"
        if self.stopped == "interrupted":
            return "interrupted"
        if not self.attempts or self.summary.outcome == "success":
            return "failure"
        return self.summary.outcome

    def run_json(self) -> dict[str, Any]:
        return {
            "command": list(self.argv),
            "exit_code": self.exit_code,
            "outcome": self.outcome,
            "stopped": self.stopped,
            "interrupted_by": _signal_name(self.interrupted_by) if self.interrupted_by else None,
            "max_attempts": self.max_attempts,
            "duration_s": round(self.duration_s, 3),
            "attempts": [a.to_json() for a in self.attempts],
        }

    def to_json(self) -> dict[str, Any]:
        """The last attempt's ``LogSummary.to_json()`` with a ``run`` section about every attempt."""
        data = self.summary.to_json()
        data["run"] = self.run_json()
        return data


def retry_delay(retry: int, failure_class: str | None, *, backoff: float = DEFAULT_BACKOFF,
                max_backoff: float = DEFAULT_MAX_BACKOFF, jitter: float = DEFAULT_JITTER,
                rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first): ``backoff`` doubled each time, six times
    as long for ``rate-limited``, capped at ``max_backoff``, then spread by +-``jitter``."""
    base = backoff * (2.0 ** (retry - 1))
    if failure_class == "rate-limited":
        base *= RATE_LIMIT_FACTOR
    base = min(base, max(max_backoff, backoff))
    spread = (rng or random).uniform(1.0 - jitter, 1.0 + jitter) if jitter > 0 else 1.0
    return max(0.0, base * spread)


# ------------------------------------------------------------------------------------------------- plumbing


class _Sink:
    """Writes to a ByteSink, flushing every chunk; a reader that went away (EPIPE) stops the writing, not the
    build: the command's output keeps being read so that it never blocks on a full pipe."""

    def __init__(self, stream: ByteSink) -> None:
        self.stream = stream
        self.broken = False
        self.at_line_start = True

    def write(self, data: bytes) -> None:
        if self.broken or not data:
            return
        try:
            self.stream.write(data)
            self.stream.flush()
        except BrokenPipeError:
            self.broken = True
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.EBADF):
                raise
            self.broken = True
        self.at_line_start = data.endswith(b"\n")

    def message(self, text: str) -> None:
        """One line of ours; starts on a line of its own even if the command's output did not end with one."""
        prefix = b"" if self.at_line_start else b"\n"
        self.write(prefix + b"buildlog: " + text.encode("utf-8", "replace") + b"\n")


class _LogReader:
    """Feeds both pipes into one Parser, a whole line at a time per pipe, so that a line of stdout is never
    spliced into an unfinished line of stderr; the events go into the attempt's Summarizer."""

    def __init__(self, rules: RuleSet | None, timeline: bool = False) -> None:
        # Long lines are handed over in pieces of this size: a 20 MB line of output never sits in memory whole,
        # and pieces this small keep the allocator from holding on to megabytes between them.
        self.parser = Parser(max_line=_LINE_PIECE)
        self.summarizer = Summarizer(rules)
        self.timeline = TimelineBuilder() if timeline else None
        self.pending: dict[int, bytearray] = {}
        self.error: str | None = None

    def _parse(self, data: bytes) -> None:
        if self.error is not None:
            return
        try:
            feed = self.summarizer.feed
            timeline = self.timeline
            for event in self.parser.feed(data):
                feed(event)
                if timeline is not None:
                    timeline.feed(event)
        except Exception as exc:
            # The build matters more than its verdict: keep passing the output through, make no retry decision.
            self.error = f"{type(exc).__name__}: {exc}"

    def feed(self, fd: int, data: bytes) -> None:
        pending = self.pending.setdefault(fd, bytearray())
        end = data.rfind(b"\n") + 1
        if end == 0:
            pending += data
            if len(pending) > _PENDING_MAX:
                self._parse(bytes(pending))
                pending.clear()
            return
        if pending:
            pending += data[:end]
            self._parse(bytes(pending))
            pending.clear()
        else:
            self._parse(data[:end])
        if end < len(data):
            pending += data[end:]

    def end_of(self, fd: int, others_open: bool) -> None:
        """A pipe reached EOF. Its unfinished last line goes to the parser; while the other pipe is still open a
        line break (for the parser only) keeps that pipe's next line from being glued onto it."""
        pending = self.pending.pop(fd, None)
        if pending:
            self._parse(bytes(pending) + (b"\n" if others_open else b""))

    def close(self) -> LogSummary:
        for fd in list(self.pending):
            self.end_of(fd, others_open=False)
        if self.error is None:
            try:
                for event in self.parser.close():
                    self.summarizer.feed(event)
                    if self.timeline is not None:
                        self.timeline.feed(event)
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {exc}"
        if self.error is not None:
            return Summarizer().close()  # no verdict: incomplete
        return self.summarizer.close()


class _Signals:
    """Forwards SIGINT/SIGTERM/SIGHUP to the running child's process group and remembers the first one."""

    def __init__(self, kill_grace: float) -> None:
        self.kill_grace = kill_grace
        self.received: int | None = None
        self.kill_at: float | None = None
        self.child: subprocess.Popen[bytes] | None = None
        self._previous: dict[int, Any] = {}

    @contextlib.contextmanager
    def installed(self, enabled: bool) -> Iterator[_Signals]:
        # Python lets only the main thread set handlers; from another thread the caller handles signals itself.
        if enabled and threading.current_thread() is threading.main_thread():
            for sig in FORWARDED_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        try:
            yield self
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
            self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
        self.forward(signum)

    def forward(self, signum: int) -> None:
        child = self.child
        if child is not None and child.returncode is None:
            _killpg(child.pid, signum)
            if self.kill_at is None:
                self.kill_at = time.monotonic() + self.kill_grace

    def enforce(self) -> None:
        """SIGKILL the child's group once the grace period after a forwarded signal is over."""
        child = self.child
        if self.kill_at is not None and child is not None and time.monotonic() >= self.kill_at:
            _killpg(child.pid, signal.SIGKILL)
            self.kill_at = None


def _killpg(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _signal_name(signum: int | None) -> str:
    if signum is None:
        return ""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _shell_code(returncode: int) -> tuple[int, int | None]:
    """(exit code as a shell reports it, the signal that killed the process or None)."""
    if returncode < 0:
        return 128 - returncode, -returncode
    return returncode, None


def _spawn(argv: Sequence[str], env: Mapping[str, str] | None, cwd: str | os.PathLike[str] | None,
           ) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd, start_new_session=True,
    )


def _pump(proc: subprocess.Popen[bytes], sinks: Mapping[int, _Sink], reader: _LogReader | None,
          signals: _Signals) -> int:
    """Forwards the child's pipes until they close (or shortly after it exits); returns its return code."""
    assert proc.stdout is not None and proc.stderr is not None
    pipes = {proc.stdout.fileno(): sinks[1], proc.stderr.fileno(): sinks[2]}
    selector = selectors.DefaultSelector()
    for fd in pipes:
        selector.register(fd, selectors.EVENT_READ)
    exited_at: float | None = None
    try:
        while selector.get_map():
            for key, _ in selector.select(_POLL):
                fd = key.fd
                try:
                    data = os.read(fd, _READ_SIZE)
                except InterruptedError:  # pragma: no cover - os.read retries by itself (PEP 475)
                    continue
                if data:
                    pipes[fd].write(data)  # forward first: the parser's time is not the reader's delay
                    if reader is not None:
                        reader.feed(fd, data)
                else:
                    selector.unregister(fd)
                    if reader is not None:
                        reader.end_of(fd, others_open=bool(selector.get_map()))
            signals.enforce()
            if proc.poll() is not None:
                now = time.monotonic()
                if exited_at is None:
                    exited_at = now
                elif now - exited_at > _DRAIN_AFTER_EXIT:
                    break
    finally:
        selector.close()
        proc.stdout.close()
        proc.stderr.close()
    while True:
        try:
            return proc.wait(timeout=_POLL)
        except subprocess.TimeoutExpired:
            signals.enforce()


def _seconds(value: float) -> str:
    return f"{value:.1f}s" if value >= 1 else f"{value:.2f}s"


def _one_line(text: str) -> str:
    return " ".join(text.split()).rstrip(".")


# ------------------------------------------------------------------------------------------------------ run


def run_with_retries(
    argv: Sequence[str],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    max_backoff: float = DEFAULT_MAX_BACKOFF,
    max_time: float | None = None,
    before_retry: str | Sequence[str] | None = None,
    rules: RuleSet | None = None,
    stdout: ByteSink | None = None,
    stderr: ByteSink | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    kill_grace: float = DEFAULT_KILL_GRACE,
    jitter: float = DEFAULT_JITTER,
    handle_signals: bool = True,
    on_attempt: Callable[[Attempt], None] | None = None,
    timeline: bool = False,
) -> RunResult:
    """Run ``argv``, passing its output through, and retry it while it fails transiently (see the module doc).

    ``before_retry`` runs before each retry: a string goes to ``/bin/sh -c``, a sequence is run as it is; its
    output goes to ``stderr``. ``max_time`` (seconds, from the start of the first attempt) bounds when a new
    attempt may start; it does not cut a running attempt short. ``stdout``/``stderr`` default to this process's
    binary streams. ``handle_signals`` installs the SIGINT/SIGTERM/SIGHUP forwarding (main thread only).
    ``on_attempt`` is called with each finished attempt. Lines of ours (``buildlog: ...``) go to ``stderr``
    only when there is something to say: a failure, a retry, a success after retries. ``timeline`` keeps each
    attempt's timeline too (``Attempt.timeline``), which the Markdown summary draws as a gantt chart.
    """
    if not argv:
        raise ValueError("no command to run")
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    if backoff < 0 or max_backoff < 0 or kill_grace < 0 or (max_time is not None and max_time < 0):
        raise ValueError("backoff, max_backoff, kill_grace and max_time cannot be negative")
    out = _Sink(stdout if stdout is not None else sys.stdout.buffer)
    err = _Sink(stderr if stderr is not None else sys.stderr.buffer)
    sinks = {1: out, 2: err}
    hook_sinks = {1: err, 2: err}  # the hook's output must not mix into the build's stdout
    signals = _Signals(kill_grace)
    redactor = rules.redactor if rules is not None else DEFAULT_REDACTOR
    done: list[Attempt] = []
    t0 = time.monotonic()
    argv = list(argv)

    def finish(code: int, stopped: str) -> RunResult:
        return RunResult(argv, code, stopped, done, attempts, signals.received, time.monotonic() - t0)

    def interrupted() -> RunResult:
        assert signals.received is not None
        code = 128 + signals.received
        err.message(f"interrupted by {_signal_name(signals.received)}; not retrying, exiting with {code}")
        return finish(code, "interrupted")

    with signals.installed(handle_signals):
        for number in range(1, attempts + 1):
            if signals.received is not None:
                return interrupted()
            attempt = _run_attempt(number, argv, env, cwd, rules, sinks, signals, timeline)
            done.append(attempt)
            if on_attempt is not None:
                on_attempt(attempt)
            where = f"attempt {number}/{attempts}"
            if not attempt.started:
                err.message(f"{attempt.note}; exiting with {attempt.exit_code}")
                return finish(attempt.exit_code, "cannot-start")
            if attempt.note is not None:
                err.message(f"{where}: {attempt.note}")
            if signals.received is not None:
                return interrupted()
            if attempt.exit_code == 0:
                if attempt.outcome == "failure":
                    err.message(f"{where}: the command exited 0 but its log reports a failure "
                                f"({attempt.failure_class}); trusting the exit code")
                elif number > 1:
                    err.message(f"{where} succeeded")
                return finish(0, "success")
            code = attempt.exit_code
            if not attempt.retryable:
                err.message(f"{where} failed: {_describe(attempt, redactor)}; not retrying, exiting with {code}")
                stopped = {"failure": "failure", "canceled": "failure", "incomplete": "incomplete"}.get(
                    attempt.outcome, "command-failed")
                return finish(code, stopped)
            failed = f"{where} failed: {_describe(attempt, redactor)}"
            if number == attempts:
                err.message(f"{failed}; no attempts left, exiting with {EXIT_RETRYABLE}")
                return finish(EXIT_RETRYABLE, "attempts-exhausted")
            delay = retry_delay(number, attempt.failure_class, backoff=backoff, max_backoff=max_backoff,
                                jitter=jitter)
            elapsed = time.monotonic() - t0
            if max_time is not None and elapsed + delay > max_time:
                err.message(f"{failed}; not retrying: the next attempt would start after --max-time "
                            f"{max_time:g}s, exiting with {EXIT_RETRYABLE}")
                return finish(EXIT_RETRYABLE, "max-time")
            attempt.delay_s = delay
            hook = ", after --before-retry" if before_retry else ""
            err.message(f"{failed}; attempt {number + 1}/{attempts} in {_seconds(delay)}{hook}")
            _sleep(delay, signals)
            if signals.received is not None:
                return interrupted()
            if before_retry:
                hook_code = _run_hook(before_retry, env, cwd, hook_sinks, signals)
                if signals.received is not None:
                    return interrupted()
                if hook_code != 0:
                    err.message(f"--before-retry exited with {hook_code}; not retrying, exiting with "
                                f"{EXIT_RETRYABLE}")
                    return finish(EXIT_RETRYABLE, "before-retry-failed")
                if max_time is not None and time.monotonic() - t0 > max_time:
                    err.message(f"--before-retry ran past --max-time {max_time:g}s; not retrying, exiting with "
                                f"{EXIT_RETRYABLE}")
                    return finish(EXIT_RETRYABLE, "max-time")
    raise AssertionError("unreachable: the last attempt always returns")  # pragma: no cover


def _describe(attempt: Attempt, redactor: Redactor = DEFAULT_REDACTOR) -> str:
    return redact_text(_describe_raw(attempt), redactor)


def _describe_raw(attempt: Attempt) -> str:
    failure = attempt.summary.failure
    if attempt.outcome == "incomplete":
        known = f" (so far: {failure.failure_class})" if failure is not None else ""
        return f"exit code {attempt.exit_code}, and the log has no verdict{known}"
    if failure is None:  # the log says success
        return f"exit code {attempt.exit_code}, although the build in the log succeeded"
    return f"{failure.failure_class} — {_one_line(failure.reason)}"


def _run_attempt(number: int, argv: list[str], env: Mapping[str, str] | None,
                 cwd: str | os.PathLike[str] | None, rules: RuleSet | None, sinks: Mapping[int, _Sink],
                 signals: _Signals, timeline: bool = False) -> Attempt:
    started = time.monotonic()
    try:
        proc = _spawn(argv, env, cwd)
    except FileNotFoundError:
        return Attempt(number, EXIT_NOT_FOUND, 0.0, Summarizer().close(),
                       note=f"cannot run {argv[0]!r}: command not found", started=False)
    except PermissionError:
        return Attempt(number, EXIT_NOT_EXECUTABLE, 0.0, Summarizer().close(),
                       note=f"cannot run {argv[0]!r}: permission denied", started=False)
    except OSError as exc:
        return Attempt(number, EXIT_NOT_EXECUTABLE, 0.0, Summarizer().close(),
                       note=f"cannot run {argv[0]!r}: {exc.strerror or exc}", started=False)
    reader = _LogReader(rules, timeline)
    signals.child = proc
    try:
        if signals.received is not None:  # a signal that came while the command was being started
            signals.forward(signals.received)
        returncode = _pump(proc, sinks, reader, signals)
    finally:
        signals.child = None
        signals.kill_at = None
    code, sig = _shell_code(returncode)
    summary = reader.close()
    note = f"could not read the log ({reader.error}); no retry decision" if reader.error else None
    timed = reader.timeline.result() if reader.timeline is not None and reader.error is None else None
    return Attempt(number, code, time.monotonic() - started, summary, signal=sig, note=note, timeline=timed)


def _run_hook(command: str | Sequence[str], env: Mapping[str, str] | None, cwd: str | os.PathLike[str] | None,
              sinks: Mapping[int, _Sink], signals: _Signals) -> int:
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    try:
        proc = _spawn(argv, env, cwd)
    except OSError as exc:
        sinks[2].message(f"cannot run --before-retry: {exc.strerror or exc}")
        return EXIT_NOT_FOUND if isinstance(exc, FileNotFoundError) else EXIT_NOT_EXECUTABLE
    signals.child = proc
    try:
        if signals.received is not None:
            signals.forward(signals.received)
        return _shell_code(_pump(proc, sinks, None, signals))[0]
    finally:
        signals.child = None
        signals.kill_at = None


def _sleep(seconds: float, signals: _Signals) -> None:
    # Short slices rather than one long sleep: a signal handler only sets a flag, which is checked here.
    end = time.monotonic() + seconds
    while signals.received is None:
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, _POLL))


# ------------------------------------------------------------------------------------------- summaries


SUMMARY_FORMATS = ("json", "markdown", "text")


def render_run_markdown(result: RunResult, redactor: Redactor | None = DEFAULT_REDACTOR) -> str:
    """A markdown report: a table of every attempt, then the last attempt's summary (earlier failed attempts
    folded in ``<details>``). Secrets redacted unless ``redactor`` is None."""
    from .render import render_markdown

    if redactor is not None:
        result = redact(result, redactor)

    command = " ".join(result.argv)
    lines = [
        f"## buildlog run: {_run_headline(result)}",
        "",
        f"`{_md_code(command)}`",
        "",
        "| attempt | exit code | outcome | class | retryable | duration | reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in result.attempts:
        lines.append(
            f"| {a.number}/{result.max_attempts} | {a.exit_code} | {a.outcome} | {a.failure_class or ''} | "
            f"{'yes' if a.retryable else 'no'} | {a.duration_s:.1f}s | {_md_cell(a.reason or a.note or '')} |")
    lines.append("")
    for a in result.attempts[:-1]:
        lines += [f"<details><summary>Attempt {a.number}: {a.failure_class or a.outcome}</summary>", "",
                  render_markdown(a.summary, title=f"Attempt {a.number}", timeline=a.timeline,
                                  redactor=None).rstrip("\n"), "", "</details>", ""]
    if result.attempts:
        last = result.attempts[-1]
        lines += [render_markdown(last.summary, title=f"Attempt {last.number}", timeline=last.timeline,
                                  redactor=None).rstrip("\n"), ""]
    return "\n".join(lines)


def render_run_text(result: RunResult, color: bool = False, redactor: Redactor | None = DEFAULT_REDACTOR) -> str:
    """The last attempt's text summary, preceded by one line per attempt. Secrets redacted unless ``redactor``
    is None."""
    from .render import render_text

    if redactor is not None:
        result = redact(result, redactor)

    lines = [f"buildlog run: {_run_headline(result)}"]
    for a in result.attempts:
        what = f"{a.failure_class} — {_one_line(a.reason)}" if a.reason and a.failure_class else a.outcome
        lines.append(f"  attempt {a.number}/{result.max_attempts}: exit {a.exit_code}, {what} ({a.duration_s:.1f}s)")
    text = "\n".join(lines) + "\n"
    if result.attempts:
        text += "\n" + render_text(result.summary, color=color, redactor=None)
    return text if text.endswith("\n") else text + "\n"


def render_run(result: RunResult, fmt: str, redactor: Redactor | None = DEFAULT_REDACTOR) -> str:
    """The run in one of ``SUMMARY_FORMATS``; secrets redacted unless ``redactor`` is None."""
    import json

    if redactor is not None:
        result = redact(result, redactor)
    if fmt == "json":
        return json.dumps(result.to_json(), indent=2, ensure_ascii=True) + "\n"
    if fmt == "markdown":
        return render_run_markdown(result, redactor=None)
    if fmt == "text":
        return render_run_text(result, redactor=None)
    raise ValueError(f"unknown format {fmt!r} (one of: {', '.join(SUMMARY_FORMATS)})")


def _run_headline(result: RunResult) -> str:
    n = len(result.attempts)
    tries = f"{n} attempt{'s' if n != 1 else ''}"
    code = result.exit_code
    return {
        "success": f"succeeded ({tries})",
        "failure": f"failed, not retryable ({tries}, exit code {code})",
        "incomplete": f"failed, and the log has no verdict ({tries}, exit code {code})",
        "command-failed": f"the command failed although the build succeeded ({tries}, exit code {code})",
        "attempts-exhausted": f"transient failures used up all {tries} (exit code {code})",
        "max-time": f"transient failure, --max-time reached ({tries}, exit code {code})",
        "before-retry-failed": f"transient failure, --before-retry failed ({tries}, exit code {code})",
        "interrupted": f"interrupted by {_signal_name(result.interrupted_by)} ({tries}, exit code {code})",
        "cannot-start": f"the command could not be started (exit code {code})",
    }.get(result.stopped, f"{result.stopped} (exit code {code})")


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")


def _md_code(text: str) -> str:
    return " ".join(text.split()).replace("`", "'")
