#!/bin/sh
# Kill -9 the server mid-stream, restart it, resume 20 streams by offset
# (tests/node/restart.test.mjs starts and kills the server itself).
set -u
BOXLET=$1
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "0 passed, 0 failed, 1 skipped (boxes need root)"; exit 0; }
export BOXLET_HOME=$(mktemp -d /tmp/boxlet-rs.XXXXXX)
chmod 711 "$BOXLET_HOME"
cleanup() {
    for b in $("$BOXLET" ls -q 2>/dev/null); do "$BOXLET" rm -f "$b" >/dev/null 2>&1; done
    rm -rf "$BOXLET_HOME"
}
trap cleanup EXIT INT TERM
node "$HERE/../node/restart.test.mjs" "$BOXLET"
