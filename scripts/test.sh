#!/bin/sh
# `make test`: every stage runs, whatever the earlier ones did — the format
# check, the suite, the suite under ASan+UBSan, a bounded fuzz run — and one
# summary of all of them ends the output: a line per stage (pass or FAIL,
# with its counts), then "stages: N passed, N failed". Exits non-zero if any
# stage failed. Each stage's full output streams as it runs and is kept in
# $LOGS/STAGE.log for the summary to read its counts from.
# While the suite runs, the ASan tree and the fuzzers build in the
# background at the lowest priority (`make prebuild`, logged in
# $LOGS/prebuild.log): the suite's tests mostly wait, and the builds take the
# cores they leave idle. Once the suite ended, what is left of it runs at
# normal priority; the asan and fuzz stages start once it ended and build
# whatever it did not (or show why it failed).
#   sh scripts/test.sh   (the Makefile passes MAKE and LOGS; DEPS replaces the
#                         deps step's command)
set -u
MAKE=${MAKE:-make}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
LOGS=${LOGS:-$root/build-logs}
mkdir -p "$LOGS"
summary=""
npass=0
nfail=0

# run_stage NAME COMMAND...: runs it with its output shown and logged.
# 0 when it succeeded.
run_stage() {
    name=$1
    shift
    echo "==== $name: $*"
    rcfile=$LOGS/$name.rc
    { "$@"; echo $? >"$rcfile"; } 2>&1 | tee "$LOGS/$name.log"
    rc=$(cat "$rcfile" 2>/dev/null || echo 1)
    rm -f "$rcfile"
    return "$rc"
}

# note NAME RC DETAIL: one summary line.
note() {
    if [ "$2" -eq 0 ]; then
        npass=$((npass + 1)); verdict=pass
    else
        nfail=$((nfail + 1)); verdict=FAIL
    fi
    summary="$summary$(printf '  %-7s %-5s %s' "$1" "$verdict" "$3")
"
}

# ctest's "97% tests passed, 2 tests failed out of 64" as "64 tests: 62 passed, 2 failed".
ctest_counts() {
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -n 1)
    if [ -z "$line" ]; then
        grep -q 'No tests were found' "$1" && echo "no tests found (is cmocka installed?)" ||
            echo "did not run the tests (see $1)"
        return
    fi
    failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/')
    total=$(echo "$line" | sed -E 's/.*out of ([0-9]+).*/\1/')
    echo "$total tests: $((total - failed)) passed, $failed failed"
}

# A suite stage passes only when tests ran and none failed.
suite_stage() {
    run_stage "$1" "$MAKE" --no-print-directory "$2"
    rc=$?
    counts=$(ctest_counts "$LOGS/$1.log")
    case $counts in [0-9]*" tests: "*) ;; *) rc=1 ;; esac
    note "$1" "$rc" "$counts"
}

# tree PID: PID and every process below it.
tree() {
    echo "$1"
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree "$c"; done
}

format_stage() {
    run_stage format "$MAKE" --no-print-directory format-check
    rc=$?
    files=$(git ls-files '*.c' '*.h' | wc -l)
    bad=$(grep -E '^[^ :]+:[0-9]+:[0-9]+: (error|warning):' "$LOGS/format.log" | cut -d: -f1 | sort -u | wc -l)
    note format "$rc" "$files files: $((files - bad)) formatted, $bad not (make format)"
}

fuzz_stage() {
    run_stage fuzz "$MAKE" --no-print-directory fuzz
    rc=$?
    ok=$(grep -cE '^fuzz: [^ ]+: ok:' "$LOGS/fuzz.log")
    bad=$(grep -cE '^fuzz: [^ ]+: FAILED' "$LOGS/fuzz.log")
    [ $((ok + bad)) -gt 0 ] || rc=1
    note fuzz "$rc" "$((ok + bad)) targets: $ok passed, $bad failed"
}

if ! run_stage deps ${DEPS:-sh scripts/deps.sh}; then
    note deps 1 "installing what the tests need failed (see $LOGS/deps.log)"
fi
format_stage
nice -n 19 "$MAKE" --no-print-directory prebuild >"$LOGS/prebuild.log" 2>&1 &
prebuild=$!
suite_stage suite unit
# What is left of it is the next stage's work now: normal priority (a root
# run can raise it back; on a machine shared with other work, a nice 19 build
# would crawl).
renice -n 0 -p $(tree "$prebuild") >/dev/null 2>&1
wait "$prebuild"
suite_stage asan asan
fuzz_stage

echo
echo "==== summary (logs in $LOGS)"
printf '%s' "$summary"
echo "stages: $npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
