#!/bin/sh
# `make run`: boxlet's main job — create a box on the built-in `host` image,
# run a command in it that streams output (stdout and stderr, as produced),
# and remove the box afterwards. Boxes need root.
set -eu
BUILD=${1:-build}
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
exec $SUDO "$BUILD/boxlet" run --rm --name boxlet-demo host -- sh -c '
  echo "hello from $(hostname), pid $$, uid $(id -u) in a fresh box"
  for i in 1 2 3 4 5; do echo "streaming line $i"; sleep 0.2; done
  echo "processes I can see: $(ls /proc | grep -c "^[0-9]")" >&2
  echo bye'
