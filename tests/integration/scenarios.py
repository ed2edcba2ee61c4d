"""The build scenarios: what each one does to a real Docker 20.10 daemon, and what that implies.

Each scenario function makes its build context, runs the build(s) through the :class:`~.harness.Lab` and
returns a :class:`Run` holding the captured log and the :class:`Expected` verdict. The expectations are
written from what the scenario *does* (a RUN that exits 2 is a ``build-step`` failure with exit code 2; a
rebuild with nothing changed has every cacheable step CACHED), never from what buildlog prints.

Scenarios that depend on another (``warm`` needs ``cold``) ask the lab for it, and the lab runs each scenario
at most once per session, so any subset of the tests can be selected with ``-k``.

Every Dockerfile uses its own WORKDIR so that no scenario gets cache hits from another one run earlier in the
same session: the cached counts below hold whatever order the tests run in. RUN steps use busybox applets
only.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .harness import (
    LIVE_FIXTURES,
    BuildResult,
    Lab,
    cached_vertices,
    legacy_cached_steps,
    wait_for_text,
    write_tree,
)


@dataclass(frozen=True)
class Expected:
    outcome: str  # success | failure | canceled | incomplete
    failure_class: str | None  # a class of TAXONOMY.md, None on success
    retryable: bool
    client_exit_code: int  # what the docker client (or the `build && push` step) exited with
    step_exit_code: int | None = None  # the failed RUN's exit code, for build-step / killed
    # Cacheable user steps (not FROM, not [internal]) that show CACHED (legacy builder: "Using cache"), by
    # design. None where Docker 20.10 itself is not deterministic about it (see copy-missing).
    user_cached: int | None = 0
    cache_state: str | None = "none"  # cold | warm | partial | none; None: not asserted (see copy-missing)
    cache_import: tuple[str, bool] | None = None  # (ref, found) of a --cache-from
    pushed_ref: str | None = None  # REGISTRY/REPO:TAG that a successful push went to
    final_line: str | None = None  # regex for the last non-empty line: proves the scenario happened
    log_has: tuple[str, ...] = ()  # regexes (multi-line mode) the log must match: the scenario's signature


@dataclass
class Run:
    name: str
    description: str
    build: BuildResult
    expected: Expected
    format: str = "plain"  # plain | legacy
    pushed_digest: str | None = None  # the registry's own digest of what was pushed
    notes: list[str] = field(default_factory=list)


ScenarioFn = Callable[[Lab], Run]
SCENARIOS: dict[str, ScenarioFn] = {}


def scenario(name: str) -> Callable[[ScenarioFn], ScenarioFn]:
    def register(fn: ScenarioFn) -> ScenarioFn:
        SCENARIOS[name] = fn
        return fn

    return register


# What each scenario's log shows that differs from current BuildKit (see tests/fixtures/live/NOTES.md); these
# go into the fixtures' labels. Only facts that hold on every run of the scenario.
OBSERVED: dict[str, str] = {
    "cold": "No `#0 building with` banner; every vertex header is followed by `#N sha256:DIGEST`; vertex "
    "numbers are not in printing order (the build context vertex is printed before lower-numbered steps).",
    "warm": "Every cacheable step CACHED, printed in an order unrelated to their numbers; the FROM vertex is "
    "DONE or CACHED from run to run; `exporting layers done` has no time.",
    "fail-exit1": "The final line is the bare `executor failed running [/bin/sh -c ...]: exit code: 1` (no "
    "ERROR:/failed to solve:); the `------` block is empty (no output lines, no Dockerfile excerpt); the "
    "canceled sibling is printed after the failing vertex and ends in `CANCELED`.",
    "fail-exit2": "stdout and stderr of the step are merged and can come out of order; the final line is the "
    "bare `executor failed running [...]: exit code: 2`; the error block is empty.",
    "killed-137": "`exit code: 137` in the `executor failed running` text; the shell's own `Killed` line is "
    "in the step output.",
    "dockerfile-syntax": "Only the two [internal] vertices, then the bare final line `failed to solve with "
    "frontend dockerfile.v0: failed to create LLB definition: dockerfile parse error line 4: ...`; no vertex "
    "ERROR, no blank line before it.",
    "daemon-killed": "The last line is `unexpected EOF` alone, right after the running step's output; that "
    "vertex never gets DONE/ERROR; no `------` block.",
    "push": "Docker 20.10's `docker build` cannot push; the `docker push` output follows the build: `The "
    "push refers to repository [REPO]`, per-layer `Preparing`/`Mounted from`/`Pushed`, then "
    "`TAG: digest: sha256:... size: N`.",
    "push-registry-down": "`docker push` prints `The push refers to repository [REPO]` and then "
    '`Get "http://127.0.0.1:PORT/v2/": dial tcp 127.0.0.1:PORT: connect: connection refused`, no prefix.',
    "inline-cache-export": "The inline cache is a vertex `exporting cache` with `preparing build cache for "
    "export done`.",
    "cache-from-found": "The import vertex `importing cache manifest from REF` is just DONE (no `inferred "
    "cache manifest type` status); CACHED vertices can carry `pulling sha256:... done` statuses.",
    "cache-from-missing": "`#N ERROR: REF: not found` on the import vertex (no `failed to configure registry "
    "cache importer`), and the successful build ends with an empty `------ > importing cache manifest from "
    "REF: ------` block.",
    "concurrent-stages": "`#N ...` when the printer leaves an unfinished vertex; the repeated header is "
    "again followed by `#N sha256:`.",
    "legacy-success": "`Sending build context to Docker daemon  SIZE` ends in CR CR LF; the step's stderr is "
    "wrapped in ESC[91m ... ESC[0m, the reset lands at the start of the next line.",
    "legacy-failure": "The final line starts with ESC[0m (the reset after the step's red stderr): `ESC[0mThe "
    "command '/bin/sh -c ...' returned a non-zero code: 3`, and the client exits 3, the step's own code.",
}


def run(lab: Lab, name: str) -> Run:
    """The result of scenario ``name``, running it (and what it depends on) on first use."""
    if name not in lab.results:
        lab.ensure_healthy()
        result = SCENARIOS[name](lab)
        if name in OBSERVED:
            result.notes.insert(0, OBSERVED[name])
        lab.results[name] = result
    result = lab.results[name]
    assert isinstance(result, Run)
    return result


def ctx(lab: Lab, name: str, files: dict[str, str]) -> Path:
    return write_tree(lab.contexts / name, files)


RUN_FAILED = r"^executor failed running \[/bin/sh -c .*\]: exit code: {code}$"

# ------------------------------------------------------------------------ cold / warm / partial rebuild

APP_DOCKERFILE = """\
FROM blbase:latest AS builder
WORKDIR /srv/orders
COPY deps.txt ./
RUN echo "resolving dependencies" && sleep 1 && mkdir -p /out/deps && for d in $(cat deps.txt); do echo "fetched $d"; echo "$d" > /out/deps/$d; done && echo "$(wc -l < deps.txt) dependencies resolved"
COPY src/ ./src/
RUN echo "compiling" && for f in src/*.c; do echo "  CC $f"; done && echo "  LD orders-api" && cat src/*.c | md5sum | cut -c1-12 > /out/VERSION && echo "build ok: $(cat /out/VERSION)"
RUN echo "running unit tests" && echo "ok 1 - config parses" && echo "ok 2 - health handler" && echo "ok 3 - orders handler" && echo "3 tests passed"

FROM blbase:latest
WORKDIR /srv/orders-image
COPY --from=builder /out/ ./
RUN echo "packaging orders-api $(cat VERSION) with $(ls deps | wc -l) dependencies"
"""  # noqa: E501  (a Dockerfile line is what it is)

APP_FILES = {
    "Dockerfile": APP_DOCKERFILE,
    "deps.txt": "libfoo-1.2.3\nlibbar-0.9.1\nlibbaz-4.0.0\n",
    "src/main.c": "int main(void) { return serve(8080); }\n",
    "src/handlers.c": "int health(void) { return 200; }\n",
}
# User vertices: [builder 1/7] FROM (shared with stage-1's FROM), builder 2..7, stage-1 2..4 -> 10, of which
# 9 are cacheable (FROM never counts as a hit or a miss).
APP_CACHEABLE = 9


@scenario("cold")
def cold(lab: Lab) -> Run:
    context = ctx(lab, "app", APP_FILES)
    build = lab.build("cold", context, ["-t", "orders-api:cold"])
    return Run(
        "cold",
        "first build of a multi-stage project on a fresh daemon: no cache anywhere, every step runs",
        build,
        Expected("success", None, False, 0, user_cached=0, cache_state="none"),
    )


@scenario("warm")
def warm(lab: Lab) -> Run:
    context = run(lab, "cold").build.context
    build = lab.build("warm", context, ["-t", "orders-api:warm"])
    return Run(
        "warm",
        "the cold build again with nothing changed: every cacheable step is CACHED (local cache, no import)",
        build,
        Expected("success", None, False, 0, user_cached=APP_CACHEABLE, cache_state="warm"),
    )


@scenario("partial")
def partial(lab: Lab) -> Run:
    context = run(lab, "warm").build.context
    (context / "src" / "handlers.c").write_text(
        "int health(void) { return 200; }\nint orders(void) { return 201; }\n"
    )
    build = lab.build("partial", context, ["-t", "orders-api:partial"])
    # Cached: builder WORKDIR, COPY deps.txt, RUN deps, stage-1 WORKDIR. Executed: COPY src/, compile, unit
    # tests (its input changed), COPY --from (VERSION changed) and the packaging RUN.
    return Run(
        "partial",
        "one source file (src/handlers.c) changed after the warm build: steps before COPY src/ are CACHED, "
        "the rest runs",
        build,
        Expected("success", None, False, 0, user_cached=4, cache_state="partial"),
    )


# ------------------------------------------------------------------------------------- RUN failures

EXIT1_DOCKERFILE = """\
FROM blbase:latest AS lint
WORKDIR /srv/lint
COPY app.conf ./
RUN echo "linting app.conf" && grep -n "=" app.conf && grep -q "^debug=false$" app.conf

FROM blbase:latest AS assets
WORKDIR /srv/assets
RUN echo "bundling assets" && sleep 5 && echo "bundle.js" > /srv/assets/manifest.txt

FROM blbase:latest
COPY --from=lint /srv/lint/app.conf /etc/app.conf
COPY --from=assets /srv/assets/manifest.txt /srv/
"""


@scenario("fail-exit1")
def fail_exit1(lab: Lab) -> Run:
    context = ctx(lab, "exit1", {"Dockerfile": EXIT1_DOCKERFILE, "app.conf": "port=8080\ndebug=true\n"})
    build = lab.build("fail-exit1", context, ["-t", "lint:1"])
    return Run(
        "fail-exit1",
        "a lint RUN (grep) exits 1 while a sibling stage is still sleeping in its RUN; BuildKit cancels the "
        "sibling (CANCELED), which is collateral, not the cause",
        build,
        Expected(
            "failure",
            "build-step",
            False,
            1,
            step_exit_code=1,
            final_line=RUN_FAILED.format(code=1),
            log_has=(r"^#\d+ CANCELED$",),
        ),
    )


EXIT2_DOCKERFILE = """\
FROM blbase:latest
WORKDIR /srv/tests
COPY deps.txt ./
RUN echo "resolving dependencies" && for d in $(cat deps.txt); do echo "fetched $d"; done
COPY t/ ./t/
RUN echo "running test suite" && sh t/run.sh
"""

EXIT2_RUNNER = """\
n=0
failed=0
for t in t/*.t; do
    n=$((n + 1))
    if grep -q '^expect=pass$' "$t"; then
        echo "ok $n - $t"
    else
        echo "not ok $n - $t"
        failed=$((failed + 1))
    fi
done
echo "1..$n"
if [ "$failed" -gt 0 ]; then
    echo "# $failed of $n tests failed" >&2
    exit 2
fi
"""


@scenario("fail-exit2")
def fail_exit2(lab: Lab) -> Run:
    files = {
        "Dockerfile": EXIT2_DOCKERFILE,
        "deps.txt": "libfoo\nlibbar\n",
        "t/run.sh": EXIT2_RUNNER,
        "t/config.t": "expect=pass\n",
        "t/handler.t": "expect=pass\n",
        "t/orders.t": "expect=pass\n",
    }
    context = ctx(lab, "exit2", files)
    # Prime the cache with a passing run (not kept as a fixture), then break one test: the failing build
    # has its first steps CACHED, like a CI run after an earlier green one.
    prime = lab.build("fail-exit2-prime", context, ["-t", "tests:1"])
    if prime.exit_code != 0:
        raise RuntimeError(f"priming build failed:\n{prime.text}")
    (context / "t" / "handler.t").write_text("expect=fail\n")
    build = lab.build("fail-exit2", context, ["-t", "tests:1"])
    # Cached: WORKDIR, COPY deps.txt, RUN deps. Executed: COPY t/ and the test RUN (which fails).
    return Run(
        "fail-exit2",
        "a test-runner RUN prints TAP output (stdout and stderr) and exits 2, after a green build primed the "
        "cache: the first steps are CACHED",
        build,
        Expected(
            "failure",
            "build-step",
            False,
            1,
            step_exit_code=2,
            user_cached=3,
            cache_state="partial",
            final_line=RUN_FAILED.format(code=2),
        ),
    )


KILLED_DOCKERFILE = """\
FROM blbase:latest
WORKDIR /srv/link
COPY objects.txt ./
# The RUN shell is PID 1 of its container, and PID 1 ignores SIGKILL sent from inside; so the "linker" is a
# child shell that gets SIGKILLed, as the OOM killer would do it, and sh exits 137. `; exit $?` keeps sh
# from exec'ing the child (which would make it PID 1 again).
RUN echo "linking $(wc -l < objects.txt) objects" && sh -c 'echo "ld: worker $$ started"; kill -9 $$'; exit $?
"""


@scenario("killed-137")
def killed_137(lab: Lab) -> Run:
    context = ctx(lab, "killed", {"Dockerfile": KILLED_DOCKERFILE, "objects.txt": "main.o\nhandlers.o\n"})
    build = lab.build("killed-137", context, ["-t", "link:1"])
    return Run(
        "killed-137",
        "a RUN whose linker process is SIGKILLed (like the OOM killer): the step exits 137",
        build,
        Expected("failure", "killed", False, 1, step_exit_code=137, final_line=RUN_FAILED.format(code=137)),
    )


# ---------------------------------------------------------------------------- Dockerfile and context


@scenario("dockerfile-syntax")
def dockerfile_syntax(lab: Lab) -> Run:
    dockerfile = """\
FROM blbase:latest
WORKDIR /srv/syntax
RUN echo "step one"
RUNN echo "typo"
RUN echo "never reached"
"""
    build = lab.build("dockerfile-syntax", ctx(lab, "syntax", {"Dockerfile": dockerfile}), ["-t", "syntax:1"])
    return Run(
        "dockerfile-syntax",
        "Dockerfile syntax error: unknown instruction RUNN on line 4; nothing is built",
        build,
        Expected(
            "failure",
            "dockerfile",
            False,
            1,
            final_line=r"^failed to solve with frontend dockerfile\.v0: failed to create LLB definition: "
            r"dockerfile parse error line 4: unknown instruction: RUNN",
        ),
    )


@scenario("copy-missing")
def copy_missing(lab: Lab) -> Run:
    dockerfile = (
        "FROM blbase:latest\nWORKDIR /srv/copy\nCOPY app.conf ./\nCOPY config/logging.yaml ./config/\n"
        'RUN echo "never reached"\n'
    )
    context = ctx(lab, "copy-missing", {"Dockerfile": dockerfile, "app.conf": "port=8080\n"})
    build = lab.build("copy-missing", context, ["-t", "copy:1"])
    return Run(
        "copy-missing",
        "COPY of config/logging.yaml, which is not in the build context",
        build,
        Expected(
            "failure",
            "context",
            False,
            1,
            # Nothing here can come from cache (its WORKDIR is unique), yet BuildKit reports `COPY app.conf`
            # CACHED - it never ran, the solve stopped while computing the next COPY's cache key - and, on
            # some runs, the WORKDIR as well. The CACHED count is what the log says; the design cannot
            # predict it, and neither "none" nor "partial" is a verdict this scenario could be held to.
            user_cached=None,
            cache_state=None,
            final_line=r'^failed to compute cache key: "/config/logging\.yaml" not found: not found$',
        ),
        notes=[
            "Docker 20.10's BuildKit marks `[3/5] COPY app.conf ./` CACHED although it never ran and "
            "nothing could be cached (the WORKDIR is unique to this scenario): the solve stopped while "
            "computing the cache key of the failing COPY. On some runs the WORKDIR is CACHED and the FROM "
            "DONE, on others the reverse."
        ],
    )


# ------------------------------------------------------------------------------------ daemon killed

LONG_RUN_DOCKERFILE = """\
FROM blbase:latest
WORKDIR /srv/itest
RUN echo "integration tests starting" && for i in $(seq 1 30); do echo "test $i ok"; sleep 1; done
"""


@scenario("daemon-killed")
def daemon_killed(lab: Lab) -> Run:
    context = ctx(lab, "daemon-killed", {"Dockerfile": LONG_RUN_DOCKERFILE})
    t0 = time.monotonic()
    proc, log = lab.start_build("daemon-killed", context, ["-t", "itest:1"])
    try:
        # Kill only once the long RUN is visibly running (its third line of output is in the log).
        wait_for_text(log, b" test 3 ok\n", proc, timeout=60)
        lab.daemon.kill()
        exit_code = proc.wait(timeout=60)
        seconds = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        # The following tests need a daemon: restart it the way a CI retry hook would.
        lab.daemon.restart()
    command = "DOCKER_BUILDKIT=1 " + " ".join(lab.build_command(["-t", "itest:1"]))
    build = BuildResult("daemon-killed", command, exit_code, log, seconds, context)
    return Run(
        "daemon-killed",
        "dockerd is SIGKILLed while a long RUN step is printing (after its 3rd line); the client loses its "
        "connection. The daemon is restarted afterwards.",
        build,
        Expected("failure", "builder-connection-lost", True, 1, final_line=r"^unexpected EOF$"),
    )


# ---------------------------------------------------------------------------------------------- push

PUSH_DOCKERFILE = """\
FROM {base} AS builder
WORKDIR /srv/{workdir}
COPY VERSION ./
RUN echo "building release $(cat VERSION)" && echo "release $(cat VERSION)" > /release.txt

FROM {base}
COPY --from=builder /release.txt /
RUN echo "image for $(cat /release.txt)"
"""


@scenario("push")
def push(lab: Lab) -> Run:
    repo, tag = f"{lab.registry.host}/orders", "1.0.0"
    dockerfile = PUSH_DOCKERFILE.format(base=lab.registry_base, workdir="push")
    context = ctx(lab, "push", {"Dockerfile": dockerfile, "VERSION": "1.0.0\n"})
    # Docker 20.10's `docker build` cannot push (no image/registry exporter in its embedded BuildKit), so the
    # CI step is `docker build -t REF . && docker push REF`, captured as one log.
    build = lab.build("push", context, ["-t", f"{repo}:{tag}"], then=[["push", f"{repo}:{tag}"]])
    digest = lab.registry.manifest_digest("orders", tag)
    return Run(
        "push",
        "build FROM a base image hosted in the local registry, then `docker push` the result to it "
        "(one CI step: build && push)",
        build,
        Expected(
            "success",
            None,
            False,
            0,
            pushed_ref=f"{repo}:{tag}",
            log_has=(rf"^{re.escape(tag)}: digest: sha256:[0-9a-f]{{64}} size: \d+$",),
        ),
        pushed_digest=digest,
    )


@scenario("push-registry-down")
def push_registry_down(lab: Lab) -> Run:
    repo, tag = f"{lab.registry.host}/orders", "1.0.1"
    # A local base: with the registry down, only the push may fail, not the FROM.
    dockerfile = PUSH_DOCKERFILE.format(base=Lab.BASE, workdir="push-down")
    context = ctx(lab, "push-down", {"Dockerfile": dockerfile, "VERSION": "1.0.1\n"})
    lab.registry.stop()
    try:
        build = lab.build(
            "push-registry-down", context, ["-t", f"{repo}:{tag}"], then=[["push", f"{repo}:{tag}"]]
        )
    finally:
        lab.registry.start()
    return Run(
        "push-registry-down",
        "the build succeeds, then `docker push` to the local registry, which is stopped: connection refused",
        build,
        Expected(
            "failure",
            "network",
            True,
            1,
            final_line=rf"dial tcp {re.escape(lab.registry.host)}: connect: connection refused$",
        ),
    )


# ------------------------------------------------------------------------------------------ cache-from

CACHE_DOCKERFILE = """\
FROM {base} AS builder
WORKDIR /srv/{workdir}
COPY deps.txt ./
RUN echo "resolving dependencies" && for d in $(cat deps.txt); do echo "fetched $d"; done
COPY src/ ./src/
RUN echo "compiling" && for f in src/*.c; do echo "  CC $f"; done && md5sum src/*.c > /VERSION

FROM {base}
WORKDIR /srv/{workdir}-image
COPY --from=builder /VERSION ./
RUN echo "packaging $(cut -c1-12 VERSION)"
"""


def cache_files(lab: Lab, workdir: str) -> dict[str, str]:
    return {
        "Dockerfile": CACHE_DOCKERFILE.format(base=lab.registry_base, workdir=workdir),
        "deps.txt": "libfoo\nlibbar\n",
        "src/main.c": "int main(void) { return 0; }\n",
    }


@scenario("inline-cache-export")
def inline_cache_export(lab: Lab) -> Run:
    ref = f"{lab.registry.host}/cached:latest"
    context = ctx(lab, "cache", cache_files(lab, "cached"))
    build = lab.build(
        "inline-cache-export",
        context,
        ["--build-arg", "BUILDKIT_INLINE_CACHE=1", "-t", ref],
        then=[["push", ref]],
    )
    return Run(
        "inline-cache-export",
        "build with inline cache metadata (BUILDKIT_INLINE_CACHE=1) and push it to the local registry: the "
        "source for cache-from-found",
        build,
        Expected(
            "success",
            None,
            False,
            0,
            pushed_ref=ref,
            log_has=(r"^#\d+ exporting cache$", r"^#\d+ preparing build cache for export done$"),
        ),
        pushed_digest=lab.registry.manifest_digest("cached", "latest"),
    )


@scenario("cache-from-found")
def cache_from_found(lab: Lab) -> Run:
    source = run(lab, "inline-cache-export")
    if source.build.exit_code != 0:
        raise RuntimeError(f"inline-cache-export failed, cannot test cache-from:\n{source.build.text}")
    ref = f"{lab.registry.host}/cached:latest"
    # A fresh CI runner: no local image and no local build cache, so every hit must come from the import.
    lab.daemon.docker("rmi", ref)
    lab.daemon.docker("builder", "prune", "--all", "--force")
    build = lab.build("cache-from-found", source.build.context, ["--cache-from", ref, "-t", "cached:ci"])
    # All 8 cacheable user steps (builder WORKDIR, COPY, RUN, COPY, RUN; stage-1 WORKDIR, COPY, RUN).
    return Run(
        "cache-from-found",
        "--cache-from an image in the local registry built with inline cache, after wiping the local build "
        "cache: the import is found and every cacheable step is CACHED",
        build,
        Expected(
            "success",
            None,
            False,
            0,
            user_cached=8,
            cache_state="warm",
            cache_import=(ref, True),
            log_has=(rf"^#(\d+) importing cache manifest from {re.escape(ref)}\n(#\1 .*\n)*#\1 DONE ",),
        ),
    )


@scenario("cache-from-missing")
def cache_from_missing(lab: Lab) -> Run:
    ref = f"{lab.registry.host}/cached:does-not-exist"
    context = ctx(lab, "cache-missing", cache_files(lab, "cache-missing"))
    build = lab.build("cache-from-missing", context, ["--cache-from", ref, "-t", "cached:missing"])
    return Run(
        "cache-from-missing",
        "--cache-from a tag that does not exist in the local registry: the import vertex errors (not found), "
        "the build runs every step and succeeds",
        build,
        Expected(
            "success",
            None,
            False,
            0,
            user_cached=0,
            cache_state="cold",
            cache_import=(ref, False),
            log_has=(rf"^#\d+ ERROR: {re.escape(ref)}: not found$",),
        ),
    )


# ------------------------------------------------------------------------------------ interleaving

CONCURRENT_DOCKERFILE = """\
FROM blbase:latest AS api
WORKDIR /srv/concurrent-api
RUN for i in $(seq 1 22); do echo "api: compiling unit $i"; sleep 0.5; done

FROM blbase:latest AS worker
WORKDIR /srv/concurrent-worker
RUN for i in $(seq 1 22); do echo "worker: compiling unit $i" >&2; sleep 0.5; done

FROM blbase:latest
COPY --from=api /srv/concurrent-api /srv/api
COPY --from=worker /srv/concurrent-worker /srv/worker
"""


@scenario("concurrent-stages")
def concurrent_stages(lab: Lab) -> Run:
    context = ctx(lab, "concurrent", {"Dockerfile": CONCURRENT_DOCKERFILE})
    build = lab.build("concurrent-stages", context, ["-t", "concurrent:1"])
    # Two 11-second RUNs in parallel stages. This printer shows one vertex at a time and leaves it (`#N ...`,
    # later a repeated header) only when another vertex completes first or has waited about 10 s: parallel
    # RUNs of 2 s or 8 s came out one after the other, 6 s ones interleaved only when the hidden one finished
    # first. 11 s makes the switch certain.
    return Run(
        "concurrent-stages",
        "two parallel stages whose RUNs print a line every 0.5 s for 11 s: the printer interleaves them",
        build,
        Expected(
            "success", None, False, 0, log_has=(r"^#(\d+) \.\.\.\n\n(.*\n)*#\1 \[(api|worker) 3/3\] RUN ",)
        ),
    )


# ---------------------------------------------------------------------------------------- legacy builder

LEGACY_DOCKERFILE = """\
FROM blbase:latest
WORKDIR /srv/legacy
COPY app.conf ./
RUN echo "legacy builder step" && cat app.conf
RUN echo "to stdout" && echo "to stderr" >&2
"""
LEGACY_FAILING_STEP = 'RUN echo "running checks" && echo "check failed: debug is on" >&2 && exit 3\n'


@scenario("legacy-success")
def legacy_success(lab: Lab) -> Run:
    context = ctx(lab, "legacy", {"Dockerfile": LEGACY_DOCKERFILE, "app.conf": "port=8080\ndebug=true\n"})
    build = lab.build("legacy-success", context, ["-t", "legacy:1"], buildkit=False)
    return Run(
        "legacy-success",
        "the legacy builder (DOCKER_BUILDKIT=0): 5 steps, nothing cached, success",
        build,
        Expected("success", None, False, 0, final_line=r"^Successfully tagged legacy:1$"),
        format="legacy",
    )


@scenario("legacy-failure")
def legacy_failure(lab: Lab) -> Run:
    context = run(lab, "legacy-success").build.context
    (context / "Dockerfile").write_text(LEGACY_DOCKERFILE + LEGACY_FAILING_STEP)
    build = lab.build("legacy-failure", context, ["-t", "legacy:2"], buildkit=False)
    # Steps 2-5 are answered "Using cache" (the success ran first); step 6 runs and exits 3. The legacy
    # client exits with the step's own code.
    return Run(
        "legacy-failure",
        "the legacy builder: the previous 5 steps from cache, then a RUN that exits 3",
        build,
        Expected(
            "failure",
            "build-step",
            False,
            3,
            step_exit_code=3,
            user_cached=4,
            cache_state="partial",
            # The line starts with ESC[0m: the legacy client resets the red it used for the step's stderr.
            final_line=r"^(\x1b\[0m)?The command '/bin/sh -c .*' returned a non-zero code: 3$",
        ),
        format="legacy",
    )


ORDER = list(SCENARIOS)


# ------------------------------------------------------------------------------- reading a run's log


def observed_cached(r: Run) -> int:
    """``steps.cached`` as the brief defines it: distinct vertices with a ``CACHED`` line (legacy builder:
    steps answered ``---> Using cache``)."""
    if r.format == "legacy":
        return legacy_cached_steps(r.build.text)
    return len(cached_vertices(r.build.text))


def observed_user_cached(r: Run) -> int:
    """Cached vertices that are cacheable user steps: not ``[internal]``/``[auth]``/cache/export vertices and
    not ``FROM`` (which Docker 20.10's BuildKit reports CACHED or DONE seemingly at random)."""
    if r.format == "legacy":
        return legacy_cached_steps(r.build.text)
    skip = ("[internal]", "[auth]", "importing cache", "exporting ")
    return sum(
        1
        for name in cached_vertices(r.build.text).values()
        if not name.startswith(skip) and not re.match(r"^\[[^\]]*\] FROM ", name)
    )


def label(r: Run, lab: Lab) -> dict[str, Any]:
    """The sidecar JSON of a live fixture, in the spirit of shared/logs/*.json."""
    e = r.expected
    return {
        "source": "live",
        "generated_by": "tests/integration (BUILDLOG_CAPTURE_LIVE=1 pytest -m integration); the log is the "
        "exact bytes the docker client printed, unedited",
        "tool": f"Docker {lab.versions.get('dockerd', '?')} with its embedded BuildKit; client "
        f"{lab.versions.get('docker_client', '?')}",
        "versions": lab.versions,
        "scenario": r.description,
        "command": r.build.command,
        "format": r.format,
        "exit_code": r.build.exit_code,
        "outcome": e.outcome,
        "failure_class": e.failure_class or "none",
        "retryable": e.retryable,
        "exit_code_of_failed_step": e.step_exit_code,
        "steps_cached": observed_cached(r),
        "user_steps_cached_by_design": e.user_cached,
        "cache_state": e.cache_state,
        "cache_import": None
        if e.cache_import is None
        else {"ref": e.cache_import[0], "found": e.cache_import[1]},
        "pushed": None if e.pushed_ref is None else {"ref": e.pushed_ref, "digest": r.pushed_digest},
        "final_line": r.build.last_line(),
        "notes": " ".join(r.notes),
    }


def save_live_fixture(r: Run, lab: Lab, directory: Path = LIVE_FIXTURES) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"docker20-{r.name}.log"
    target.write_bytes(r.build.data)
    (directory / f"docker20-{r.name}.json").write_text(json.dumps(label(r, lab), indent=2) + "\n")
    return target
