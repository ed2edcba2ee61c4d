"""The I/O of ``buildlog stats`` and ``buildlog compare``: options checked, progress drawn, output written.
Imported by the CLI only when one of these commands runs."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

import typer

from .stats import GROUPINGS, InputError, LogResult, collect, expand_inputs, open_log

EXIT_USAGE = 2
STATS_FORMATS = ("text", "json", "csv", "markdown")
COMPARE_FORMATS = ("text", "json", "markdown")


def _usage(message: str) -> typer.Exit:
    typer.echo(f"buildlog: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _progress(files: list[str], quiet: bool) -> tuple[Callable[[LogResult], None] | None, Any]:
    """A rich progress bar on a terminal (logs done of total, MB/s, ETA); nothing otherwise."""
    if quiet or not sys.stderr.isatty() or not files:
        return None, None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    sizes: dict[str, int] = {}
    for f in files:
        try:
            sizes[f] = os.path.getsize(f)
        except OSError:
            sizes[f] = 0
    # one task counted in bytes (for the MB/s and the ETA); the logs done are shown in its text
    progress = Progress(TextColumn(f"{{task.fields[done]}}/{len(files)} logs"), BarColumn(), TransferSpeedColumn(),
                        TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    task = progress.add_task("stats", total=sum(sizes.values()) or 1, done=0)
    done = 0

    def advance(result: LogResult) -> None:
        nonlocal done
        done += 1
        progress.update(task, advance=sizes.get(result.path, 0), done=done)

    return advance, progress


def run_stats(paths: list[str], *, format: str, jobs: int | None, by: str | None, top: int,
              last_build_only: bool, quiet: bool) -> None:
    if format not in STATS_FORMATS:
        raise _usage(f"unknown --format {format!r} ({', '.join(STATS_FORMATS)})")
    if by is not None and by not in GROUPINGS:
        raise _usage(f"unknown --by {by!r} ({', '.join(GROUPINGS)})")
    if jobs is not None and jobs < 1:
        raise _usage("--jobs must be at least 1")
    if top < 0:
        raise _usage("--top cannot be negative")
    files, errors = expand_inputs(paths, sys.stdin if "-" in paths else None)
    advance, progress = _progress(files, quiet)
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if progress is not None:
        with progress:
            report = collect(files, jobs=workers, last_build_only=last_build_only, by=by, top=top, errors=errors,
                             on_result=advance)
    else:
        report = collect(files, jobs=workers, last_build_only=last_build_only, by=by, top=top, errors=errors)
    data = report.to_json()
    if format == "json":
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=True) + "\n")
        return
    from .stats_render import render_stats_csv, render_stats_markdown, render_stats_text

    render = {"text": render_stats_text, "csv": render_stats_csv, "markdown": render_stats_markdown}[format]
    sys.stdout.write(render(data))


def _load(path: str) -> Any:
    from .sources import parse_file
    from .summary import summarize_events

    try:
        with open_log(path) as stream:
            summary = summarize_events(parse_file(stream))
    except (OSError, InputError, EOFError, ValueError) as exc:
        raise _usage(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if summary.last is None:
        raise _usage(f"{path}: no build in this log")
    return summary.last


def run_compare(a: str, b: str, *, format: str, threshold: float, threshold_seconds: float,
                fail_on_regression: bool) -> int:
    from .compare import compare_builds, render_compare_markdown, render_compare_text

    if format not in COMPARE_FORMATS:
        raise _usage(f"unknown --format {format!r} ({', '.join(COMPARE_FORMATS)})")
    if threshold < 0 or threshold_seconds < 0:
        raise _usage("--threshold and --threshold-seconds cannot be negative")
    cmp = compare_builds(_load(a), _load(b), threshold, threshold_seconds)
    if format == "json":
        sys.stdout.write(json.dumps(cmp.to_json(), indent=2, ensure_ascii=True) + "\n")
    elif format == "markdown":
        sys.stdout.write(render_compare_markdown(cmp))
    else:
        sys.stdout.write(render_compare_text(cmp))
    return 1 if fail_on_regression and cmp.regressed else 0
