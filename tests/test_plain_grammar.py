"""The plain grammar, one line shape at a time, on real lines of the logs in tests/fixtures/shared/ (buildx v0.36)
and tests/fixtures/live/ (Docker 20.10, captured by tests/integration).

Each test quotes the log and line it takes its input from. Live logs are captured again from time to time, so their
lines are found by content (the line numbers quoted are those of the capture at hand). Shapes no captured log shows
(other clients' final errors, CI systems, a multi-platform build) are written here from the wording of FORMAT.md
and marked ``synthetic`` in the test's name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import attrs
import pytest
from invariants import merge_output

from buildlog import event_to_dict, parse_bytes, plain
from buildlog.events import (
    BlankLine,
    BuildCheckWarning,
    BuildDetailsLink,
    BuildFailed,
    BuildStarted,
    CacheExportFailed,
    CacheExportStarted,
    CacheImportFailed,
    CacheImportRequested,
    CacheManifestFound,
    CIMarker,
    ClientLogLine,
    ClientWarning,
    ErrorBlockHeader,
    ErrorBlockOutput,
    ErrorBlockRule,
    Event,
    ImageExportStarted,
    ImageLayersExported,
    ImageNamed,
    ImageResolved,
    ImageWritten,
    LayerExtracted,
    LayerTransfer,
    ManifestPushed,
    OutputClipped,
    SourceExcerptLine,
    SourceLocation,
    SourceRule,
    StepOutput,
    UnrecognizedLine,
    VertexCached,
    VertexCanceled,
    VertexDigest,
    VertexDone,
    VertexError,
    VertexHeader,
    VertexInterrupted,
    VertexStatus,
    VertexWarning,
    WarningsSummary,
)
from buildlog.vertex_names import parse_vertex_name

SHARED = Path(__file__).parent / "fixtures" / "shared"
LIVE = Path(__file__).parent / "fixtures" / "live"


def log_bytes(name: str) -> bytes:
    return (SHARED / f"{name}.log").read_bytes()


def split_lines(data: bytes) -> list[bytes]:
    """Lines as the parser counts them: only ``\n`` ends one (``bytes.splitlines`` would cut at a lone CR)."""
    return [line + b"\n" for line in data.split(b"\n")[:-1]] + ([data.rsplit(b"\n", 1)[-1]] if not
                                                                 data.endswith(b"\n") else [])


def log_lines(name: str, first: int, last: int | None = None) -> bytes:
    """Lines ``first`` to ``last`` (1-based, inclusive) of a shared log, terminators kept."""
    return b"".join(split_lines(log_bytes(name))[first - 1 : (last or first)])


def live_upto(name: str, pattern: str) -> tuple[bytes, int]:
    """A live log from its start to the first line matching ``pattern``, and that line's number."""
    lines = split_lines((LIVE / f"{name}.log").read_bytes())
    for number, line in enumerate(lines, 1):
        if re.search(pattern, line.decode("utf-8", "surrogateescape")):
            return b"".join(lines[:number]), number
    raise AssertionError(f"{name}.log has no line matching {pattern!r}")


def events_of(data: bytes) -> list[Event]:
    events = parse_bytes(data)
    assert b"".join(e.raw_bytes() for e in events) == data
    return events


def real(events: list[Event]) -> list[Event]:
    """Without the synthetic BuildStarted that opens a log cut out of a bigger one."""
    return [e for e in events if not (isinstance(e, BuildStarted) and e.inferred)]


def at(events: list[Event], line: int) -> Event:
    """The one event (with raw text) that starts on ``line``."""
    found = [e for e in events if e.line == line and e.raw]
    assert len(found) == 1, found
    return found[0]


# A header line first, so that the vertex lines after it belong to a known vertex.
S01_HEAD = log_lines("s01-cold-plain", 1, 3)  # #0 building with ..., blank, #1 [internal] load build definition ...


# ---------------------------------------------------------------------------------------------------------------
# Line shapes of the plain table


def test_building_with_line_and_blank_line() -> None:
    # s01-cold-plain.log 1-2: '#0 building with "real" instance using remote driver', ''
    first, blank = events_of(log_lines("s01-cold-plain", 1, 2))
    assert isinstance(first, BuildStarted)
    assert (first.builder, first.driver, first.inferred, first.build) == ("real", "remote", False, 1)
    assert isinstance(blank, BlankLine) and blank.build == 1


def test_vertex_header() -> None:
    # s01-cold-plain.log 3: '#1 [internal] load build definition from Dockerfile'
    header = at(events_of(S01_HEAD), 3)
    assert type(header) is VertexHeader
    assert (header.vertex, header.name, header.repeat) == (1, "[internal] load build definition from Dockerfile", False)
    assert header.info.kind == "internal"


def test_repeated_header_after_cached() -> None:
    # s03-partial-plain.log 38-41: '#11 [builder 6/9] RUN echo "compiling lib" ...', '#11 CACHED', '', the header again
    events = events_of(log_lines("s03-partial-plain", 1, 41))
    first, cached, again = at(events, 38), at(events, 39), at(events, 41)
    assert isinstance(first, VertexHeader) and not first.repeat
    assert isinstance(cached, VertexCached) and cached.vertex == 11
    assert type(again) is VertexHeader and again.repeat and again.vertex == 11 and again.name == first.name


def test_interrupted_vertex_and_its_return() -> None:
    # s12-bake-two-targets-plain.log 28-30: '#8 [api build 1/7] FROM ...', '#8 resolve ... done', '#8 ...';
    # 40: the header again after #9 and #10
    events = events_of(log_lines("s12-bake-two-targets-plain", 1, 41))
    interrupted = at(events, 30)
    assert isinstance(interrupted, VertexInterrupted) and interrupted.vertex == 8
    back = at(events, 40)
    assert type(back) is VertexHeader and back.vertex == 8 and back.repeat


def test_old_digest_line() -> None:
    # BuildKit <= 0.8 prints the vertex digest right after the header: docker20-fail-exit1.log 1-2,
    # '#1 [internal] load build definition from Dockerfile', '#1 sha256:67d924d5235c6d1f...'
    data, n = live_upto("docker20-fail-exit1", r"^#1 sha256:")
    digest = at(events_of(data), n)
    assert isinstance(digest, VertexDigest) and digest.vertex == 1
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest.digest)


def test_old_digest_line_in_a_run_step() -> None:
    # docker20-daemon-killed.log 23-24: '#6 [3/3] RUN echo "integration tests starting" && ...', '#6 sha256:e239...':
    # a digest, not output printed without a time
    data, n = live_upto("docker20-daemon-killed", r"^#6 sha256:")
    assert isinstance(at(events_of(data), n), VertexDigest)


@pytest.mark.parametrize(
    ("log", "line", "cls", "fields"),
    [
        # '#1 transferring dockerfile: 1.15kB done'
        ("s01-cold-plain", 4, VertexStatus,
         {"id": "transferring dockerfile:", "current": 1150, "total": None, "seconds": None, "done": True}),
        # '#6 resolve 127.0.0.1:5000/base:latest@sha256:47fef9cf... done'
        ("s01-cold-plain", 22, ImageResolved, {"seconds": None, "done": True}),
        # '#6 sha256:e934848001edbf68... 1.08MB / 1.08MB 0.0s done'
        ("s01-cold-plain", 26, LayerTransfer, {"current": 1080000, "total": 1080000, "seconds": 0.0, "done": True}),
        # '#6 extracting sha256:e934848001edbf68... 0.0s done'
        ("s01-cold-plain", 27, LayerExtracted, {"seconds": 0.0, "done": True}),
        # '#19 exporting layers 0.0s done'
        ("s01-cold-plain", 91, ImageLayersExported, {"id": "exporting layers", "seconds": 0.0, "done": True}),
        # '#19 pushing manifest for 127.0.0.1:5000/app:1.4.0@sha256:ae9b952f...' (still running)
        ("s01-cold-plain", 98, ManifestPushed, {"ref": "127.0.0.1:5000/app:1.4.0", "seconds": None, "done": False}),
        # '#20 writing layer sha256:a46785dd...' (still running)
        ("s01-cold-plain", 112, VertexStatus, {"seconds": None, "done": False}),
        # '#4 inferred cache manifest type: application/vnd.oci.image.manifest.v1+json done'
        ("s02-warm-plain", 15, CacheManifestFound, {"media_type": "application/vnd.oci.image.manifest.v1+json"}),
        # '#1 reading docker-bake.hcl 735B / 735B done'
        ("s12-bake-two-targets-plain", 4, VertexStatus,
         {"id": "reading docker-bake.hcl", "current": 735, "total": 735, "seconds": None, "done": True}),
    ],
)
def test_status_lines(log: str, line: int, cls: type[VertexStatus], fields: dict[str, object]) -> None:
    event = at(events_of(log_lines(log, 1, line)), line)
    assert isinstance(event, cls)
    assert {k: getattr(event, k) for k in fields} == fields


def test_running_layer_pull_in_a_run_step_is_a_status() -> None:
    # docker20-cache-from-found.log 57-59: '#14 [stage-1 4/4] RUN echo "packaging $(cut -c1-12 VERSION)"',
    # '#14 sha256:f98b09cd...', '#14 pulling sha256:36c3359c...' with no "done" yet: the cache hit fetches its
    # layers; not output printed without a time.
    data, n = live_upto("docker20-cache-from-found", r"^#14 pulling sha256:[0-9a-f]+$")
    event = at(events_of(data), n)
    assert type(event) is VertexStatus and not event.done and event.id.startswith("pulling sha256:")


def test_image_store_statuses() -> None:
    # docker20-cache-from-found.log 69-70: '#15 writing image sha256:8909fb61... done',
    # '#15 naming to docker.io/library/cached:ci done'
    data, n = live_upto("docker20-cache-from-found", r"^#\d+ naming to ")
    events = events_of(data)
    written, named = at(events, n - 1), at(events, n)
    assert isinstance(written, ImageWritten) and written.done and written.digest.startswith("sha256:")
    assert isinstance(named, ImageNamed) and named.done and named.ref == "docker.io/library/cached:ci"


def test_statuses_in_a_run_step_are_not_output() -> None:
    # s08-proxy-reset-transient-plain.log 52: '#11 extracting sha256:e934...' with no "done", in the block of a RUN
    # step (41: '#11 [builder 6/9] RUN ...'): a status still running, not output printed without a time.
    event = at(events_of(log_lines("s08-proxy-reset-transient-plain", 1, 53)), 52)
    assert isinstance(event, LayerExtracted) and not event.done


@pytest.mark.parametrize(
    ("log", "line", "elapsed", "text"),
    [
        ("s01-cold-plain", 43, 0.053, "resolving dependencies"),  # '#10 0.053 resolving dependencies'
        ("s07-cache-registry-down-ignore-error-plain", 87, 10.07, "[integration] suite 6/10 ..."),  # two decimals
        ("s12-bake-two-targets-plain", 69, 0.061, "[api] generating openapi client"),  # text starting with "["
        ("s01-cold-plain", 57, 1.064, "        1 lib/hash.c"),  # leading blanks are the program's
    ],
)
def test_step_output(log: str, line: int, elapsed: float, text: str) -> None:
    # the log up to this line: the line is the last of its run of output
    [event] = [e for e in events_of(log_lines(log, 1, line)) if e.line <= line <= e.end_line and e.raw]
    assert type(event) is StepOutput and event.end_line == line
    assert (event.last_elapsed, event.lines[-1], event.truncated) == (elapsed, text, False)
    if event.line == line:
        assert (event.elapsed, event.text) == (elapsed, text)


def test_synthetic_output_time_with_one_decimal() -> None:
    # FORMAT.md: times have 3, 2 or 1 decimals ("123.4"); no captured step ran that long.
    data = log_lines("s06-daemon-killed-plain", 80) + b"#15 123.4 [integration] suite 10/10 ...\n"
    event = events_of(data)[-1]
    assert isinstance(event, StepOutput) and event.elapsed == 123.4 and event.text == "[integration] suite 10/10 ..."


def test_output_with_carriage_returns_ansi_tabs_and_utf8() -> None:
    # s13-concurrent-noisy-plain.log 61-64: a progress bar redrawn with lone CRs, ANSI colours, tabs and UTF-8.
    events = events_of(log_lines("s13-concurrent-noisy-plain", 60, 65))
    texts = [line for e in events if isinstance(e, StepOutput) for line in e.lines]
    assert texts == [
        "downloading assets.tar.gz:  10%\rdownloading assets.tar.gz:  55%\rdownloading assets.tar.gz: 100%",
        "✔ compiled 214 modules in 3.2s",  # '\x1b[32m✔ compiled 214 modules\x1b[0m in 3.2s'
        "WARNING bundle size exceeds 512 KiB: main.js (734 KiB)",  # not a ClientWarning: it is output
        "tab\tseparated\tcolumns\tüñïçødé",
        "webpack: compiled with 1 warning (no trailing newline)",  # the printer added the newline
    ]
    assert "\x1b[32m" in at(events, 3).raw  # the colours stay in raw


def test_very_long_output_line() -> None:
    # s13-concurrent-noisy-plain.log 33: 40000 'x' and ' <- 40000 x' after '#6 0.076 '
    event = at(events_of(log_lines("s13-concurrent-noisy-plain", 29) + log_lines("s13-concurrent-noisy-plain", 33)), 2)
    assert isinstance(event, StepOutput) and len(event.text) == 40011 and event.text.endswith(" <- 40000 x")


def test_synthetic_output_without_time() -> None:
    # Older BuildKit printed step output with no time column (FORMAT.md); a RUN step's line that is no status.
    data = b"#5 [2/3] RUN make\n#5 cc -o main main.c\n"
    event = events_of(data)[-1]
    assert isinstance(event, StepOutput) and event.elapsed is None and event.text == "cc -o main main.c"


def test_output_clipped() -> None:
    # s13-log-clipped-plain.log 780-781: a line cut short, then '#6 1.055 [output clipped, log limit 64KiB reached]'
    events = events_of(log_lines("s13-log-clipped-plain", 32) + log_lines("s13-log-clipped-plain", 780, 781))
    cut, clipped = events[-2], events[-1]
    assert type(cut) is StepOutput and cut.text.endswith("(cached result from config.cache")
    assert isinstance(clipped, OutputClipped) and isinstance(clipped, StepOutput)
    assert (clipped.limit, clipped.elapsed, clipped.vertex) == ("log limit 64KiB", 1.055, 6)


def test_vertex_warning() -> None:
    # s10-build-check-warnings-plain.log 9:
    # '#1 WARN: SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG "NPM_TOKEN") (line 3)'
    event = at(events_of(log_lines("s10-build-check-warnings-plain", 1, 9)), 9)
    assert isinstance(event, VertexWarning) and event.vertex == 1
    assert event.rule == "SecretsUsedInArgOrEnv" and event.source_line == 3
    assert event.message == 'Do not use ARG or ENV instructions for sensitive data (ARG "NPM_TOKEN")'


def test_cached_done_canceled() -> None:
    # s02-warm-plain.log 27: '#7 CACHED'; s07-cache-registry-down-ignore-error-plain.log 93: '#15 DONE 20.1s';
    # s09-canceled-sigint-plain.log 85: '#15 CANCELED'
    cached = at(events_of(log_lines("s02-warm-plain", 1, 27)), 27)
    done = at(events_of(log_lines("s07-cache-registry-down-ignore-error-plain", 1, 93)), 93)
    canceled = at(events_of(log_lines("s09-canceled-sigint-plain", 1, 85)), 85)
    assert isinstance(cached, VertexCached) and cached.vertex == 7
    assert isinstance(done, VertexDone) and (done.vertex, done.seconds) == (15, 20.1)
    assert isinstance(canceled, VertexCanceled) and canceled.vertex == 15


def test_vertex_error_with_exit_code() -> None:
    # s04-fail-exit1-plain.log 94: '#15 ERROR: process "/bin/sh -c echo \"running unit tests\" && ..." did not
    # complete successfully: exit code: 1'
    event = at(events_of(log_lines("s04-fail-exit1-plain", 1, 95)), 94)
    assert type(event) is VertexError and event.vertex == 15 and event.exit_code == 1
    assert event.message.startswith('process "/bin/sh -c echo \\"running unit tests\\"')


def test_vertex_error_continues_on_lines_without_prefix() -> None:
    # s08-proxy-503-plain.log 144-148: '#19 ERROR: failed to push ...: <html><body><h1>503 Service Unavailable</h1>',
    # 'No server is available to handle this request.', '</body></html>', '', ''
    events = events_of(log_lines("s08-proxy-503-plain", 1, 149))
    error = at(events, 144)
    assert type(error) is VertexError and (error.line, error.end_line) == (144, 146)
    assert error.message.endswith(
        "503 Service Unavailable: <html><body><h1>503 Service Unavailable</h1>\n"
        "No server is available to handle this request.\n</body></html>"
    )
    assert isinstance(at(events, 147), BlankLine) and isinstance(at(events, 148), BlankLine)
    assert isinstance(at(events, 149), CacheExportStarted)


def test_cache_import_not_found() -> None:
    # s01-cold-plain.log 14-15: '#4 importing cache manifest from 127.0.0.1:5000/app:buildcache',
    # '#4 ERROR: failed to configure registry cache importer: 127.0.0.1:5000/app:buildcache: not found'
    events = events_of(log_lines("s01-cold-plain", 1, 15))
    requested, failed = at(events, 14), at(events, 15)
    assert isinstance(requested, CacheImportRequested) and requested.ref == "127.0.0.1:5000/app:buildcache"
    assert isinstance(failed, CacheImportFailed) and isinstance(failed, VertexError)
    assert failed.not_found and failed.ref == "127.0.0.1:5000/app:buildcache"


def test_cache_export_error() -> None:
    # s07-cache-registry-down-ignore-error-plain.log 137: '#21 ERROR: error writing layer blob: ... connection refused'
    event = at(events_of(log_lines("s07-cache-registry-down-ignore-error-plain", 1, 137)), 137)
    assert isinstance(event, CacheExportFailed) and event.message.endswith("connect: connection refused")


# ---------------------------------------------------------------------------------------------------------------
# Closing lines


def test_error_block_excerpt_and_final_error() -> None:
    # s04-fail-exit1-plain.log 95-116: '------', ' > [builder 10/10] RUN ...:', 10 output lines, '------',
    # 'Dockerfile:19', '--------------------', 5 excerpt lines, '--------------------', 'ERROR: failed to build: ...'
    events = events_of(log_bytes("s04-fail-exit1-plain"))
    tail = [e for e in events if e.line >= 95]
    assert [type(e) for e in tail] == (
        [ErrorBlockRule, ErrorBlockHeader] + [ErrorBlockOutput] * 10 + [ErrorBlockRule, SourceLocation, SourceRule]
        + [SourceExcerptLine] * 5 + [SourceRule, BuildFailed]
    )
    opening, header, first_output = tail[0], tail[1], tail[2]
    assert isinstance(opening, ErrorBlockRule) and opening.opens
    closing = tail[12]
    assert isinstance(closing, ErrorBlockRule) and not closing.opens
    assert isinstance(header, ErrorBlockHeader)
    assert header.name == '[builder 10/10] RUN echo "running unit tests" && sleep 1 && sh tests/run.sh'
    assert isinstance(first_output, ErrorBlockOutput) and (first_output.elapsed, first_output.text) == (1.058, "  ---")
    location = tail[13]
    assert isinstance(location, SourceLocation) and (location.file, location.source_line) == ("Dockerfile", 19)
    excerpt = [e for e in tail if isinstance(e, SourceExcerptLine)]
    assert [(e.source_line, e.marked) for e in excerpt] == [(17, False), (18, False), (19, True), (20, False),
                                                           (21, False)]
    assert excerpt[2].text == 'RUN echo "running unit tests" && sleep 1 && sh tests/run.sh'
    assert excerpt[0].text == '    && echo "build ok: $(cat /out/VERSION)"'  # the Dockerfile's own indent
    assert excerpt[3].text == ""
    final = tail[-1]
    assert isinstance(final, BuildFailed) and final.style == "buildx" and final.exit_code == 1


def test_empty_error_block_after_a_cold_cache_import() -> None:
    # s01-cold-plain.log 129-131: '------', ' > importing cache manifest from 127.0.0.1:5000/app:buildcache:', '------'
    events = events_of(log_bytes("s01-cold-plain"))
    rule1, header, rule2 = (at(events, n) for n in (129, 130, 131))
    assert isinstance(rule1, ErrorBlockRule) and rule1.opens
    assert isinstance(header, ErrorBlockHeader)
    assert header.name == "importing cache manifest from 127.0.0.1:5000/app:buildcache"
    assert isinstance(rule2, ErrorBlockRule) and not rule2.opens
    assert not any(isinstance(e, BuildFailed) for e in events)


def test_two_error_blocks_in_a_row() -> None:
    # s12-bake-two-targets-plain.log 178-183: two empty blocks, one per failed cache import
    events = events_of(log_bytes("s12-bake-two-targets-plain"))
    rules = [e for e in events if isinstance(e, ErrorBlockRule)]
    assert [(e.line, e.opens) for e in rules] == [(178, True), (180, False), (181, True), (183, False)]


def test_excerpt_marks_every_line_of_a_multiline_instruction() -> None:
    # s05-dockerfile-syntax-plain.log 6-13: 'Dockerfile:9' right after '#1 DONE 0.0s', lines 9-11 marked '>>>'
    events = events_of(log_bytes("s05-dockerfile-syntax-plain"))
    assert isinstance(at(events, 6), SourceLocation)
    excerpt = [e for e in events if isinstance(e, SourceExcerptLine)]
    assert [(e.source_line, e.marked) for e in excerpt] == [(8, False), (9, True), (10, True), (11, True),
                                                           (12, False)]
    assert excerpt[1].text == 'RUNN echo "compiling lib" && sleep 1 \\'


def test_warnings_block() -> None:
    # s10-build-check-warnings-plain.log 82-83: ' \x1b[33m11 warnings found (use docker --debug to expand):',
    # '\x1b[0m - StageNameCasing: Stage name 'Builder' should be lowercase (line 1)', then 10 more ' - ...' lines
    events = events_of(log_bytes("s10-build-check-warnings-plain"))
    summary = at(events, 82)
    assert isinstance(summary, WarningsSummary) and summary.count == 11
    checks = [e for e in events if isinstance(e, BuildCheckWarning)]
    assert len(checks) == 11 and checks[0].line == 83
    assert (checks[0].rule, checks[0].message, checks[0].source_line) == (
        "StageNameCasing", "Stage name 'Builder' should be lowercase", 1)


def test_synthetic_client_lines() -> None:
    # FORMAT.md "Other lines a build can print": a client WARNING, the Docker Desktop link, the client's logger.
    data = (
        b"WARNING: No output specified with docker-container driver. Build result will only remain in the build"
        b" cache.\n"
        b"View build details: docker-desktop://dashboard/build/default/default/abc123\n"
        b"2026/11/28 02:27:56 http2: server connection error from localhost: connection error: PROTOCOL_ERROR\n"
    )
    warning, link, logger = events_of(data)
    assert isinstance(warning, ClientWarning) and warning.text.startswith("No output specified")
    assert isinstance(link, BuildDetailsLink) and link.url == "docker-desktop://dashboard/build/default/default/abc123"
    assert isinstance(logger, ClientLogLine) and logger.timestamp == "2026/11/28 02:27:56"
    assert logger.text.startswith("http2: server connection error")


# ---------------------------------------------------------------------------------------------------------------
# Vertex names


@pytest.mark.parametrize(
    ("log", "line", "expected"),
    [
        # '#14 [builder  9/10] COPY tests/ ./tests/': the index is padded to the width of the total
        ("s04-fail-exit1-plain", 75, {"kind": "step", "target": None, "stage": "builder", "index": 9, "total": 10,
                                      "instruction": "COPY", "args": "tests/ ./tests/"}),
        # '#16 [api build 5/7] RUN echo "[api] generating openapi client" && ...': bake target first
        ("s12-bake-two-targets-plain", 68, {"kind": "step", "target": "api", "stage": "build", "index": 5,
                                            "total": 7, "instruction": "RUN"}),
        # '#9 [api internal] load build context'
        ("s12-bake-two-targets-plain", 32, {"kind": "internal", "target": "api", "stage": None, "index": None}),
        # '#4 [worker internal] load metadata for 127.0.0.1:5000/base:latest'
        ("s12-bake-two-targets-plain", 15, {"kind": "internal", "target": "worker",
                                            "image": "127.0.0.1:5000/base:latest"}),
        # '#26 [api] exporting to image'
        ("s12-bake-two-targets-plain", 131, {"kind": "image-export", "target": "api", "exporter": "image"}),
        # '#6 [worker] importing cache manifest from 127.0.0.1:5000/worker:buildcache'
        ("s12-bake-two-targets-plain", 22, {"kind": "cache-import", "target": "worker",
                                            "ref": "127.0.0.1:5000/worker:buildcache"}),
        # '#22 [api stage-1 2/2] COPY --from=build /out/api /usr/local/bin/api'
        ("s12-bake-two-targets-plain", 108, {"kind": "step", "target": "api", "stage": "stage-1", "index": 2}),
        # '#6 [builder 1/9] FROM 127.0.0.1:5000/base:latest@sha256:47fef9cf...'
        ("s01-cold-plain", 21, {"kind": "step", "stage": "builder", "instruction": "FROM",
                                "image": "127.0.0.1:5000/base:latest@sha256:"
                                         "47fef9cf15033cb8c4a20c42fafa4c8fb21932a28db7fe4f01b8eb4e2488d7b6"}),
        # '#20 exporting cache to registry'
        ("s01-cold-plain", 102, {"kind": "cache-export", "backend": "registry", "target": None}),
    ],
)
def test_vertex_names(log: str, line: int, expected: dict[str, object]) -> None:
    header = at(events_of(log_lines(log, 1, line)), line)
    assert isinstance(header, VertexHeader)
    assert {k: getattr(header.info, k) for k in expected} == expected


def test_synthetic_multi_platform_name() -> None:
    # FORMAT.md: "with a platform for multi-platform builds `[linux/amd64 builder 3/7] …`"; no captured log has one.
    info = parse_vertex_name("[linux/amd64 builder 3/7] RUN make")
    assert (info.kind, info.platform, info.target, info.stage, info.index, info.total, info.instruction) == (
        "step", "linux/amd64", None, "builder", 3, 7, "RUN")
    info = parse_vertex_name("[linux/arm64/v8 api build 2/7] WORKDIR /src")
    assert (info.platform, info.target, info.stage, info.index) == ("linux/arm64/v8", "api", "build", 2)


def test_single_stage_name() -> None:
    # docker20-copy-missing.log 24: '#7 [3/5] COPY app.conf ./' (FORMAT.md: "`[2/3] RUN …` (single-stage)")
    data, n = live_upto("docker20-copy-missing", r"^#\d+ \[3/5\] COPY ")
    header = at(events_of(data), n)
    assert isinstance(header, VertexHeader)
    info = header.info
    assert (info.kind, info.stage, info.index, info.total, info.instruction, info.args) == (
        "step", None, 3, 5, "COPY", "app.conf ./")


def test_first_headers_of_domain_vertices() -> None:
    # s01-cold-plain.log 90 '#19 exporting to image', 102 '#20 exporting cache to registry'; a repeated header of
    # such a vertex is a plain VertexHeader (s08-proxy-503-plain.log 109, '#19 exporting to image' after its DONE)
    events = events_of(log_bytes("s01-cold-plain"))
    assert isinstance(at(events, 90), ImageExportStarted)
    assert isinstance(at(events, 102), CacheExportStarted)
    again = at(events_of(log_bytes("s08-proxy-503-plain")), 109)
    assert type(again) is VertexHeader and again.repeat


# ---------------------------------------------------------------------------------------------------------------
# Final error lines of every generation (FORMAT.md "Final error line by generation"). buildx >= 0.25 and Docker
# 20.10 have captured logs; the others are synthetic, in FORMAT.md's words with the "…" filled in.


def test_final_error_buildx() -> None:
    # s06-daemon-killed-plain.log 85:
    # 'ERROR: failed to build: failed to receive status: rpc error: code = Unavailable desc = error reading from
    # server: EOF'
    event = at(events_of(log_bytes("s06-daemon-killed-plain")), 85)
    assert isinstance(event, BuildFailed) and event.style == "buildx" and event.exit_code is None
    assert event.message == ("failed to build: failed to receive status: rpc error: code = Unavailable desc = "
                             "error reading from server: EOF")


@pytest.mark.parametrize(
    ("line", "style", "message", "target", "exit_code"),
    [
        ('ERROR: failed to solve: process "/bin/sh -c make" did not complete successfully: exit code: 2',
         "buildx-solve", 'failed to solve: process "/bin/sh -c make" did not complete successfully: exit code: 2',
         None, 2),
        ("error: failed to solve: executor failed running [/bin/sh -c make]: exit code: 2",
         "lowercase", "failed to solve: executor failed running [/bin/sh -c make]: exit code: 2", None, 2),
        ('ERROR: target api: failed to solve: process "/bin/sh -c make" did not complete successfully: exit code: 1',
         "bake", 'failed to solve: process "/bin/sh -c make" did not complete successfully: exit code: 1', "api", 1),
        ('ERROR: failed to build: unable to prepare context: path "ctx" not found',
         "buildx", 'failed to build: unable to prepare context: path "ctx" not found', None, None),
        ("Error: buildx failed with: ERROR: failed to build: failed to solve: process \"/bin/sh -c make\" did not "
         "complete successfully: exit code: 2",
         "wrapper", 'failed to build: failed to solve: process "/bin/sh -c make" did not complete successfully: '
         "exit code: 2", None, 2),
    ],
)
def test_synthetic_final_errors(line: str, style: str, message: str, target: str | None,
                                exit_code: int | None) -> None:
    events = events_of(line.encode() + b"\n")
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, BuildFailed)
    assert (event.style, event.message, event.target, event.exit_code) == (style, message, target, exit_code)


def test_final_error_of_a_docker20_client_that_lost_its_daemon() -> None:
    # docker20-daemon-killed.log 29: 'unexpected EOF' alone, right after the running step's output
    data, n = live_upto("docker20-daemon-killed", r"^unexpected EOF$")
    last = at(events_of(data), n)
    assert isinstance(last, BuildFailed)
    assert (last.style, last.message, last.build) == ("client-eof", "unexpected EOF", 1)


def test_final_error_frontend_v0() -> None:
    # docker20-dockerfile-syntax.log 10: 'failed to solve with frontend dockerfile.v0: failed to create LLB
    # definition: dockerfile parse error line 4: unknown instruction: RUNN', right after '#2 DONE 0.0s'
    data, n = live_upto("docker20-dockerfile-syntax", r"^failed to solve with frontend")
    event = at(events_of(data), n)
    assert isinstance(event, BuildFailed) and event.style == "frontend-v0"
    assert event.message == ("failed to solve with frontend dockerfile.v0: failed to create LLB definition: "
                             "dockerfile parse error line 4: unknown instruction: RUNN")


def test_synthetic_final_error_continues_on_next_line() -> None:
    # FORMAT.md: "the final error can continue on the next line (e.g. a registry's `toomanyrequests: …` message)"
    data = (b"ERROR: failed to build: failed to solve: docker.io/library/node:20: failed to resolve source metadata:"
            b" unexpected status code 429 Too Many Requests\n"
            b"toomanyrequests: You have reached your pull rate limit.\n")
    (event,) = events_of(data)
    assert isinstance(event, BuildFailed) and (event.line, event.end_line) == (1, 2)
    assert event.message.endswith("429 Too Many Requests\ntoomanyrequests: You have reached your pull rate limit.")


def test_multiline_final_error() -> None:
    # s08-proxy-503-plain.log 202-205: 'ERROR: failed to build: failed to solve: failed to push ...: <html>...</h1>',
    # 'No server is available to handle this request.', '</body></html>', ''
    events = events_of(log_bytes("s08-proxy-503-plain"))
    final = at(events, 202)
    assert isinstance(final, BuildFailed) and (final.line, final.end_line) == (202, 204)
    assert final.message.splitlines()[1:] == ["No server is available to handle this request.", "</body></html>"]
    assert isinstance(at(events, 205), BlankLine)


def test_exit_code_in_the_older_wording() -> None:
    # docker20-fail-exit1.log 41: '#8 ERROR: executor failed running [/bin/sh -c echo "linting app.conf" && ...]:
    # exit code: 1', and 50, the client's final line: the same text, bare
    data = (LIVE / "docker20-fail-exit1.log").read_bytes()
    events = events_of(data)
    error = next(e for e in events if isinstance(e, VertexError))
    final = events[-1]
    assert error.exit_code == 1 and error.message.startswith("executor failed running [/bin/sh -c echo")
    assert isinstance(final, BuildFailed) and (final.style, final.exit_code) == ("bare", 1)
    assert final.message == error.message


# ---------------------------------------------------------------------------------------------------------------
# Several builds in one log


def _shifted(events: list[Event], lines: int, build: int) -> list[Event]:
    return [attrs.evolve(e, line=e.line + lines, end_line=e.end_line + lines, build=build) for e in real(events)]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("s04-fail-exit1-plain", "s02-warm-plain"),  # after a final error
        ("s01-cold-plain", "s03-partial-plain"),  # after an empty error block, same first vertex
        ("s10-build-check-warnings-plain", "s01-cold-plain"),  # after the warnings block
        ("s02-warm-plain", "s12-bake-two-targets-plain"),  # a bake build: another first vertex name
    ],
)
@pytest.mark.parametrize("banner", [True, False], ids=["with-#0", "without-#0"])
def test_second_build_in_one_log(first: str, second: str, banner: bool) -> None:
    one, two = log_bytes(first), log_bytes(second)
    if not banner:
        assert two.startswith(b"#0 building with")
        two = two.split(b"\n", 2)[2]  # the banner and its blank line
    events = events_of(one + two)
    offset = one.count(b"\n")
    before = [e for e in events if e.line <= offset]
    after = [e for e in events if e.line > offset]
    assert before == events_of(one)
    starts = [e for e in after if isinstance(e, BuildStarted)]
    assert len(starts) == 1 and starts[0].line == offset + 1 and starts[0].build == 2
    assert starts[0].inferred is not banner
    assert real(after) == _shifted(events_of(two), offset, 2)
    headers = [e for e in after if isinstance(e, VertexHeader)]
    assert headers[0].vertex == 1 and not headers[0].repeat  # numbering starts again in the second build


# ---------------------------------------------------------------------------------------------------------------
# CI prefixes: the same events, with ``ci`` set, and no prefix left in any text


def _text_fields(event: Event) -> list[str]:
    """Every text the event holds (its nested ``info`` included), ``raw`` aside."""
    values = [v for k, v in attrs.asdict(event, recurse=False).items() if k != "raw"]
    if isinstance(event, VertexHeader):
        values += list(attrs.asdict(event.info).values())
    return [v for v in values if isinstance(v, str)]


def _without_ci(events: list[Event]) -> list[dict[str, Any]]:
    # prefixed step output comes a line at a time, bare output in runs: merged, they compare
    return merge_output([event_to_dict(attrs.evolve(e, ci=None, raw="")) for e in events])


def _assert_same_events(prefixed: list[Event], plain: list[Event], prefix: re.Pattern[str]) -> None:
    assert _without_ci(prefixed) == _without_ci(plain)
    for e in prefixed:
        assert not any(prefix.search(t) for t in _text_fields(e)), e


LOGS_FOR_CI = ["s04-fail-exit1-plain", "s08-proxy-503-plain", "s10-build-check-warnings-plain",
               "s13-concurrent-noisy-plain"]


@pytest.mark.parametrize("name", LOGS_FOR_CI)
@pytest.mark.parametrize("blank", [b" ", b""], ids=["blank-with-space", "blank-without-space"])
def test_github_timestamps_on_every_line(name: str, blank: bytes) -> None:
    # GitHub Actions raw logs: '2024-03-01T12:00:00.1234567Z ' before every line; blank lines keep the prefix,
    # sometimes with its trailing space (FORMAT.md).
    data = log_bytes(name)
    stamp = b"2024-03-01T12:00:00.1234567Z"
    prefixed = b"".join(stamp + (b" " if line != b"\n" else blank) + line
                        for line in split_lines(data))
    events = events_of(prefixed)
    _assert_same_events(events, events_of(data), re.compile(r"2024-03-01T"))
    assert all(e.ci is not None and e.ci.timestamp == stamp.decode() for e in events if e.raw)


@pytest.mark.parametrize("name", LOGS_FOR_CI)
def test_synthetic_github_group_lines(name: str) -> None:
    # '##[group]TITLE' before the build's output and '##[endgroup]' after it (the title is synthetic).
    data = log_bytes(name)
    stamp = b"2024-03-01T12:00:00.1234567Z "
    prefixed = b"".join(stamp + line for line in [b"##[group]Build and push\n", *split_lines(data),
                                                  b"##[endgroup]\n"])
    events = events_of(prefixed)
    group, end = events[0], events[-1]
    assert isinstance(group, CIMarker) and (group.kind, group.text) == ("group", "Build and push")
    assert isinstance(end, CIMarker) and (end.kind, end.text) == ("endgroup", "")
    inner = [attrs.evolve(e, line=e.line - 1, end_line=e.end_line - 1) for e in events[1:-1]]
    _assert_same_events(inner, events_of(data), re.compile(r"2024-03-01T|##\["))


@pytest.mark.parametrize("name", LOGS_FOR_CI)
def test_gitlab_section_markers(name: str) -> None:
    # GitLab: 'section_start:1700000000:build\r\x1b[0K' before the first line, a 'section_end:...' line after.
    data = log_bytes(name)
    prefixed = b"section_start:1700000000:build\r\x1b[0K" + data + b"section_end:1700000100:build\r\x1b[0K\n"
    events = events_of(prefixed)
    first, end = events[0], events[-1]
    assert first.ci is not None and (first.ci.marker, first.ci.section, first.ci.timestamp) == (
        "section_start", "build", "1700000000")
    assert isinstance(end, CIMarker) and end.kind == "section_end"
    _assert_same_events(events[:-1], events_of(data), re.compile(r"section_|\x1b|\r\x1b"))


@pytest.mark.parametrize("name", LOGS_FOR_CI)
def test_buildkite_timestamps_on_every_line(name: str) -> None:
    # Buildkite: '\x1b_bk;t=1700000000000\x07' before lines.
    data = log_bytes(name)
    prefixed = b"".join(b"\x1b_bk;t=1700000000000\x07" + line for line in split_lines(data))
    events = events_of(prefixed)
    _assert_same_events(events, events_of(data), re.compile(r"bk;t=|\x1b_"))
    assert all(e.ci is not None and e.ci.timestamp == "1700000000000" for e in events if e.raw)


def test_no_unrecognized_line_in_prefixed_logs() -> None:
    data = log_bytes("s08-proxy-503-plain")
    prefixed = b"".join(b"2024-03-01T12:00:00.1234567Z " + line for line in split_lines(data))
    assert not [e for e in events_of(prefixed) if isinstance(e, UnrecognizedLine)]


# ---------------------------------------------------------------------------------------------------------------
# The first characters the grammar tests a top-level line's shapes by


def _first_chars(items: Any) -> set[str] | None:
    """The characters a match of the parsed pattern ``items`` can begin with; None when it may begin with any
    character (a class, a negated literal, an empty match)."""
    try:
        from re import _constants as c  # type: ignore[attr-defined]
    except ImportError:  # Python 3.10
        import sre_constants as c
    found: set[str] = set()
    for op, arg in items:
        if op is c.AT:
            continue  # zero-width
        if op is c.LITERAL:
            return found | {chr(arg)}
        if op is c.SUBPATTERN:
            inner = _first_chars(arg[-1])
        elif op is c.BRANCH:
            branches = [_first_chars(branch) for branch in arg[1]]
            inner = None if None in branches else set().union(*branches)  # type: ignore[arg-type]
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
            low, _high, body = arg
            inner = _first_chars(body)
            if inner is not None and low == 0:
                found |= inner
                continue  # may be absent: what follows may begin the match too
        else:
            return None
        if inner is None:
            return None
        return found | inner
    return None  # the whole pattern may match the empty string


def _pattern_first_chars(pattern: str) -> set[str] | None:
    try:
        from re import _parser as p  # type: ignore[attr-defined]
    except ImportError:  # Python 3.10
        import sre_parse as p
    return _first_chars(p.parse(pattern, 0))


def test_first_chars_of_a_pattern() -> None:
    assert _pattern_first_chars(r"(?:Error: )?buildx failed") == {"E", "b"}
    assert _pattern_first_chars(r"(?:a|b\s)c|d") == {"a", "b", "d"}
    assert _pattern_first_chars(r"\d+ x") is None
    assert _pattern_first_chars(r"(?:x)?") is None


def test_final_errors_begin_with_the_characters_the_grammar_tries_them_for() -> None:
    firsts = [_pattern_first_chars(pattern.pattern) for _, pattern in plain.FINAL_ERRORS]
    assert None not in firsts
    assert set().union(*firsts) == set(plain.FINAL_ERRORS_FIRST)  # type: ignore[arg-type]
    assert _pattern_first_chars(plain.CI_JOB_LINES.pattern) == set(plain.CI_JOB_LINES_FIRST)
