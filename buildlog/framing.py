"""Bytes in, lines out: the lowest layer of the parser.

Only ``\\n`` ends a line (``\\r\\n`` is a ``\\n`` with a ``\\r`` before it). A lone ``\\r`` stays inside the line:
in plain output it belongs to a step's own text (a progress bar redrawing itself), in tty captures to the redraw.

Bytes are decoded with ``surrogateescape``, so invalid UTF-8 survives as lone surrogates and encodes back to the
very same bytes; an incremental decoder keeps a multi-byte character that straddles two chunks whole, so any
chunking gives the same lines.

A line longer than ``max_line`` characters is never held whole: its first piece is handed out as soon as the bound
is reached, and the rest follows in pieces of at most ``max_line`` characters, the last one with the line's length.
"""

from __future__ import annotations

import codecs

import attrs

DEFAULT_MAX_LINE = 1 << 20


@attrs.frozen(slots=True)
class RawLine:
    """One line, or one piece of an over-long line."""

    number: int  # 1-based, by "\n"
    text: str  # the raw text, terminator included, surrogate-escaped
    piece: int = 0  # 0: the line (or the first piece of a long one); 1, 2, ...: later pieces
    final: bool = True  # this piece ends the line
    total_length: int | None = None  # bytes of the whole line, on the final piece of a long line


def _byte_length(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


class LineFramer:
    """Cuts a byte stream into ``RawLine`` objects. Feed it chunks of any size; ``close()`` flushes the rest."""

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        if max_line < 16:
            raise ValueError("max_line must be at least 16")
        self._max = max_line
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._parts: list[str] = []  # the unfinished line, in pieces (joined when it ends, to avoid O(n^2))
        self._pending_len = 0
        self._number = 1
        self._piece = 0  # pieces of the current line already handed out
        self._line_bytes = 0  # bytes of the current line already handed out as pieces
        self._closed = False

    @property
    def line_number(self) -> int:
        """Number of the line being read."""
        return self._number

    def feed(self, data: bytes) -> list[RawLine]:
        if self._closed:
            raise ValueError("feed() after close()")
        return self._take(self._decoder.decode(data))

    def feed_text(self, text: str) -> list[RawLine]:
        """Feed already decoded text (use ``surrogateescape`` if it came from bytes)."""
        if self._closed:
            raise ValueError("feed_text() after close()")
        return self._take(text)

    def close(self) -> list[RawLine]:
        if self._closed:
            return []
        out = self._take(self._decoder.decode(b"", final=True))
        self._closed = True
        if self._parts or self._piece:
            out.append(self._finish(""))
        return out

    def _take(self, text: str) -> list[RawLine]:
        out: list[RawLine] = []
        if not text:
            return out
        if "\n" not in text:
            self._parts.append(text)
            self._pending_len += len(text)
            if self._pending_len > self._max:
                self._spill(out)
            return out
        chunks = text.split("\n")
        last = chunks.pop()
        first = True
        for chunk in chunks:
            if first and (self._parts or self._piece):
                first = False
                self._parts.append(chunk)
                self._pending_len += len(chunk)
                if self._pending_len > self._max:
                    self._spill(out)
                out.append(self._finish("\n"))
                continue
            first = False
            if self._piece == 0 and len(chunk) < self._max:
                # the hot path: a whole, ordinary line
                out.append(RawLine(self._number, chunk + "\n"))
                self._number += 1
            else:
                self._parts.append(chunk)
                self._pending_len = len(chunk)
                self._spill(out)
                out.append(self._finish("\n"))
        if last:
            self._parts.append(last)
            self._pending_len += len(last)
            if self._pending_len > self._max:
                self._spill(out)
        return out

    def _spill(self, out: list[RawLine]) -> None:
        """Hand out full pieces of the pending text while it is over the bound, keeping the remainder."""
        text = "".join(self._parts)
        while len(text) > self._max:
            piece, text = text[: self._max], text[self._max :]
            self._line_bytes += _byte_length(piece)
            out.append(RawLine(self._number, piece, self._piece, final=False))
            self._piece += 1
        self._parts = [text] if text else []
        self._pending_len = len(text)

    def _finish(self, terminator: str) -> RawLine:
        text = "".join(self._parts) + terminator
        if self._piece:
            total = self._line_bytes + _byte_length(text)
            line = RawLine(self._number, text, self._piece, final=True, total_length=total)
        else:
            line = RawLine(self._number, text)
        self._parts = []
        self._pending_len = 0
        self._piece = 0
        self._line_bytes = 0
        self._number += 1
        return line
