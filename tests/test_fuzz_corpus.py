"""Replays what the fuzz harness (fuzz/) kept: every input under tests/fuzz_corpus/ must pass the harness's own
checks (tests/fuzz_oracle.py): no exception, spans that tile the input, the same events for any chunking, and a
summary that renders and redacts. Crashers found by `python3 fuzz/run.py` land there and stay as regressions;
inputs the fuzzer found interesting (new coverage) are kept beside them."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_oracle import check_input

CORPUS = Path(__file__).parent / "fuzz_corpus"
INPUTS = sorted(p for p in CORPUS.iterdir() if p.is_file() and p.name != "README.md")


def test_the_corpus_is_there() -> None:
    assert len(INPUTS) >= 10


@pytest.mark.parametrize("path", INPUTS, ids=[p.name for p in INPUTS])
def test_fuzz_input(path: Path) -> None:
    check_input(path.read_bytes())
