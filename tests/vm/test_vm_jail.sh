#!/bin/sh
# What the host sees of a vm box's QEMU (docs/vm.md, "Security model"): first
# `boxlet info` (KVM or TCG, probed once per home and kept: a second info and
# the box's start probe nothing, asserted through the cache file), then one
# boot of a busybox vm box, then every check on that one QEMU: not root
# on the host (Uid/Gid), no capabilities, no_new_privs, a seccomp filter,
# its own user, mount, pid and net namespaces, the box's cgroup with its
# memory limit, a root that is a jail (not the host's /: no /etc/shadow,
# no /home, no /dev/kvm under TCG; the box's disks there), -sandbox on its
# command line. Then a guest that floods its console: the console log stays
# within its cap and keeps its first and last parts. Boot times are never
# asserted. Needs BOXLET_VM_DIR (ctest's vm/setup makes it).
# Prints "N passed, N failed".
set -u
BOXLET=$1
[ "$(id -u)" -eq 0 ] || { echo "test_vm_jail: skipped: boxes need root"; exit 0; }
command -v qemu-system-x86_64 >/dev/null 2>&1 || {
    echo "FAIL: qemu-system-x86_64 is not installed (make test installs it: sh scripts/deps.sh)"; exit 1; }
[ -n "${BOXLET_VM_DIR:-}" ] || { echo "FAIL: BOXLET_VM_DIR is not set"; exit 1; }
export BOXLET_HOME=$(mktemp -d /tmp/boxlet-vmjail.XXXXXX)
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
ro_mount() { # PID MOUNTPOINT: 1 if mounted read-only there, as PID sees it
    awk -v m="$2" '$5 == m && $6 ~ /^ro(,|$)/ { print 1; exit }' /proc/$1/mountinfo
}
field() { # FILE NAME: the first value of a /proc/PID/status line
    awk -v k="$2:" '$1 == k { print $2; exit }' "$1"
}

img=$SCRATCH/img
mkdir -p "$img/bin" "$img/etc" "$img/root" "$img/dev" "$img/proc" "$img/sys" "$img/run" "$img/tmp"
cp /bin/busybox "$img/bin/"
for a in sh cat echo ls rm seq; do ln -s busybox "$img/bin/$a"; done
"$BOXLET" import "$img" bb >/dev/null; check "import the busybox image" 0 $?

# KVM or TCG, found once per home and said by `boxlet info`.
info=$("$BOXLET" info --json); check "info --json" 0 $?
has "info: vm is available" '{"name": "vm", "available": true' "$info"
accel=$(printf "%s\n" "$info" | sed -n 's/.*"name": "vm".*"accel": "\([a-z]*\)".*/\1/p')
check "info: vm's accelerator is kvm or tcg" 1 "$( [ "$accel" = kvm ] || [ "$accel" = tcg ] && echo 1)"
if [ -d /sys/module/kvm_pvm ]; then # /dev/kvm is there but boots no stock guest
    check "info: a PVM /dev/kvm means TCG" tcg "$accel"
    has "info: says why" '/dev/kvm is present but a guest did not boot' "$info"
fi
cache=$BOXLET_HOME/vm-accel
check "the probe's answer is kept with the kernel's release" "kernel $(uname -r)|accel $accel" \
    "$(sed -n 1,2p "$cache" | paste -sd '|')"
before=$(stat -c '%i %y' "$cache")
has "info (text) says the accelerator" "vm: available, accelerator $accel (" "$("$BOXLET" info)"
check "a second info probes nothing: the cache file is the same" "$before" "$(stat -c '%i %y' "$cache")"
check "the probe leaves no scratch directory" "" "$(ls -d "$BOXLET_HOME"/vm-probe.* 2>/dev/null)"

"$BOXLET" create --name jailed --isolation vm --memory 256 bb >/dev/null; check "create" 0 $?
"$BOXLET" start jailed >/dev/null; check "start" 0 $?
check "exec in the vm box" "hello" "$("$BOXLET" exec jailed -- echo hello)"
check "the guest has no NIC (network off): loopback only" "lo" \
    "$("$BOXLET" exec jailed -- ls /sys/class/net | tr '\n' ' ' | sed 's/ $//')"
dir=$(ls -d "$BOXLET_HOME"/boxes/*/ | head -n 1)
id=$(basename "$dir")
qemu=$(awk 'NR == 1 { print $1 }' "$dir/qemu.pid" 2>/dev/null)
status=/proc/$qemu/status
check "QEMU's pid is known and it runs" "qemu-system-x86" "$(field "$status" Name)"

# Who QEMU is on the host.
uid=$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "$status")
gid=$(awk '$1 == "Gid:" { print $2, $3, $4, $5 }' "$status")
check "QEMU's uids are not root on the host" "" "$(echo "$uid" | tr ' ' '\n' | grep -x 0)"
check "QEMU's gids are not root on the host" "" "$(echo "$gid" | tr ' ' '\n' | grep -x 0)"
check "QEMU has no effective capabilities" 0000000000000000 "$(field "$status" CapEff)"
check "QEMU has no permitted capabilities" 0000000000000000 "$(field "$status" CapPrm)"
check "QEMU runs with no_new_privs" 1 "$(field "$status" NoNewPrivs)"
check "QEMU runs under a seccomp filter" 2 "$(field "$status" Seccomp)"
has "QEMU boots under the accelerator info said" "-accel $accel" "$(tr '\0' ' ' < /proc/$qemu/cmdline)"
check "starting the box probed nothing either" "$before" "$(stat -c '%i %y' "$cache")"
inspect=$("$BOXLET" inspect jailed)
has "inspect: the isolation" '"isolation": "vm"' "$inspect"
has "inspect: the accelerator" "\"accel\": \"$accel\"" "$inspect"
has "QEMU runs with -sandbox on" "-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny" \
    "$(tr '\0' ' ' < /proc/$qemu/cmdline)"

# The link's host end (the box's recorded init): it reads every guest byte,
# so it runs as the box's root on the host, not as root.
link=$(printf '%s\n' "$inspect" | sed -n 's/^ *"pid": \([0-9]*\),$/\1/p')
lstatus=/proc/$link/status
check "the link's host end is the box's init" boxlet-agent "$(field "$lstatus" Name)"
check "the link's host end is not root on the host" "" \
    "$(awk '$1 == "Uid:" || $1 == "Gid:" { print $2; print $3; print $4; print $5 }' "$lstatus" | grep -x 0)"
check "the link's host end has no capabilities" 0000000000000000 "$(field "$lstatus" CapEff)"
check "the link's host end runs with no_new_privs" 1 "$(field "$lstatus" NoNewPrivs)"
check "the link's host end runs under a seccomp filter" 2 "$(field "$lstatus" Seccomp)"

# Its namespaces are not the host's.
for ns in user mnt pid net; do
    check "QEMU's $ns namespace is its own" 1 \
        "$([ "$(readlink /proc/$qemu/ns/$ns)" != "$(readlink /proc/self/ns/$ns)" ] && echo 1)"
done
check "QEMU's network namespace has loopback only" "lo" \
    "$(ls /proc/$qemu/root/sys/class/net 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"

# Its cgroup is the box's, with the box's memory limit.
has "QEMU is in the box's cgroup" "boxlet/$id" "$(cat /proc/$qemu/cgroup)"
memcg=$(awk -F: '$2 == "memory" { print $3 }' /proc/$qemu/cgroup)
limit=$(cat "/sys/fs/cgroup/memory$memcg/memory.limit_in_bytes" 2>/dev/null)
check "the box's memory group is QEMU's own" "/boxlet/$id" "$memcg"
check "the box's memory group has a limit (VM memory + QEMU's own)" 1 \
    "$([ -n "$limit" ] && [ "$limit" -lt $((1024 * 1024 * 1024)) ] && echo 1)"

# Its root is a jail, not the host's /.
root=/proc/$qemu/root
check "QEMU's root is not the host's /" 1 \
    "$([ "$(stat -L -c %d:%i "$root/")" != "$(stat -c %d:%i /)" ] && echo 1)"
check "the host's /etc/shadow is not in the jail" 1 "$([ ! -e "$root/etc/shadow" ] && echo 1)"
check "the host's home is not in the jail" "" "$(ls -A "$root/home" "$root/root" 2>/dev/null | grep -v ':$' | grep .)"
check "boxlet's home is not in the jail" 1 "$([ ! -e "$root$BOXLET_HOME" ] && echo 1)"
check "no /dev/kvm in the jail under TCG" 1 "$([ ! -e "$root/dev/kvm" ] && echo 1)"
check "the box's writable disk is in the jail" 1 "$([ -f "$root/vm/upper.ext4" ] && echo 1)"
check "the image's disk is in the jail, read-only" 1 \
    "$([ -f "$root/vm/image.erofs" ] && ro_mount $qemu /vm/image.erofs)"
check "the guest's kernel is in the jail, read-only" 1 \
    "$([ -f "$root/vm/kernel/vmlinux" ] && ro_mount $qemu /vm/kernel)"
check "the jail's /usr is read-only" 1 "$(ro_mount $qemu /usr)"
check "the jail's root is read-only" 1 "$(ro_mount $qemu /)"

# A guest that floods its console: 3 MiB of lines, then a last marker. The
# loop is bounded by its count, never by time.
line=$(printf 'x%.0s' $(seq 1 1000))
out=$("$BOXLET" exec jailed -- sh -c "echo FIRST-LINE > /dev/console; for i in \$(seq 1 3072); do echo $line > /dev/console; done; echo LAST-LINE > /dev/console; echo done"); st=$?
check "the flood ran" "done 0" "$out $st"
"$BOXLET" stop jailed >/dev/null; check "stop" 0 $?
log=$dir/console.log
size=$(stat -c %s "$log" 2>/dev/null || echo 0)
check "the console log stays within its cap (1 MiB and a marker line)" 1 \
    "$([ "$size" -gt $((512 * 1024)) ] && [ "$size" -le $((1024 * 1024 + 256)) ] && echo 1)"
check "the console log keeps its first part" 1 "$(grep -q FIRST-LINE "$log" && echo 1)"
check "the console log keeps its last part" 1 "$(grep -q LAST-LINE "$log" && echo 1)"
has "the console log says what it dropped" "boxlet: console: " "$(grep -a 'boxlet: console: ' "$log")"
# (a zombie is gone: the host's init reaps it when it will)
check "stopped: no QEMU left" 1 "$([ "$(cat /proc/$qemu/comm 2>/dev/null)" != qemu-system-x86 ] ||
    [ "$(field /proc/$qemu/status State)" = Z ] && echo 1)"
"$BOXLET" rm -f jailed >/dev/null; check "rm" 0 $?
check "rm: the box's cgroup is gone" 1 "$([ ! -d "/sys/fs/cgroup/memory/boxlet/$id" ] && echo 1)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
