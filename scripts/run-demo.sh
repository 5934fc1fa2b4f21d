#!/bin/sh
# `make run`: boxlet's main job, as far as this build goes — start the exec
# engine (boxlet-agent) in a scratch directory and stream a command's output
# through it, stdout and stderr on their own streams, then stop the agent.
set -eu
BUILD=${1:-build}
dir=$(mktemp -d /tmp/boxlet-run.XXXXXX)
"$BUILD/boxlet-agent" --socket "$dir/agent.sock" &
agent=$!
trap 'kill -TERM $agent 2>/dev/null; wait $agent 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
"$BUILD/agentctl" "$dir/agent.sock" -e GREETING=hello -w /tmp -- sh -c \
  'for i in 1 2 3 4 5; do echo "$GREETING $i from $(pwd) (pid $$)"; sleep 0.2; done; echo "to stderr" >&2'
echo "exit status: $?"
