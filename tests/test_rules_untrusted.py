"""A rules file is user input: every mistake in it is exit 2 and one line naming the file, the rule and what is
wrong (never a traceback), and a pattern that backtracks forever is stopped by a timeout, reported once with its
rule's name and line, and skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fixturelib import SHARED

from buildlog import summarize_bytes
from buildlog.rules import RulesError, load_rules

ROOT = Path(__file__).resolve().parents[1]
S04 = SHARED / "s04-fail-exit1-plain.log"

pytestmark = pytest.mark.timeout(120)

# (the file, what the one line must say besides the file's name)
BAD_FILES = [
    ("not toml [", ["not valid TOML"]),
    ('rule = "x"', ["expected [[rule]] tables"]),
    ('[[rules]]\npattern = "x"\nclass = "network"', ["unknown table or key 'rules'"]),
    ('[[rule]]\nname = "proxy"\npattern = "x"\nclass = "nope"', ["rule 1 ('proxy')", "unknown class 'nope'"]),
    ('[[rule]]\nname = "proxy"\nclass = "network"', ["rule 1 ('proxy')", "missing key 'pattern'"]),
    ('[[rule]]\nname = "ok"\npattern = "a"\nclass = "network"\n[[rule]]\nname = "paren"\npattern = "("\n'
     'class = "network"', ["rule 2 ('paren')", "bad pattern"]),
    ('[[rule]]\nname = "typo"\npattern = "x"\nclass = "network"\nretryabel = true', ["rule 1 ('typo')",
                                                                                   "unknown key 'retryabel'"]),
    ('[[rule]]\npattern = "x"\nclass = "network"\nretryable = "yes"', ["rule 1", "retryable must be true or false"]),
    ('[[rule]]\npattern = "x"\nclass = "network"\nscope = "everywhere"', ["rule 1", "scope must be one of"]),
    ('[[rule]]\npattern = 3\nclass = "network"', ["rule 1", "pattern must be a string"]),
    ('[[rule]]\npattern = "x"\nclass = "network"\nreason = "bad {field}"', ["rule 1", "reason may use only"]),
    ('[[redact]]\nname = "acme"\npattern = "acme_[a-z"', ["redact 1 ('acme')", "bad pattern"]),
    ('[[redact]]\nname = "acme"\npattern = "acme_x"\nkeep = -1', ["redact 1 ('acme')", "keep must be"]),
    ('[[redact]]\nname = "acme"\npattern = "acme_x"\nreplacement = "x"', ["redact 1 ('acme')",
                                                                          "unknown key 'replacement'"]),
]


CASES = [(content, says, "summary") for content, says in BAD_FILES]
CASES += [(*BAD_FILES[3], "classify"), (*BAD_FILES[11], "events")]


@pytest.mark.parametrize(("content", "says", "command"), CASES, ids=[f"{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_a_bad_rules_file_is_one_line_and_exit_2(tmp_path: Path, content: str, says: list[str],
                                                 command: str) -> None:
    rules = tmp_path / "my-rules.toml"
    rules.write_text(content)
    args = [command, "--rules", str(rules), str(S04)] + (["--redact"] if command == "events" else [])
    r = subprocess.run([sys.executable, "-m", "buildlog", *args], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), stdin=subprocess.DEVNULL, check=False)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert str(rules) in lines[0]
    for word in says:
        assert word in lines[0]


def test_run_rejects_a_bad_rules_file_before_running(tmp_path: Path) -> None:
    rules = tmp_path / "r.toml"
    rules.write_text('[[rule]]\npattern = "x"\nclass = "nope"')
    marker = tmp_path / "ran"
    r = subprocess.run([sys.executable, "-m", "buildlog", "run", "--rules", str(rules), "--", "touch", str(marker)],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                       stdin=subprocess.DEVNULL, check=False)
    assert r.returncode == 2 and not marker.exists()
    assert len(r.stderr.splitlines()) == 1 and "unknown class 'nope'" in r.stderr


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        load_rules([tmp_path / "missing.toml"])
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[[rule]]\npattern = "caf\xe9"\nclass = "network"\n')
    with pytest.raises(RulesError, match="not UTF-8"):
        load_rules([latin])


def test_a_catastrophic_pattern_times_out_and_is_skipped(tmp_path: Path) -> None:
    # (a|aa)+$ backtracks exponentially on a run of a's followed by something else
    rules = tmp_path / "slow.toml"
    rules.write_text('[[rule]]\nname = "slow-one"\npattern = "(a|aa)+$"\nclass = "network"\nretryable = true\n')
    log = S04.read_bytes()
    marker = b'did not complete successfully: exit code: 1\n'
    tampered = log.replace(b"ERROR: failed to build: failed to solve: process",
                           b"ERROR: failed to build: " + b"a" * 40 + b"! failed to solve: process")
    assert tampered != log and marker in tampered
    line = next(i for i, text in enumerate(tampered.split(b"\n"), 1) if b"a" * 40 in text)
    summary = summarize_bytes(tampered, load_rules([rules]))
    assert summary.failure is not None
    assert summary.failure.failure_class == "build-step"  # the built-in rules still decided
    assert summary.last is not None
    hints = [h for h in summary.last.hints if "slow-one" in h]
    assert hints == [f"The user rule 'slow-one' took too long on line {line} (its pattern backtracks) and was skipped."]
