#!/bin/sh
# The boxlet command end to end, in a scratch home: the exec contract through
# the CLI (env, working dir, user, timeout, stdin, exit codes, spawn
# failures), box lifecycle verbs, and bad usage. Prints "N passed, N failed".
# With a second argument `remote`, the same checks run against a
# `boxlet serve` on loopback (with an API key) through the CLI's --url mode.
set -u
BOXLET=$1
MODE=${2:-local}
[ "$(id -u)" -eq 0 ] || { echo "test_cli: skipped: boxes need root"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
export BOXLET_HOME=$(mktemp -d /tmp/boxlet-cli.XXXXXX)
chmod 711 "$BOXLET_HOME"
SCRATCH=$BOXLET_HOME
SERVER=""
. "$(dirname "$0")/registry.sh"
cleanup() {
    stop_registry
    for b in $("$BOXLET" ls -q 2>/dev/null); do "$BOXLET" rm -f "$b" >/dev/null 2>&1; done
    if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; fi
    # Whatever the server could not remove (it died, or the run stopped
    # early): removed locally, so no box outlives its home.
    for b in $(BOXLET_URL= "$BOXLET" --home "$SCRATCH" ls -q 2>/dev/null); do
        BOXLET_URL= "$BOXLET" --home "$SCRATCH" rm -f "$b" >/dev/null 2>&1
    done
    rm -rf "$SCRATCH"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # the EXIT trap cleans up, once, and the run stops
if [ "$MODE" = remote ]; then
    # The server owns the home; the CLI only knows its URL and key. The
    # images imported below are in the home, which the server may import from.
    BOXLET_API_KEY=clikey "$BOXLET" serve --port 0 --import-dir "$BOXLET_HOME" --ready-fd 3 \
        3>"$BOXLET_HOME/ready" 2>"$BOXLET_HOME/serve.log" &
    SERVER=$!
    for _ in $(seq 100); do [ -s "$BOXLET_HOME/ready" ] && break; sleep 0.05; done
    port=$(head -n 1 "$BOXLET_HOME/ready")
    [ -n "$port" ] || { echo "FAIL: boxlet serve did not start"; cat "$BOXLET_HOME/serve.log"; exit 1; }
    export BOXLET_URL=http://127.0.0.1:$port BOXLET_API_KEY=clikey
    LAYOUT_HOME=$BOXLET_HOME
    unset BOXLET_HOME
    check_key() { BOXLET_API_KEY=wrong "$BOXLET" ls >/dev/null 2>&1; }
else
    LAYOUT_HOME=$BOXLET_HOME
    check_key() { false; }
fi
pass=0 fail=0
check() { # NAME WANT GOT
    if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
        fail=$((fail + 1)); printf 'FAIL %s\n  want: %s\n  got:  %s\n' "$1" "$2" "$3"; fi
}

out=$("$BOXLET" run --rm host -- sh -c 'echo out; echo err >&2; exit 3' 2>/tmp/cli-err.$$); st=$?
check "run: stdout" "out" "$out"
check "run: stderr" "err" "$(cat /tmp/cli-err.$$)"; rm -f /tmp/cli-err.$$
check "run: exit code" 3 "$st"

"$BOXLET" create --name clibox --memory 128 host >/dev/null; check "create" 0 $?
out=$("$BOXLET" exec -e A=1 -e A=2 -w /tmp -u nobody clibox -- sh -c 'echo $A $(pwd) $(id -un)')
check "exec: env (later wins), dir, user" "2 /tmp nobody" "$out"
"$BOXLET" exec --timeout 1 clibox -- sleep 30 2>/dev/null; check "exec: timeout -> 128+SIGTERM" 143 $?
"$BOXLET" exec clibox -- sh -c 'kill -9 $$'; check "exec: death by signal -> 128+N" 137 $?
"$BOXLET" exec clibox -- no-such-cmd 2>/dev/null; check "exec: not found" 127 $?
"$BOXLET" exec -w /nope clibox -- true 2>/dev/null; check "exec: bad dir" 126 $?
out=$(printf 'abc\ndef\n' | "$BOXLET" exec -i clibox -- sh -c 'tr a-z A-Z; echo end')
check "exec -i: stdin" "ABC
DEF
end" "$out"
# Many times over: a clock tick at the wrong moment once turned a
# zero-timeout read into an endless wait and hung the server (remote mode).
n_ok=0
for _ in $(seq 25); do
    out=$(head -c 3000000 /dev/zero | timeout -s KILL 60 "$BOXLET" exec -i clibox -- wc -c)
    [ "$(echo $out)" = 3000000 ] && n_ok=$((n_ok + 1))
done
check "exec -i: 3 MB of stdin, 25 times" 25 "$n_ok"
out=$("$BOXLET" exec clibox -- sh -c 'cat; echo no-stdin')
check "exec without -i: stdin is closed" "no-stdin" "$out"
"$BOXLET" exec -t clibox -- true </dev/null 2>/dev/null; check "exec -t without a terminal" 125 $?
"$BOXLET" exec clibox 2>/dev/null; check "exec without a command" 125 $?
"$BOXLET" exec nosuchbox -- true 2>/dev/null; check "exec: unknown box" 125 $?

id=$("$BOXLET" exec -d clibox -- sh -c 'for i in 1 2 3; do echo tick $i; sleep 0.2; done')
check "exec -d prints an id" 1 "$([ -n "$id" ] && echo 1)"
out=$("$BOXLET" attach clibox "$id")
check "attach replays and follows" "tick 1
tick 2
tick 3" "$out"
out=$("$BOXLET" attach --stdout-offset 7 clibox "$id")
check "attach from an offset" "tick 2
tick 3" "$out"
check "ps lists it" 1 "$("$BOXLET" ps clibox | grep -c "$(echo "$id" | cut -c1-12)")"
check "ls shows running" "running" "$("$BOXLET" ls | awk '$2 == "clibox" {print $4}')"
out=$(python3 "$(dirname "$0")/../fixtures/pty_run.py" 30 100 ready 'hello\n' -- \
    "$BOXLET" exec -it clibox -- sh -c 'stty size; echo ready; read x; echo got:$x; exit 4')
check "exec -it: a terminal of our size, typed input, exit code" "30 100
ready
hello
got:hello
status=4" "$(echo "$out" | grep -v '^$')"
"$BOXLET" exec clibox -- sh -c 'echo persisted > /root/f'
"$BOXLET" stop clibox >/dev/null; check "stop" 0 $?
check "ls shows stopped" "stopped" "$("$BOXLET" ls | awk '$2 == "clibox" {print $4}')"
"$BOXLET" start clibox >/dev/null; check "start" 0 $?
check "files survive stop/start" "persisted" "$("$BOXLET" exec clibox -- cat /root/f)"
check "inspect is JSON" 1 "$("$BOXLET" inspect clibox | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
"$BOXLET" rm clibox 2>/dev/null; check "rm of a running box is refused" 1 $?
"$BOXLET" rm -f clibox >/dev/null; check "rm -f" 0 $?
check "gone" 0 "$("$BOXLET" ls -q | wc -l)"
lay=$LAYOUT_HOME/layout
python3 "$(dirname "$0")/../fixtures/make_oci.py" "$lay" --tag busybox
check "import an OCI layout" "bb" "$("$BOXLET" import "oci:$lay:busybox" bb)"
check "images lists it" 1 "$("$BOXLET" images -q | grep -c '^bb$')"
"$BOXLET" import "oci:$lay:busybox" bb 2>/dev/null; check "import: name taken" 125 $?
out=$("$BOXLET" run --rm bb -- sh -c 'pwd; ls /data; echo $FOO')
check "run an imported OCI image (config defaults, whiteouts)" "/data
a
dir
bar" "$out"

rootfs=$SCRATCH/rootfs
mkdir -p "$rootfs/bin" && cp "$(command -v busybox)" "$rootfs/bin/busybox"
check "import a rootfs directory" "mini" "$("$BOXLET" import "$rootfs" mini)"
check "run it (no /etc of its own)" "hi" "$("$BOXLET" run --rm mini -- /bin/busybox echo hi)"
"$BOXLET" rmi mini >/dev/null

# Registry images: pull (plain progress lines off a terminal), images, rmi, prune.
if start_registry "$SCRATCH/registry" >/dev/null; then
    ref=127.0.0.1:$REG_PORT/busybox:1
    out=$("$BOXLET" pull "$ref"); st=$?
    check "pull" 0 "$st"
    # Progress comes from the pulling process: a server's pull shows none.
    [ "$MODE" = remote ] ||
        check "pull: a plain line per layer and phase" 2 "$(echo "$out" | grep -c ': Pull complete$')"
    check "pull: no terminal codes in a pipe" 0 "$(echo "$out" | grep -c "$(printf '\033')")"
    check "pull: the last line" "pulled $ref" "$(echo "$out" | tail -n 1)"
    check "pull again: in the store already" 0 "$("$BOXLET" pull "$ref" >/dev/null; echo $?)"
    name=127.0.0.1-$REG_PORT-busybox-1
    check "images: a row" "oci 0" "$("$BOXLET" images | awk -v n="$name" '$1 == n {print $3, $NF}')"
    check "image inspect" "$ref oci 2" "$("$BOXLET" image inspect "$ref" | python3 -c 'import json,sys; d=json.load(sys.stdin)[0]; print(d["reference"], d["kind"], d["layers"])')"
    check "run from a reference" "a2" "$("$BOXLET" run --rm "$ref" -- cat /data/a)"
    "$BOXLET" create --name keeper "$ref" >/dev/null
    err=$("$BOXLET" rmi "$name" 2>&1); st=$?
    check "rmi of an image in use: exit 1" 1 "$st"
    check "rmi names the box" 1 "$(echo "$err" | grep -c '"keeper"')"
    check "rmi -f" "$name" "$("$BOXLET" rmi -f "$name")"
    check "gone from images" 0 "$("$BOXLET" images -q | grep -c "^$name\$")"
    check "the box still runs on its layers" "a2" "$("$BOXLET" exec keeper -- cat /data/a)"
    check "prune keeps them" "freed 0 B: 0 layers, 0 removed images, 0 downloads" "$("$BOXLET" image prune)"
    "$BOXLET" rm -f keeper >/dev/null
    check "prune: image bb (same layers) still uses them" 1 "$("$BOXLET" image prune | grep -c ': 0 layers,')"
    check "rmi bb frees them" "bb" "$("$BOXLET" rmi bb)"
    check "no layer left" 0 "$(ls "$LAYOUT_HOME/layers" | wc -l)"
    if [ "$MODE" = local ] && command -v script >/dev/null; then # a terminal: lines redrawn in place
        out=$(script -qec "'$BOXLET' pull 127.0.0.1:$REG_PORT/multi:1" /dev/null)
        check "pull on a terminal: exit 0" 0 $?
        check "pull on a terminal: cursor moves up to redraw" 1 "$(echo "$out" | grep -c "$(printf '\033')\\[[0-9]*A" | sed 's/^[1-9][0-9]*$/1/')"
        check "pull on a terminal: both layers end complete" 2 "$(echo "$out" | tail -n 3 | head -n 2 | grep -c "Pull complete")"
        "$BOXLET" rmi 127.0.0.1:$REG_PORT/multi:1 >/dev/null
    fi
    # registries.json: a mirror for docker.io (offline here: only the mirror
    # can answer), and a plain-HTTP host that is not loopback by name.
    python3 "$FIXTURES/push_registry.py" "$SCRATCH/registry/layout" busybox \
        "127.0.0.1:$REG_PORT/library/busybox:1" >/dev/null
    printf '{"mirrors": {"docker.io": ["http://127.0.0.1:%s"]}}\n' "$REG_PORT" >"$LAYOUT_HOME/registries.json"
    check "a docker.io image through its mirror" "a2" "$("$BOXLET" run --rm busybox:1 -- cat /data/a)"
    check "it keeps its docker.io reference" "docker.io/library/busybox:1" \
        "$("$BOXLET" image inspect busybox:1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["reference"])')"
    "$BOXLET" rmi -f busybox:1 >/dev/null
    python3 "$FIXTURES/tcp_forward.py" 127.0.0.2 "$REG_PORT" >"$SCRATCH/fwd" &
    fwd=$!
    for _ in $(seq 50); do [ -s "$SCRATCH/fwd" ] && break; sleep 0.1; done
    far=127.0.0.2:$(head -n 1 "$SCRATCH/fwd")
    err=$("$BOXLET" pull "$far/busybox:1" 2>&1); st=$?
    check "plain HTTP to a host not listed: refused" 125 "$st"
    printf '{"insecure": ["%s"]}\n' "$far" >"$LAYOUT_HOME/registries.json"
    check "plain HTTP to a host listed as insecure" 0 "$("$BOXLET" pull "$far/busybox:1" >/dev/null; echo $?)"
    "$BOXLET" rmi -f "$far/busybox:1" >/dev/null
    printf '{"insecure": "all"}\n' >"$LAYOUT_HOME/registries.json"
    err=$("$BOXLET" pull "$far/busybox:1" 2>&1)
    check "a malformed registries.json is named" 1 "$(echo "$err" | grep -c 'registries.json: "insecure" must be an array')"
    rm -f "$LAYOUT_HOME/registries.json"
    kill "$fwd" 2>/dev/null; wait "$fwd" 2>/dev/null
    "$BOXLET" rmi nosuch 2>/dev/null; check "rmi of an unknown image" 1 $?
    "$BOXLET" pull "127.0.0.1:$REG_PORT/nosuch:1" >/dev/null 2>&1; check "pull of an unknown image" 125 $?
    "$BOXLET" pull 'Bad Ref' >/dev/null 2>&1; check "pull of a malformed reference" 125 $?
    stop_registry
else
    echo "test_cli: registry part skipped: docker-registry is not installed"
fi

"$BOXLET" frobnicate 2>/dev/null; check "unknown command" 125 $?
if [ "$MODE" = remote ]; then
    check_key; check "remote: a wrong API key is refused" 125 $?
    out=$(BOXLET_API_KEY=wrong "$BOXLET" ls 2>&1 >/dev/null)
    check "remote: the refusal says why" 1 "$(echo "$out" | grep -ci 'api key')"
fi
"$BOXLET" --version >/dev/null; check "--version" 0 $?

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
