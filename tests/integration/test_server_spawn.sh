#!/bin/sh
# A node test from tests/node that starts (and kills) `boxlet serve` itself:
# restart.test.mjs (kill -9 mid-stream, restart, resume by offset),
# keepalive.test.mjs (pings, dropping a silent peer), shutdown.test.mjs
# (SIGTERM closes attachments with 1001, boxes keep running) or fds.test.mjs
# (descriptors per idle attachment). A scratch home.
set -u
BOXLET=$1
SCRIPT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "0 passed, 0 failed, 1 skipped (boxes need root)"; exit 0; }
export BOXLET_HOME=$(mktemp -d /tmp/boxlet-rs.XXXXXX)
chmod 711 "$BOXLET_HOME"
cleanup() {
    for b in $("$BOXLET" ls -q 2>/dev/null); do "$BOXLET" rm -f "$b" >/dev/null 2>&1; done
    rm -rf "$BOXLET_HOME"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # the EXIT trap cleans up, once, and the run stops
node "$HERE/../node/$SCRIPT" "$BOXLET"
