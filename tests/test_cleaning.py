"""From a raw line to the text grammars match: each escape-sequence family and each CI prefix shape, removed and
told (buildlog/cleaning.py).

The lines are real lines of tests/fixtures/shared with synthetic wrappers, in the shapes terminals and CI systems
write (ECMA-48 for the escapes; each CI system's raw-log format for the prefixes)."""

from __future__ import annotations

import pytest
from fixturelib import SHARED

from buildlog import parse_bytes, summarize_bytes
from buildlog.cleaning import clean_line, split_ci_prefix
from buildlog.events import BuildFailed, CIPrefix

HEADER = "#1 [internal] load build definition from Dockerfile"  # s01-cold-plain L3
FINAL = "ERROR: failed to build: failed to receive status: rpc error: code = Unavailable desc = error reading from " \
        "server: EOF"  # s06-daemon-killed-plain L85


def test_real_lines_are_as_the_log_has_them() -> None:
    data = (SHARED / "s01-cold-plain.log").read_text()
    assert HEADER in data.splitlines()
    assert FINAL in (SHARED / "s06-daemon-killed-plain.log").read_text().splitlines()


@pytest.mark.parametrize(("raw", "clean"), [
    # OSC 0: a terminal title, ended by BEL or by ST (ESC \)
    ("\x1b]0;docker buildx build\x07" + HEADER, HEADER),
    ("\x1b]2;building\x1b\\" + HEADER, HEADER),
    # OSC 8: a hyperlink around the text (opened and closed)
    (FINAL[:24] + "\x1b]8;;https://docs.docker.com/go/build-failed\x1b\\" + FINAL[24:] + "\x1b]8;;\x1b\\", FINAL),
    ("\x1b]8;;https://example.com\x07" + HEADER + "\x1b]8;;\x07", HEADER),
    # CSI: colours, erase line, cursor movement
    ("\x1b[31m" + FINAL + "\x1b[0m", FINAL),
    ("\x1b[2K\x1b[1A" + HEADER, HEADER),
    ("\x1b[38;5;208m" + HEADER + "\x1b[m", HEADER),
    # APC in the middle of a line (Buildkite's timestamps at the start are a CI prefix, below)
    (HEADER[:2] + "\x1b_bk;t=1700000000000\x07" + HEADER[2:], HEADER),
    # two-byte escapes and charset selection
    ("\x1b(B" + HEADER, HEADER),
    ("\x1b=" + HEADER + "\x1b>", HEADER),
    ("\x1bM" + HEADER, HEADER),
])
def test_escape_sequences_are_removed(raw: str, clean: str) -> None:
    assert clean_line(raw) == (clean, None)


def test_osc_sequences_do_not_hide_the_final_error() -> None:
    """synthetic variant of s06: its final line with a terminal title before it and a hyperlink inside."""
    log = (SHARED / "s06-daemon-killed-plain.log").read_bytes()
    linked = ("\x1b]0;buildx\x07" + FINAL[:24] + "\x1b]8;;https://docs.docker.com/\x1b\\" + FINAL[24:]
              + "\x1b]8;;\x1b\\").encode()
    data = log.replace(FINAL.encode(), linked)
    assert data != log
    [failed] = [e for e in parse_bytes(data) if isinstance(e, BuildFailed)]
    assert "\x1b" not in failed.message and "]8;;" not in failed.message and "docs.docker.com" not in failed.message
    s = summarize_bytes(data)
    assert s.failure is not None and s.failure.failure_class == "builder-connection-lost" and s.retryable


def test_text_without_escapes_is_left_alone() -> None:
    for text in (HEADER, FINAL, "", "   ", "[internal] 12:00:00  not a prefix in the middle", "step 1"):
        assert clean_line(text) == (text, None)


@pytest.mark.parametrize(("raw", "prefix"), [
    # GitHub Actions / Azure Pipelines raw logs
    ("2024-03-01T12:00:00.1234567Z " + HEADER, CIPrefix(timestamp="2024-03-01T12:00:00.1234567Z")),
    ("2024-03-01T12:00:00Z " + HEADER, CIPrefix(timestamp="2024-03-01T12:00:00Z")),
    # GitLab timestamped logs with their stream tag
    ("2024-03-19T16:43:01.139432Z 00O " + HEADER, CIPrefix(timestamp="2024-03-19T16:43:01.139432Z")),
    ("2024-03-19T16:43:01.139432Z 01E+ " + HEADER, CIPrefix(timestamp="2024-03-19T16:43:01.139432Z")),
    # Jenkins Timestamper, with a date or a bare time
    ("[2024-03-01T12:00:00.123Z] " + HEADER, CIPrefix(timestamp="2024-03-01T12:00:00.123Z")),
    ("[2024-03-01 12:00:00,123+01:00] " + HEADER, CIPrefix(timestamp="2024-03-01 12:00:00,123+01:00")),
    ("12:00:05  " + HEADER, CIPrefix(timestamp="12:00:05")),
    ("12:00:05.25  " + HEADER, CIPrefix(timestamp="12:00:05.25")),
    # TeamCity
    ("[12:00:01] :\t [Step 1/2] " + HEADER, CIPrefix(timestamp="12:00:01")),
    ("[12:00:01]W: " + HEADER, CIPrefix(timestamp="12:00:01")),
    # Google Cloud Build
    ('Step #1 - "build": ' + HEADER, CIPrefix(section="build")),
    ("Step #12: " + HEADER, CIPrefix()),
    # Buildkite
    ("\x1b_bk;t=1700000000000\x07" + HEADER, CIPrefix(timestamp="1700000000000")),
    # GitLab section markers, the header text on the same line
    ("section_start:1700000000:build_image\r\x1b[0K" + HEADER,
     CIPrefix(timestamp="1700000000", marker="section_start", section="build_image")),
    ("section_end:1700000001:build_image[collapsed=true]\r\x1b[0K" + HEADER,
     CIPrefix(timestamp="1700000001", marker="section_end", section="build_image")),
    # GitHub workflow commands
    ("##[group]" + HEADER, CIPrefix(marker="group")),
    ("##[error]" + FINAL, CIPrefix(marker="error")),
    # two prefixes, with the colour reset GitHub puts between them
    ("2024-03-01T12:00:00.1234567Z \x1b[0m##[endgroup]" + HEADER,
     CIPrefix(timestamp="2024-03-01T12:00:00.1234567Z", marker="endgroup")),
    ("2024-03-01T12:00:00.1234567Z \x1b[0K##[warning]" + HEADER,
     CIPrefix(timestamp="2024-03-01T12:00:00.1234567Z", marker="warning")),
])
def test_ci_prefixes_are_removed_and_told(raw: str, prefix: CIPrefix) -> None:
    text, got = clean_line(raw)
    assert got == prefix
    assert text in (HEADER, FINAL)


def test_blank_line_of_a_github_log_keeps_its_timestamp() -> None:
    assert clean_line("2024-03-01T12:00:00.1234567Z") == ("", CIPrefix(timestamp="2024-03-01T12:00:00.1234567Z"))


def test_a_later_prefix_keeps_what_the_earlier_one_told() -> None:
    """A timestamp, then a workflow command: the command's marker is added, the timestamp stays."""
    text, prefix = clean_line("[2024-03-01T12:00:00.123Z] ##[group]" + HEADER)
    assert (text, prefix) == (HEADER, CIPrefix(timestamp="2024-03-01T12:00:00.123Z", marker="group"))


def test_split_keeps_the_escapes_of_the_rest() -> None:
    """tty frames need their colours and cursor movement: only the CI prefix is split off."""
    frame = "\x1b[1A\x1b[0G\x1b[34m => [internal] load build definition from Dockerfile\x1b[0m"
    assert split_ci_prefix("2024-03-01T12:00:00Z " + frame) == (CIPrefix(timestamp="2024-03-01T12:00:00Z"), frame)
    assert split_ci_prefix(frame) == (None, frame)


def test_lines_that_only_look_like_prefixes() -> None:
    # a plain progress line that starts with "#" is not a GitHub command
    assert clean_line("#12 [builder 2/9] WORKDIR /src") == ("#12 [builder 2/9] WORKDIR /src", None)
    # digits that are not a timestamp (a RUN step's output in the legacy builder)
    assert clean_line("2024 files compiled") == ("2024 files compiled", None)
    assert clean_line("Step 1/6 : FROM blbase:latest") == ("Step 1/6 : FROM blbase:latest", None)
    assert clean_line("[internal] load") == ("[internal] load", None)


@pytest.mark.parametrize("escape", ["\x1b7", "\x1b8", "\x1bD", "\x1bE", "\x1bM", "\x1b(0", "\x1b#8", "\x1b%G"])
def test_short_escapes_take_only_their_own_bytes(escape: str) -> None:
    """Save/restore cursor, index, next line, charset selection: the text after them is kept whole (an "E" after
    ESC is the escape, the "ERROR" after that is text)."""
    assert clean_line(escape + FINAL) == (FINAL, None)
    assert clean_line(HEADER + escape + "Extra") == (HEADER + "Extra", None)


# A byte-order mark: Windows tools (PowerShell's Out-File, Notepad) write one at the start of a saved log, and a
# downloaded GitHub log (`gh run view --log`) has one where each step's own log begins, after "JOB<TAB>STEP<TAB>".


def test_a_byte_order_mark_at_the_start_of_a_saved_log_is_not_text() -> None:
    """synthetic variant: s04 saved with a BOM in front. Its first line is still "#0 building with ..." (L1) and
    the verdict is s04's: build-step, exit code 1, at "[test 2/2] RUN ..." (L105-L116)."""
    data = (SHARED / "s04-fail-exit1-plain.log").read_bytes()
    assert clean_line("\ufeff#0 building with \"real\" instance") == ('#0 building with "real" instance', None)
    with_bom, without = summarize_bytes(b"\xef\xbb\xbf" + data), summarize_bytes(data)
    assert with_bom.to_json() == without.to_json()
    assert without.last is not None and without.last.failure is not None
    assert (without.last.failure.failure_class, without.last.failure.exit_code) == ("build-step", 1)
    first = parse_bytes(b"\xef\xbb\xbf" + data)[0]
    assert first.raw.startswith("\ufeff#0 building with")  # the raw text keeps the mark: nothing is lost


def test_a_byte_order_mark_after_a_downloaded_logs_job_and_step() -> None:
    """synthetic: a line as `gh run view --log` writes a step's first line: job, step, BOM, timestamp, text."""
    line = "build\tRun docker buildx build\t\ufeff2024-03-01T12:00:00.1234567Z " + HEADER
    assert clean_line(line) == (HEADER, CIPrefix(timestamp="2024-03-01T12:00:00.1234567Z",
                                                 section="Run docker buildx build", job="build"))
