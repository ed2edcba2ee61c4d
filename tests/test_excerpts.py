"""Logs as people have them: downloaded with the GitHub CLI, cut to their last lines, pasted into an issue, printed
by a tool that wraps buildx.

Where a family can be made from a real log it is made here, in code, from the real logs of
``tests/fixtures/shared`` (buildx v0.36) and ``tests/fixtures/live`` (Docker 20.10), and must give the verdict the
whole log gives (or, where a fragment cannot tell, the documented lesser one). The rest are the hand-written logs of
``tests/fixtures/excerpts`` (``*-synthetic.log``; ``f09-docker20-*`` are real Docker 20.10 output), each with a
label set from what the log says, not from what buildlog answers.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fixturelib import FIXTURES, SHARED

from buildlog import events as ev
from buildlog import parse_bytes, summarize_bytes
from buildlog.summary import LogSummary
from buildlog.verdict import exit_code_for

LIVE = FIXTURES / "live"
EXCERPTS = FIXTURES / "excerpts"
REAL_LOGS = sorted(SHARED.glob("*.log")) + sorted(LIVE.glob("docker20-*.log"))
PLAIN_LOGS = sorted(SHARED.glob("*-plain.log")) + [p for p in sorted(LIVE.glob("docker20-*.log"))
                                                    if "-tty-" not in p.name]
TTY_LOGS = sorted(SHARED.glob("*-tty.log")) + sorted(LIVE.glob("docker20-tty-*.log"))
EXIT_CODES = {"success": 0, "failure": 1, "canceled": 1, "incomplete": 3}


def verdict(s: LogSummary) -> dict[str, Any]:
    """What a CI script acts on, and the facts around it."""
    j = s.to_json()
    failure = j["failure"] or {}
    return {"outcome": j["outcome"], "class": failure.get("class"), "retryable": j["retryable"],
            "exit_code": failure.get("exit_code"), "step": failure.get("step"), "cached": j["steps"]["cached"],
            "cache": j["cache"]["state"], "imports": j["cache"]["imports"],
            "exports": [e["completed"] for e in j["cache"]["exports"]], "pushed": j["image"]["pushed"]}


def decision(s: LogSummary) -> tuple[str, str | None, bool]:
    return s.outcome, s.failure.failure_class if s.failure else None, s.retryable


def lines_of(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def first_final_line(data: bytes) -> int:
    """The line number of the log's final error (the first BuildFailed). `docker push` prints its error bare: it is
    one only after the push's first line, which this gives for it."""
    events = parse_bytes(data)
    failed = next(e for e in events if isinstance(e, ev.BuildFailed))
    if failed.style == "docker-push":
        return max(e.line for e in events if isinstance(e, ev.PushStarted) and e.line < failed.line)
    return failed.line


# ---------------------------------------------------------------------------------------------------------------
# The hand-written logs and the real Docker 20.10 ones beside them, against their labels


FIXTURE_LOGS = sorted(EXCERPTS.glob("*.log"))


@pytest.mark.parametrize("path", FIXTURE_LOGS, ids=lambda p: p.stem)
def test_fixture_verdict(path: Path) -> None:
    label = json.loads(path.with_suffix(".json").read_text())
    s = summarize_bytes(path.read_bytes())
    assert decision(s) == (label["outcome"], None if label["failure_class"] == "none" else label["failure_class"],
                           label["retryable"])
    if s.failure is not None:
        assert s.failure.exit_code == label["exit_code"]
        if "step" in label:
            assert s.failure.step == label["step"]
    if "warnings" in label:
        assert s.last is not None and len(s.last.warnings) == label["warnings"]
    expected_exit = 75 if label["retryable"] else EXIT_CODES[label["outcome"]]
    assert exit_code_for(s) == expected_exit


def test_every_family_has_variants() -> None:
    families = [p.name[:3] for p in FIXTURE_LOGS]
    for family in ("f02", "f03", "f05", "f06", "f07", "f08", "f09", "f10"):
        assert families.count(family) >= 2, family


@pytest.mark.parametrize(("name", "code"), [
    ("f05-last-frame-finished-synthetic", 0),  # success
    ("f02-compose-target-synthetic", 1),  # a failure a retry does not fix
    ("f08-gha-503-vertex-synthetic", 75),  # retryable
    ("f09-docker20-no-daemon-unix", 75),
    ("f03-mid-build-cut-synthetic", 3),  # no verdict line at all
    ("f10-check-warnings-synthetic", 1),
])
def test_classify_exit_codes(name: str, code: int) -> None:
    run = subprocess.run([sys.executable, "-m", "buildlog", "classify", str(EXCERPTS / f"{name}.log")],
                         capture_output=True, text=True)
    assert run.returncode == code, run.stdout + run.stderr


# ---------------------------------------------------------------------------------------------------------------
# 1. GitHub CLI downloads: "JOB<TAB>STEP<TAB>" (or "JOB / STEP ") before the raw line and its timestamp


def gh_log(data: bytes, sep: bytes = b"\t", bom: bool = True) -> bytes:
    """``gh run view --log`` of a job whose step printed ``data``: GitHub's raw log lines (a timestamp, and a
    byte-order mark before the step's first one) behind the job and step names."""
    prefix = b"build" + sep + b"Build and push" + sep if sep == b"\t" else b"build / Build and push "
    out = []
    for i, line in enumerate(lines_of(data)):
        stamp = b"2024-03-01T12:%02d:%02d.%07dZ " % (i // 60 % 60, i % 60, i)
        out.append(prefix + (b"\xef\xbb\xbf" if bom and i == 0 else b"") + stamp + line)
    return b"".join(out)


def github_timestamps(data: bytes) -> bytes:
    return b"".join(b"2024-03-01T12:00:%02d.1234567Z " % (i % 60) + line for i, line in enumerate(lines_of(data)))


DOWNLOADS: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("gh-run-view-log", gh_log),
    ("viewer-job-slash-step", lambda d: gh_log(d, b" / ", bom=False)),
    ("github-timestamps", github_timestamps),
]


@pytest.mark.parametrize("download", DOWNLOADS, ids=[d[0] for d in DOWNLOADS])
@pytest.mark.parametrize("path", REAL_LOGS, ids=lambda p: p.name)
def test_downloaded_log_gives_the_same_verdict(path: Path, download: tuple[str, Callable[[bytes], bytes]]) -> None:
    data = path.read_bytes()
    assert verdict(summarize_bytes(download[1](data))) == verdict(summarize_bytes(data))


def test_gh_prefix_is_kept_on_the_event() -> None:
    data = gh_log((SHARED / "s04-fail-exit1-plain.log").read_bytes())
    events = parse_bytes(data)
    failed = next(e for e in events if isinstance(e, ev.BuildFailed))
    assert failed.ci is not None
    assert (failed.ci.job, failed.ci.section) == ("build", "Build and push")
    assert failed.ci.timestamp is not None and failed.ci.timestamp.startswith("2024-03-01T12:")
    assert all(e.ci is not None and e.ci.job == "build" for e in events if e.raw)


def test_gh_failed_steps_only() -> None:
    """``--log-failed`` prints only the failed step, with the job's setup steps' lines gone; the same verdict."""
    data = (LIVE / "docker20-fail-exit2.log").read_bytes()
    setup = b"build\tSet up job\t2024-03-01T11:59:58.0000000Z Current runner version: '2.317.0'\n"
    assert verdict(summarize_bytes(setup + gh_log(data))) == verdict(summarize_bytes(data))


def test_tabs_and_slashes_of_a_line_are_no_prefix() -> None:
    """A line's own tabs or " / " are not a download prefix: one needs the timestamp after it."""
    text, ci = ev_clean("col1\tcol2\tcol3")
    assert (text, ci) == ("col1\tcol2\tcol3", None)
    stamped = "2024-03-01T12:00:00.1Z #7 0.5 GET / 2024-03-01T12:00:00Z 200"
    text, ci = ev_clean(stamped)
    assert text == "#7 0.5 GET / 2024-03-01T12:00:00Z 200" and ci is not None and ci.job is None


def ev_clean(line: str) -> tuple[str, ev.CIPrefix | None]:
    from buildlog.cleaning import clean_line

    return clean_line(line)


# ---------------------------------------------------------------------------------------------------------------
# 2. Wrappers: a tool's own prefix before the final error


WRAPPED_LOGS = ["s04-fail-exit1-plain.log", "s05-copy-missing-plain.log", "s06-daemon-killed-plain.log",
                "s14-auth-no-credentials-plain.log", "docker20-fail-exit2.log", "docker20-copy-missing.log",
                "docker20-killed-137.log", "docker20-dockerfile-syntax.log"]
WRAPPERS = ["target api: ", "build failed: ", "Error: ", "error: ", "##[error]buildx failed with: ",
            "2024-03-01T12:00:00.1234567Z ##[error]", "[ERROR] docker build: "]


def _real(name: str) -> Path:
    return (LIVE if name.startswith("docker20-") else SHARED) / name


@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize("name", WRAPPED_LOGS)
def test_wrapped_final_error(name: str, wrapper: str) -> None:
    data = _real(name).read_bytes()
    lines = lines_of(data)
    n = first_final_line(data)
    final = lines[n - 1].decode().removeprefix("ERROR: ")
    wrapped = (wrapper + final).encode()
    full = summarize_bytes(data)
    # in the whole log, in place of the client's own line
    assert decision(summarize_bytes(b"".join([*lines[: n - 1], wrapped, *lines[n:]]))) == decision(full)
    # alone: an excerpt that kept only the wrapper's line
    assert decision(summarize_bytes(wrapped)) == decision(full)


TOOL_FAILED = [b"make: *** [Makefile:12: image] Error 1\n", b"make[1]: *** [build] Error 2\n",
               b"Error: Command failed with status 1: docker buildx build --tag app:1 .\n"]


@pytest.mark.parametrize("tail", TOOL_FAILED, ids=["make", "make-sub", "execa"])
@pytest.mark.parametrize("path", PLAIN_LOGS, ids=lambda p: p.name)
def test_tool_failed_line_is_never_over_the_build_verdict(path: Path, tail: bytes) -> None:
    data = path.read_bytes()
    full = summarize_bytes(data)
    after = summarize_bytes(data + tail)
    if full.outcome == "incomplete":
        # nothing else decides: the tool's line says the command failed
        assert after.outcome == "failure" and after.failure is not None
    else:
        assert decision(after) == decision(full)


def test_tool_failed_line_before_the_final_error() -> None:
    data = (SHARED / "s04-fail-exit1-plain.log").read_bytes()
    lines = lines_of(data)
    n = first_final_line(data)
    data2 = b"".join([*lines[: n - 1], TOOL_FAILED[0], *lines[n - 1:]])
    assert decision(summarize_bytes(data2)) == ("failure", "build-step", False)


def test_family_in_a_warning_or_in_step_output_is_no_verdict() -> None:
    data = (SHARED / "s01-cold-plain.log").read_bytes()
    lines = lines_of(data)
    i, m = next((i, m) for i, line in enumerate(lines) if (m := re.match(rb"#(\d+) \d+\.\d+ ", line)))
    step_line = b"#" + m.group(1) + b" 0.999 build failed: failed to solve: a test fixture says so\n"
    tampered = b"".join([*lines[: i + 1], step_line, *lines[i + 1:]])
    tampered += b"WARNING: failed to solve: the cache was not imported\n"
    tampered += b'time="2024-03-01T12:00:00Z" level=debug msg="failed to solve: retrying"\n'
    tampered += b"[INFO] build failed: failed to solve: an earlier attempt\n"
    assert summarize_bytes(tampered).outcome == "success"


# ---------------------------------------------------------------------------------------------------------------
# 3. Excerpts of real failed logs

FAILED = [p for p in PLAIN_LOGS if summarize_bytes(p.read_bytes()).outcome in ("failure", "canceled")]
# What the final line alone cannot tell: the cache export that failed is named only by the error block and the
# vertex; "No space left on device" is only in the step's output.
FINAL_LINE_ALONE = {"s07-cache-registry-down-no-ignore-plain.log": "network",
                    "s15-disk-full-run-plain.log": "build-step"}


@pytest.mark.parametrize("path", FAILED, ids=lambda p: p.name)
def test_excerpt_from_the_final_line(path: Path) -> None:
    data = path.read_bytes()
    full = summarize_bytes(data)
    excerpt = b"".join(lines_of(data)[first_final_line(data) - 1:])
    outcome, cls, retryable = decision(summarize_bytes(excerpt))
    assert outcome == full.outcome
    assert cls == FINAL_LINE_ALONE.get(path.name, decision(full)[1])
    assert retryable == full.retryable


@pytest.mark.parametrize("path", FAILED, ids=lambda p: p.name)
def test_excerpt_from_the_error_block(path: Path) -> None:
    """The last lines from the error block on (or from inside it: its rule, or its header, cut off)."""
    data = path.read_bytes()
    lines = lines_of(data)
    n = first_final_line(data)
    opening = [i for i in range(n - 1) if lines[i].rstrip(b"\r\n") == b"------"]
    if not opening:
        pytest.skip("this client prints no error block")
    start = opening[-2] if len(opening) >= 2 else opening[-1]
    full = summarize_bytes(data)
    # from the block's rule, from its header, from its output (when it has any: Docker 20.10's blocks are empty)
    cuts = [start, start + 1] + ([start + 2] if lines[start + 2].rstrip(b"\r\n") != b"------" else [])
    for cut in cuts:
        got = summarize_bytes(b"".join(lines[cut:]))
        assert decision(got) == decision(full), cut
        if cut <= start + 1:
            assert got.failure is not None and full.failure is not None
            assert got.failure.step == full.failure.step


@pytest.mark.parametrize("path", FAILED, ids=lambda p: p.name)
def test_excerpt_from_a_vertex_whose_header_was_cut(path: Path) -> None:
    data = path.read_bytes()
    full = summarize_bytes(data)
    assert full.failure is not None
    header = [e.line for e in parse_bytes(data) if isinstance(e, ev.VertexHeader) and e.name == full.failure.step]
    if not header:
        pytest.skip("the failure names no vertex")
    lines = lines_of(data)
    for start in (header[0], header[0] + 1):  # from its first line after the header, and from its second
        got = summarize_bytes(b"".join(lines[start:]))
        assert decision(got) == decision(full), lines[start]
        assert got.failure is not None
        if "legacy" not in path.name:  # the legacy builder names a step only in its "Step N/M :" line
            assert got.failure.step == full.failure.step


@pytest.mark.parametrize("path", [p for p in PLAIN_LOGS if p not in FAILED], ids=lambda p: p.name)
def test_excerpt_without_a_verdict_line_is_incomplete(path: Path) -> None:
    """Cut before its end, a successful build has no verdict line: never a success, never a failure."""
    lines = lines_of(path.read_bytes())
    got = summarize_bytes(b"".join(lines[: len(lines) // 2]))
    assert got.outcome == "incomplete" and not got.retryable


# ---------------------------------------------------------------------------------------------------------------
# 4. Pastes


def _text(data: bytes) -> list[str]:
    return data.decode("utf-8", "surrogateescape").splitlines(keepends=True)


def quoted(data: bytes) -> bytes:
    return "".join("> " + line if line.strip() else ">\n" for line in _text(data)).encode("utf-8", "surrogateescape")


def indented(indent: str) -> Callable[[bytes], bytes]:
    return lambda data: "".join(indent + line for line in _text(data)).encode("utf-8", "surrogateescape")


def doubled_blanks(data: bytes) -> bytes:
    return "".join(line + ("\n" if not line.strip() else "") for line in _text(data)).encode(
        "utf-8", "surrogateescape")


PASTES: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("quoted", quoted),
    ("indented-4", indented("    ")),
    ("indented-tab", indented("\t")),
    ("doubled-blank-lines", doubled_blanks),
    ("powershell-prompt", lambda d: b"PS C:\\src\\app> " + d),
    ("cmd-prompt-and-command", lambda d: b"C:\\src\\app>docker build -t app ." + d),
    ("quoted-and-doubled", lambda d: quoted(doubled_blanks(d))),
]


@pytest.mark.parametrize("paste", PASTES, ids=[p[0] for p in PASTES])
@pytest.mark.parametrize("path", REAL_LOGS, ids=lambda p: p.name)
def test_paste_gives_the_same_verdict(path: Path, paste: tuple[str, Callable[[bytes], bytes]]) -> None:
    data = path.read_bytes()
    assert verdict(summarize_bytes(paste[1](data))) == verdict(summarize_bytes(data))


@pytest.mark.parametrize("paste", PASTES[:3], ids=[p[0] for p in PASTES[:3]])
@pytest.mark.parametrize("path", FAILED, ids=lambda p: p.name)
def test_pasted_excerpt(path: Path, paste: tuple[str, Callable[[bytes], bytes]]) -> None:
    """The usual paste in an issue: the last lines, from the error block on, quoted or indented."""
    data = path.read_bytes()
    lines = lines_of(data)
    n = first_final_line(data)
    opening = [i for i in range(n - 1) if lines[i].rstrip(b"\r\n") == b"------"]
    excerpt = b"".join(lines[opening[-2] if len(opening) >= 2 else max(n - 2, 0):])
    assert decision(summarize_bytes(paste[1](excerpt))) == decision(summarize_bytes(excerpt))


def hard_wrapped(width: int) -> Callable[[bytes], bytes]:
    def wrap(data: bytes) -> bytes:
        out = []
        for line in _text(data):
            body = line.rstrip("\r\n")
            out += [body[i:i + width] + "\n" for i in range(0, max(len(body), 1), width)]
        return "".join(out).encode("utf-8", "surrogateescape")

    return wrap


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("path", [p for p in PLAIN_LOGS if "legacy" not in p.name], ids=lambda p: p.name)
def test_hard_wrapped_paste_keeps_the_verdict(path: Path, width: int) -> None:
    """A web view wrapped every long line: names and step output are cut, the verdict holds."""
    data = path.read_bytes()
    assert decision(summarize_bytes(hard_wrapped(width)(data))) == decision(summarize_bytes(data))


# ---------------------------------------------------------------------------------------------------------------
# 5. tty excerpts: the first or the last frame

FRAME = b"[+] Building "


def last_frame(data: bytes) -> bytes:
    return data[data.rindex(FRAME):]


def first_frame(data: bytes) -> bytes:
    return data[: data.index(FRAME, data.index(FRAME) + 1)]


def without_final_line(data: bytes) -> bytes:
    lines = lines_of(data)
    while not lines[-1].strip():
        lines.pop()
    return b"".join(lines[:-1])


@pytest.mark.parametrize("path", TTY_LOGS, ids=lambda p: p.name)
def test_tty_last_frame(path: Path) -> None:
    data = path.read_bytes()
    assert decision(summarize_bytes(last_frame(data))) == decision(summarize_bytes(data))


@pytest.mark.parametrize("path", TTY_LOGS, ids=lambda p: p.name)
def test_tty_first_frame_is_incomplete(path: Path) -> None:
    assert summarize_bytes(first_frame(path.read_bytes())).outcome == "incomplete"


@pytest.mark.parametrize("path", TTY_LOGS, ids=lambda p: p.name)
def test_tty_without_the_final_line(path: Path) -> None:
    """A FINISHED frame without error is a success; an ERROR row with its error block a failure; a frame that
    stopped at the frontend (a Dockerfile error has no row) cannot be told without the final line."""
    data = path.read_bytes()
    full = summarize_bytes(data)
    for cut in (without_final_line(data), without_final_line(last_frame(data))):
        got = summarize_bytes(cut)
        if "dockerfile-syntax" in path.name:
            assert got.outcome == "incomplete"
        else:
            assert decision(got) == decision(full)
            assert (got.failure.step if got.failure else None) == (full.failure.step if full.failure else None)


def test_tty_error_row_without_its_block_is_incomplete() -> None:
    data = (EXCERPTS / "f05-error-row-killed-synthetic.log").read_bytes()
    got = summarize_bytes(data[: data.index(b"------")])
    assert got.outcome == "incomplete" and not got.retryable


def test_tty_finished_frame_with_an_error_row_is_no_success() -> None:
    data = (EXCERPTS / "f05-error-row-killed-synthetic.log").read_bytes().replace(
        b"(11/14)", b"(11/14) FINISHED")
    assert summarize_bytes(data[: data.index(b"------")]).outcome == "incomplete"


# ---------------------------------------------------------------------------------------------------------------
# 6. The legacy builder under a CI runner, `docker push` after it

GITLAB_END = b"Cleaning up project directory and file based variables\n"


def _push_part() -> bytes:
    data = (LIVE / "docker20-push.log").read_bytes()
    return data[data.index(b"The push refers to repository"):]


@pytest.mark.parametrize("runner", [GITLAB_END + b"Job succeeded\n",
                                    GITLAB_END + b"ERROR: Job failed: exit code 1\n",
                                    b"[Pipeline] }\n[Pipeline] // stage\n"], ids=["succeeded", "failed", "jenkins"])
def test_legacy_build_and_push_under_a_runner(runner: bytes) -> None:
    """The real legacy build, the real `docker push` output, the runner's lines: the runner never decides."""
    data = (LIVE / "docker20-legacy-success.log").read_bytes() + b"$ docker push app\n" + _push_part() + runner
    s = summarize_bytes(data)
    assert s.outcome == "success"
    assert s.last is not None and [p["digest"] for p in s.last.pushed] == [
        re.search(rb"digest: (sha256:[0-9a-f]{64})", _push_part()).group(1).decode()]  # type: ignore[union-attr]
    # an excerpt: the push and the runner's lines only
    assert summarize_bytes(_push_part() + runner).outcome == "success"


@pytest.mark.parametrize("runner", [GITLAB_END + b"Job succeeded\n", b"##[error]Process completed with exit code 0.\n"])
def test_runner_lines_never_decide_a_failure_either(runner: bytes) -> None:
    data = (LIVE / "docker20-legacy-failure.log").read_bytes()
    assert decision(summarize_bytes(data + runner)) == decision(summarize_bytes(data)) == (
        "failure", "build-step", False)


def test_runner_line_is_not_docker_push_error() -> None:
    """Inside `docker push` output any other line is its error, but not a runner's line."""
    data = _push_part()
    cut = data[: data.index(b"digest:")]
    cut = cut[: cut.rindex(b"\n") + 1]
    s = summarize_bytes(cut + b"ERROR: Job failed: exit code 1\n")
    assert s.outcome == "incomplete"


# ---------------------------------------------------------------------------------------------------------------
# 7-10. Where an error block says it failed; cache services; builders that cannot be reached; --check.
# The labelled fixtures above hold two or more variants of each; these pin the decisions behind them.


@pytest.mark.parametrize("path", FAILED, ids=lambda p: p.name)
def test_error_block_of_a_failed_step_is_a_verdict(path: Path) -> None:
    """With the final line cut off: a failure when the log holds the error block of the failed vertex (the client
    prints it only once the build failed), unless that vertex is a cache export (with ignore-error=true its block
    stands in a successful build); else no verdict."""
    data = path.read_bytes()
    full = summarize_bytes(data)
    assert full.failure is not None
    lines = lines_of(data)
    cut = b"".join(lines[: first_final_line(data) - 1])
    block = full.failure.step is not None and f" > {full.failure.step}:".encode() in cut
    if block and full.failure.failure_class != "cache-export":
        assert decision(summarize_bytes(cut)) == decision(full)
    elif block or b"The push refers to repository" in data:
        # cannot be told: the export's error and block, or the image built before `docker push`, are what a
        # successful build with ignore-error=true (s07-cache-registry-down-ignore-error-plain.log), or a build
        # that is pushed next, shows too
        assert summarize_bytes(cut).outcome == "success"
    else:
        assert summarize_bytes(cut).outcome == "incomplete"


def test_error_block_verdict_keeps_the_retry_verdict() -> None:
    """synthetic: the builder never booted and the client's last line is lost; unlike a log cut mid-build (whose
    likely failure is never retryable), the block says the build is over: retry."""
    data = (b"#1 [internal] booting buildkit\n#1 ERROR: context deadline exceeded\n"
            b"------\n > [internal] booting buildkit:\n------\n")
    assert decision(summarize_bytes(data)) == ("failure", "builder-connection-lost", True)
    cut = summarize_bytes(data[: data.index(b"------")])
    assert cut.outcome == "incomplete" and not cut.retryable


def test_cache_import_block_alone_is_no_verdict() -> None:
    """The block a cache import not found leaves at the end of a successful build (real, Docker 20.10)."""
    data = (LIVE / "docker20-cache-from-missing.log").read_bytes()
    start = data.index(b"------\n > importing cache manifest")
    assert summarize_bytes(data[start:]).outcome == "incomplete"
    assert summarize_bytes(data).outcome == "success"


def test_import_block_does_not_override_a_step_failure() -> None:
    """synthetic: an excerpt with the cold import's block and a RUN step's final error: the step failed."""
    data = (b"------\n > importing cache manifest from registry.example.com/app:buildcache:\n------\n"
            b'ERROR: failed to solve: process "/bin/sh -c make" did not complete successfully: exit code: 2\n')
    assert decision(summarize_bytes(data)) == ("failure", "build-step", False)
    network = data.replace(b'process "/bin/sh -c make" did not complete successfully: exit code: 2',
                           b"failed to configure registry cache importer: dial tcp 10.0.0.1:443: i/o timeout")
    assert decision(summarize_bytes(network)) == ("failure", "cache-export", True)


def test_export_block_decides_whatever_the_message() -> None:
    """The real s07 failure, cut to its block and final line, with the cause replaced by other families."""
    data = (SHARED / "s07-cache-registry-down-no-ignore-plain.log").read_bytes()
    lines = lines_of(data)
    n = first_final_line(data)
    block = b"".join(lines[n - 4: n - 1])
    assert block.startswith(b"------\n > exporting cache to registry:")
    for cause, retryable in [(b"400 Bad Request", False), (b"not found", False),
                             (b"context deadline exceeded", True), (b"Cache service responded with 503", True)]:
        got = summarize_bytes(block + b"ERROR: failed to build: failed to solve: " + cause + b"\n")
        assert decision(got) == ("failure", "cache-export", retryable), cause


def test_unreachable_builder_is_not_a_timeout() -> None:
    """The same deadline message is a timeout in a step and a lost builder in the builder's boot."""
    deadline = b"ERROR: failed to solve: DeadlineExceeded: context deadline exceeded\n"
    assert decision(summarize_bytes(deadline)) == ("failure", "timeout", True)
    booting = b"------\n > [internal] booting buildkit:\n------\n"
    assert decision(summarize_bytes(booting + deadline)) == ("failure", "builder-connection-lost", True)


def test_user_rule_of_vertex_scope() -> None:
    from buildlog import load_rules, summarize_events
    from buildlog.rules import rules_from_toml

    rules = rules_from_toml('[[rule]]\npattern = "^\\\\[internal\\\\] load metadata"\nclass = "registry-unavailable"\n'
                            'retryable = true\nscope = "vertex"\n')
    assert rules[0].scope == "vertex"
    data = (b"#3 [internal] load metadata for docker.io/library/alpine:3.20\n#3 ERROR: unexpected end of stream\n"
            b"------\n > [internal] load metadata for docker.io/library/alpine:3.20:\n------\n"
            b"ERROR: failed to solve: unexpected end of stream\n")
    assert summarize_bytes(data).failure is not None
    s = summarize_events(parse_bytes(data), load_rules([]).with_rules(rules))
    assert decision(s) == ("failure", "registry-unavailable", True)


def test_check_run_that_passed_alone() -> None:
    """synthetic: only the last line of a --check run that found nothing."""
    assert decision(summarize_bytes(b"Check complete, no warnings found.\n")) == ("success", None, False)
    assert summarize_bytes(b"Check complete, 3 warnings have been found!\n").outcome == "failure"


def test_check_run_warnings_are_kept() -> None:
    s = summarize_bytes((EXCERPTS / "f10-check-warnings-synthetic.log").read_bytes())
    assert s.last is not None
    assert [w["text"].split(" - ")[0] for w in s.last.warnings] == ["FromAsCasing", "JSONArgsRecommended"]


def test_text_before_the_first_build_opens_no_build() -> None:
    """Ordinary text before a build (a runner's preamble) does not count as a build; an excerpt's first error
    block or push digest does."""
    data = b"Running with gitlab-runner 16.9.1\n$ docker build .\n" + (SHARED / "s02-warm-plain.log").read_bytes()
    s = summarize_bytes(data)
    assert s.attempts == 1 and s.outcome == "success"
