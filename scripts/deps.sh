#!/bin/sh
# Installs what boxlet needs, with apt, on Debian/Ubuntu. Harmless when
# everything is present already: it checks before it installs.
#   sh scripts/deps.sh run    what `make run` needs: a compiler, CMake and the
#                             libraries boxlet links (apt only, no npm)
#   sh scripts/deps.sh        everything `make test` needs on top: clang,
#                             cmocka, the test tools, node and the WebSocket
#                             tests' npm packages
# Prints one line saying what it installs, nothing when there is nothing to do.
set -eu
MODE=${1:-test}
BUILD_PKGS="build-essential cmake pkg-config libjansson-dev libseccomp-dev libsqlite3-dev \
libarchive-dev libwebsockets-dev libwebsockets-evlib-ev libev-dev libcurl4-openssl-dev e2fsprogs"
TEST_PKGS="clang clang-format git haproxy libclang-rt-dev libcmocka-dev libcap-dev python3-yaml python3-pytest python3-pip \
busybox-static util-linux procps coreutils iproute2 python3 slirp4netns curl \
docker-registry apache2-utils zstd qemu-system-x86 lz4 cpio erofs-utils"
case $MODE in
run) PKGS=$BUILD_PKGS ;;
test) PKGS="$BUILD_PKGS $TEST_PKGS" ;;
*) echo "usage: sh scripts/deps.sh [run|test]" >&2; exit 2 ;;
esac
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if [ "$MODE" = test ]; then
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
fi
if [ -n "$missing" ]; then
    echo "deps: installing:$missing" >&2
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
[ "$MODE" = test ] || exit 0
# The WebSocket tests' client (node's `ws`), pinned by tests/node/package-lock.json.
here=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$here/tests/node/node_modules/ws" ] || [ ! -d "$here/tests/node/node_modules/@boxlite-ai/boxlite" ]; then
    echo "deps: npm install in tests/node" >&2
    # `npm install`, not `npm ci`: npm 11 rejects its own lockfile in `ci` for
    # packages with per-platform optional dependencies (the BoxLite SDK).
    (cd "$here/tests/node" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
