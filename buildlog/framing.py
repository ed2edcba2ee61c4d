"""Bytes in, lines out: the lowest layer of the parser.

Only ``\\n`` ends a line (``\\r\\n`` is a ``\\n`` with a ``\\r`` before it). A lone ``\\r`` stays inside
the line: in plain output it belongs to a step's own text (a progress bar redrawing itself), in tty captures
to the redraw.

Bytes are decoded with ``surrogateescape``, so invalid UTF-8 survives as lone surrogates and encodes back to
the very same bytes; an incremental decoder keeps a multi-byte character that straddles two chunks whole, so
any chunking gives the same lines.

A line longer than ``max_line`` characters (its terminator not counted) is never held whole: its first piece
is handed out as soon as the bound is reached, and the rest follows in pieces of ``max_line`` characters, the
last one (at most ``max_line`` characters, and the terminator) with the line's length in bytes. Pieces are cut
at the same places whatever the chunking, so the output does not depend on it.

This layer runs once per input line, so it is written for speed (see docs/performance.md): a chunk is split
with one ``str.split``, and the lines of a chunk that cannot hold an over-long line are built in one
comprehension, as named tuples (the cheapest immutable object to build).
"""

from __future__ import annotations

import codecs
from typing import NamedTuple

DEFAULT_MAX_LINE = 1 << 20


class RawLine(NamedTuple):
    """One line, or one piece of an over-long line."""

    number: int  # 1-based, by "\n"
    text: str  # the raw text, terminator included, surrogate-escaped
    piece: int = 0  # 0: the line (or the first piece of a long one); 1, 2, ...: later pieces
    final: bool = True  # this piece ends the line
    total_length: int | None = None  # bytes of the whole line, on the final piece of a long line


def _byte_length(text: str) -> int:
    """Bytes of surrogate-escaped ``text`` once encoded (escaped bytes are not ASCII: ASCII text is 1:1)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogateescape"))


_new_line = tuple.__new__  # RawLine(n, t) without the keyword-handling constructor: the hot path's only call


class LineFramer:
    """Cuts a byte stream into ``RawLine`` objects. Feed chunks of any size; ``close()`` flushes the rest."""

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        if max_line < 16:
            raise ValueError("max_line must be at least 16")
        self._max = max_line
        self._decode = codecs.getincrementaldecoder("utf-8")("surrogateescape").decode
        self._parts: list[str] = []  # the unfinished line, in pieces (joined when it ends, to avoid O(n^2))
        self._pending_len = 0  # characters in _parts
        self.number = 1  # of the line being read; the parser's scanner advances it past the lines it reads itself
        self._piece = 0  # pieces of the current line already handed out
        self._line_bytes = 0  # bytes of the current line already handed out as pieces
        self._closed = False

    @property
    def line_number(self) -> int:
        """Number of the line being read (``number``, which the parser's scanner also reads and advances)."""
        return self.number

    @property
    def mid_line(self) -> bool:
        """A line has begun and not ended: the next text continues it."""
        return bool(self._parts) or self._piece > 0

    def skip_lines(self, count: int) -> None:
        """``count`` whole lines were read by someone else (the parser's run scanner): number on after them.
        Only between lines."""
        assert not self.mid_line
        self.number += count

    def feed(self, data: bytes) -> list[RawLine]:
        if self._closed:
            raise ValueError("feed() after close()")
        return self._take(self._decode(data))

    def feed_text(self, text: str) -> list[RawLine]:
        """Feed already decoded text (use ``surrogateescape`` if it came from bytes)."""
        if self._closed:
            raise ValueError("feed_text() after close()")
        return self._take(text)

    def close(self) -> list[RawLine]:
        if self._closed:
            return []
        out = self._take(self._decode(b"", True))
        self._closed = True
        if self._parts or self._piece:
            out.append(self._finish(""))
        return out

    def _take(self, text: str) -> list[RawLine]:
        if "\n" not in text:
            if text:
                self._add(text)
                if self._pending_len > self._max:
                    out: list[RawLine] = []
                    self._spill(out)
                    return out
            return []
        lines = text.split("\n")
        rest = lines.pop()
        if self._parts or self._piece:
            # the first line ends a line begun in an earlier chunk
            self._add(lines[0])
            out = []
            if self._pending_len > self._max:
                self._spill(out)
            out.append(self._finish("\n"))
            del lines[0]
        else:
            out = []
        if lines:
            number = self.number
            if len(text) <= self._max:
                # the hot path: no line here can be over the bound
                out += [_new_line(RawLine, (n, line + "\n", 0, True, None))
                        for n, line in enumerate(lines, number)]
                self.number = number + len(lines)
            else:
                bound = self._max
                for line in lines:
                    if len(line) <= bound:
                        out.append(_new_line(RawLine, (self.number, line + "\n", 0, True, None)))
                        self.number += 1
                    else:
                        self._add(line)
                        self._spill(out)
                        out.append(self._finish("\n"))
        if rest:
            self._add(rest)
            if self._pending_len > self._max:
                self._spill(out)
        return out

    def _add(self, text: str) -> None:
        self._parts.append(text)
        self._pending_len += len(text)

    def _spill(self, out: list[RawLine]) -> None:
        """Hand out full pieces of the pending text while it is over the bound, keeping the remainder."""
        text = "".join(self._parts)
        bound = self._max
        start = 0
        end = len(text) - bound  # pieces start before this (a remainder of exactly ``bound`` is kept back)
        while start < end:
            piece = text[start : start + bound]
            self._line_bytes += _byte_length(piece)
            out.append(RawLine(self.number, piece, self._piece, False))
            self._piece += 1
            start += bound
        rest = text[start:] if start else text
        self._parts = [rest] if rest else []
        self._pending_len = len(rest)

    def _finish(self, terminator: str) -> RawLine:
        text = "".join(self._parts) + terminator
        if self._piece:
            total = self._line_bytes + _byte_length(text)
            line = RawLine(self.number, text, self._piece, True, total)
        else:
            line = RawLine(self.number, text)
        self._parts = []
        self._pending_len = 0
        self._piece = 0
        self._line_bytes = 0
        self.number += 1
        return line
