"""The grammar of the legacy builder's output (``DOCKER_BUILDKIT=0``, Docker before 23 by default).

    Sending build context to Docker daemon  3.072kB
    Step 4/6 : RUN make
     ---> Using cache                 (cached: VertexCached)
     ---> Running in 29b278947b75     (it runs; the lines that follow are its output, as they are, no time)
    Removing intermediate container 29b278947b75
     ---> 410e08891adf                (the step's image: VertexDone for a step that ran)
    Successfully built 03ad55c1e0cc
    Successfully tagged app:1
    The command '/bin/sh -c make' returned a non-zero code: 2   (the step's VertexError, and BuildFailed)

Each step is a vertex (``Step N/M`` is vertex N of the build), named by its instruction, with a ``VertexName`` of
kind ``step`` (``index`` N, ``total`` M, no stage: the legacy builder numbers steps across stages). The legacy
builder prints no times: ``LegacyStepDone`` (a ``VertexDone``) has ``seconds`` 0.0, output has no ``elapsed``.
"""

from __future__ import annotations

import re
from typing import Any

from . import events as ev
from .derived import build_start
from .lazyre import later
from .plain import parse_size
from .vertex_names import parse_vertex_name

# (shape, pattern on the cleaned line). First match wins.
LINES: list[tuple[str, re.Pattern[str]]] = [
    ("step", later(r"Step (?P<index>\d+)/(?P<total>\d+) : (?P<instruction>.*)", re.DOTALL)),
    ("cache", later(r" ---> Using cache\s*")),
    ("running", later(r" ---> Running in (?P<container>[0-9a-f]+)\s*")),
    ("image", later(r" ---> (?P<image>[0-9a-f]{6,})\s*")),
    ("removing", later(r"Removing intermediate container (?P<container>[0-9a-f]+)\s*")),
    ("built", later(r"Successfully built (?P<image>[0-9a-f]+)\s*")),
    ("tagged", later(r"Successfully tagged (?P<ref>\S+)\s*")),
    ("failed", later(r"The command '(?P<command>.*)' returned a non-zero code: (?P<code>\d+)\s*",
                       re.DOTALL)),
]
# What the legacy builder prints between steps besides its own shapes: the pull of a FROM image, warnings, triggers.
# Anything else there is the client's error message, printed bare just before it exits (``COPY failed: ...``,
# ``Error response from daemon: ...``, ``manifest for IMAGE not found: ...``).
BETWEEN_STEPS = later(
    r"[\w./:-]+: Pulling from .*"
    r"|[0-9a-f]{12}: (?:Pulling fs layer|Waiting|Downloading|Verifying Checksum|Download complete|Pull complete"
    r"|Already exists|Extracting|Retrying in .*|Pulling from .*).*"
    r"|Digest: sha256:[0-9a-f]{64}\s*|Status: (?:Downloaded newer image|Image is up to date) for .*"
    r"|# Executing \d+ build triggers?.*|\[Warning\] .*|WARNING: .*|DEPRECATED: .*|\s*",
    re.DOTALL,
)
# The first line; a terminal shows the size counting up, each count after a "\r".
CONTEXT = later(r"(?:.*\r)?Sending build context to Docker daemon\s+(?P<size>\S+)\s*", re.DOTALL)
# Lines that open a legacy build: how detection tells the format.
DECIDING = later(r"Sending build context to Docker daemon|Step \d+/\d+ : ")


class _Step:
    __slots__ = ("cached", "name", "number", "running")

    def __init__(self, number: int, name: str) -> None:
        self.number = number
        self.name = name
        self.cached = False
        self.running = False  # its container runs: the lines that follow are its output


class LegacyGrammar:
    """Turns the legacy builder's lines into events."""

    def __init__(self, *, forced: bool = False) -> None:
        self._forced = forced  # the parser reads this format only (``FormatDetected.forced``)
        # The build this grammar reads (0: none); ahead of the parser's after a line that opened the next one.
        self.build = 0
        self._step: _Step | None = None
        self._last_index = 0
        self._over = False  # built or failed: only "Successfully tagged" still belongs to this build

    def end_build(self) -> None:
        self.build = 0
        self._step = None
        self._last_index = 0
        self._over = False

    @property
    def in_step(self) -> bool:
        """A step's container runs: the lines that follow are its output, whatever they look like."""
        return self._step is not None and self._step.running

    def claims(self, text: str) -> bool:
        """Whether a cleaned line is the legacy builder's: one of its shapes, or the output of a running step."""
        if DECIDING.match(text) is not None:
            return True
        if self.build == 0:
            return False
        step = self._step
        if step is not None and step.running:
            return True
        if self._over:
            return text.startswith("Successfully tagged ")
        if any(p.fullmatch(text) for _, p in LINES):
            return True
        return BETWEEN_STEPS.fullmatch(text) is None or (step is not None and bool(text.strip()))

    def line(self, number: int, raw: str, text: str, ci: ev.CIPrefix | None, build: int) -> list[ev.Event]:
        """One cleaned line; ``build`` is the build the parser reads (the line may open build ``build + 1``)."""
        out: list[ev.Event] = []
        m = CONTEXT.fullmatch(text)
        if m is not None:
            out += self._start(number, build)
            out.append(ev.LegacyContextSent(size=parse_size(m["size"]), **self._common(number, raw, ci, build)))
            return out
        shape = None
        for name, pattern in LINES:
            m = pattern.fullmatch(text)
            if m is not None:
                shape = name
                break
        step = self._step
        if m is None and (step is None or not step.running) and BETWEEN_STEPS.fullmatch(text) is None:
            return self._client_error(number, raw, text, ci, build)
        if m is None or (step is not None and step.running and shape not in ("removing", "image", "failed")):
            # the output of the step's command, as it wrote it
            number_ = step.number if step is not None else 0
            return [ev.StepOutput(vertex=number_, elapsed=None, text=text, **self._common(number, raw, ci, build))]
        if shape == "step":
            index = int(m["index"])
            if self.build == 0 or self._over or index <= self._last_index:
                out += self._start(number, build)
            self._last_index = index
            instruction = m["instruction"]
            info = parse_vertex_name(f"[{index}/{m['total']}] {instruction}")
            self._step = _Step(index, instruction)
            out.append(ev.VertexHeader(vertex=index, name=instruction, info=info,
                                       **self._common(number, raw, ci, build)))
            return out
        common = self._common(number, raw, ci, build)
        n = step.number if step is not None else 0
        if shape == "cache":
            if step is not None:
                step.cached = True
            return [ev.VertexCached(vertex=n, **common)]
        if shape == "running":
            if step is not None:
                step.running = True
            return [ev.LegacyContainerStarted(vertex=n, container=m["container"], **common)]
        if shape == "removing":
            if step is not None:
                step.running = False
            return [ev.LegacyContainerRemoved(vertex=n, container=m["container"], **common)]
        if shape == "image":
            if step is not None:
                step.running = False
                if not step.cached:
                    return [ev.LegacyStepDone(vertex=n, seconds=0.0, image=m["image"], **common)]
            return [ev.LegacyStepImage(vertex=n, image=m["image"], **common)]
        if shape == "built":
            self._over = True
            return [ev.LegacyImageBuilt(image=m["image"], **common)]
        if shape == "tagged":
            return [ev.LegacyImageTagged(ref=m["ref"], **common)]
        # "The command '...' returned a non-zero code: N": the step failed, and so did the build
        self._over = True
        if step is not None:
            step.running = False
        code = int(m["code"])
        out.append(ev.VertexError(vertex=n, message=text, exit_code=code, **common))
        derived = dict(common, raw="")
        out.append(ev.BuildFailed(message=text, style="legacy", exit_code=code, **derived))
        return out

    def _client_error(self, number: int, raw: str, text: str, ci: ev.CIPrefix | None,
                      build: int) -> list[ev.Event]:
        """A bare line between steps: the client's error, the build's last word."""
        self._over = True
        common = self._common(number, raw, ci, build)
        step = self._step
        if step is None:
            return [ev.BuildFailed(message=text, style="legacy", **common)]
        return [ev.VertexError(vertex=step.number, message=text, **common),
                ev.BuildFailed(message=text, style="legacy", **dict(common, raw=""))]

    def _start(self, number: int, build: int) -> list[ev.Event]:
        """Opens the build after ``build`` at line ``number``: its first events."""
        self.end_build()
        self.build = build + 1
        return build_start(self.build, number, "legacy", self._forced)

    def _common(self, number: int, raw: str, ci: ev.CIPrefix | None, build: int) -> dict[str, Any]:
        if self.build == 0:
            self.build = build
        return {"line": number, "end_line": number, "raw": raw, "build": self.build, "ci": ci}

