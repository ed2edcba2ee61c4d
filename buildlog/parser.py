"""The sans-I/O parser: feed it bytes, get events.

    parser = Parser()
    for chunk in stream:
        for event in parser.feed(chunk):
            ...
    for event in parser.close():
        ...

It never reads, sleeps or prints. Events for a line are handed out as soon as the line that completes them has
arrived (an error message that may continue on the next line waits for that next line).
"""

from __future__ import annotations

from . import events as ev
from .cleaning import clean_line
from .framing import DEFAULT_MAX_LINE, LineFramer, RawLine
from .plain import PlainGrammar


class Parser:
    """Incremental parser of buildx / BuildKit output.

    ``max_line`` bounds the characters of one line held in memory; longer lines are handed out in pieces
    (``LineFragment`` events)."""

    def __init__(self, *, max_line: int = DEFAULT_MAX_LINE) -> None:
        self._framer = LineFramer(max_line)
        self._grammar = PlainGrammar()
        self._closed = False

    def feed(self, data: bytes) -> list[ev.Event]:
        """Feed the next chunk of bytes; returns the events it completed."""
        if self._closed:
            raise ValueError("feed() after close()")
        return self._lines(self._framer.feed(data))

    def feed_text(self, text: str) -> list[ev.Event]:
        """Feed already decoded text (decode with ``errors="surrogateescape"`` to keep invalid bytes)."""
        if self._closed:
            raise ValueError("feed_text() after close()")
        return self._lines(self._framer.feed_text(text))

    def close(self) -> list[ev.Event]:
        """End of input: returns the remaining events. A log cut mid-line gives its last partial line too."""
        if self._closed:
            return []
        self._closed = True
        out = self._lines(self._framer.close())
        out.extend(self._grammar.flush())
        return out

    def _lines(self, lines: list[RawLine]) -> list[ev.Event]:
        out: list[ev.Event] = []
        grammar = self._grammar
        for raw_line in lines:
            raw = raw_line.text
            if raw_line.piece:
                out.extend(grammar.fragment(ev.LineFragment(
                    line=raw_line.number, end_line=raw_line.number, raw=raw, build=grammar.build_index,
                    length=len(raw.encode("utf-8", "surrogateescape")), final=raw_line.final,
                    total_length=raw_line.total_length)))
                continue
            body = raw
            if body.endswith("\n"):
                body = body[:-2] if body.endswith("\r\n") else body[:-1]
            text, ci = clean_line(body)
            out.extend(grammar.line(raw_line.number, raw, text, ci, raw_line.final))
        return out
