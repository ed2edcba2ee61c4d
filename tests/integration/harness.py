"""A private Docker 20.10 daemon, a local registry and a busybox base image for the integration tests.

Everything here runs on this machine only: dockerd listens on a unix socket in a temporary directory, the
registry on 127.0.0.1, builds use ``--network=host`` and only ever reference images that exist locally or in
that registry. Nothing here talks to an address outside 127.0.0.0/8.

The ``docker`` client is always called as ``/usr/bin/docker``: a newer client may be earlier on PATH and it
refuses BuildKit builds without buildx, and its output would not be Docker 20.10's anyway.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
LIVE_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "live"

DOCKER = "/usr/bin/docker"
DOCKERD = "/usr/sbin/dockerd"
REGISTRY = "/usr/bin/docker-registry"
BUSYBOX = "/bin/busybox"
RUNC = "/usr/sbin/runc"

INSTALL_HINT = (
    "run `apt-get update && apt-get install -y docker.io docker-registry busybox-static` "
    "(or `.ci/install-integration-deps.sh`, which does that when anything is missing)"
)

# Set to 1 to copy every scenario's log and label into tests/fixtures/live (see its README.md).
CAPTURE_ENV = "BUILDLOG_CAPTURE_LIVE"


def missing_prerequisites() -> list[str]:
    """What is missing to run the integration tests, as human-readable reasons (empty when all is there)."""
    problems: list[str] = []
    wanted = {
        DOCKER: "docker.io",
        DOCKERD: "docker.io",
        RUNC: "runc (a dependency of docker.io)",
        REGISTRY: "docker-registry",
        BUSYBOX: "busybox-static",
    }
    for path, package in wanted.items():
        if not os.access(path, os.X_OK):
            problems.append(f"{path} is missing (package {package})")
    if os.access(BUSYBOX, os.X_OK) and not _is_static(Path(BUSYBOX)):
        # The base image is FROM scratch plus this one file, so it must not need a dynamic loader.
        problems.append(f"{BUSYBOX} is dynamically linked (install busybox-static instead of busybox)")
    if os.access(DOCKER, os.X_OK):
        version = _output([DOCKER, "--version"])
        if "20.10" not in version:
            problems.append(f"{DOCKER} is not the Docker 20.10 client from docker.io: {version.strip()!r}")
    if os.geteuid() != 0:
        problems.append("dockerd needs root: run the integration tests as root (CI does)")
    return problems


def _is_static(path: Path) -> bool:
    # An ELF file with a PT_INTERP program header needs a dynamic loader. Reading the headers avoids
    # depending on `file`/`ldd` output, which differ between distributions.
    data = path.read_bytes()[:4096]
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit only; this is all amd64/arm64 Debian
        return False
    phoff = int.from_bytes(data[32:40], "little")
    phentsize = int.from_bytes(data[54:56], "little")
    phnum = int.from_bytes(data[56:58], "little")
    for i in range(phnum):
        off = phoff + i * phentsize
        if int.from_bytes(data[off : off + 4], "little") == 3:  # PT_INTERP
            return False
    return True


def _output(cmd: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, check=False)
    return proc.stdout + proc.stderr


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env() -> dict[str, str]:
    """A small, predictable environment for dockerd, the registry and the docker client.

    Proxy variables are dropped (and NO_PROXY covers loopback) so that no request can be routed through a
    proxy outside 127.0.0.0/8. PATH leaves out /usr/local, where a newer docker client may live: dockerd finds
    containerd, runc and docker-init from Debian's packages. No TERM, so nothing believes it has a terminal.
    """
    return {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is "alive" for kill(0) but has finished; treat it as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.05)
    return not _pid_alive(pid)


def _is_ours(pid: int, root: Path) -> bool:
    """Whether ``pid`` runs with our temporary root in its command line: a pidfile can outlive its process
    and the number be reused, and only processes this session started may be signalled."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return str(root).rstrip("/") + "/" in cmdline


def _signal(pid: int, sig: int, group: bool = False) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _pids_mentioning(text: str) -> list[int]:
    """Processes whose command line contains ``text`` (our unique temporary root): the safety net at teardown
    for shims or helpers that outlived their parents. Only ever called with that root, so it finds only
    processes this session started."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def _mounts_under(root: Path) -> list[str]:
    points: list[str] = []
    prefix = str(root).rstrip("/") + "/"
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefix) or point == str(root):
            points.append(point)
    return points


# --------------------------------------------------------------------------------------------- registry


class Registry:
    """docker-registry on 127.0.0.1:PORT with storage in ``root``; can be stopped and started again with the
    same port and content (the push-while-down scenario needs that)."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root
        self.port = port or free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.log_path = root / "registry.log"
        self.config_path = root / "config.yml"
        self._proc: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)
        # Our own config: the packaged one listens on :5000 on all interfaces and wants htpasswd auth.
        self.config_path.write_text(
            textwrap.dedent(
                f"""\
                version: 0.1
                log:
                  level: info
                  accesslog:
                    disabled: false
                storage:
                  filesystem:
                    rootdirectory: {root / "data"}
                  delete:
                    enabled: true
                http:
                  addr: 127.0.0.1:{self.port}
                """
            )
        )

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        if self.running:
            return
        log = self.log_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                [REGISTRY, "serve", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=base_env(),
                start_new_session=True,  # its own process group, so stop() can kill all of it
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"docker-registry exited with {self._proc.returncode}; see {self.log_path}"
                )
            if self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError(
            f"docker-registry did not answer on {self.host} within {timeout}s; see {self.log_path}"
        )

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(f"GET /v2/ HTTP/1.0\r\nHost: {self.host}\r\n\r\n".encode())
                status = s.recv(64).split(b"\r\n", 1)[0]  # e.g. b"HTTP/1.0 200 OK"
                return b" 200 " in status
        except OSError:
            return False

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        _signal(proc.pid, signal.SIGTERM, group=True)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _signal(proc.pid, signal.SIGKILL, group=True)
            proc.wait(timeout=10)

    def manifest_digest(self, repo: str, tag: str) -> str | None:
        """The registry's own answer for REPO:TAG's manifest digest (independent of any log)."""
        request = (
            f"HEAD /v2/{repo}/manifests/{tag} HTTP/1.0\r\nHost: {self.host}\r\n"
            "Accept: application/vnd.docker.distribution.manifest.v2+json\r\n"
            "Accept: application/vnd.oci.image.manifest.v1+json\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(request.encode())
            head = b""
            while chunk := s.recv(4096):
                head += chunk
        lines = head.decode(errors="replace").split("\r\n")
        if " 200 " not in lines[0]:
            return None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "docker-content-digest":
                return value.strip()
        return None


# ------------------------------------------------------------------------------------------------ dockerd


RESTART_SCRIPT = """\
#!/bin/bash
# Generated by tests/integration/harness.py: (re)start this test session's private dockerd.
#
# Callable from any subprocess (e.g. `buildlog run --before-retry {restart}`): stops what is left of the
# previous dockerd (gracefully if it still runs), removes the build containers that outlived it, starts a new
# one on the same data root and waits until it answers. Exit 0 when the daemon is up.
set -u
ROOT={root}
DATA="$ROOT/data"
EXEC="$ROOT/exec"
PIDFILE="$ROOT/docker.pid"
SOCK="$ROOT/docker.sock"
LOG="$ROOT/dockerd.log"

ours() {{  # PID: a live process of this session? Its command line names our root, which also guards against
    # a reused pid; a zombie has an empty command line and counts as gone (it holds no socket or file).
    tr '\\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$ROOT/"
}}

stop_pid() {{  # PID SECONDS: TERM, wait, then KILL the process group (dockerd runs in its own session)
    local pid=$1 i
    ours "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < $2 * 10; i++)); do ours "$pid" || return 0; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do ours "$pid" || return 0; sleep 0.1; done
}}

if [ -s "$PIDFILE" ]; then stop_pid "$(cat "$PIDFILE")" 20; fi
# The containerd that dockerd started for itself lives in its own session. It dies with a killed dockerd but
# may stay an unreaped zombie for a while, and a new dockerd that finds its pid "still running" waits for
# it in vain ("timeout waiting for containerd to start"): stop it if needed, then drop its pidfile.
if [ -s "$EXEC/containerd/containerd.pid" ]; then stop_pid "$(cat "$EXEC/containerd/containerd.pid")" 10; fi
rm -f "$EXEC/containerd/containerd.pid"
# BuildKit's RUN containers are plain runc containers (state in runc's default root) whose bundles sit in
# our data root; after a SIGKILLed dockerd they keep running, so kill and delete them by id.
for cfg in "$DATA"/buildkit/executor/*/config.json; do
    [ -e "$cfg" ] || continue
    id=$(basename "$(dirname "$cfg")")
    {runc} kill "$id" KILL >/dev/null 2>&1
    {runc} delete --force "$id" >/dev/null 2>&1
done
rm -f "$PIDFILE" "$SOCK"

echo "=== dockerd (re)started at $(date -u +%FT%TZ) ===" >>"$LOG"
setsid {dockerd_cmd} >>"$LOG" 2>&1 </dev/null &

for ((i = 0; i < 300; i++)); do
    if DOCKER_HOST="unix://$SOCK" {docker} version >/dev/null 2>&1; then exit 0; fi
    sleep 0.1
done
echo "dockerd did not come up within 30s; see $LOG" >&2
exit 1
"""


class Daemon:
    """A private dockerd (20.10, embedded BuildKit) with its own data root, exec root, pidfile and socket.

    ``restart_script`` is a standalone shell script that (re)starts it; ``kill()`` SIGKILLs it like a crash.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.data_root = root / "data"
        self.exec_root = root / "exec"
        self.pidfile = root / "docker.pid"
        self.socket = root / "docker.sock"
        self.log_path = root / "dockerd.log"
        self.config_dir = root / "client-config"  # DOCKER_CONFIG: no credential helpers, no ~/.docker
        self.config_dir.mkdir(exist_ok=True)
        (self.config_dir / "config.json").write_text("{}\n")
        self.restart_script = root / "restart-dockerd.sh"
        dockerd_cmd = [
            DOCKERD,
            f"--data-root={self.data_root}",
            f"--exec-root={self.exec_root}",
            f"--pidfile={self.pidfile}",
            f"--host=unix://{self.socket}",
            # No bridge, no iptables/NAT: builds use --network=host and touch nothing outside this machine.
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
        ]
        if driver := os.environ.get("BUILDLOG_IT_STORAGE_DRIVER"):
            # overlay2 works on this machine; vfs is the fallback for hosts whose /tmp cannot carry overlay.
            dockerd_cmd.append(f"--storage-driver={driver}")
        self.restart_script.write_text(
            RESTART_SCRIPT.format(
                root=shlex.quote(str(root)),
                restart=shlex.quote(str(self.restart_script)),
                runc=RUNC,
                docker=DOCKER,
                dockerd_cmd=shlex.join(dockerd_cmd),
            )
        )
        self.restart_script.chmod(0o755)

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def env(self, **extra: str) -> dict[str, str]:
        env = base_env()
        env.update(DOCKER_HOST=self.host, DOCKER_CONFIG=str(self.config_dir))
        env.update(extra)
        return env

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        pid = self.pid()
        return pid is not None and _pid_alive(pid) and _is_ours(pid, self.root)

    def healthy(self) -> bool:
        if not self.alive():
            return False
        proc = subprocess.run(
            [DOCKER, "version", "--format", "{{.Server.Version}}"],
            env=self.env(),
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=20,
            check=False,
        )
        return proc.returncode == 0

    def start(self) -> None:
        """(Re)start through the same script a test subprocess would call."""
        proc = subprocess.run(
            [str(self.restart_script)],
            env=base_env(),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=90,
            check=False,
        )
        if proc.returncode != 0:
            tail = self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""
            raise RuntimeError(
                f"dockerd did not start: {proc.stderr.strip()}\n--- {self.log_path} ---\n{tail}"
            )

    restart = start

    def ensure_running(self) -> None:
        if not self.healthy():
            self.start()

    def kill(self) -> None:
        """SIGKILL dockerd alone, like a crash or the OOM killer: its containerd and running build containers
        are left to fend for themselves (start() cleans them up)."""
        pid = self.pid()
        if pid is None or not self.alive():
            raise RuntimeError("dockerd is not running")
        _signal(pid, signal.SIGKILL)
        if not _wait_gone(pid, 10):
            raise RuntimeError(f"dockerd {pid} survived SIGKILL")

    def stop(self) -> None:
        """Stop dockerd and everything it left behind; safe to call on a dead or never-started daemon."""
        pid = self.pid()
        if pid is not None and self.alive():
            _signal(pid, signal.SIGTERM)
            if not _wait_gone(pid, 20):
                _signal(pid, signal.SIGKILL, group=True)
                _wait_gone(pid, 5)
        cpid_file = self.exec_root / "containerd" / "containerd.pid"
        with contextlib.suppress(OSError, ValueError):
            cpid = int(cpid_file.read_text().strip())
            if _is_ours(cpid, self.root):
                _signal(cpid, signal.SIGTERM)
                if not _wait_gone(cpid, 10):
                    _signal(cpid, signal.SIGKILL)
            cpid_file.unlink()
        executor = self.data_root / "buildkit" / "executor"
        if executor.is_dir():
            for bundle in executor.iterdir():
                if (bundle / "config.json").exists():
                    for cmd in (["kill", bundle.name, "KILL"], ["delete", "--force", bundle.name]):
                        subprocess.run(
                            [RUNC, *cmd], capture_output=True, stdin=subprocess.DEVNULL, check=False
                        )
        # Safety net: shims and helpers whose command line names our root are ours.
        for leftover in _pids_mentioning(str(self.root) + "/"):
            _signal(leftover, signal.SIGKILL)
        # A SIGKILLed dockerd leaves its data-root bind mount and overlay mounts behind.
        for point in sorted(_mounts_under(self.root), key=len, reverse=True):
            subprocess.run(
                ["umount", "-l", point], capture_output=True, stdin=subprocess.DEVNULL, check=False
            )

    def docker(self, *args: str, check: bool = True, timeout: float = 120, **env: str) -> str:
        """Run ``/usr/bin/docker ARGS`` against this daemon; returns combined output."""
        proc = subprocess.run(
            [DOCKER, *args],
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
        out = proc.stdout.decode(errors="replace")
        if check and proc.returncode != 0:
            raise RuntimeError(f"docker {shlex.join(args)} exited {proc.returncode}:\n{out}")
        return out

    def versions(self) -> dict[str, str]:
        client = self.docker(
            "version", "--format", "{{.Client.Version}} (API {{.Client.APIVersion}})"
        ).strip()
        server = self.docker(
            "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"
        ).strip()
        driver = self.docker("info", "--format", "{{.Driver}}").strip()
        package = _output(["dpkg-query", "-W", "-f", "${Version}", "docker.io"]).strip()
        registry = _output([REGISTRY, "--version"]).strip()
        return {
            "docker_client": f"{DOCKER} {client}",
            "dockerd": server,
            "buildkit": "embedded in dockerd 20.10 (vendored; the daemon does not report its version)",
            "debian_package": f"docker.io {package}",
            "storage_driver": driver,
            "registry": registry,
        }


# ------------------------------------------------------------------------------------------------ builds


@dataclass
class BuildResult:
    """One captured run: the exact bytes the client printed (stdout and stderr through one pipe, in the
    order written) and its exit code."""

    name: str
    command: str
    exit_code: int
    log_path: Path
    seconds: float
    context: Path
    notes: list[str] = field(default_factory=list)

    @property
    def data(self) -> bytes:
        return self.log_path.read_bytes()

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    def last_line(self) -> str:
        lines = [line for line in self.text.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Create a build context: ``files`` maps relative paths to text (dedented)."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    return root


class Lab:
    """The session: one daemon, one registry, a base image, a directory of logs, and the scenario results."""

    BASE = "blbase:latest"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.logs = root / "logs"
        self.contexts = root / "contexts"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.contexts.mkdir(exist_ok=True)
        self.daemon = Daemon(root / "daemon")
        self.registry = Registry(root / "registry")
        self.results: dict[str, Any] = {}
        self.builds = 0
        self.build_seconds = 0.0
        self.started = time.monotonic()
        self.versions: dict[str, str] = {}

    @classmethod
    def create(cls) -> Lab:
        root = Path(tempfile.mkdtemp(prefix="buildlog-integration-"))
        if len(str(root)) > 60:
            # dockerd puts unix sockets (containerd.sock.ttrpc, ...) under the exec root; keep well inside the
            # 108-byte sun_path limit even when TMPDIR is deep.
            shutil.rmtree(root)
            root = Path(tempfile.mkdtemp(prefix="buildlog-integration-", dir="/tmp"))
        return cls(root)

    @property
    def registry_base(self) -> str:
        return f"{self.registry.host}/blbase:latest"

    def start(self) -> None:
        self.registry.start()
        self.daemon.start()
        self.versions = self.daemon.versions()
        self._build_base_image()

    def _build_base_image(self) -> None:
        # FROM scratch + a static busybox: the only base image there can be without internet. Also pushed to
        # the local registry for the scenarios that pull their base from a registry.
        ctx = self.contexts / "base"
        ctx.mkdir(parents=True, exist_ok=True)
        shutil.copy2(BUSYBOX, ctx / "busybox")
        (ctx / "Dockerfile").write_text(
            'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        )
        result = self.build("base-image", ctx, ["-t", self.BASE])
        if result.exit_code != 0:
            raise RuntimeError(f"building the busybox base image failed:\n{result.text}")
        self.push_base()

    def push_base(self) -> None:
        self.daemon.docker("tag", self.BASE, self.registry_base)
        self.daemon.docker("push", self.registry_base)
        # Untag it again so a FROM of the registry ref really resolves against the registry.
        self.daemon.docker("rmi", self.registry_base)

    def ensure_healthy(self) -> None:
        """Bring back whatever a previous test took down (a killed daemon, a stopped registry)."""
        if not self.registry.running:
            self.registry.start()
        self.daemon.ensure_running()

    def stop(self) -> None:
        errors: list[str] = []
        for stop in (self.daemon.stop, self.registry.stop):
            try:
                stop()
            except Exception as exc:  # keep stopping the rest; report at the end
                errors.append(f"{stop.__qualname__}: {exc}")
        # The data roots (and the busybox copy) are large and useless after the run; the logs stay.
        (self.contexts / "base" / "busybox").unlink(missing_ok=True)
        for bulky in (self.daemon.data_root, self.daemon.exec_root, self.registry.root / "data"):
            if bulky.exists() and not _mounts_under(bulky):
                shutil.rmtree(bulky, ignore_errors=True)
        if errors:
            raise RuntimeError("; ".join(errors))

    # -- running builds ------------------------------------------------------------------------------------

    def log_path(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def build(
        self,
        name: str,
        context: Path,
        args: Sequence[str] = (),
        *,
        buildkit: bool = True,
        then: Sequence[Sequence[str]] = (),
        timeout: float = 120,
    ) -> BuildResult:
        """``DOCKER_BUILDKIT=1 /usr/bin/docker build --progress=plain --network=host ARGS .`` in ``context``.

        ``then`` are further docker commands run only if the previous one succeeded, appended to the same log,
        like one CI step ``docker build … && docker push …`` (Docker 20.10's ``docker build`` cannot push).
        """
        cmd = self.build_command(args, buildkit=buildkit)
        env = self.daemon.env(DOCKER_BUILDKIT="1" if buildkit else "0")
        log = self.log_path(name)
        commands = [cmd, *[[DOCKER, *extra] for extra in then]]
        t0 = time.monotonic()
        exit_code = 0
        with log.open("wb") as out:
            for one in commands:
                proc = subprocess.run(
                    one,
                    cwd=context,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,  # one pipe: bytes in the order the client wrote them
                    timeout=timeout,
                    check=False,
                )
                exit_code = proc.returncode
                if exit_code != 0:
                    break
        seconds = time.monotonic() - t0
        self.builds += 1
        self.build_seconds += seconds
        return BuildResult(name, self.describe(commands, buildkit), exit_code, log, seconds, context)

    def build_command(self, args: Sequence[str], *, buildkit: bool = True) -> list[str]:
        if buildkit:
            return [DOCKER, "build", "--progress=plain", "--network=host", *args, "."]
        # The legacy builder has no --progress; --network=host still applies to its RUN containers.
        return [DOCKER, "build", "--network=host", *args, "."]

    @staticmethod
    def describe(commands: Sequence[Sequence[str]], buildkit: bool) -> str:
        prefix = f"DOCKER_BUILDKIT={1 if buildkit else 0} "
        return " && ".join(prefix * (i == 0) + shlex.join(c) for i, c in enumerate(commands))

    def start_build(
        self, name: str, context: Path, args: Sequence[str] = ()
    ) -> tuple[subprocess.Popen[bytes], Path]:
        """Like build() but returns the running client (for scenarios that interfere mid-build)."""
        log = self.log_path(name)
        self.builds += 1
        out = log.open("wb")
        try:
            proc = subprocess.Popen(
                self.build_command(args),
                cwd=context,
                env=self.daemon.env(DOCKER_BUILDKIT="1"),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        finally:
            out.close()
        return proc, log


def wait_for_text(path: Path, needle: bytes, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in path.read_bytes():
            return
        if proc.poll() is not None:
            raise RuntimeError(f"build ended (exit {proc.returncode}) before printing {needle!r}")
        time.sleep(0.05)
    raise RuntimeError(f"{needle!r} did not appear in {path} within {timeout}s")


# ------------------------------------------------------------------------------------ reading raw logs


def cached_vertices(text: str) -> dict[str, str]:
    """Vertex number -> name for every vertex with a ``#N CACHED`` line (BuildKit plain output).

    A deliberately small reading of the log, independent of buildlog: it checks that a scenario did what it
    was designed to do before buildlog's answer is compared with the design.
    """
    names: dict[str, str] = {}
    cached: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            continue
        num, _, rest = line[1:].partition(" ")
        if not num.isdigit():
            continue
        if rest == "CACHED":
            cached[num] = names.get(num, "")
        elif num not in names and not rest.startswith("sha256:"):
            names[num] = rest
    return cached


def legacy_cached_steps(text: str) -> int:
    """Legacy builder: the number of ``Step i/n`` blocks answered with `` ---> Using cache``."""
    return text.count("\n ---> Using cache\n")


# ----------------------------------------------------------------------------------- the buildlog CLI


def buildlog_summary(log: Path) -> dict[str, Any]:
    """``python3 -m buildlog summary --format json LOG`` -> the parsed JSON contract.

    The single place that knows how to invoke buildlog, so a change of CLI shape is a one-line change here.
    The exit code is not checked (the CLI may map outcomes to exit codes); the JSON on stdout is the contract.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "buildlog", "summary", "--format", "json", str(log)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"`buildlog summary --format json {log}` printed no JSON (exit {proc.returncode})\n"
            f"stdout: {proc.stdout[-2000:]!r}\nstderr: {proc.stderr[-3000:]}"
        ) from None
    if not isinstance(data, dict):
        raise AssertionError(f"buildlog summary JSON is not an object: {data!r}")
    return data
