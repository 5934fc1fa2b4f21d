#!/bin/sh
# A node client against a real `boxlet serve` on loopback: by default the
# WebSocket attach tests (node's `ws`); with a second argument, that script
# from tests/node (e.g. boxlite_sdk.test.mjs: BoxLite's own SDK). The node
# packages are installed by scripts/deps.sh from the npm registry.
set -u
BOXLET=$1
export BOXLET # for scripts that run the command (create_fields.test.mjs)
SCRIPT=${2:-attach.test.mjs}
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "0 passed, 0 failed, 1 skipped (boxes need root)"; exit 0; }
[ -d "$HERE/../node/node_modules/ws" ] || { echo "test_server_ws: run scripts/deps.sh (npm install in tests/node)"; exit 1; }
export BOXLET_HOME=$(mktemp -d /tmp/boxlet-ws.XXXXXX)
chmod 711 "$BOXLET_HOME"
mkfifo "$BOXLET_HOME/ready"
# With BOXLET_TEST_ISOLATION=vm (ctest's vm/ entries) the boxes the clients
# create are vm boxes (serve --isolation), on a busybox image the clients
# find in BOXLET_TEST_IMAGE ("host" cannot run in a VM).
ISO=
if [ -n "${BOXLET_TEST_ISOLATION:-}" ]; then
    ISO="--isolation $BOXLET_TEST_ISOLATION"
    img=$BOXLET_HOME/bb-src
    sh "$HERE/../vm/busybox-image.sh" "$img"
    "$BOXLET" import "$img" bb >/dev/null || { echo "FAIL import the busybox image"; exit 1; }
    rm -rf "$img"
    export BOXLET_TEST_IMAGE=bb
fi
# A default start: the server makes its token in the home; a client on this
# machine reads it from there.
"$BOXLET" serve --port 0 --ready-fd 3 $ISO 3>"$BOXLET_HOME/ready" &
srv=$!
port=$(head -n 1 "$BOXLET_HOME/ready")
KEY=$(cat "$BOXLET_HOME/serve.token")
cleanup() {
    kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null
    for b in $("$BOXLET" ls -q 2>/dev/null); do "$BOXLET" rm -f "$b" >/dev/null 2>&1; done
    for v in $("$BOXLET" volume ls -q 2>/dev/null); do "$BOXLET" volume rm -f "$v" >/dev/null 2>&1; done
    rm -rf "$BOXLET_HOME"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # the EXIT trap cleans up, once, and the run stops
node "$HERE/../node/$SCRIPT" "http://127.0.0.1:$port" $KEY
