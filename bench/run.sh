#!/bin/sh
# `make bench`: run boxlet's benchmarks and print markdown tables.
set -eu
BUILD=${1:-build}
echo "## boxlet benchmarks — $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r)"
echo
BOXLET_AGENT="$BUILD/boxlet-agent" "$BUILD/bench_box" "${ROUND_TRIPS:-300}" "${COLD_STARTS:-30}"
