#!/bin/sh
# boxlet serve's REST routes with curl against a real server on loopback:
# boxes, exec, executions, the error envelope, auth, body caps, the prefix
# segment. Prints "N passed, N failed". (WebSocket attach comes later.)
set -u
BOXLET=$1
[ "$(id -u)" -eq 0 ] || { echo "0 passed, 0 failed, 1 skipped (boxes need root)"; exit 0; }
command -v curl >/dev/null || { echo "test_server_rest: curl is missing"; exit 1; }
export BOXLET_HOME=$(mktemp -d /tmp/boxlet-srv.XXXXXX)
chmod 711 "$BOXLET_HOME"
fifo=$BOXLET_HOME/ready; mkfifo "$fifo"
"$BOXLET" serve --port 0 --api-key s3cret --max-body 4096 --ready-fd 3 3>"$fifo" &
srv=$!
port=$(head -n 1 "$fifo")
cleanup() {
    kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null
    for b in $("$BOXLET" ls -q 2>/dev/null); do "$BOXLET" rm -f "$b" >/dev/null 2>&1; done
    rm -rf "$BOXLET_HOME"
}
trap cleanup EXIT INT TERM
U=http://127.0.0.1:$port
A="Authorization: Bearer s3cret"
pass=0 fail=0
check() { if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); printf 'FAIL %s\n  want: %s\n  got:  %s\n' "$1" "$2" "$3"; fi; }
code() { curl -s -o /tmp/srv-body.$$ -w '%{http_code}' "$@"; }
field() { python3 -c "import json,sys; d=json.load(open('/tmp/srv-body.$$')); print($1)"; }

check "config needs no key" 200 "$(code $U/v1/config)"
check "other routes need the key" 401 "$(code $U/v1/boxes)"
check "401 envelope" "unauthenticated" "$(field "d['error']['code']")"
check "a wrong key" 401 "$(code -H 'Authorization: Bearer nope' $U/v1/boxes)"
check "create a box" 201 "$(code -H "$A" -XPOST $U/v1/boxes -d '{"image":"host","name":"rest1","env":{"FROM_BOX":"yes"}}')"
check "it runs" "running" "$(field "d['status']")"
check "BoxLite's Box fields" "True" "$(field "all(k in d for k in ('box_id','status','created_at','updated_at','image','cpus','memory_mib'))")"
check "name taken" 409 "$(code -H "$A" -XPOST $U/v1/boxes -d '{"image":"host","name":"rest1"}')"
check "name taken: already_exists" "already_exists" "$(field "d['error']['code']")"
check "get by name with a prefix segment" 200 "$(code -H "$A" $U/v1/tenant-a/boxes/rest1)"
check "list" 1 "$(code -H "$A" $U/v1/boxes >/dev/null; field "len(d['boxes'])")"
check "exec" 201 "$(code -H "$A" -XPOST $U/v1/boxes/rest1/exec -d '{"command":"sh","args":["-c","echo $FROM_BOX $X $(pwd); exit 4"],"env":{"X":"1"},"working_dir":"/tmp"}')"
eid=$(field "d['execution_id']")
sleep 0.5
check "execution result" "completed 4 11" "$(code -H "$A" $U/v1/boxes/rest1/executions/$eid >/dev/null; field "d['status'], d['exit_code'], d['stdout_bytes']" | tr -d "(),'")"
check "exec with a timeout" 201 "$(code -H "$A" -XPOST $U/v1/boxes/rest1/exec -d '{"command":"sleep","args":["30"],"timeout_seconds":0.5}')"
eid2=$(field "d['execution_id']"); sleep 1.5
check "timed out" "timed_out" "$(code -H "$A" $U/v1/boxes/rest1/executions/$eid2 >/dev/null; field "d['status']")"
check "signal on a finished exec" 409 "$(code -H "$A" -XPOST $U/v1/boxes/rest1/executions/$eid/signal -d '{"signal":15}')"
check "long runner" 201 "$(code -H "$A" -XPOST $U/v1/boxes/rest1/exec -d '{"command":"sleep","args":["30"]}')"
eid3=$(field "d['execution_id']")
check "non-whitelisted signal" 400 "$(code -H "$A" -XPOST $U/v1/boxes/rest1/executions/$eid3/signal -d '{"signal":9}')"
check "resize without a tty" 400 "$(code -H "$A" -XPOST $U/v1/boxes/rest1/executions/$eid3/resize -d '{"rows":24,"cols":80}')"
check "kill (DELETE)" 204 "$(code -H "$A" -XDELETE $U/v1/boxes/rest1/executions/$eid3)"
sleep 0.3
check "killed exec is gone" 404 "$(code -H "$A" -XDELETE $U/v1/boxes/rest1/executions/$eid3)"
check "malformed JSON" 400 "$(code -H "$A" -XPOST $U/v1/boxes -d '{nope')"
check "unknown field" 400 "$(code -H "$A" -XPOST $U/v1/boxes -d '{"image":"host","color":"red"}')"
check "wrong type" 400 "$(code -H "$A" -XPOST $U/v1/boxes -d '{"image":"host","cpus":"two"}')"
check "empty command" 400 "$(code -H "$A" -XPOST $U/v1/boxes/rest1/exec -d '{"command":""}')"
big=$(head -c 8000 /dev/zero | tr '\0' 'a')
check "body over the cap" 413 "$(code -H "$A" -XPOST $U/v1/boxes -d "{\"name\":\"$big\"}")"
check "unknown box" 404 "$(code -H "$A" $U/v1/boxes/nosuch)"
check "unknown box envelope" "not_found NotFoundError" "$(field "d['error']['code'], d['error']['type']" | tr -d "(),'")"
check "unknown execution" 404 "$(code -H "$A" $U/v1/boxes/rest1/executions/nosuch)"
check "HEAD" 200 "$(code -H "$A" -I $U/v1/boxes/rest1)"
check "delete running without force" 409 "$(code -H "$A" -XDELETE $U/v1/boxes/rest1)"
check "per-box metrics" 200 "$(code -H "$A" $U/v1/boxes/rest1/metrics)"
check "metrics: memory and pids of a running box" "True True" "$(field "d['memory_bytes'] > 0, d['pids'] >= 1")"
check "unknown box envelope carries the exact code" "not_found" "$(code -H "$A" $U/v1/boxes/nosuch/metrics >/dev/null; field "d['error']['boxlet_code']")"
check "exec: retain_bytes must be an integer" 400 "$(code -H "$A" -XPOST $U/v1/boxes/rest1/exec -d '{"command":"true","retain_bytes":"x"}')"
check "exec: negative grace" 400 "$(code -H "$A" -XPOST $U/v1/boxes/rest1/exec -d '{"command":"true","reconnect_grace_seconds":-1}')"
check "create: pids_max must be an integer" 400 "$(code -H "$A" -XPOST $U/v1/boxes -d '{"pids_max":"many"}')"
check "stop: a bad timeout" 400 "$(code -H "$A" -XPOST "$U/v1/boxes/rest1/stop?timeout=soon")"
check "import: source and name required" 400 "$(code -H "$A" -XPOST $U/v1/images/import -d '{"name":"x"}')"
check "import: a missing source" 404 "$(code -H "$A" -XPOST $U/v1/images/import -d '{"source":"/nonexistent","name":"x"}')"
check "stop" 200 "$(code -H "$A" -XPOST "$U/v1/boxes/rest1/stop?timeout=5")"
check "stopped" "stopped" "$(field "d['status']")"
check "delete" 204 "$(code -H "$A" -XDELETE $U/v1/boxes/rest1)"
check "still serving" 200 "$(code $U/v1/config)"

# A second server on a unix socket (--unix), used by curl and by the CLI.
sock=$BOXLET_HOME/api.sock
"$BOXLET" serve --unix "$sock" --ready-fd 3 3>"$fifo" &
usrv=$!
check "unix socket: ready line is the path" "$sock" "$(head -n 1 "$fifo")"
check "unix socket: REST" 200 "$(code --unix-socket "$sock" http://boxlet/v1/config)"
check "unix socket: the CLI's remote mode" "hi" "$(BOXLET_HOME= "$BOXLET" --url "unix:$sock" run --rm host -- echo hi)"
kill -TERM "$usrv"; wait "$usrv"; check "unix socket: SIGTERM exits 0" 0 $?
rm -f /tmp/srv-body.$$
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
