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
. "$(dirname "$0")/registry.sh"
cleanup() {
    [ -n "${slowpid:-}" ] && kill "$slowpid" 2>/dev/null
    stop_registry
    kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null
    for b in $("$BOXLET" ls -q 2>/dev/null); do "$BOXLET" rm -f "$b" >/dev/null 2>&1; done
    rm -rf "$BOXLET_HOME"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # the EXIT trap cleans up, once, and the run stops
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
status_line() { curl -si "$@" | head -n 1 | tr -d '\r'; }
check "201's status line has its reason phrase" "HTTP/1.1 201 Created" \
    "$(status_line -H "$A" -XPOST $U/v1/boxes -d '{"image":"host","name":"rest-reason","auto_start":false}')"
check "204's too" "HTTP/1.1 204 No Content" "$(status_line -H "$A" -XDELETE $U/v1/boxes/rest-reason)"
check "name taken: already_exists" "already_exists" "$(field "d['error']['code']")"
check "get by name with a prefix segment" 200 "$(code -H "$A" $U/v1/tenant-a/boxes/rest1)"
check "list" 1 "$(code -H "$A" $U/v1/boxes >/dev/null; field "len(d['boxes'])")"
check "exec" 201 "$(code -H "$A" -XPOST $U/v1/boxes/rest1/exec -d '{"command":"sh","args":["-c","echo $FROM_BOX $X $(pwd); exit 4"],"env":{"X":"1"},"working_dir":"/tmp"}')"
eid=$(field "d['execution_id']")
sleep 0.5
check "execution result" "completed 4 11" "$(code -H "$A" $U/v1/boxes/rest1/executions/$eid >/dev/null; field "d['status'], d['exit_code'], d['stdout_bytes']" | tr -d "(),'")"
check "an execution's created_at is RFC 3339, as a box's" 1 "$(code -H "$A" $U/v1/boxes/rest1/executions >/dev/null; field "int(all(__import__('re').fullmatch(r'\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z', x['created_at']) is not None for x in d['executions']))")"
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
check "HEAD: 204, as BoxLite" 204 "$(code -H "$A" -I $U/v1/boxes/rest1)"
check "delete running without force" 409 "$(code -H "$A" -XDELETE $U/v1/boxes/rest1)"
check "per-box metrics" 200 "$(code -H "$A" $U/v1/boxes/rest1/metrics)"
check "metrics: memory and pids of a running box" "True True" "$(field "d['memory_bytes'] > 0, d['pids'] >= 1")"
# boot_timing: the last start's phases, integers within the total, which
# outlives the process that started the box (a CLI start is seen here)
boot_ok() { python3 -c "import json
t = json.load(open('/tmp/srv-body.$$'))['boot_timing']; n = t['total_create_ms']
print(isinstance(n, int) and n > 0, all(isinstance(v, int) and 0 <= v <= n for v in t.values())
      and sum(t.values()) - n <= n, $1)"; }
check "metrics: boot_timing of a started box" "True True True" "$(boot_ok "all(k in t for k in ('image_prepare_ms','filesystem_setup_ms','box_spawn_ms','guest_boot_ms'))")"
check "metrics: boot_timing has only BoxLite's fields" "True" "$(field "set(d['boot_timing']) <= {'total_create_ms','guest_boot_ms','filesystem_setup_ms','image_prepare_ms','guest_rootfs_ms','box_config_ms','box_spawn_ms','container_init_ms'}")"
check "create a box not started" 201 "$(code -H "$A" -XPOST $U/v1/boxes -d '{"image":"host","name":"rest-boot","auto_start":false}')"
check "metrics: a box never started has no boot_timing" "False" "$(code -H "$A" $U/v1/boxes/rest-boot/metrics >/dev/null; field "'boot_timing' in d")"
"$BOXLET" start rest-boot >/dev/null 2>&1
check "metrics: a CLI start's boot_timing reaches the server" "True True True" "$(code -H "$A" $U/v1/boxes/rest-boot/metrics >/dev/null; boot_ok True)"
"$BOXLET" stop rest-boot >/dev/null 2>&1
check "metrics: a stopped box keeps its last start's boot_timing" "True" "$(code -H "$A" $U/v1/boxes/rest-boot/metrics >/dev/null; field "d['boot_timing']['total_create_ms'] > 0")"
check "remove it" 204 "$(code -H "$A" -XDELETE $U/v1/boxes/rest-boot)"
check "unknown box envelope carries the exact code" "not_found" "$(code -H "$A" $U/v1/boxes/nosuch/metrics >/dev/null; field "d['error']['boxlet_code']")"
check "exec: retain_bytes must be an integer" 400 "$(code -H "$A" -XPOST $U/v1/boxes/rest1/exec -d '{"command":"true","retain_bytes":"x"}')"
check "exec: negative grace" 400 "$(code -H "$A" -XPOST $U/v1/boxes/rest1/exec -d '{"command":"true","reconnect_grace_seconds":-1}')"
check "create: pids_max must be an integer" 400 "$(code -H "$A" -XPOST $U/v1/boxes -d '{"pids_max":"many"}')"
check "stop: a bad timeout" 400 "$(code -H "$A" -XPOST "$U/v1/boxes/rest1/stop?timeout=soon")"
check "stop: a bad timeout_seconds in the body" 400 "$(code -H "$A" -XPOST $U/v1/boxes/rest1/stop -d '{"timeout_seconds":"soon"}')"
check "import: source and name required" 400 "$(code -H "$A" -XPOST $U/v1/images/import -d '{"name":"x"}')"
check "import: off without --import-dir" 403 "$(code -H "$A" -XPOST $U/v1/images/import -d '{"source":"/nonexistent","name":"x"}')"
check "stop (BoxLite's body form)" 200 "$(code -H "$A" -XPOST $U/v1/boxes/rest1/stop -d '{"timeout_seconds":5}')"
check "stopped" "stopped" "$(field "d['status']")"
check "delete" 204 "$(code -H "$A" -XDELETE $U/v1/boxes/rest1)"

# Images (a registry on loopback): pull, list, get/head by name and id, box
# create pulling a missing image, 422 image_pull_failed, delete, prune.
if start_registry "$BOXLET_HOME/registry" >/dev/null; then
    R=127.0.0.1:$REG_PORT
    check "pull" 200 "$(code -H "$A" -XPOST $U/v1/images/pull -d "{\"reference\":\"$R/busybox:1\"}")"
    check "ImageInfo" "$R/busybox:1 $R/busybox 1 oci 2" "$(field "d['reference'], d['repository'], d['tag'], d['kind'], d['layers']" | tr -d "(),'")"
    iid=$(field "d['id']"); name=$(field "d['name']")
    check "pull again: the same image" 200 "$(code -H "$A" -XPOST $U/v1/images/pull -d "{\"reference\":\"$R/busybox:1\"}")"
    check "list" "True" "$(code -H "$A" $U/v1/images >/dev/null; field "'$name' in [i['name'] for i in d['images']]")"
    check "get by id" "$name" "$(code -H "$A" $U/v1/images/$iid >/dev/null; field "d['name']")"
    check "get by %-escaped id" 200 "$(code -H "$A" $U/v1/images/$(echo "$iid" | sed 's/:/%3A/'))"
    check "get by name with a prefix segment" 200 "$(code -H "$A" $U/v1/tenant-a/images/$name)"
    check "HEAD" 204 "$(code -H "$A" -I $U/v1/images/$name)"
    check "HEAD of an unknown image" 404 "$(code -H "$A" -I $U/v1/images/nosuch)"
    check "unknown image" "not_found" "$(code -H "$A" $U/v1/images/nosuch >/dev/null; field "d['error']['code']")"
    check "pull: unknown field" 400 "$(code -H "$A" -XPOST $U/v1/images/pull -d '{"ref":"x"}')"
    check "pull: no reference" 400 "$(code -H "$A" -XPOST $U/v1/images/pull -d '{}')"
    check "pull: a malformed reference" 400 "$(code -H "$A" -XPOST $U/v1/images/pull -d '{"reference":"127.0.0.1:1/Bad:x"}')"
    check "pull: missing in the registry" 422 "$(code -H "$A" -XPOST $U/v1/images/pull -d "{\"reference\":\"$R/nosuch:1\"}")"
    check "422 envelope with the registry's reason" "image_pull_failed ImageError True" "$(field "d['error']['code'], d['error']['type'], 'manifest unknown' in d['error']['message']" | tr -d "(),'")"
    check "box from a missing image: pulled" 201 "$(code -H "$A" -XPOST $U/v1/boxes -d "{\"image\":\"$R/multi:1\",\"name\":\"imgbox\",\"auto_start\":false}")"
    check "the image is stored now" 200 "$(code -H "$A" $U/v1/images/127.0.0.1-$REG_PORT-multi-1)"
    check "box from an image the registry lacks" 422 "$(code -H "$A" -XPOST $U/v1/boxes -d "{\"image\":\"$R/nosuch:2\"}")"
    check "... image_pull_failed" "image_pull_failed" "$(field "d['error']['code']")"
    check "delete an image in use" 409 "$(code -H "$A" -XDELETE $U/v1/images/127.0.0.1-$REG_PORT-multi-1)"
    check "... names the box" "True" "$(field "'imgbox' in d['error']['message']")"
    check "delete with force" 204 "$(code -H "$A" -XDELETE "$U/v1/images/127.0.0.1-$REG_PORT-multi-1?force=true")"
    check "delete the box" 204 "$(code -H "$A" -XDELETE $U/v1/boxes/imgbox)"
    check "prune frees its layers" 2 "$(code -H "$A" -XPOST $U/v1/images/prune >/dev/null; field "d['layers']")"
    check "delete by id" 204 "$(code -H "$A" -XDELETE $U/v1/images/$iid)"
    check "only host is left" "['host']" "$(code -H "$A" $U/v1/images >/dev/null; field "[i['name'] for i in d['images']]")"
    # A registry that takes 2 s per answer: the pull waits off the event loop.
    slowport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    python3 -c '
import http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        time.sleep(2); self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers()
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' "$slowport" &
    slowpid=$!
    sleep 0.3
    code -H "$A" -XPOST $U/v1/images/pull -d "{\"reference\":\"127.0.0.1:$slowport/slow:1\"}" >/tmp/srv-slow.$$ &
    pullpid=$!
    sleep 0.3
    t0=$(date +%s%N)
    check "serving while a pull waits" 200 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1.5 -H "$A" $U/v1/boxes)"
    check "... at once" 1 "$([ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 1000 ] && echo 1)"
    wait "$pullpid"
    check "the slow pull ends in 422" 422 "$(cat /tmp/srv-slow.$$)"
    curl -s -o /dev/null --max-time 0.5 -H "$A" -XPOST $U/v1/images/pull -d "{\"reference\":\"127.0.0.1:$slowport/gone:1\"}"
    sleep 2.5 # its worker ends after the client left
    check "a client leaving during a pull" 200 "$(code -H "$A" $U/v1/images)"
    kill "$slowpid"; wait "$slowpid" 2>/dev/null
    rm -f /tmp/srv-slow.$$
    stop_registry
else
    echo "test_server_rest: image part skipped: docker-registry is not installed"
fi
code "$U/v1/boxes/bad%zz" >/dev/null # refused by lws: closed without our request data
check "a malformed %-escape does not take the server down" 200 "$(code $U/v1/config)"
check "a multi-segment prefix is ignored" 200 "$(code -H "$A" $U/v1/acme/team/metrics)"
check "still serving" 200 "$(code $U/v1/config)"

# A second server on a unix socket (--unix), used by curl and by the CLI.
sock=$BOXLET_HOME/api.sock
"$BOXLET" serve --unix "$sock" --ready-fd 3 3>"$fifo" &
usrv=$!
check "unix socket: ready line is the path" "$sock" "$(head -n 1 "$fifo")"
check "unix socket: REST" 200 "$(code --unix-socket "$sock" http://boxlet/v1/config)"
check "unix socket: the key is needed there too" 401 "$(code --unix-socket "$sock" http://boxlet/v1/boxes)"
check "unix socket: the token file's key" 200 "$(code --unix-socket "$sock" -H "Authorization: Bearer $(cat "$BOXLET_HOME/serve.token")" http://boxlet/v1/boxes)"
# The CLI on this machine reads the token from the home (no key given).
check "unix socket: the CLI's remote mode" "hi" "$(BOXLET_API_KEY= "$BOXLET" --url "unix:$sock" run --rm host -- echo hi)"
# A tunnel asked for over the unix socket is its client's user's
# (SO_PEERCRED): root's connection is let through (502: nothing listens on
# the box's port 9), another user's is refused before it reaches the box.
UA="Authorization: Bearer $(cat "$BOXLET_HOME/serve.token")"
check "unix socket: a box for a tunnel" 201 "$(code --unix-socket "$sock" -H "$UA" -XPOST http://boxlet/v1/boxes -d '{"image":"host","name":"utun"}')"
check "unix socket: a tunnel" 200 "$(code --unix-socket "$sock" -H "$UA" -XPOST 'http://boxlet/v1/boxes/utun/network/tunnel?port=9')"
turi=$(field "d['uri']")
check "unix socket: the tunnel serves its user" 502 "$(code "$turi/")"
check "unix socket: ... and no other" 403 "$(setpriv --reuid=65534 --regid=65534 --clear-groups curl -s -o /dev/null -w '%{http_code}' "$turi/")"
code --unix-socket "$sock" -H "$UA" -XDELETE 'http://boxlet/v1/boxes/utun?force=true' >/dev/null
kill -TERM "$usrv"; wait "$usrv"; check "unix socket: SIGTERM exits 0" 0 $?
rm -f /tmp/srv-body.$$
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
