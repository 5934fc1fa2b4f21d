#!/bin/sh
# Runs every libFuzzer target of a build for a bounded time and reports one
# line per target. Usage: sh scripts/fuzz.sh BUILD_DIR SECONDS
#
# A libFuzzer run is one process on one core: FUZZ_JOBS of them (default: the
# cores, nproc) run side by side, each target still for SECONDS of its own, so
# the stage takes about targets/FUZZ_JOBS x SECONDS instead of targets x
# SECONDS. The lines come out in the targets' order, once all have run.
#
# Each fuzz_NAME in BUILD_DIR/tests/fuzz runs over a temporary copy of
# tests/fuzz/corpus/NAME, so what it discovers never touches the committed
# seeds. A crash, leak, timeout or out-of-memory leaves its input and the log
# in tests/fuzz/artifacts/ and makes the script exit non-zero; reproduce with
# BUILD_DIR/tests/fuzz/fuzz_NAME ARTIFACT.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: sh scripts/fuzz.sh BUILD_DIR SECONDS" >&2
    exit 2
fi
build=$1
secs=$2
case $secs in
'' | *[!0-9]*) echo "fuzz: SECONDS must be a whole number, not '$secs'" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
fuzzdir=$build/tests/fuzz
if [ ! -d "$fuzzdir" ]; then
    echo "fuzz: no $fuzzdir: configure with -DBOXLET_FUZZ=ON and build the 'fuzzers' target" >&2
    exit 2
fi
targets=$(find "$fuzzdir" -name CMakeFiles -prune -o -type f -name 'fuzz_*' -perm -u+x -print | sort)
if [ -z "$targets" ]; then
    echo "fuzz: no fuzz_* programs in $fuzzdir: build the 'fuzzers' target" >&2
    exit 2
fi

artifacts=$root/tests/fuzz/artifacts
mkdir -p "$artifacts"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/boxlet-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# "#123 DONE cov: 456 ft: 789 corp: 12/3456b ..." -> "cov 456, ft 789, corpus 12/3456b"
stats() {
    sed -n 's/.*DONE *cov: *\([0-9]*\) *ft: *\([0-9]*\) *corp: *\([^ ]*\).*/cov \1, ft \2, corpus \3/p' "$1" | tail -n 1
}

jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
case $jobs in
'' | *[!0-9]* | 0) echo "fuzz: FUZZ_JOBS must be a positive whole number, not '$jobs'" >&2; exit 2 ;;
esac

# fuzz_one BIN: runs one target; its report goes to $tmp/NAME.out, and
# $tmp/NAME.failed exists when it failed.
fuzz_one() {
    bin=$1
    name=${bin##*/}
    corpus=$tmp/${name#fuzz_}
    mkdir -p "$corpus"
    seeds=$root/tests/fuzz/corpus/${name#fuzz_}
    [ -d "$seeds" ] && cp -R "$seeds/." "$corpus/"
    log=$tmp/$name.log
    out=$tmp/$name.out
    start=$(date +%s)
    if "$bin" -max_total_time="$secs" -max_len=70000 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$name-" "$corpus" >"$log" 2>&1; then
        runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
        echo "fuzz: $name: ok: ${runs:-?} runs in $(($(date +%s) - start)) s, $(stats "$log")" >"$out"
    else
        rc=$?
        crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        cp "$log" "$artifacts/$name.log"
        reason=$(grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -n 1 || true)
        {
            echo "fuzz: $name: FAILED (exit $rc): ${reason:-see the log}"
            echo "fuzz: $name: input: ${crash:-none written}; log: $artifacts/$name.log"
        } >"$out"
        : >"$tmp/$name.failed"
    fi
}

# Lane k of $jobs runs targets k, k+jobs, k+2*jobs... one after the other.
pids=
k=0
while [ $k -lt "$jobs" ]; do
    (
        set +e
        n=0
        for bin in $targets; do
            [ $((n % jobs)) -eq $k ] && fuzz_one "$bin"
            n=$((n + 1))
        done
    ) &
    pids="$pids $!"
    k=$((k + 1))
done
for p in $pids; do wait "$p"; done

failed=0
for bin in $targets; do
    name=${bin##*/}
    cat "$tmp/$name.out" 2>/dev/null || echo "fuzz: $name: FAILED: it did not report (see the output above)"
    [ -e "$tmp/$name.out" ] && [ ! -e "$tmp/$name.failed" ] || failed=1
done
exit $failed
