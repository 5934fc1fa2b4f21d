#!/bin/sh
# A vm box with networking attacks the host's loopback (docs/vm.md,
# "Network"; the same policy as a namespaces box's, test_box_escape_net and
# test_box_network). The test starts a listener on the host's 127.0.0.1 and
# one in a network namespace of its own, joined to the host by a veth pair
# in 198.18.0.0/15 (never the outside world). One boot of a busybox vm box
# with networking, then every check on it: the guest has eth0 with QEMU's
# slirp defaults (10.0.2.15/24, default route via 10.0.2.2, DNS 10.0.2.3
# in /etc/resolv.conf); the namespace's listener answers (what a
# namespaces box reaches, the vm box reaches); the loopback listener does
# not, through the gateway 10.0.2.2, QEMU's DNS 10.0.2.3, the address of
# the jail's own tap0 (10.0.2.100, whose slirp4netns gateway is QEMU's
# loopback path) or the guest's 127.0.0.1. Boot times are never asserted.
# A box without networking (no NIC, only lo) is checked by test_vm_jail.
# Needs BOXLET_VM_DIR (ctest's vm/setup makes it). Prints "N passed, N failed".
set -u
BOXLET=$1
[ "$(id -u)" -eq 0 ] || { echo "test_vm_net: skipped: boxes need root"; exit 0; }
command -v qemu-system-x86_64 >/dev/null 2>&1 || {
    echo "FAIL: qemu-system-x86_64 is not installed (make test installs it: sh scripts/deps.sh)"; exit 1; }
for t in slirp4netns python3 ip; do
    command -v $t >/dev/null 2>&1 || { echo "FAIL: $t is not installed (sh scripts/deps.sh)"; exit 1; }
done
[ -n "${BOXLET_VM_DIR:-}" ] || { echo "FAIL: BOXLET_VM_DIR is not set"; exit 1; }
export BOXLET_HOME=$(mktemp -d /tmp/boxlet-vmnet.XXXXXX)
chmod 711 "$BOXLET_HOME"
SCRATCH=$BOXLET_HOME
NS=bxvmnet$$
VH=bxvn$$h
VP=bxvn$$p
# A /30 of 198.18.0.0/15 of this run's own (the benchmark range, never routed).
SUB=198.18.$(($$ % 250 + 1))
LPIDS=
cleanup() {
    for b in $("$BOXLET" ls -q 2>/dev/null); do "$BOXLET" rm -f "$b" >/dev/null 2>&1; done
    for p in $LPIDS; do kill "$p" 2>/dev/null; done
    ip link del "$VH" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
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
lacks() { # NAME NEEDLE HAYSTACK
    case "$3" in *"$2"*)
        fail=$((fail + 1)); printf 'FAIL %s\n  must not find: %s\n  in: %s\n' "$1" "$2" "$3" ;;
        *) pass=$((pass + 1)) ;; esac
}
# listen PORTFILE ADDR GREETING [CMD...]: a listener greeting every
# connection, its port written to PORTFILE once it listens.
LISTENER='import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
s.listen(16)
open(sys.argv[3], "w").write("%d\n" % s.getsockname()[1])
while True:
    c, _ = s.accept()
    c.sendall(sys.argv[2].encode() + b"\n")
    c.close()'
listen() {
    f=$1; a=$2; g=$3; shift 3
    "$@" python3 -c "$LISTENER" "$a" "$g" "$f" >/dev/null 2>&1 &
    LPIDS="$LPIDS $!"
    i=0
    while [ ! -s "$f" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    cat "$f"
}

# The host's loopback service a box must never reach.
LPORT=$(listen "$SCRATCH/lport" 127.0.0.1 loopback-secret)
check "a listener on the host's 127.0.0.1" 1 "$([ -n "$LPORT" ] && echo 1)"
# A service outside the box, in a namespace of this test's own.
ip netns add "$NS" && ip link add "$VH" type veth peer name "$VP" &&
    ip link set "$VP" netns "$NS" && ip addr add "$SUB.1/30" dev "$VH" && ip link set "$VH" up &&
    ip -n "$NS" addr add "$SUB.2/30" dev "$VP" && ip -n "$NS" link set "$VP" up &&
    ip -n "$NS" link set lo up
check "a network namespace joined by a veth pair" 0 $?
NPORT=$(listen "$SCRATCH/nport" "$SUB.2" outside-hello ip netns exec "$NS")
check "a listener in that namespace" 1 "$([ -n "$NPORT" ] && echo 1)"
# The host itself reaches both (the checks below are not vacuous).
has "the host reaches the namespace's listener" outside-hello \
    "$(busybox nc -w 5 "$SUB.2" "$NPORT" </dev/null 2>&1)"
has "the host reaches its loopback listener" loopback-secret \
    "$(busybox nc -w 5 127.0.0.1 "$LPORT" </dev/null 2>&1)"

img=$SCRATCH/img
sh "$(dirname "$0")/busybox-image.sh" "$img"
"$BOXLET" import "$img" bb >/dev/null; check "import the busybox image" 0 $?

id=$("$BOXLET" create --isolation vm --network enabled bb 2>&1); st=$?
check "create a vm box with networking" 0 "$st"
"$BOXLET" start "$id" >/dev/null 2>"$SCRATCH/err"; st=$?
check "start it (a boot)" 0 "$st"
[ $st -eq 0 ] || cat "$SCRATCH/err" "$BOXLET_HOME"/boxes/*/console.log 2>/dev/null | tail -20
bx() { "$BOXLET" exec "$id" -- sh -c "$1" 2>&1; }

# QEMU's jail has a namespaces box's network: slirp4netns's tap0.
qpid=$(awk 'NR == 1 { print $1 }' "$BOXLET_HOME"/boxes/*/qemu.pid 2>/dev/null)
has "QEMU's network namespace has slirp4netns's tap0" "tap0:" "$(cat /proc/"$qpid"/net/dev 2>&1)"

out=$(bx 'ip -o -4 addr show dev eth0; ip route; cat /etc/resolv.conf')
has "guest: eth0 is 10.0.2.15/24" 'inet 10.0.2.15/24' "$out"
has "guest: default route via 10.0.2.2" 'default via 10.0.2.2 dev eth0' "$out"
has "guest: DNS is 10.0.2.3" 'nameserver 10.0.2.3' "$out"
has "guest: reaches the namespace's listener" outside-hello \
    "$(bx "nc -w 10 $SUB.2 $NPORT </dev/null")"
for a in 10.0.2.2 10.0.2.3 10.0.2.100 127.0.0.1; do
    lacks "guest: the host's loopback is not reachable via $a" loopback-secret \
        "$(bx "nc -w 5 $a $LPORT </dev/null")"
done
# Still there after the attempts: the guest's network works, the box lives.
has "guest: still reaches the namespace's listener" outside-hello \
    "$(bx "nc -w 10 $SUB.2 $NPORT </dev/null")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
