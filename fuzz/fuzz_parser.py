"""Coverage-guided fuzzing of the parser, the summary, the renderers and the redaction (atheris / libFuzzer).

    python3 fuzz/fuzz_parser.py [libFuzzer flags] CORPUS_DIR [SEED_DIR...]

Usually started through ``fuzz/run.py``, which prepares the seeds (every shared log) and keeps crashers. The
checks are ``tests/fuzz_oracle.py``'s, the same ones the test suite replays on ``tests/fuzz_corpus/``.

A finding does not stop the run: the input is written to ``tests/fuzz_corpus/`` (named after the kind of finding
and the input's hash), reported once per distinct place in the code, and fuzzing goes on.
"""

from __future__ import annotations

import hashlib
import os
import sys
import traceback
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
CORPUS_OUT = Path(os.environ.get("BUILDLOG_FUZZ_CRASHERS", ROOT / "tests" / "fuzz_corpus"))

with atheris.instrument_imports(include=["buildlog"]):
    import buildlog
    import buildlog.redact
    import buildlog.render  # noqa: F401

from fuzz_oracle import check_input  # noqa: E402

_seen: set[str] = set()


def _signature(exc: BaseException) -> str:
    """Where the finding happened: its type and the innermost frame inside buildlog or the oracle."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "buildlog" in f.filename or "invariants" in f.filename]
    where = ours[-1] if ours else (frames[-1] if frames else None)
    place = f"{Path(where.filename).name}:{where.lineno}" if where else "?"
    message = str(exc).split(":")[0][:60] if isinstance(exc, AssertionError) else ""
    return f"{type(exc).__name__} {place} {message}"


def test_one_input(data: bytes) -> None:
    try:
        check_input(data)
    except Exception as exc:  # every exception is a finding; keep it and go on
        signature = _signature(exc)
        if signature in _seen:
            return
        _seen.add(signature)
        kind = "invariant" if isinstance(exc, AssertionError) else "crash"
        CORPUS_OUT.mkdir(parents=True, exist_ok=True)
        path = CORPUS_OUT / f"{kind}-{hashlib.sha1(data).hexdigest()[:16]}.log"
        path.write_bytes(data)
        print(f"\nFINDING {signature}\n  kept as {path}\n  {type(exc).__name__}: {str(exc)[:300]}",
              file=sys.stderr, flush=True)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
