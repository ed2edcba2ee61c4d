"""What a vertex name says: Dockerfile step, internal load, cache import/export, image export, ...

Names look like ``[builder 3/9] COPY lib/ ./lib/``, ``[linux/amd64 builder 3/7] RUN make``, ``[api build 1/7] FROM
...`` (bake target first), ``[2/3] RUN ...`` (single stage), ``[internal] load build context``, ``[api] exporting to
image``, ``importing cache manifest from REF``, ``exporting cache to registry``. The bracket is taken apart by
``parse_vertex_name``; what follows it is matched against ``NAME_SHAPES``, a table a user can extend.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from .events import VertexName
from .lazyre import compiled

if TYPE_CHECKING:
    import regex

# Each shape: (kind, pattern, fixed fields). Named groups in the pattern become VertexName fields of the same name.
# First match wins. ``rest`` is the name with its leading "[...]" bracket removed. A pattern is the text of a
# ``regex`` pattern (compiled on first use, see lazyre.py) or a compiled one.
NAME_SHAPES: list[tuple[str, str | regex.Pattern[str], dict[str, str]]] = [
    ("cache-import", r"importing cache manifest from (?P<ref>\S+)", {}),
    ("cache-export", r"exporting cache to registry", {"backend": "registry"}),
    ("cache-export", r"exporting to GitHub Actions Cache", {"backend": "gha"}),
    ("cache-export", r"exporting to GitHub cache", {"backend": "gha"}),  # BuildKit 0.11
    ("cache-export", r"exporting cache to client directory", {"backend": "local"}),
    ("cache-export", r"exporting cache to Amazon S3", {"backend": "s3"}),
    ("cache-export", r"exporting cache to Azure Blob Storage", {"backend": "azblob"}),
    ("cache-export", r"(?:exporting inline cache|preparing layers for inline cache)", {"backend": "inline"}),
    ("cache-export", r"exporting cache to (?P<backend>.+)", {}),
    ("cache-export", r"exporting cache$", {"backend": "unknown"}),  # BuildKit <= 0.10 (gha)
    ("image-export", r"exporting to image$", {"exporter": "image"}),
    ("image-export", r"exporting to docker image format", {"exporter": "docker"}),
    ("image-export", r"exporting to oci image format", {"exporter": "oci"}),
    ("image-export", r"exporting to client directory", {"exporter": "local"}),
    ("image-export", r"exporting to client tarball", {"exporter": "tar"}),
    ("image-export", r"exporting to (?P<exporter>.+)", {}),
    ("resolve", r"resolve image config for (?P<ref>\S+)", {}),
    ("frontend", r"(?P<ref>docker-image://\S+)", {}),
    ("internal", r"load metadata for (?P<image>\S+)", {}),
]

# "[builder 3/9] RUN x", "[2/3] RUN x", "[linux/amd64 builder  3/7] ...", "[api build 1/7] ...", "[internal] ..."
_BRACKET = r"(?s)\[(?P<inner>[^\]]*)\] ?(?P<rest>.*)"
_STEP_NUMBER = r"(?P<index>\d+)/(?P<total>\d+)"
_PLATFORM = r"[a-z0-9]+/[a-z0-9_]+(?:/v\d+)?"
_INSTRUCTION = r"(?s)(?P<instruction>[A-Z]+)(?: (?P<args>.*))?"
_FROM_IMAGE = r"(?:--\S+ )*(?P<image>\S+)"

# Words that name an instruction but also start internal names; these brackets are not stages.
_SPECIAL_BRACKETS = {"internal": "internal", "auth": "auth"}


def _shape(rest: str) -> VertexName:
    for kind, pattern, fixed in NAME_SHAPES:
        m = compiled(pattern).match(rest)
        if m is not None:
            fields: dict[str, str | None] = dict(fixed)
            fields.update({k: v for k, v in m.groupdict().items() if v is not None})
            return VertexName(kind=kind, **fields)  # type: ignore[arg-type]
    return VertexName(kind="other")


@lru_cache(maxsize=4096)
def parse_vertex_name(name: str) -> VertexName:
    """Split a vertex name into its parts. Never fails: unknown shapes are ``kind="other"``."""
    m = compiled(_BRACKET).match(name)
    if m is None:
        return _shape(name)
    tokens = m["inner"].split()
    rest = m["rest"]
    platform = target = stage = None
    index = total = None
    special = None
    if tokens and compiled(_STEP_NUMBER).fullmatch(tokens[-1]):
        step = compiled(_STEP_NUMBER).fullmatch(tokens.pop())
        assert step is not None
        index, total = int(step["index"]), int(step["total"])
    if tokens and tokens[-1] in _SPECIAL_BRACKETS:
        special = _SPECIAL_BRACKETS[tokens.pop()]
    names = []
    for tok in tokens:
        if platform is None and compiled(_PLATFORM).fullmatch(tok):
            platform = tok
        else:
            names.append(tok)
    if index is not None:
        # "[stage i/n]", "[target stage i/n]"
        if len(names) >= 2:
            target, stage = names[0], " ".join(names[1:])
        elif names:
            stage = names[0]
        ins = compiled(_INSTRUCTION).match(rest)
        instruction = args = image = None
        if ins is not None:
            instruction, args = ins["instruction"], ins["args"]
            if instruction == "FROM" and args:
                fm = compiled(_FROM_IMAGE).match(args)
                image = fm["image"] if fm else None
        return VertexName(kind="step", target=target, platform=platform, stage=stage, index=index, total=total,
                          instruction=instruction, args=args, image=image)
    if names:
        target = names[0]
    shaped = _shape(rest)
    kind = special if special is not None and shaped.kind in ("other", "internal") else shaped.kind
    return VertexName(kind=kind, target=target, platform=platform, image=shaped.image, ref=shaped.ref,
                      backend=shaped.backend, exporter=shaped.exporter)

