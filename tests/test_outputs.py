"""Step outputs (`--github-output`, `--dotenv`) of `buildlog summary` and `buildlog run`, on the real logs: read back
the way GitHub's runner and GitLab read them (tests/cilib.py), checked against the logs' labels and texts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cilib import REPLAY, parse_github_file, parse_gitlab_dotenv
from fixturelib import SHARED, label_of, shared_logs

from buildlog import summarize_path
from buildlog.outputs import KEYS, dotenv_name, format_dotenv, format_github_output
from buildlog.outputs import summary_outputs as outputs_of

S01 = SHARED / "s01-cold-plain.log"
S04 = SHARED / "s04-fail-exit1-plain.log"
S06 = SHARED / "s06-daemon-killed-plain.log"
S08 = SHARED / "s08-proxy-503-plain.log"


def buildlog(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
    return subprocess.run([sys.executable, "-m", "buildlog", *map(str, args)], capture_output=True, text=True,
                          env={**base, **(env or {})}, stdin=subprocess.DEVNULL, timeout=60, check=False)


def summary_outputs(log: Path, tmp_path: Path, *options: str) -> dict[str, str]:
    out = tmp_path / "github_output"
    proc = buildlog("summary", "--format", "json", *options, "--github-output", log, env={"GITHUB_OUTPUT": str(out)})
    assert proc.returncode == 0, proc.stderr
    return parse_github_file(out.read_text())


@pytest.mark.parametrize("log", shared_logs(), ids=lambda p: p.stem)
def test_summary_outputs_agree_with_the_label(log: Path) -> None:
    label = label_of(log)
    # in process (the command line's own path is tested below): what GitHub would read back
    out = parse_github_file(format_github_output(outputs_of(summarize_path(log))))
    assert list(out) == list(KEYS)
    assert out["outcome"] == label["outcome"]
    assert out["failure-class"] == ("" if label["failure_class"] == "none" else label["failure_class"])
    assert out["retryable"] == str(label["retryable"]).lower()
    assert (out["reason"] == "") == (label["outcome"] == "success")
    assert out["cache-state"] in ("cold", "warm", "partial", "none")
    cached, cacheable = int(out["cached-steps"]), int(out["cacheable-steps"])
    assert 0 <= cached <= cacheable
    if cacheable:
        assert abs(float(out["hit-ratio"]) - cached / cacheable) < 1e-4
    else:
        assert out["hit-ratio"] == ""
    # the digests the log shows being pushed, in whatever shape (plain, rawjson's JSON strings, tty: cut to the
    # terminal's width, so only a prefix)
    text = log.read_text(errors="replace")
    pushed = set(re.findall(r"pushing manifest for [^@\s\"]+@(sha256:[0-9a-f]{12,64})", text))
    if label.get("pushed") and label["outcome"] == "success":
        digest = out["image-digest"]
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest) and digest in text
        assert any(digest.startswith(p) for p in pushed)
    elif not pushed:
        assert out["image-digest"] == ""


def test_github_output_is_appended(tmp_path: Path) -> None:
    out = tmp_path / "github_output"
    out.write_text("earlier=from another step\n")
    proc = buildlog("summary", "--github-output", "--dotenv", tmp_path / "b.env", S04,
                    env={"GITHUB_OUTPUT": str(out)})
    assert proc.returncode == 0, proc.stderr
    values = parse_github_file(out.read_text())
    assert values["earlier"] == "from another step"
    assert values["failure-class"] == "build-step"
    # the text report still goes to standard output
    assert "build-step" in proc.stdout


def test_multi_line_reason_survives_both_formats(tmp_path: Path) -> None:
    # a user rule that quotes the final error's continuation lines (s08: the proxy's HTML body) in its reason
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nname = "proxy-html"\npattern = "<h1>.*</html>"\nclass = "registry-unavailable"\n'
                     'retryable = true\nreason = "The proxy said: {match}"\n')
    out = summary_outputs(S08, tmp_path, "--rules", str(rules), "--dotenv", str(tmp_path / "b.env"))
    assert out["reason"] == ("The proxy said: <h1>503 Service Unavailable</h1>\n"
                             "No server is available to handle this request.\n</body></html>")
    assert out["cache-state"] != "" and out["outcome"] == "failure"  # the keys after reason are intact
    dotenv = parse_gitlab_dotenv((tmp_path / "b.env").read_text())
    assert dotenv["BUILDLOG_REASON"] == ("The proxy said: <h1>503 Service Unavailable</h1> "
                                         "No server is available to handle this request. </body></html>")


def test_a_value_holding_a_delimiter_like_line_cannot_end_the_block() -> None:
    value = "first\nghadelimiter_0\nEOF\nlast"
    values = {"reason": value, "outcome": "failure"}
    assert parse_github_file(format_github_output(values)) == values


def test_dotenv_is_valid_for_gitlab_even_for_a_huge_reason() -> None:
    values = dict.fromkeys(KEYS, "x")
    values["reason"] = "word " * 5000
    parsed = parse_gitlab_dotenv(format_dotenv(values))  # fails on anything GitLab would refuse
    assert list(parsed) == [dotenv_name(k) for k in KEYS]
    assert parsed["BUILDLOG_REASON"].endswith("…")


def test_github_output_without_the_variable_is_an_error(tmp_path: Path) -> None:
    proc = buildlog("summary", "--github-output", S01)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "$GITHUB_OUTPUT is not set" in proc.stderr
    # for run, before the command is started
    marker = tmp_path / "ran"
    proc = buildlog("run", "--github-output", "--", "touch", marker)
    assert proc.returncode == 2 and not marker.exists()


def test_dotenv_in_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    proc = buildlog("run", "--dotenv", tmp_path / "no" / "b.env", "--", "touch", marker)
    assert proc.returncode == 2 and not marker.exists()
    assert buildlog("summary", "--dotenv", tmp_path / "no" / "b.env", S01).returncode == 2


def test_run_outputs_after_retries(tmp_path: Path) -> None:
    out, dotenv = tmp_path / "github_output", tmp_path / "b.env"
    command = [sys.executable, str(REPLAY), str(tmp_path / "state"), f"{S06}:1", f"{S01}:0"]
    proc = buildlog("run", "--backoff", "0", "--github-output", "--dotenv", dotenv, "--", *command,
                    env={"GITHUB_OUTPUT": str(out)})
    assert proc.returncode == 0, proc.stderr
    values = parse_github_file(out.read_text())
    assert values["outcome"] == "success" and values["attempts"] == "2" and values["failure-class"] == ""
    assert values["image-digest"] in S01.read_text()
    assert float(values["duration"]) > 0
    assert parse_gitlab_dotenv(dotenv.read_text())["BUILDLOG_ATTEMPTS"] == "2"


def test_run_outputs_when_transient_failures_use_up_the_attempts(tmp_path: Path) -> None:
    out = tmp_path / "github_output"
    command = [sys.executable, str(REPLAY), str(tmp_path / "state"), f"{S08}:1"]
    proc = buildlog("run", "--attempts", "2", "--backoff", "0", "--github-output", "--", *command,
                    env={"GITHUB_OUTPUT": str(out)})
    assert proc.returncode == 75
    values = parse_github_file(out.read_text())
    assert values["retryable"] == "true" and values["failure-class"] == "registry-unavailable"
    assert values["attempts"] == "2"


def test_run_outputs_when_the_command_cannot_start(tmp_path: Path) -> None:
    out = tmp_path / "github_output"
    proc = buildlog("run", "--github-output", "--", str(tmp_path / "no-such-command"),
                    env={"GITHUB_OUTPUT": str(out)})
    assert proc.returncode == 127
    values = parse_github_file(out.read_text())
    # no log at all: the run's outcome is its last attempt's log verdict (docs/run.md), which is none
    assert values["outcome"] == "incomplete" and values["retryable"] == "false"
    assert "command not found" in values["reason"]
    assert values["attempts"] == "1" and values["cache-state"] == "none"


def test_run_outputs_when_the_command_fails_after_a_good_build(tmp_path: Path) -> None:
    # `docker buildx build ... && ./smoke-test`: the build succeeded, the command exited 3
    out = tmp_path / "github_output"
    command = [sys.executable, str(REPLAY), str(tmp_path / "state"), f"{S01}:3"]
    proc = buildlog("run", "--github-output", "--", *command, env={"GITHUB_OUTPUT": str(out)})
    assert proc.returncode == 3
    values = parse_github_file(out.read_text())
    assert values["outcome"] == "failure" and values["failure-class"] == "" and values["retryable"] == "false"
    assert values["reason"] == "The command exited with code 3 although the build in its log succeeded."
    assert values["image-digest"] in S01.read_text()  # the build did push
