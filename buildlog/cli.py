"""The ``buildlog`` command line. Thin: reading input, calling the library, printing.

Exit codes are part of the contract (see docs/cli.md): 2 is bad usage or unreadable input for every command.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Annotated, BinaryIO

import typer

from .events import Event, event_to_dict
from .sources import parse_file

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Structured events and verdicts from docker buildx / BuildKit logs.",
    pretty_exceptions_enable=False,
)

EXIT_USAGE = 2


@app.callback()
def _root() -> None:
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


def read_events(path: str) -> Iterator[Event]:
    stream = open_input(path)
    try:
        yield from parse_file(stream)
    except OSError as exc:
        typer.echo(f"buildlog: error reading {path}: {exc.strerror or exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


@app.command()
def events(
    file: FileArg = "-",
    raw: Annotated[bool, typer.Option("--raw", help="Include each event's raw input text.")] = False,
) -> None:
    """Print the log's events as JSON lines (one object per event; see docs/events.md)."""
    write = sys.stdout.write
    # ASCII escapes keep the output valid UTF-8 even for invalid input bytes (lone surrogates round-trip).
    dumps = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode
    try:
        for event in read_events(file):
            write(dumps(event_to_dict(event, with_raw=raw)))
            write("\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # `buildlog events big.log | head` must not end in a traceback
        sys.stderr.close()
        raise typer.Exit(0) from None


def main() -> None:
    app()


if __name__ == "__main__":
    main()
