#!/usr/bin/env bash
# Install what tests/integration needs: Docker 20.10 (Debian's docker.io: dockerd with its embedded
# BuildKit and the matching client at /usr/bin/docker), a registry server (docker-registry) and a
# static busybox (the only thing the locally-made base image contains). And what
# tests/test_pictures_browser.py needs: headless Chromium (Debian's chromium) to open the HTML report, and
# Mermaid's own renderer, @mermaid-js/mermaid-cli (npm), in $MMDC_PREFIX, driving that same Chromium (its
# own browser download is skipped: only the registries are reachable).
#
# Idempotent: apt is skipped entirely when every binary is already there, so a warm CI machine pays
# nothing. Runs as root (CI does); uses sudo only when it is not root and sudo exists.
set -euo pipefail

need=()
[ -x /usr/bin/docker ] && [ -x /usr/sbin/dockerd ] || need+=(docker.io)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx sh \
    && ! ldd /bin/busybox >/dev/null 2>&1 || need+=(busybox-static)
[ -x /usr/bin/chromium ] || need+=(chromium fonts-dejavu-core)
command -v npm >/dev/null 2>&1 || need+=(npm)

MMDC_PREFIX="${MMDC_PREFIX:-/opt/buildlog-mmdc}"
MMDC_VERSION="12"
install_mmdc() {
    if [ -x "$MMDC_PREFIX/node_modules/.bin/mmdc" ]; then
        echo "integration deps: mmdc already in $MMDC_PREFIX"
        return
    fi
    echo "integration deps: installing @mermaid-js/mermaid-cli@$MMDC_VERSION into $MMDC_PREFIX"
    $SUDO mkdir -p "$MMDC_PREFIX"
    $SUDO env PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error --prefix "$MMDC_PREFIX" \
        "@mermaid-js/mermaid-cli@$MMDC_VERSION"
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 && SUDO="sudo" || { echo "need root to install ${need[*]}" >&2; exit 1; }
fi

if [ "${#need[@]}" -eq 0 ]; then
    echo "integration deps: already installed (docker.io, docker-registry, busybox-static, chromium, npm)"
    install_mmdc
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Installing must not start the packaged services (a system dockerd on /var/run/docker.sock, the
# registry on :5000): the tests run their own instances with their own sockets, ports and data dirs.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    created_policy=1
fi
trap '[ "$created_policy" = 1 ] && $SUDO rm -f "$policy"' EXIT

echo "integration deps: installing ${need[*]}"
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
install_mmdc
