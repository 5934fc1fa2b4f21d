#!/bin/sh
# Three `boxlet serve` nodes (127.0.0.2-4, --node n1..n3, each the others'
# --peers, one API key) behind HAProxy with the configuration that
# deploy/haproxy/gen-haproxy.sh writes, and BoxLite's Node SDK through the
# proxy: tests/node/cluster.test.mjs starts, kills and restarts them. Each
# node has a scratch home; the boxes left in them are removed here.
set -u
BOXLET=$1
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "0 passed, 0 failed, 1 skipped (boxes need root)"; exit 0; }
command -v haproxy >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
command -v haproxy >/dev/null 2>&1 || { echo "test_cluster: haproxy is missing (scripts/deps.sh installs it)"; exit 1; }
[ -d "$HERE/../node/node_modules/@boxlite-ai/boxlite" ] || { echo "test_cluster: run scripts/deps.sh (npm install in tests/node)"; exit 1; }
DIR=$(mktemp -d /tmp/boxlet-cluster.XXXXXX)
chmod 711 "$DIR"
for i in 1 2 3 4; do mkdir -m 711 "$DIR/home$i"; done
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/key"
chmod 600 "$DIR/key"
cleanup() {
    for i in 1 2 3 4; do
        for b in $(BOXLET_HOME=$DIR/home$i "$BOXLET" ls -q 2>/dev/null); do
            BOXLET_HOME=$DIR/home$i "$BOXLET" rm -f "$b" >/dev/null 2>&1
        done
    done
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # the EXIT trap cleans up, once, and the run stops
node "$HERE/../node/cluster.test.mjs" "$BOXLET" "$DIR" "$HERE/../../deploy/haproxy/gen-haproxy.sh" "$HERE/../node/boxlite_sdk.test.mjs"
