"""Thin I/O wrappers around the sans-I/O ``Parser``: a path, a binary file, an iterable, an async iterator."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import BinaryIO

from .events import Event
from .parser import Parser

CHUNK = 1 << 16


def parse_file(stream: BinaryIO, *, max_line: int | None = None, chunk_size: int = CHUNK,
               format: str = "auto") -> Iterator[Event]:
    """Events from a binary file object, read in chunks (constant memory)."""
    parser = _parser(max_line, format)
    read = stream.read
    while True:
        data = read(chunk_size)
        if not data:
            break
        yield from parser.feed(data)
    yield from parser.close()


def parse_path(path: str | os.PathLike[str], *, max_line: int | None = None,
               format: str = "auto") -> Iterator[Event]:
    """Events from a file on disk."""
    with open(path, "rb") as stream:
        yield from parse_file(stream, max_line=max_line, format=format)


def parse_bytes(data: bytes, *, max_line: int | None = None, format: str = "auto") -> list[Event]:
    """All events of an in-memory log."""
    parser = _parser(max_line, format)
    return parser.feed(data) + parser.close()


def parse_iter(chunks: Iterable[bytes | str], *, max_line: int | None = None,
               format: str = "auto") -> Iterator[Event]:
    """Events from an iterable of byte chunks or text chunks (lines of a text file work too)."""
    parser = _parser(max_line, format)
    for chunk in chunks:
        if isinstance(chunk, str):
            yield from parser.feed_text(chunk)
        else:
            yield from parser.feed(chunk)
    yield from parser.close()


async def parse_async(
    chunks: AsyncIterable[bytes | str], *, max_line: int | None = None, format: str = "auto"
) -> AsyncIterator[Event]:
    """Events from an async iterator of chunks (e.g. an ``asyncio`` subprocess pipe)."""
    parser = _parser(max_line, format)
    async for chunk in chunks:
        for event in parser.feed_text(chunk) if isinstance(chunk, str) else parser.feed(chunk):
            yield event
    for event in parser.close():
        yield event


def _parser(max_line: int | None, format: str = "auto") -> Parser:
    """``format``: ``auto`` (each build's shape detected) or one of plain, rawjson, tty, legacy (see Parser)."""
    return Parser(format=format) if max_line is None else Parser(format=format, max_line=max_line)
