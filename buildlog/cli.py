"""The ``buildlog`` command line. Thin: reading input, calling the library, printing.

Exit codes are part of the contract (see docs/cli.md): 2 is bad usage or unreadable input for every command.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Annotated, Any, BinaryIO, TextIO

import typer

from .events import Event, event_to_dict, event_to_json
from .rules import RuleSet
from .sources import parse_file
from .summary import LogSummary, summarize_events

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    help="Structured events and verdicts from docker buildx / BuildKit logs.",
    pretty_exceptions_enable=False,
)

EXIT_USAGE = 2


def _print_version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"buildlog {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Structured events and verdicts from docker buildx / BuildKit logs."""

FileArg = Annotated[str, typer.Argument(help="Log file to read, or - for standard input.")]


def open_input(path: str) -> BinaryIO:
    """Open a path or stdin for binary reading; exit 2 with a clear message when it cannot be read."""
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        typer.echo(f"buildlog: cannot read {path}: {exc.strerror or exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


InputFormatOpt = Annotated[
    str,
    typer.Option("--input-format", help="Shape of the log: auto (detected for each build), plain, rawjson, tty or "
                 "legacy (see docs/formats.md)."),
]


def check_input_format(value: str) -> str:
    """Exit 2 for an unknown --input-format, before any input is read."""
    from .detect import FORMATS

    if value not in FORMATS:
        typer.echo(f"buildlog: unknown --input-format {value!r} ({', '.join(FORMATS)})", err=True)
        raise typer.Exit(EXIT_USAGE)
    return value


def read_events(path: str, input_format: str = "auto") -> Iterator[Event]:
    stream = open_input(path)
    try:
        yield from parse_file(stream, format=input_format)
    except OSError as exc:
        typer.echo(f"buildlog: error reading {path}: {exc.strerror or exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


NoRedactOpt = Annotated[bool, typer.Option("--no-redact", help="Print secrets found in the log as they are "
                                           "(by default they are redacted: docs/security.md).")]
RedactOpt = Annotated[bool, typer.Option("--redact", help="Redact secrets in the events' text (by default the "
                                         "events are the log's text, unchanged: docs/security.md).")]


def write_events(events: Iterable[Event], out: TextIO, *, raw: bool = False) -> int:
    """Write each event as a line of JSON (``event_to_json``: ASCII escapes keep the output valid UTF-8 even for
    invalid input bytes); returns how many were written."""
    write = out.write
    count = 0
    for event in events:
        write(event_to_json(event, with_raw=raw) + "\n")
        count += 1
    return count


@app.command()
def events(
    file: FileArg = "-",
    raw: Annotated[bool, typer.Option("--raw", help="Include each event's raw input text.")] = False,
    input_format: InputFormatOpt = "auto",
    redact: RedactOpt = False,
    rules: Annotated[list[str] | None, typer.Option("--rules", help="TOML file whose [[redact]] patterns "
                                                    "--redact uses too (repeatable).")] = None,
) -> None:
    """Print the log's events as JSON lines (one object per event; see docs/events.md)."""
    check_input_format(input_format)
    try:
        if redact:
            redactor = _ruleset(rules).redactor
            # ASCII escapes keep the output valid UTF-8 even for invalid input bytes (lone surrogates round-trip).
            dumps = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode
            write = sys.stdout.write
            for event in read_events(file, input_format):
                write(dumps(redactor.data(event_to_dict(event, with_raw=raw))))
                write("\n")
        else:
            write_events(read_events(file, input_format), sys.stdout, raw=raw)
        sys.stdout.flush()
    except BrokenPipeError:
        # `buildlog events big.log | head` must not end in a traceback
        sys.stderr.close()
        raise typer.Exit(0) from None


RulesOpt = Annotated[
    list[str] | None,
    typer.Option("--rules", help="TOML file of extra failure rules, tried before the built-in ones (repeatable)."),
]


GithubOutputOpt = Annotated[bool, typer.Option("--github-output", help="Append the step outputs (outcome, "
                                               "failure-class, ...: docs/cli.md) to $GITHUB_OUTPUT.")]
DotenvOpt = Annotated[str | None, typer.Option("--dotenv", help="Write the step outputs as a dotenv file "
                                               "(GitLab's artifacts:reports:dotenv).")]


def _output_targets(github_output: bool, dotenv: str | None) -> tuple[str | None, str | None]:
    """Where the step outputs go; exit 2 before anything runs when a target cannot be used."""
    if not github_output and not dotenv:
        return None, None
    from .outputs import OutputError, check_dotenv_path, github_output_path

    try:
        return (github_output_path() if github_output else None), (check_dotenv_path(dotenv) if dotenv else None)
    except OutputError as exc:
        typer.echo(f"buildlog: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _ruleset(rules: list[str] | None) -> RuleSet:
    """The rule set with the user's files in front; a bad file is one line on stderr and exit 2."""
    from .rules import DEFAULT_RULES, load_rules

    try:
        return load_rules(rules) if rules else DEFAULT_RULES
    except (OSError, ValueError) as exc:
        typer.echo(f"buildlog: bad --rules: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _summarize(file: str, rules: list[str] | None, input_format: str = "auto") -> LogSummary:
    return summarize_events(read_events(file, input_format), _ruleset(rules))


def _summarize_timed(file: str, rules: list[str] | None, input_format: str = "auto") -> tuple[LogSummary, Any]:
    """The summary and the timeline (buildlog.timeline), in one pass."""
    from .timeline import summarize_with_timeline

    summary, timeline = summarize_with_timeline(read_events(file, input_format), _ruleset(rules))
    return summary, timeline


def _redactor(rules: list[str] | None, no_redact: bool) -> Any:
    """The redaction for what a command prints (docs/security.md): None with --no-redact."""
    return None if no_redact else _ruleset(rules).redactor


def _write_stdout(text: str) -> None:
    """Write our output; a reader that went away (``| head``) ends us quietly, not with a traceback."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_gone()


def _stdout_gone() -> None:
    # Python would report the failed flush of stdout at exit once more: point stdout at /dev/null first.
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _write_output(path: str | None, text: str) -> None:
    """To a file, or standard output for None or -; exit 2 when the file cannot be written."""
    if path is None or path == "-":
        _write_stdout(text)
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        typer.echo(f"buildlog: cannot write {path}: {exc.strerror or exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


@app.command()
def summary(
    file: FileArg = "-",
    format: Annotated[str, typer.Option("--format", "-f", help="text, json or markdown.")] = "text",
    color: Annotated[bool | None, typer.Option("--color/--no-color", help="Colour text output "
                                               "(default: when standard output is a terminal).")] = None,
    rules: RulesOpt = None,
    input_format: InputFormatOpt = "auto",
    github_output: GithubOutputOpt = False,
    dotenv: DotenvOpt = None,
    timeline: Annotated[bool, typer.Option("--timeline", help="Text: add a waterfall of the steps, one bar per "
                                           "step, as wide as the terminal.")] = False,
    gantt_steps: Annotated[int, typer.Option("--gantt-steps", help="Markdown: the most steps its gantt chart "
                                             "draws (the longest; the failed step always); 0: no chart.")] = 25,
    no_redact: NoRedactOpt = False,
) -> None:
    """Summarise a build log: verdict, cache, steps, slowest steps, pushes, warnings."""
    from .redact import redact

    if format not in ("text", "json", "markdown"):
        typer.echo(f"buildlog: unknown --format {format!r} (text, json or markdown)", err=True)
        raise typer.Exit(EXIT_USAGE)
    if timeline and format != "text":
        typer.echo("buildlog: --timeline is for --format text (markdown has its gantt chart)", err=True)
        raise typer.Exit(EXIT_USAGE)
    if gantt_steps < 0:
        typer.echo("buildlog: --gantt-steps cannot be negative", err=True)
        raise typer.Exit(EXIT_USAGE)
    check_input_format(input_format)
    output_targets = _output_targets(github_output, dotenv)
    timed = None
    if timeline or (format == "markdown" and gantt_steps > 0):
        result, timed = _summarize_timed(file, rules, input_format)
    else:
        result = _summarize(file, rules, input_format)
    redactor = _redactor(rules, no_redact)
    if redactor is not None:  # before rendering: a renderer's truncation must not leave half a secret
        result, timed = redact((result, timed), redactor)
    if format == "json":
        text = json.dumps(result.to_json(), indent=2, ensure_ascii=True) + "\n"
    elif format == "markdown":
        from .render import render_markdown

        text = render_markdown(result, timeline=timed, gantt_steps=gantt_steps, redactor=None)
    else:
        from .render import render_text

        use_color = sys.stdout.isatty() and "NO_COLOR" not in os.environ if color is None else color
        text = render_text(result, color=use_color, redactor=None)
        if timed is not None:
            from .waterfall import render_waterfall

            text += render_waterfall(result, timed, color=use_color)
    _write_stdout(text)
    if any(output_targets):
        from .outputs import summary_outputs, write_outputs

        errors = write_outputs(summary_outputs(result), *output_targets)
        for message in errors:
            typer.echo(f"buildlog: {message}", err=True)
        if errors:
            raise typer.Exit(EXIT_USAGE)


@app.command()
def trace(
    file: FileArg = "-",
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write the trace here (default: standard "
                                               "output).")] = None,
    rules: RulesOpt = None,
    input_format: InputFormatOpt = "auto",
    no_redact: NoRedactOpt = False,
) -> None:
    """Write the build as a Chrome trace (JSON), for Perfetto or chrome://tracing: one track per vertex
    (docs/trace.md)."""
    from .trace import to_trace

    check_input_format(input_format)
    result, timeline = _summarize_timed(file, rules, input_format)
    data = to_trace(timeline, result, source=None if file == "-" else os.path.basename(file))
    redactor = _redactor(rules, no_redact)
    if redactor is not None:
        data = redactor.data(data)
    _write_output(output, json.dumps(data, ensure_ascii=True, separators=(",", ":")) + "\n")


@app.command()
def report(
    paths: Annotated[list[str], typer.Argument(help="Log files (a directory: the *.log files under it).")],
    output: Annotated[str, typer.Option("--output", "-o", help="The HTML file to write.")] = "report.html",
    by: Annotated[str, typer.Option("--by", help="Many logs: group them by dir (their directory), prefix (file "
                                    "name up to the first -), format, or none.")] = "dir",
    rules: RulesOpt = None,
    input_format: InputFormatOpt = "auto",
    no_redact: NoRedactOpt = False,
) -> None:
    """Write one self-contained HTML file of charts: for one log its verdict, cache and waterfall; for many, the
    fleet's hit ratio and duration over time, cold against warm, failure classes, cache-busting steps. Needs the
    extra: pip install 'buildx-log[report]'."""
    from .report import GROUPINGS, ReportUnavailable, _plotly, expand_paths, facts_of, report_many, report_one

    check_input_format(input_format)
    if by not in GROUPINGS:
        typer.echo(f"buildlog: unknown --by {by!r} ({', '.join(GROUPINGS)})", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        _plotly()  # before reading every log
    except ReportUnavailable as exc:
        typer.echo(f"buildlog: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    files = expand_paths(paths)
    if not files:
        typer.echo("buildlog: no log files in " + " ".join(paths), err=True)
        raise typer.Exit(EXIT_USAGE)
    redactor = _redactor(rules, no_redact)

    def summarized(path: str) -> tuple[LogSummary, Any]:
        found = _summarize_timed(path, rules, input_format)
        return redactor.data(found) if redactor is not None else found

    if len(files) == 1:
        result, timed = summarized(files[0])
        page = report_one(files[0], result, timed)
    else:
        facts = []
        for path in files:
            result, timed = summarized(path)
            facts.append(facts_of(path, result, timed, by))
        page = report_many(facts, by)
    _write_output(output, page)
    typer.echo(f"buildlog: wrote {output} ({len(files)} log{'s' if len(files) != 1 else ''})", err=True)


@app.command()
def classify(file: FileArg = "-", rules: RulesOpt = None, input_format: InputFormatOpt = "auto",
             no_redact: NoRedactOpt = False) -> None:
    """One line (class: reason) and an exit code: 0 success, 1 failure not worth retrying (canceled included),
    75 failure worth retrying, 3 incomplete log, 2 bad usage or unreadable input."""
    from .verdict import exit_code_for, one_line

    check_input_format(input_format)
    result = _summarize(file, rules, input_format)
    line = one_line(result)
    redactor = _redactor(rules, no_redact)
    _write_stdout((line if redactor is None else redactor.text(line)) + "\n")
    raise typer.Exit(exit_code_for(result))


@app.command(context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})
def run(
    command: Annotated[list[str] | None, typer.Argument(
        help="The build command and its arguments, after --.", show_default=False)] = None,
    attempts: Annotated[int, typer.Option("--attempts", help="Attempts in all, the first one included.")] = 3,
    backoff: Annotated[float, typer.Option("--backoff", help="Seconds before the first retry; doubled for each "
                                           "further retry, six times as long after rate-limited.")] = 5.0,
    max_time: Annotated[float | None, typer.Option("--max-time", help="No retry starts later than this many "
                                                   "seconds after the first attempt started.")] = None,
    before_retry: Annotated[str | None, typer.Option("--before-retry", help="Shell command run before each retry "
                                                     "(e.g. recreate the buildx builder).")] = None,
    rules: RulesOpt = None,
    summary_file: Annotated[str | None, typer.Option("--summary-file", help="Write a summary of the run here "
                                                     "at the end.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="Of --summary-file: json, markdown or text.")] = "json",
    github_summary: Annotated[bool, typer.Option("--github-summary", help="Append a markdown report of every "
                                                 "attempt to $GITHUB_STEP_SUMMARY.")] = False,
    kill_grace: Annotated[float, typer.Option("--kill-grace", help="Seconds between passing on SIGINT/SIGTERM "
                                              "and SIGKILL.")] = 10.0,
    github_output: GithubOutputOpt = False,
    dotenv: DotenvOpt = None,
    no_redact: NoRedactOpt = False,
) -> None:
    """Run a build command, pass its output through untouched, retry it only when the failure is transient.

    Exit code (docs/run.md): 0 success; the command's own code for a failure a retry will not fix; 75 when
    transient failures used up the attempts or --max-time; 130/143 when interrupted; 127 command not found;
    2 bad usage."""
    from .rules import DEFAULT_RULES, load_rules
    from .run import SUMMARY_FORMATS, render_run, run_with_retries

    def usage(message: str) -> typer.Exit:
        typer.echo(f"buildlog run: {message}", err=True)
        return typer.Exit(EXIT_USAGE)

    if not command:
        raise usage("no command given; usage: buildlog run [OPTIONS] -- COMMAND [ARGS]...")
    if attempts < 1:
        raise usage("--attempts must be at least 1")
    if backoff < 0 or kill_grace < 0 or (max_time is not None and max_time < 0):
        raise usage("--backoff, --max-time and --kill-grace cannot be negative")
    if format not in SUMMARY_FORMATS:
        raise usage(f"unknown --format {format!r} ({', '.join(SUMMARY_FORMATS)})")
    if summary_file is not None and not os.path.isdir(os.path.dirname(os.path.abspath(summary_file))):
        raise usage(f"--summary-file {summary_file}: no such directory")
    try:
        ruleset = load_rules(rules) if rules else DEFAULT_RULES
    except (OSError, ValueError) as exc:
        raise usage(f"bad --rules: {exc}") from None
    output_targets = _output_targets(github_output, dotenv)
    github_path = os.environ.get("GITHUB_STEP_SUMMARY") if github_summary else None
    if github_summary and not github_path:
        typer.echo("buildlog: --github-summary: $GITHUB_STEP_SUMMARY is not set; no job summary written", err=True)

    result = run_with_retries(command, attempts=attempts, backoff=backoff, max_time=max_time,
                              before_retry=before_retry, rules=ruleset, kill_grace=kill_grace,
                              timeline=github_path is not None or (summary_file is not None and format == "markdown"))
    # A summary that cannot be written is reported, but does not change the build's exit code.
    outputs = [(summary_file, "w", format)] if summary_file else []
    if github_path:
        outputs.append((github_path, "a", "markdown"))
    redactor = None if no_redact else ruleset.redactor
    for path, mode, fmt in outputs:
        try:
            text = render_run(result, fmt, redactor)
            with open(path, mode, encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            typer.echo(f"buildlog: cannot write {path}: {exc.strerror or exc}", err=True)
    if any(output_targets):
        from .outputs import run_outputs, write_outputs
        from .redact import redact

        shown = redact(result, redactor) if redactor is not None else result
        for message in write_outputs(run_outputs(shown), *output_targets):
            typer.echo(f"buildlog: {message}", err=True)
    raise typer.Exit(result.exit_code)


@app.command()
def stats(
    paths: Annotated[list[str], typer.Argument(help="Log files, directories (walked for *.log, *.txt, *.json, "
                                               "compressed too), globs, or - to read paths from standard input.",
                                               show_default=False)],
    format: Annotated[str, typer.Option("--format", "-f", help="text, json, csv or markdown.")] = "text",
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Worker processes (default: the number of "
                                             "cores).")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Group the figures by day, week (of the build: CI "
                                           "timestamps, else the file's mtime) or dir (parent directory).")] = None,
    top: Annotated[int, typer.Option("--top", help="Steps, first misses and warnings listed.")] = 20,
    last_build_only: Annotated[bool, typer.Option("--last-build-only", help="Count only the last build of each "
                                                  "log (the attempt that decided the job).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Figures over many logs: outcomes, failure classes, durations, cache hit ratios, costly steps, first
    misses, warnings (docs/stats.md). Unreadable files are listed under errors; they never stop the run."""
    from .stats_cli import run_stats

    run_stats(paths, format=format, jobs=jobs, by=by, top=top, last_build_only=last_build_only, quiet=quiet)


@app.command()
def compare(
    a: Annotated[str, typer.Argument(help="The first run's log (the reference).")],
    b: Annotated[str, typer.Argument(help="The second run's log.")],
    format: Annotated[str, typer.Option("--format", "-f", help="text, json or markdown.")] = "text",
    threshold: Annotated[float, typer.Option("--threshold", help="Percent a step's (or the build's) time must "
                                             "change by to be listed as slower or faster.")] = 20.0,
    threshold_seconds: Annotated[float, typer.Option("--threshold-seconds", help="... and at least this many "
                                                     "seconds.")] = 1.0,
    fail_on_regression: Annotated[bool, typer.Option("--fail-on-regression", help="Exit 1 when B lost cache or "
                                                     "got slower past the threshold.")] = False,
) -> None:
    """Two runs of the same build side by side: outcome, duration, cache, cache regressions, slower and faster
    steps, steps in only one run (docs/stats.md)."""
    from .stats_cli import run_compare

    raise typer.Exit(run_compare(a, b, format=format, threshold=threshold, threshold_seconds=threshold_seconds,
                                 fail_on_regression=fail_on_regression))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
