#!/bin/sh
# vm boxes through the boxlet command (docs/vm.md), in a scratch home: the
# refusals that cost no boot (an unknown isolation, the host image, no guest
# kernel, what vm boxes lack yet; networking: test_vm_net), then
# `boxlet run --rm --isolation vm` on a
# busybox image (stdout, stderr, exit code), and, on that image imported
# again changed, a vm box's create/start/exec/stop/start/rm with a file
# written in the box kept across the stop and its snapshot refused. Three TCG boots; boot times
# are never asserted. Needs BOXLET_VM_DIR (ctest's vm/setup makes it).
# Prints "N passed, N failed".
set -u
BOXLET=$1
[ "$(id -u)" -eq 0 ] || { echo "test_vm_cli: skipped: boxes need root"; exit 0; }
command -v qemu-system-x86_64 >/dev/null 2>&1 || {
    echo "FAIL: qemu-system-x86_64 is not installed (make test installs it: sh scripts/deps.sh)"; exit 1; }
[ -n "${BOXLET_VM_DIR:-}" ] || { echo "FAIL: BOXLET_VM_DIR is not set"; exit 1; }
export BOXLET_HOME=$(mktemp -d /tmp/boxlet-vmcli.XXXXXX)
chmod 711 "$BOXLET_HOME"
SCRATCH=$BOXLET_HOME
cleanup() {
    for b in $("$BOXLET" ls -q 2>/dev/null); do "$BOXLET" rm -f "$b" >/dev/null 2>&1; done
    rm -rf "$SCRATCH"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
pass=0 fail=0
check() { # NAME WANT GOT
    if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
        fail=$((fail + 1)); printf 'FAIL %s\n  want: %s\n  got:  %s\n' "$1" "$2" "$3"; fi
}
has() { # NAME NEEDLE HAYSTACK
    case "$3" in *"$2"*) pass=$((pass + 1)) ;; *)
        fail=$((fail + 1)); printf 'FAIL %s\n  want to find: %s\n  in: %s\n' "$1" "$2" "$3" ;; esac
}

# A busybox image: one root filesystem directory.
img=$SCRATCH/img
mkdir -p "$img/bin" "$img/etc" "$img/root" "$img/dev" "$img/proc" "$img/sys" "$img/run" "$img/tmp"
cp /bin/busybox "$img/bin/"
for a in sh cat echo ls rm; do ln -s busybox "$img/bin/$a"; done
echo v1 > "$img/etc/marker"
"$BOXLET" import "$img" bb >/dev/null; check "import the busybox image" 0 $?

# Refusals, before any boot.
err=$("$BOXLET" create --isolation bogus bb 2>&1); st=$?
check "unknown isolation: refused" 1 "$([ $st -ne 0 ] && echo 1)"
has "unknown isolation: the choices named" '"vm"' "$err"
err=$("$BOXLET" create --isolation vm host 2>&1); st=$?
check "host image: refused" 1 "$([ $st -ne 0 ] && echo 1)"
has "host image: says why" '"host" image cannot run' "$err"
err=$(BOXLET_VM_DIR=$SCRATCH/none "$BOXLET" create --isolation vm bb 2>&1); st=$?
check "no guest kernel: refused" 1 "$([ $st -ne 0 ] && echo 1)"
has "no guest kernel: says how to set it up" 'scripts/vm-setup.sh' "$err"
err=$("$BOXLET" create --isolation vm -p 127.0.0.1:1:80 bb 2>&1); st=$?
check "published port: refused (not there yet)" 1 "$([ $st -ne 0 ] && echo 1)"
has "published port: says why" 'no host ports, published ports' "$err"
check "refusals leave no box" "" "$("$BOXLET" ls -q)"

# boxlet run --rm in a VM: output per stream, the exit code.
out=$("$BOXLET" run --rm --isolation vm bb -- sh -c 'echo out; echo err >&2; exit 3' \
    2>"$SCRATCH/err"); st=$?
check "run: stdout" "out" "$out"
check "run: stderr" "err" "$(cat "$SCRATCH/err")"
check "run: exit code" 3 "$st"
check "run --rm: the box is gone" "" "$("$BOXLET" ls -q)"

# The image removed and imported again under the same name, changed: the
# next VM boots the new files, not the first import's EROFS file.
"$BOXLET" rmi bb >/dev/null; check "rmi" 0 $?
echo v2 > "$img/etc/marker"
"$BOXLET" import "$img" bb >/dev/null; check "import the changed image" 0 $?

# QEMU's of the box's last start still running (QEMU runs jailed: its
# command line names paths of its jail, not the home's).
qemu_pid=
qemu_left() {
    [ -n "$qemu_pid" ] && [ "$(cat /proc/$qemu_pid/comm 2>/dev/null)" = qemu-system-x86 ] &&
        [ "$(awk '$1 == "State:" { print $2 }' /proc/$qemu_pid/status 2>/dev/null)" != Z ] &&
        echo "$qemu_pid" # a zombie is gone (the host's init reaps it when it will)
}

# A vm box's lifecycle; its writable disk survives a stop.
"$BOXLET" create --name vbox --isolation vm bb >/dev/null; check "create" 0 $?
"$BOXLET" start vbox >/dev/null; check "start" 0 $?
out=$("$BOXLET" exec vbox -- sh -c 'echo kept > /root/note && echo written'); st=$?
check "exec: write a file" "written 0" "$out $st"
check "the image imported again is the one booted" v2 "$("$BOXLET" exec vbox -- cat /etc/marker)"
qemu_pid=$(awk 'NR == 1 { print $1 }' "$BOXLET_HOME"/boxes/*/qemu.pid 2>/dev/null)
check "QEMU's pid is known" 1 "$([ -n "$(qemu_left)" ] && echo 1)"
"$BOXLET" stop vbox >/dev/null; check "stop" 0 $?
check "stopped: no QEMU left" "" "$(qemu_left)"
"$BOXLET" start vbox >/dev/null; check "start again" 0 $?
check "a file written before the stop is kept" "kept" "$("$BOXLET" exec vbox -- cat /root/note)"
qemu_pid=$(awk 'NR == 1 { print $1 }' "$BOXLET_HOME"/boxes/*/qemu.pid 2>/dev/null)
err=$("$BOXLET" snapshot create vbox s1 2>&1); st=$?
check "snapshot: refused (the host never mounts a vm box's disk)" 1 "$([ $st -ne 0 ] && echo 1)"
has "snapshot: says why" 'not supported for isolation "vm"' "$err"
"$BOXLET" rm -f vbox >/dev/null; check "rm" 0 $?
check "rm: no QEMU left" "" "$(qemu_left)"
check "rm: no box left" "" "$("$BOXLET" ls -q)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
