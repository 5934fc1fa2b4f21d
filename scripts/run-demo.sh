#!/bin/sh
# `make run`: boxlet's main job — create a box on the built-in `host` image,
# run a command in it that streams output (stdout and stderr, as produced),
# and remove the box afterwards. Before that it installs what building
# needs (apt packages only), configures BUILD and builds only the two
# programs the demo runs (boxlet and boxlet-agent), each step one line of
# progress; a step's output is shown only when it fails. Boxes need root.
#   sh scripts/run-demo.sh [BUILD [--demo-only]]   (--demo-only: no deps, no build)
set -eu
BUILD=${1:-build}
ONLY=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p "$BUILD"
log=$(mktemp "${TMPDIR:-/tmp}/boxlet-run.XXXXXX")
trap 'rm -f "$log"' EXIT
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

# step MESSAGE COMMAND...: "run: MESSAGE ... ok", or the log and exit 1.
step() {
    msg=$1
    shift
    printf 'run: %s ... ' "$msg"
    if "$@" >"$log" 2>&1; then
        echo ok
    else
        echo FAILED
        cat "$log"
        exit 1
    fi
}

if [ "$ONLY" != --demo-only ]; then
    step "checking the packages boxlet builds with" sh scripts/deps.sh run
    step "configuring $BUILD" cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo
    step "building boxlet and boxlet-agent" \
        cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)" --target boxlet-cli boxlet-agent
fi
# A box left by an interrupted run holds the name: it goes first.
if $SUDO "$BUILD/boxlet" inspect boxlet-demo >/dev/null 2>&1; then
    step "removing boxlet-demo, left by an earlier run" $SUDO "$BUILD/boxlet" rm -f boxlet-demo
fi
echo "run: boxlet run --rm --name boxlet-demo host -- sh -c '...'"
$SUDO "$BUILD/boxlet" run --rm --name boxlet-demo host -- sh -c '
  echo "hello from $(hostname), pid $$, uid $(id -u) in a fresh box"
  for i in 1 2 3 4 5; do echo "streaming line $i"; sleep 0.2; done
  echo "processes I can see: $(ls /proc | grep -c "^[0-9]")" >&2
  echo bye'
