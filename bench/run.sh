#!/bin/sh
# `make bench`: install the peers, run bench_box at full size (boxlet was
# built by make), keep the raw samples as CSV, and print the markdown report
# (machine description, tables, ratios) that also lands next to the CSV,
# with a PNG of the latency distributions:
#   bench/results/<UTC stamp>.csv  .md  .png
# BENCH_ARGS passes options to bench_box (e.g. --only exec,cold --runs 50);
# BENCH_OUT chooses another results directory.
set -eu
BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
sh "$here/peers.sh"
out=${BENCH_OUT:-$here/results}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
ver() { command -v "$1" >/dev/null 2>&1 && "$@" 2>/dev/null | head -1 || echo "$1: not installed"; }
{
    echo "## boxlet benchmarks — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
    echo "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r),"
    echo "$(. /etc/os-release && echo "$PRETTY_NAME"); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "Peers: $(ver crun --version), $(ver runc --version), $(ver bwrap --version),"
    echo "$(ver podman --version); boxlet $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "(build type $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt"))."
    echo
} > "$out/$stamp.md"
# The vm rows boot what scripts/vm-setup.sh makes (with a busybox, as the
# tests do); without qemu-system-x86_64 they are skipped with a note.
if command -v qemu-system-x86_64 >/dev/null 2>&1 && [ -x /bin/busybox ]; then
    mkdir -p "$BUILD/vm/extra/bin"
    cp /bin/busybox "$BUILD/vm/extra/bin/" && ln -sf busybox "$BUILD/vm/extra/bin/sh"
    sh "$here/../scripts/vm-setup.sh" "$BUILD/vm" "$BUILD/boxlet-agent" "$BUILD/vm/extra" &&
        export BOXLET_VM_DIR="$BUILD/vm"
fi
BOXLET_AGENT="$BUILD/boxlet-agent" "$BUILD/bench_box" --csv "$out/$stamp.csv" ${BENCH_ARGS:-}
# The Python package's exec round trip beside the SDK's (BENCH_PYTHON=0: skip).
if [ "${BENCH_PYTHON:-1}" != 0 ]; then
    BOXLET_AGENT="$BUILD/boxlet-agent" /usr/bin/python3 "$here/python_exec.py" "$BUILD" "$out/$stamp.csv"
fi
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). Raw samples: $stamp.csv." >> "$out/$stamp.md"
echo >> "$out/$stamp.md"
/usr/bin/python3 "$here/report.py" "$out/$stamp.csv" --plot "$out/$stamp.png" >> "$out/$stamp.md"
cat "$out/$stamp.md"
echo
echo "bench: results in $out/$stamp.{csv,md,png}" >&2
