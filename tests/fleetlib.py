"""The fleet tests' own reading of logs and names, written apart from buildlog's code so that the two can be
checked against each other."""

from __future__ import annotations

import re
from pathlib import Path

import attrs

_BRACKET = re.compile(r"^\[([^\]]*)\]\s*(.*)$", re.DOTALL)
_HEADER = re.compile(r"^#(\d+) (\[[^\]]*\].*|importing cache manifest.*|exporting .*|resolving .*)$")
_DONE = re.compile(r"^#(\d+) DONE (\d+(?:\.\d+)?)s$")
_CACHED = re.compile(r"^#(\d+) CACHED$")
_ERROR = re.compile(r"^#(\d+) ERROR:")
_CANCELED = re.compile(r"^#(\d+) CANCELED$")
_OUTPUT = re.compile(r"^#(\d+) (\d+\.\d+) ")  # "#13 2.057   CC src/main.c": a step's output, seconds since it started
_STEP = re.compile(r"^\[(?:(?P<where>[^\]]*?)\s+)?(?P<index>\d+)/\d+\] (?P<instruction>[A-Z]+)(?: (?P<args>.*))?$",
                   re.DOTALL)
_SIZE = re.compile(r"(\d+(?:\.\d+)?)(B|kB|MB|GB)")


def normalise(name: str, index: int | None = None) -> str:
    """The same Dockerfile step from run to run: the bracket without the stage's step count, digests removed,
    runs of blanks as one. The legacy builder's names have no bracket: its step number (``index``) makes one."""
    if index is not None and not name.startswith("["):
        name = f"[{index}/{index}] {name}"
    name = re.sub(r"@sha256:[0-9a-f]+", "", name)
    name = re.sub(r"sha256:[0-9a-f]{16,}", "sha256", name)
    m = _BRACKET.match(name)
    if m is None:
        return " ".join(name.split())
    tokens = [t.split("/")[0] if re.fullmatch(r"\d+/\d+", t) else t for t in m.group(1).split()]
    return f"[{' '.join(tokens)}] {' '.join(m.group(2).split())}".rstrip()


@attrs.define
class PlainVertex:
    number: int
    name: str
    line: int
    cached: bool = False
    done: list[float] = attrs.Factory(list)
    error: bool = False
    canceled: bool = False
    last_output: float | None = None

    @property
    def seconds(self) -> float | None:
        """Its DONE time; without one (it failed, or the log was cut), the time of its last output line."""
        return max(self.done) if self.done else self.last_output

    @property
    def status(self) -> str:
        if self.error:
            return "errored"
        if self.canceled:
            return "canceled"
        if self.cached:
            return "cached"
        return "ran" if self.done else "unfinished"

    @property
    def step(self) -> re.Match[str] | None:
        return _STEP.match(self.name)

    @property
    def stage(self) -> str | None:
        m = self.step
        return m["where"] if m else None

    @property
    def index(self) -> int | None:
        m = self.step
        return int(m["index"]) if m else None

    @property
    def cacheable(self) -> bool:
        m = self.step
        return m is not None and m["instruction"] != "FROM"

    @property
    def ran(self) -> bool:
        return self.status in ("ran", "errored")


def read_plain(path: Path) -> dict[int, PlainVertex]:
    """The vertices of a one-build plain log, from its ``#N`` lines."""
    vertices: dict[int, PlainVertex] = {}
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if m := _DONE.match(line):
            vertices[int(m[1])].done.append(float(m[2]))
        elif m := _CACHED.match(line):
            vertices[int(m[1])].cached = True
        elif m := _ERROR.match(line):
            if int(m[1]) in vertices:
                vertices[int(m[1])].error = True
        elif m := _CANCELED.match(line):
            vertices[int(m[1])].canceled = True
        elif (m := _OUTPUT.match(line)) and int(m[1]) in vertices:
            vertices[int(m[1])].last_output = float(m[2])
        elif (m := _HEADER.match(line)) and int(m[1]) not in vertices:
            vertices[int(m[1])] = PlainVertex(int(m[1]), m[2], n)
    return vertices


def size_in_bytes(text: str) -> int:
    """``1.03kB`` as the progress printer writes it (decimal units)."""
    m = _SIZE.fullmatch(text)
    assert m is not None, text
    return round(float(m[1]) * {"B": 1, "kB": 1000, "MB": 1000**2, "GB": 1000**3}[m[2]])


def full_key_of(short: str, full_keys: set[str]) -> str:
    """A tty row cuts long names at the terminal's width: the one full key (same bracket) it is the start of."""
    if short in full_keys or not short.startswith("["):
        return short
    bracket = short[: short.index("]") + 1]
    matches = [k for k in full_keys if k.startswith(short) and k[: k.index("]") + 1] == bracket]
    return matches[0] if len(matches) == 1 else short
