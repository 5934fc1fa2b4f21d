#!/bin/sh
# A vm box's limits (docs/vm.md), in a scratch home, and its removal when
# the guest kernel cannot be found. One box with --memory 128 --disk 1:
# the guest's MemTotal is the VM's size, a process allocating more is
# killed by the guest's OOM killer while the box keeps working; writing past
# the disk fails with ENOSPC in the guest, and the host's file of the disk
# stays within its size. Then, with no guest kernel findable (BOXLET_VM_DIR
# pointing nowhere, no $BOXLET_HOME/vm), that stopped box is removed, and a
# second, running box is removed with rm -f: nothing of either is left
# (QEMU, the link's end, cgroups, directory and disk). A busybox image
# pulled from a local registry runs in a VM. Three TCG boots; boot
# times are never asserted. Needs BOXLET_VM_DIR (ctest's vm/setup makes it).
# Prints "N passed, N failed".
set -u
BOXLET=$1
[ "$(id -u)" -eq 0 ] || { echo "test_vm_limits: skipped: boxes need root"; exit 0; }
command -v qemu-system-x86_64 >/dev/null 2>&1 || {
    echo "test_vm_limits: skipped: qemu-system-x86_64 is not installed (sh scripts/deps.sh)"; exit 0; }
[ -n "${BOXLET_VM_DIR:-}" ] || { echo "FAIL: BOXLET_VM_DIR is not set"; exit 1; }
export BOXLET_HOME=$(mktemp -d /tmp/boxlet-vmlim.XXXXXX)
chmod 711 "$BOXLET_HOME"
SCRATCH=$BOXLET_HOME
. "$(dirname "$0")/../integration/registry.sh"
cleanup() {
    stop_registry
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

sh "$(dirname "$0")/busybox-image.sh" "$SCRATCH/img"
"$BOXLET" import "$SCRATCH/img" bb >/dev/null; check "import the busybox image" 0 $?

# A box's QEMU (from its qemu.pid) if it still runs, not a zombie.
qemu_of() { # BOX_ID
    q=$(awk 'NR == 1 { print $1 }' "$BOXLET_HOME/boxes/$1/qemu.pid" 2>/dev/null)
    [ -n "$q" ] && echo "$q"
}
running() { # PID
    [ -n "$1" ] && [ -e "/proc/$1" ] &&
        [ "$(awk '$1 == "State:" { print $2 }' "/proc/$1/status" 2>/dev/null)" != Z ] && echo "$1"
}
box_id() { "$BOXLET" inspect "$1" | sed -n 's/^ *"id": *"\([^"]*\)".*/\1/p' | head -n 1; }
cgroups_of() { ls -d /sys/fs/cgroup/*/boxlet/"$1" 2>/dev/null; }

"$BOXLET" create --name lim --isolation vm --memory 128 --disk 1 bb >/dev/null
check "create --memory 128 --disk 1" 0 $?
"$BOXLET" start lim >/dev/null; check "start" 0 $?
lim=$(box_id lim)

# Memory: the VM's size. The guest's kernel keeps some of the 128 MiB.
kb=$("$BOXLET" exec lim -- awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)
host_kb=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)
check "guest MemTotal is about 128 MiB (got ${kb:-?} kB)" 1 \
    "$([ "${kb:-0}" -gt $((64 * 1024)) ] && [ "${kb:-0}" -le $((128 * 1024)) ] && echo 1)"
check "guest MemTotal is well under the host's" 1 \
    "$([ "${kb:-0}" -lt $((host_kb / 2)) ] && echo 1)"
# A process touching more than the VM has: the guest's OOM killer ends it.
"$BOXLET" exec lim -- sh -c 'v=$(head -c 300000000 /dev/zero | tr "\0" x); echo survived' \
    >"$SCRATCH/oom.out" 2>&1; st=$?
check "a process allocating past the VM's memory is killed" 1 \
    "$([ $st -ne 0 ] && ! grep -q survived "$SCRATCH/oom.out" && echo 1)"
has "the guest's kernel says it was out of memory" "Out of memory" \
    "$("$BOXLET" exec lim -- dmesg 2>&1)"
check "the box keeps working after the OOM kill" "ok" "$("$BOXLET" exec lim -- echo ok)"

# Disk: the box's writable layer is its --disk. Most of it allocated at
# once, then written past: ENOSPC in the guest.
out=$("$BOXLET" exec lim -- sh -c 'fallocate -l 800M /root/big &&
    dd if=/dev/zero of=/root/fill bs=1M count=400 2>&1; echo "dd=$?"')
has "writing past the disk: ENOSPC in the guest" "No space left on device" "$out"
has "writing past the disk: dd fails" "dd=1" "$out"
check "the box keeps working with its disk full" "ok" "$("$BOXLET" exec lim -- echo ok)"
disk=$BOXLET_HOME/boxes/$lim/upper.ext4
check "the host's file of the disk is the disk's size" 1073741824 "$(stat -c %s "$disk" 2>&1)"
check "the host's file of the disk holds no more than its size" 1 \
    "$([ $(($(stat -c '%b * %B' "$disk"))) -le 1073741824 ] && echo 1)"
"$BOXLET" stop lim >/dev/null; check "stop" 0 $?

# A registry image (several layers, merged into one EROFS file) in a VM.
if start_registry "$SCRATCH/registry" >/dev/null; then
    ref=127.0.0.1:$REG_PORT/busybox:1
    "$BOXLET" pull "$ref" >/dev/null; check "pull a registry image" 0 $?
    out=$("$BOXLET" run --rm --isolation vm "$ref" -- sh -c 'echo from-registry; exit 4' 2>&1); st=$?
    check "a registry image runs in a VM" "from-registry 4" "$out $st"
    check "run --rm of it leaves no box" "lim" "$("$BOXLET" ls -q | xargs -r "$BOXLET" inspect |
        sed -n 's/^ *"name": *"\([^"]*\)".*/\1/p')"
    stop_registry
else
    echo "test_vm_limits: registry image skipped: docker-registry is not installed"
fi

# Removal needs no guest kernel: none is findable here.
nokernel() { BOXLET_VM_DIR=$SCRATCH/none "$@"; }
err=$(nokernel "$BOXLET" start lim 2>&1); st=$?
check "no guest kernel: start refused" 1 "$([ $st -ne 0 ] && echo 1)"
has "no guest kernel: start says how to set it up" 'scripts/vm-setup.sh' "$err"
err=$(nokernel "$BOXLET" rm lim 2>&1); check "no guest kernel: rm of a stopped box ($err)" 0 $?
check "rm: its directory and disk are gone" "" "$(ls -d "$BOXLET_HOME/boxes/$lim" 2>/dev/null)"
check "rm: its cgroups are gone" "" "$(cgroups_of "$lim")"

"$BOXLET" create --name up --isolation vm bb >/dev/null; check "create a second box" 0 $?
"$BOXLET" start up >/dev/null; check "start it" 0 $?
up=$(box_id up)
qemu=$(qemu_of "$up")
link=$("$BOXLET" inspect up | sed -n 's/^ *"pid": *\([0-9]*\).*/\1/p' | head -n 1)
check "its QEMU runs" 1 "$([ -n "$(running "$qemu")" ] && echo 1)"
check "its link's end runs" 1 "$([ -n "$(running "$link")" ] && echo 1)"
err=$(nokernel "$BOXLET" rm up 2>&1); st=$?
check "no guest kernel: rm of a running box without -f refused" 1 "$([ $st -ne 0 ] && echo 1)"
err=$(nokernel "$BOXLET" rm -f up 2>&1); check "no guest kernel: rm -f of a running box ($err)" 0 $?
check "rm -f: no QEMU left" "" "$(running "$qemu")"
check "rm -f: no link end left" "" "$(running "$link")"
check "rm -f: its directory and disk are gone" "" "$(ls -d "$BOXLET_HOME/boxes/$up" 2>/dev/null)"
check "rm -f: its cgroups are gone" "" "$(cgroups_of "$up")"
check "no box left" "" "$("$BOXLET" ls -q)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
