#!/bin/sh
# Installs what boxlet needs to build and test, with apt, on Debian/Ubuntu.
# Harmless when everything is present already: it checks before it installs.
set -eu
PKGS="build-essential cmake pkg-config clang clang-format git libclang-rt-dev libcmocka-dev \
libjansson-dev libseccomp-dev libsqlite3-dev libarchive-dev libcap-dev python3-yaml \
busybox-static util-linux procps coreutils iproute2 python3 slirp4netns libwebsockets-dev curl \
libcurl4-openssl-dev docker-registry apache2-utils zstd e2fsprogs"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
    echo "deps: installing:$missing" >&2
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# The WebSocket tests' client (node's `ws`), pinned by tests/node/package-lock.json.
here=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$here/tests/node/node_modules/ws" ] || [ ! -d "$here/tests/node/node_modules/@boxlite-ai/boxlite" ]; then
    echo "deps: npm install in tests/node" >&2
    # `npm install`, not `npm ci`: npm 11 rejects its own lockfile in `ci` for
    # packages with per-platform optional dependencies (the BoxLite SDK).
    (cd "$here/tests/node" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
