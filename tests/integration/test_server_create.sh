#!/bin/sh
# BoxLite's create fields beyond a box's basics, against a real `boxlet
# serve` on loopback with curl: the main command (entrypoint, cmd, tty) and
# its output in `logs`; auto_stop (the agent stops an idle box, also after
# the server restarted), auto_resume (an exec starts it, or is refused),
# auto_delete (the server removes it); advanced.capabilities (the bounding
# set in the box, refusals of dangerous ones); secrets (in the environment,
# nowhere in the Box JSON, inspect, the home, logs or the server's output;
# gone with the server); rootfs_path (the --import-dir policy). Waits are
# polls with generous caps: they assert what happens, never how fast.
# Prints "N passed, N failed".
set -u
BOXLET=$1
[ "$(id -u)" -eq 0 ] || { echo "0 passed, 0 failed, 1 skipped (boxes need root)"; exit 0; }
command -v curl >/dev/null || { echo "test_server_create: curl is missing"; exit 1; }
export BOXLET_HOME=$(mktemp -d /tmp/boxlet-create.XXXXXX)
chmod 711 "$BOXLET_HOME"
W=$(mktemp -d /tmp/boxlet-create-w.XXXXXX)
srv=
serve() {
    rm -f "$W/ready"; mkfifo "$W/ready"
    "$BOXLET" serve --port 0 --api-key s3cret --ready-fd 3 "$@" 3>"$W/ready" >>"$W/serve.log" 2>&1 &
    srv=$!
    port=$(head -n 1 "$W/ready")
    U=http://127.0.0.1:$port
}
stop_server() { kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; srv=; }
cleanup() {
    [ -n "$srv" ] && stop_server
    for b in $("$BOXLET" ls -q 2>/dev/null); do "$BOXLET" rm -f "$b" >/dev/null 2>&1; done
    "$BOXLET" rmi -f $("$BOXLET" images -q 2>/dev/null | grep '^rootfs-') >/dev/null 2>&1
    rm -rf "$BOXLET_HOME" "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # the EXIT trap cleans up, once, and the run stops
A="Authorization: Bearer s3cret"
pass=0 fail=0
check() { if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); printf 'FAIL %s\n  want: %s\n  got:  %s\n' "$1" "$2" "$3"; fi; }
code() { curl -s -o "$W/body" -w '%{http_code}' "$@"; }
field() { python3 -c "import json,sys; d=json.load(open('$W/body')); print($1)"; }
create() { code -H "$A" -XPOST $U/v1/boxes -d "$1"; }
exec_in() { code -H "$A" -XPOST $U/v1/boxes/$1/exec -d "$2"; }
status() { code -H "$A" $U/v1/boxes/$1 >/dev/null; field "d['status']"; }
# Polls until status of box $1 is $2 (or the box is gone, for "gone"); at most 120 s.
await_status() {
    i=0
    while [ $i -lt 240 ]; do
        c=$(code -H "$A" $U/v1/boxes/$1)
        [ "$2" = gone ] && [ "$c" = 404 ] && { echo gone; return; }
        [ "$c" = 200 ] && [ "$(field "d['status']")" = "$2" ] && { echo "$2"; return; }
        sleep 0.5; i=$((i + 1))
    done
    [ "$c" = 200 ] && field "d['status']" || echo "http $c"
}
# The output of an execution (by id) once it ended: at most 60 s.
output_of() {
    i=0
    while [ $i -lt 120 ]; do
        code -H "$A" $U/v1/boxes/$1/executions/$2 >/dev/null
        [ "$(field "d['status']")" != running ] && break
        sleep 0.5; i=$((i + 1))
    done
    BOXLET_API_KEY=s3cret "$BOXLET" --url $U logs "$1" "$2" 2>&1
}
# The first output of a new execution while it still runs (a box with a
# short auto_stop may stop as soon as it ends); then it is killed.
early_out() {
    exec_in "$1" "$2" >/dev/null
    eid=$(field "d['execution_id']") i=0
    while [ $i -lt 120 ]; do
        code -H "$A" $U/v1/boxes/$1/executions/$eid >/dev/null
        [ "$(field "d['stdout_offset']")" != 0 ] && break
        sleep 0.5; i=$((i + 1))
    done
    BOXLET_API_KEY=s3cret "$BOXLET" --url $U logs "$1" "$eid" 2>&1
    code -H "$A" -XDELETE $U/v1/boxes/$1/executions/$eid >/dev/null
}
run_out() { exec_in "$1" "$2" >/dev/null; output_of "$1" "$(field "d['execution_id']")"; }

serve

# ---- the main command ---------------------------------------------------------
check "entrypoint + cmd" 201 "$(create '{"image":"host","name":"m1","entrypoint":["sh","-c"],"cmd":["echo main-out; echo main-err >&2; exit 3"]}')"
check "the Box echoes the main command" "['sh', '-c', 'echo main-out; echo main-err >&2; exit 3'] False" \
    "$(field "d['main'], d['tty']")"
sleep 0.2
check "logs show the main command's stdout" main-out \
    "$(BOXLET_API_KEY=s3cret "$BOXLET" --url $U logs m1 2>"$W/err")"
check "and its stderr" main-err "$(cat "$W/err")"
check "the box keeps running after its main command" running "$(status m1)"
code -H "$A" -XPOST $U/v1/boxes/m1/stop >/dev/null
check "a stop and a start run it again" stopped "$(status m1)"
code -H "$A" -XPOST $U/v1/boxes/m1/start >/dev/null
check "its output again" "main-out" "$(BOXLET_API_KEY=s3cret "$BOXLET" --url $U logs m1 2>/dev/null)"
check "the Box's started_at is set" 1 "$(code -H "$A" $U/v1/boxes/m1 >/dev/null; field "int(d['started_at'] > d['created_at'])")"
check "cmd alone, on a terminal" 201 "$(create '{"image":"host","name":"m2","cmd":["sh","-c","tty; echo $BOXV"],"tty":true,"env":{"BOXV":"v"}}')"
sleep 0.5
check "the main command has a terminal and the box's env" "/dev/pts/0
v" "$(BOXLET_API_KEY=s3cret "$BOXLET" --url $U logs m2 2>&1 | tr -d '\r')"
check "no main command: none runs" 201 "$(create '{"image":"host","name":"m3"}')"
check "no executions" "0 None" "$(code -H "$A" $U/v1/boxes/m3/executions >/dev/null; field "len(d['executions'])") $(code -H "$A" $U/v1/boxes/m3 >/dev/null; field "d['main']")"
check "cmd must be strings" 400 "$(create '{"image":"host","cmd":["sh",1]}')"
check "a main command that is not found" 201 "$(create '{"image":"host","name":"m4","cmd":["/nonexistent"]}')"
check "fails as an execution (127), the box runs" "127 running" \
    "$(code -H "$A" $U/v1/boxes/m4/executions >/dev/null; field "d['executions'][0]['exit_code']") $(status m4)"
for b in m1 m2 m3 m4; do code -H "$A" -XDELETE "$U/v1/boxes/$b?force=true" >/dev/null; done

# ---- lifecycle ------------------------------------------------------------------
check "defaults" 201 "$(create '{"image":"host","name":"l0","auto_start":false}')"
check "REST default: auto_stop 900, auto_delete 0, auto_resume true" "900 0 True" \
    "$(field "d['auto_stop'], d['auto_delete'], d['auto_resume']" | tr -d "(),'")"
check "auto_stop must be seconds" 400 "$(create '{"image":"host","auto_stop":-1}')"
check "auto_resume must be a boolean" 400 "$(create '{"image":"host","auto_resume":"yes"}')"
check "a short auto_stop" 201 "$(create '{"image":"host","name":"l1","auto_stop":2}')"
check "echoed" 2 "$(field "d['auto_stop']")"
# l2, l3 and the local k2 start now: a new box's agent waits a start grace
# (10 s) before its first idle period, and their waits then overlap l1's.
check "auto_resume false" 201 "$(create '{"image":"host","name":"l2","auto_stop":1,"auto_resume":false}')"
check "auto_delete" 201 "$(create '{"image":"host","name":"l3","auto_stop":1,"auto_delete":1}')"
"$BOXLET" create --name k2 --auto-stop 1 --no-auto-resume host >/dev/null
"$BOXLET" start k2 >/dev/null
check "an idle box is stopped by its agent" stopped "$(await_status l1 stopped)"
check "an exec resumes it" 201 "$(exec_in l1 '{"command":"sh","args":["-c","sleep 5; echo resumed >/root/r"]}')"
check "it runs" running "$(status l1)"
check "not idle while an execution runs" running "$(sleep 3; status l1)"
check "stopped again once idle" stopped "$(await_status l1 stopped)"
check "the execution ran to its end, and a new one resumes the box again" resumed "$(early_out l1 '{"command":"sh","args":["-c","cat /root/r; sleep 60"]}')"
check "stopped when idle" stopped "$(await_status l2 stopped)"
check "an exec is refused" "409 invalid_state" "$(exec_in l2 '{"command":"true"}') $(field "d['error']['code']")"
check "saying why" 1 "$(grep -c 'auto_resume is off' "$W/body")"
code -H "$A" -XPOST $U/v1/boxes/l2/start >/dev/null
check "an explicit start works" running "$(status l2)"
check "an idle box stops, then is removed" gone "$(await_status l3 gone)"
code -H "$A" -XDELETE "$U/v1/boxes/l0?force=true" >/dev/null

# The agent enforces auto_stop and the store keeps auto_delete: both hold
# across a server restart.
check "a box for the restart" 201 "$(create '{"image":"host","name":"l4","auto_stop":3,"auto_delete":1}')"
check "kept busy" 201 "$(exec_in l4 '{"command":"sleep","args":["2"]}')"
stop_server
serve
check "after the restart it is stopped and removed" gone "$(await_status l4 gone)"
code -H "$A" -XDELETE "$U/v1/boxes/l1?force=true" >/dev/null
code -H "$A" -XDELETE "$U/v1/boxes/l2?force=true" >/dev/null
# k2, made by the command (not the server) with its options, started above.
lstate() { "$BOXLET" inspect "$1" 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['state'])"; }
i=0; while [ $i -lt 240 ] && [ "$(lstate k2)" != stopped ]; do sleep 0.5; i=$((i + 1)); done
check "--auto-stop: stopped when idle" stopped "$(lstate k2)"
"$BOXLET" exec k2 true >"$W/out" 2>&1
check "--no-auto-resume: exec refused" "125 1" "$? $(grep -c 'auto_resume is off' "$W/out")"
"$BOXLET" rm -f k2 >/dev/null

# ---- capabilities ----------------------------------------------------------------
capbnd='{"command":"sh","args":["-c","grep CapBnd /proc/self/status | cut -f2"]}'
bits() { python3 -c "import sys; m=int(sys.argv[1],16); print(' '.join(str(b) for b in range(64) if m>>b&1))" "$1"; }
check "default set" 201 "$(create '{"image":"host","name":"c0"}')"
check "Docker's default minus NET_RAW" "0 1 3 4 5 6 7 8 10 18 27 29 31" "$(bits "$(run_out c0 "$capbnd")")"
check "drop NET_RAW and CHOWN" 201 "$(create '{"image":"host","name":"c1","advanced":{"capabilities":{"drop":["NET_RAW","CAP_CHOWN"]}}}')"
check "the Box echoes them" "[] ['NET_RAW', 'CAP_CHOWN']" "$(field "d['capabilities']['add'], d['capabilities']['drop']")"
check "CHOWN is gone from the bounding set" "1 3 4 5 6 7 8 10 18 27 29 31" "$(bits "$(run_out c1 "$capbnd")")"
check "and chown fails" "Operation not permitted" \
    "$(run_out c1 '{"command":"sh","args":["-c","touch /tmp/f; chown 1 /tmp/f 2>&1 | grep -o \"Operation not permitted\""]}')"
check "add NET_RAW" 201 "$(create '{"image":"host","name":"c2","advanced":{"capabilities":{"add":["net_raw"]}}}')"
check "NET_RAW is in the set" "0 1 3 4 5 6 7 8 10 13 18 27 29 31" "$(bits "$(run_out c2 "$capbnd")")"
check "drop ALL, add KILL" 201 "$(create '{"image":"host","name":"c3","advanced":{"capabilities":{"drop":["ALL"],"add":["KILL"]}}}')"
check "only KILL" 5 "$(bits "$(run_out c3 "$capbnd")")"
for cap in SYS_ADMIN SYS_MODULE SYS_PTRACE NET_ADMIN BPF DAC_READ_SEARCH SYS_TIME SYS_NICE; do
    check "adding $cap is refused" "403 permission_denied" \
        "$(create "{\"image\":\"host\",\"advanced\":{\"capabilities\":{\"add\":[\"$cap\"]}}}") $(field "d['error']['code']")"
done
check "naming it and why" 1 "$(grep -c 'SYS_NICE cannot be added' "$W/body")"
check "an unknown capability" 400 "$(create '{"image":"host","advanced":{"capabilities":{"drop":["FLY"]}}}')"
check "an unknown advanced field" 400 "$(create '{"image":"host","advanced":{"security":{}}}')"
check "an unknown capabilities field" 400 "$(create '{"image":"host","advanced":{"capabilities":{"keep":[]}}}')"
check "no refused box was made" 4 "$("$BOXLET" ls -q | wc -l)"
for b in c0 c1 c2 c3; do code -H "$A" -XDELETE "$U/v1/boxes/$b?force=true" >/dev/null; done

# ---- secrets ------------------------------------------------------------------------
V=sv-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
check "a secret (BoxLite's default placeholder)" 201 \
    "$(create "{\"image\":\"host\",\"name\":\"s1\",\"cmd\":[\"sh\",\"-c\",\"echo main sees \${TOKEN:+it}\"],\"secrets\":[{\"name\":\"TOKEN\",\"value\":\"$V\",\"placeholder\":\"<BOXLITE_SECRET:TOKEN>\"}]}")"
check "the Box names it, without its value" "['TOKEN'] 0" "$(field "d['secret_names']") $(grep -c "$V" "$W/body")"
check "it reaches executions as an environment variable" "$V" "$(run_out s1 '{"command":"sh","args":["-c","echo $TOKEN"]}')"
check "and the main command" "main sees it" "$(BOXLET_API_KEY=s3cret "$BOXLET" --url $U logs s1 2>&1 | head -n 1)"
check "an exec's env overrides it" "mine" "$(run_out s1 '{"command":"sh","args":["-c","echo $TOKEN"],"env":{"TOKEN":"mine"}}')"
code -H "$A" $U/v1/boxes/s1 >/dev/null
check "not in the Box JSON" 0 "$(grep -c "$V" "$W/body")"
check "not in the list" 0 "$(code -H "$A" $U/v1/boxes >/dev/null; grep -c "$V" "$W/body")"
# The local command sees what the server wrote (its runtimes opened on threads
# once dropped the server's SQLite locks, and a local close deleted its WAL).
"$BOXLET" inspect s1 >"$W/inspect" 2>&1
check "inspect names it, without its value" "1 0" "$(grep -c '"secrets":\["TOKEN"\]' "$W/inspect") $(grep -c "$V" "$W/inspect")"
check "not in the home (store, -wal, records, agent logs)" "" "$(grep -rl "$V" "$BOXLET_HOME" 2>/dev/null)"
check "not in the server's output" 0 "$(grep -c "$V" "$W/serve.log")"
check "hosts: unsupported, named" "501 unsupported 1" \
    "$(create '{"image":"host","secrets":[{"name":"K","value":"v","hosts":["api.example.com"]}]}') $(field "d['error']['code']") $(grep -c 'secrets\[0\].hosts' "$W/body")"
check "a placeholder of its own: unsupported, named" "501 1" \
    "$(create '{"image":"host","secrets":[{"name":"K","value":"v","placeholder":"{{K}}"}]}') $(grep -c 'secrets\[0\].placeholder' "$W/body")"
check "a name that is no variable name" 400 "$(create '{"image":"host","secrets":[{"name":"A=B","value":"v"}]}')"
check "the same name twice" 400 "$(create '{"image":"host","secrets":[{"name":"K","value":"v"},{"name":"K","value":"w"}]}')"
big=$(head -c 70000 /dev/zero | tr '\0' a)
check "a secret over the protocol's string cap" 400 "$(create "{\"image\":\"host\",\"secrets\":[{\"name\":\"K\",\"value\":\"$big\"}]}")"
check "a value is required" 400 "$(create '{"image":"host","secrets":[{"name":"K"}]}')"
stop_server
serve
check "after a restart the values are gone: executions are refused" "409 1" \
    "$(exec_in s1 '{"command":"true"}') $(grep -c 'secrets (TOKEN)' "$W/body")"
code -H "$A" -XPOST $U/v1/boxes/s1/stop >/dev/null
check "stopped, an exec is refused without starting it" "409 stopped" \
    "$(exec_in s1 '{"command":"true"}') $(status s1)"
check "still nowhere on disk" "" "$(grep -rl "$V" "$BOXLET_HOME" 2>/dev/null)"
code -H "$A" -XDELETE "$U/v1/boxes/s1?force=true" >/dev/null

# ---- the command's options (local, beside the server) ---------------------------------
"$BOXLET" create --name k1 --cap-drop CHOWN --cap-add NET_RAW host sh -c 'echo from-main; sleep 60' >/dev/null
check "create with a main command and capabilities" 0 $?
"$BOXLET" start k1 >/dev/null
i=0; while [ $i -lt 60 ] && [ -z "$("$BOXLET" logs k1 2>/dev/null)" ]; do sleep 0.5; i=$((i + 1)); done
check "logs show the main command" from-main "$("$BOXLET" logs k1 2>&1)"
check "its capabilities" "1 3 4 5 6 7 8 10 13 18 27 29 31" \
    "$(bits "$("$BOXLET" exec k1 sh -c 'grep CapBnd /proc/self/status | cut -f2')")"
"$BOXLET" create --cap-add SYS_ADMIN host >"$W/out" 2>&1
check "--cap-add SYS_ADMIN is refused, saying why" "125 1" "$? $(grep -c 'SYS_ADMIN cannot be added' "$W/out")"
"$BOXLET" rm -f k1 >/dev/null
BOXLET_API_KEY=s3cret "$BOXLET" --url $U create --name k3 --cap-drop CHOWN --no-auto-resume \
    --auto-delete 7 host echo remote-main >/dev/null
check "through --url: the options reach the server" "echo remote-main|CHOWN|0|7|False" \
    "$(code -H "$A" $U/v1/boxes/k3 >/dev/null; field "'%s|%s|%s|%s|%s' % (' '.join(d['main']), ','.join(d['capabilities']['drop']), d['auto_stop'], d['auto_delete'], d['auto_resume'])")"
"$BOXLET" rm -f k3 >/dev/null

# ---- disk_size_gb ---------------------------------------------------------------------
check "disk_size_gb" 201 "$(create '{"image":"host","name":"d1","disk_size_gb":2,"auto_start":false}')"
check "is the box's quota" 2 "$(field "d['config']['disk_size_gb']")"
code -H "$A" -XDELETE "$U/v1/boxes/d1" >/dev/null

# ---- rootfs_path ------------------------------------------------------------------------
D=$W/imports
mkdir -p "$D/rootfs/bin" "$W/outside/bin"
echo inside >"$D/rootfs/hello"
check "rootfs_path without --import-dir" "403 1" \
    "$(create "{\"rootfs_path\":\"$D/rootfs\",\"auto_start\":false}") $(grep -c 'import-dir' "$W/body")"
stop_server
serve --import-dir "$D"
check "outside --import-dir" 403 "$(create "{\"rootfs_path\":\"$W/outside\",\"auto_start\":false}")"
check "with image too" 400 "$(create "{\"rootfs_path\":\"$D/rootfs\",\"image\":\"host\"}")"
check "beneath --import-dir" 201 "$(create "{\"rootfs_path\":\"$D/rootfs\",\"name\":\"r1\",\"auto_start\":false}")"
check "the box's image is the imported path" rootfs- "$(field "d['image'][:7]")"
check "its files" inside "$(cat "$(field "d['config']['rootfs'].split(':')[0]")/hello" 2>&1)"
code -H "$A" -XDELETE "$U/v1/boxes/r1" >/dev/null

# isolation (boxlet's own field, docs/vm.md): a name this boxlet lacks is
# 400 with the choices; vm without the guest's kernel (none here) is 501
# saying how to set it up; neither records a box.
check "isolation: not a string" 400 "$(create '{"isolation":5,"name":"iso"}')"
check "isolation: unknown" 400 "$(create '{"isolation":"hypervisor9","name":"iso"}')"
check "isolation: the choices named" 1 "$(field "int('not one of' in d['error']['message'] and '\"vm\"' in d['error']['message'])")"
check "isolation vm, no guest kernel" 501 "$(create '{"isolation":"vm","name":"iso"}')"
check "isolation vm: says how to set it up" 1 "$(field "int('scripts/vm-setup.sh' in d['error']['message'])")"
check "isolation: nothing recorded" 404 "$(code -H "$A" $U/v1/boxes/iso)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
