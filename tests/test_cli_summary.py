"""`buildlog summary` and `buildlog classify`: the JSON contract, the exit codes, the human formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from fixturelib import SHARED, label_of, shared_logs

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "summary.schema.json").read_text())


def buildlog(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "buildlog", *args], input=stdin, capture_output=True, timeout=60)


@pytest.mark.parametrize("log", shared_logs(), ids=lambda p: p.stem)
def test_json_output_validates_against_the_schema(log: Path) -> None:
    out = buildlog("summary", "--format", "json", str(log))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc["schema"] == "buildlog/summary/1"
    assert doc["attempts"] == len(doc["builds"]) >= 1


EXPECTED_EXIT = {"success": 0, "canceled": 1}


@pytest.mark.parametrize("log", shared_logs("*-plain.log"), ids=lambda p: p.stem)
def test_classify_exit_code(log: Path) -> None:
    label = label_of(log)
    out = buildlog("classify", str(log))
    if label["outcome"] == "failure":
        expected = 75 if label["retryable"] else 1
    else:
        expected = EXPECTED_EXIT[label["outcome"]]
    assert out.returncode == expected, out.stdout
    first = out.stdout.decode().splitlines()[0]
    assert first.startswith(label["failure_class"] if label["outcome"] != "success" else "success")


def test_classify_incomplete_from_stdin() -> None:
    data = (SHARED / "s04-fail-exit1-plain.log").read_bytes()[:2000]
    out = buildlog("classify", "-", stdin=data)
    assert out.returncode == 3
    assert out.stdout.startswith(b"incomplete")


def test_unreadable_input_is_exit_2_without_traceback(tmp_path: Path) -> None:
    for args in (["classify", str(tmp_path / "missing.log")], ["summary", str(tmp_path)],
                 ["summary", "--format", "yaml", str(SHARED / "s01-cold-plain.log")]):
        out = buildlog(*args)
        assert out.returncode == 2, args
        assert b"Traceback" not in out.stderr
        assert out.stderr.startswith(b"buildlog:") or b"Usage" in out.stderr


def test_bad_rules_file_is_exit_2(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\npattern = "x"\nclass = "flaky"\n')
    out = buildlog("classify", "--rules", str(rules), str(SHARED / "s06-daemon-killed-plain.log"))
    assert out.returncode == 2 and b"unknown class" in out.stderr


def test_user_rules_change_the_verdict(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\npattern = "exit code: 1$"\nclass = "timeout"\nretryable = true\nreason = "flaky"\n')
    out = buildlog("classify", "--rules", str(rules), str(SHARED / "s04-fail-exit1-plain.log"))
    assert out.returncode == 75 and out.stdout.startswith(b"timeout: flaky")


def test_markdown_and_text_lead_with_the_verdict() -> None:
    md = buildlog("summary", "--format", "markdown", str(SHARED / "s08-proxy-503-plain.log")).stdout.decode()
    assert md.startswith("### ❌ Build failed: `registry-unavailable` (retryable)")
    assert "| **Cache** |" in md and "<details>" in md
    text = buildlog("summary", str(SHARED / "s02-warm-plain.log")).stdout.decode()
    assert text.startswith("✔ SUCCESS")
    assert "\x1b[" not in text  # not a terminal: no colour
    assert "warm" in text.splitlines()[1]
    colored = buildlog("summary", "--color", str(SHARED / "s02-warm-plain.log")).stdout.decode()
    assert "\x1b[32m" in colored


def test_import_stays_light() -> None:
    code = ("import sys, buildlog; heavy = [m for m in sys.modules if m.split('.')[0] in ('typer', 'rich', 'click')];"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_input_format_option() -> None:
    rawjson = str(SHARED / "s04-fail-exit1-rawjson.log")
    out = buildlog("classify", "--input-format", "rawjson", rawjson)
    assert out.returncode == 1 and out.stdout.startswith(b"build-step:")
    out = buildlog("summary", "--input-format", "yaml", rawjson)
    assert out.returncode == 2 and b"unknown --input-format" in out.stderr
    doc = json.loads(buildlog("summary", "-f", "json", rawjson).stdout)
    assert doc["format"] == "rawjson"
    assert doc["cache"]["first_miss"]["name"] == "[builder  9/10] COPY tests/ ./tests/"
