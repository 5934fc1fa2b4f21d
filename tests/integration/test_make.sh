#!/bin/sh
# The front door's scripts: `make test`'s summary (scripts/test.sh) and
# `make run`'s demo (scripts/run-demo.sh).
# - scripts/test.sh runs every stage even when one fails, and ends with a
#   line per stage and "stages: N passed, N failed". The stages' commands
#   come from $MAKE, so a stand-in make whose asan stage fails shows it
#   without running the real (long) stages.
# - the demo runs again after an interrupted run left its box behind.
# Usage: sh test_make.sh BOXLET SOURCE_DIR BUILD_DIR. Prints "N passed, N failed".
set -u
BOXLET=$1
SRC=$2
BUILD=$3
tmp=$(mktemp -d /tmp/boxlet-make.XXXXXX)
chmod 711 "$tmp"
cleanup() {
    for b in $(BOXLET_HOME=$tmp/home "$BOXLET" ls -q 2>/dev/null); do
        BOXLET_HOME=$tmp/home "$BOXLET" rm -f "$b" >/dev/null 2>&1
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
check() { # NAME WANT GOT
    if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
        fail=$((fail + 1)); printf 'FAIL %s\n  want: %s\n  got:  %s\n' "$1" "$2" "$3"; fi
}

# A make whose stages print what the real ones print; asan fails two tests.
cat >"$tmp/make" <<'EOS'
#!/bin/sh
case $2 in
format-check) exit 0 ;;
unit) echo "100% tests passed, 0 tests failed out of 5"; exit 0 ;;
asan) echo "60% tests passed, 2 tests failed out of 5"; exit 8 ;;
fuzz) echo "fuzz: fuzz_a: ok: 10 runs in 1 s"; echo "fuzz: fuzz_b: ok: 12 runs in 1 s"; exit 0 ;;
esac
exit 2
EOS
chmod +x "$tmp/make"
out=$(cd "$SRC" && MAKE="$tmp/make" DEPS=true LOGS="$tmp/logs" sh scripts/test.sh 2>&1); st=$?
check "make test: non-zero when a stage failed" 1 "$([ "$st" -ne 0 ] && echo 1)"
check "make test: the last line counts the stages" "stages: 3 passed, 1 failed" "$(echo "$out" | tail -n 1)"
check "make test: the suite's counts" 1 "$(echo "$out" | grep -cE '^  suite +pass +5 tests: 5 passed, 0 failed$')"
check "make test: a failed stage does not hide the later ones" 1 \
    "$(echo "$out" | grep -cE '^  asan +FAIL +5 tests: 3 passed, 2 failed$')"
check "make test: fuzz ran after asan failed" 1 "$(echo "$out" | grep -cE '^  fuzz +pass +2 targets: 2 passed, 0 failed$')"
check "make test: the format stage" 1 "$(echo "$out" | grep -cE '^  format +pass ')"
# A stage that ran no tests is not a pass.
sed -i 's/^unit) .*/unit) echo "No tests were found!!!"; exit 0 ;;/' "$tmp/make"
out=$(cd "$SRC" && MAKE="$tmp/make" DEPS=true LOGS="$tmp/logs" sh scripts/test.sh 2>&1)
check "make test: a suite without tests fails" 1 "$(echo "$out" | grep -cE '^  suite +FAIL +no tests found')"

if [ "$(id -u)" -eq 0 ]; then
    export BOXLET_HOME=$tmp/home
    "$BOXLET" create --name boxlet-demo host >/dev/null
    out=$(cd "$SRC" && sh scripts/run-demo.sh "$BUILD" --demo-only 2>&1); st=$?
    check "make run: runs again over a box left by an interrupted run" 0 "$st"
    check "make run: streams the demo" "bye" "$(echo "$out" | grep -x bye)"
    check "make run: the box is gone" 0 "$("$BOXLET" ls -q | wc -l)"
else
    echo "test_make: the demo part skipped: boxes need root"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
