#!/bin/sh
# boxlet serve's trust boundary against real servers on loopback
# (docs/server.md "Authentication", docs/security.md "The server"):
#  - a default start needs a key: a token made in HOME/serve.token (0600),
#    never on the command line, read by the local CLI; every route but
#    GET /v1/config is 401 without it; --api-key-file (a long key too);
#  - no server-side import without --import-dir, and none out of it (a
#    path outside, "..", a symlink); the same for host-path volumes of
#    boxes created over REST;
#  - the exact listen address (::1, localhost), exit 125 with the reason
#    for one that cannot be bound, --insecure-no-auth refused off loopback;
#  - unauthenticated bodies are never read: 300 connections sending 1 MiB
#    each cost the server < 20 MiB;
#  - refused bodies (413) interleaved with execs leave the loop serving;
#  - --log-requests: a JSON line per request, without the key.
# Prints "N passed, N failed".
set -u
BOXLET=$1
HERE=$(cd "$(dirname "$0")" && pwd)
PROBE=$HERE/../fixtures/serve_probe.py
[ "$(id -u)" -eq 0 ] || { echo "0 passed, 0 failed, 1 skipped (boxes need root)"; exit 0; }
command -v curl >/dev/null || { echo "test_server_trust: curl is missing"; exit 1; }
export BOXLET_HOME=$(mktemp -d /tmp/boxlet-trust.XXXXXX)
# The test's own files, outside the home (root's alone: boxlet makes it
# 0700): the fake server below runs as nobody and writes here.
W=$(mktemp -d /tmp/boxlet-trust-work.XXXXXX)
chmod 755 "$W"
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for b in $("$BOXLET" ls -q 2>/dev/null); do "$BOXLET" rm -f "$b" >/dev/null 2>&1; done
    rm -rf "$BOXLET_HOME" "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
pass=0 fail=0
check() { if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); printf 'FAIL %s\n  want: %s\n  got:  %s\n' "$1" "$2" "$3"; fi; }
code() { curl -s -o "$W/body" -w '%{http_code}' "$@"; }

# serve ARGS...: starts a server with a ready fd; sets srv (pid) and port.
serve() {
    rm -f "$W/ready"; mkfifo "$W/ready"
    "$BOXLET" serve --ready-fd 3 "$@" 3>"$W/ready" 2>>"$W/serve.log" &
    srv=$!
    pids="$pids $srv"
    port=$(head -n 1 "$W/ready")
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# ---- a default start -------------------------------------------------------
serve --port 0 --log-requests --max-body 200000
U=http://127.0.0.1:$port
TOK=$(cat "$BOXLET_HOME/serve.token")
A="Authorization: Bearer $TOK"
check "the token file is 0600" "600" "$(stat -c %a "$BOXLET_HOME/serve.token")"
check "the token is 64 hex digits" 64 "$(printf %s "$TOK" | tr -dc 0-9a-f | wc -c)"
check "the key is not on the command line" 0 "$(tr '\0' ' ' </proc/$srv/cmdline | grep -c "$TOK")"
check "the first line says where and how" 1 \
    "$(head -n 1 "$W/serve.log" | grep -c "listening on http://127.0.0.1:$port.*serve.token")"
check "GET /v1/config is open" 200 "$(code $U/v1/config)"
check "it says auth is required" True \
    "$(python3 -c "import json; print(json.load(open('$W/body'))['auth_required'])")"
for r in "GET /v1/boxes" "POST /v1/boxes" "GET /v1/me" "GET /v1/metrics" "GET /v1/images" \
    "POST /v1/images/import" "POST /v1/images/pull" "DELETE /v1/boxes/x" "POST /v1/boxes/x/exec" \
    "GET /v1/boxes/x/executions" "GET /v1/acme/boxes"; do
    set -- $r
    check "no key: $r is 401" 401 "$(code -X "$1" -d '{}' "$U$2")"
done
check "a wrong key of the right length" 401 \
    "$(code -H "Authorization: Bearer $(printf %s "$TOK" | tr 0-9a-f a-f0-9)" $U/v1/boxes)"
check "a WebSocket upgrade without the key" 401 \
    "$(code -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
        -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' $U/v1/boxes/x/executions/y/attach)"
check "the key" 200 "$(code -H "$A" $U/v1/boxes)"
check "a host-path volume is refused without --import-dir" 403 \
    "$(code -H "$A" -XPOST $U/v1/boxes -d '{"image":"host","auto_start":false,"volumes":[{"host_path":"/etc","guest_path":"/h"}]}')"
check "no box was made with it" "" "$("$BOXLET" ls -q 2>/dev/null)"
# An image that is a path of the server's machine would be imported as a
# rootfs: the client would read the server's files.
mkdir -p "$W/secret/sub" && echo secret >"$W/secret/key"
for img in "$W/secret" "$W/secret/../secret" "./" "oci:$W/secret"; do
    check "image $img is refused over REST" 403 \
        "$(code -H "$A" -XPOST $U/v1/boxes -d "{\"image\":\"$img\",\"auto_start\":false}")"
done
check "no box, no image was made from them" "" "$("$BOXLET" ls -q 2>/dev/null; "$BOXLET" images -q 2>/dev/null | grep -v '^host$')"
# A streamed answer to a POST without Content-Length ends its connection
# (lws would not read the next request on it: it stalled).
code -H "$A" -XPOST $U/v1/boxes -d '{"image":"host","name":"streamed","auto_start":false}' >/dev/null
check "a streamed answer to a body-less POST says Connection: close" 1 \
    "$(curl -s -D - -o /dev/null -H "$A" -XPOST $U/v1/boxes/streamed/export | grep -ci '^connection: close')"
"$BOXLET" rm -f streamed >/dev/null 2>&1
check "the CLI on this machine reads the token" "hi" \
    "$(BOXLET_API_KEY= "$BOXLET" --url "$U" run --rm host -- echo hi)"
check "the CLI by localhost too" 0 "$(BOXLET_API_KEY= "$BOXLET" --url "http://localhost:$port" ls >/dev/null; echo $?)"
check "a key given is sent instead" 125 \
    "$("$BOXLET" --url "$U" --api-key wrong ls >/dev/null 2>&1; echo $?)"

# The token goes only to a server run by the token file's owner: another
# local user listening on a loopback port (say while the server is down)
# must not collect it from root's CLI.
if command -v setpriv >/dev/null && [ -x /usr/bin/python3 ]; then
    : >"$W/heard"; chmod 666 "$W/heard"
    fport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        open(sys.argv[2], "a").write(self.headers.get("Authorization", "none") + "\n")
        self.send_response(401); self.send_header("Content-Length", "0"); self.end_headers()
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' "$fport" "$W/heard" &
    fake=$!
    pids="$pids $fake"
    i=0; until curl -s -o /dev/null "http://127.0.0.1:$fport/" || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
    BOXLET_API_KEY= "$BOXLET" --url "http://127.0.0.1:$fport" ls >/dev/null 2>&1
    check "another user's listener asked (the fake server was reached)" 1 "$(grep -c . "$W/heard" | tr -d ' ' | sed 's/^[2-9].*/1/')"
    check "... and was not given the token" 0 "$(grep -c "$TOK" "$W/heard")"
    stop "$fake"
else
    echo "test_server_trust: setpriv is missing: the token-leak part skipped"
fi

# Import: off without --import-dir, whatever the path.
check "import is off without --import-dir" 403 \
    "$(code -H "$A" -XPOST $U/v1/images/import -d '{"source":"/etc","name":"etc"}')"

# Input edges: limits checked where the input comes in.
big=$(head -c 70000 /dev/zero | tr '\0' v)
printf '{"image":"host","name":"bigenv","env":{"BIG":"%s"}}' "$big" >"$W/bigenv.json"
check "a box env entry over 64 KiB is refused at create" 400 \
    "$(code -H "$A" -XPOST $U/v1/boxes --data-binary @"$W/bigenv.json")"
check "saying why" 1 "$(grep -c 'BIG.*at most 65535' "$W/body")"
check "reconnect_grace_seconds 1e300 is 400" 400 \
    "$(code -H "$A" -XPOST $U/v1/boxes/nobox/exec -d '{"command":"true","reconnect_grace_seconds":1e300}')"
check "a path with invalid UTF-8 gets a JSON error" 1 \
    "$(code -H "$A" "$U/v1/boxes%b1x/y/z/w" >/dev/null; grep -c '"error"' "$W/body")"

# Refused bodies interleaved with normal traffic leave the loop serving.
check "a box for execs" 201 "$(code -H "$A" -XPOST $U/v1/boxes -d '{"image":"host","name":"tr"}')"
check "413s interleaved with execs" ok "$(python3 "$PROBE" refused "$port" "$TOK" tr 5)"
# A chunked body (lws 4.1 ends such a request's connection) over the cap.
head -c 100000 /dev/zero | tr '\0' ' ' | code -H "$A" -H 'Transfer-Encoding: chunked' \
    -XPOST --data-binary @- $U/v1/boxes >/dev/null
check "still serving after" 200 "$(code -H "$A" $U/v1/boxes)"

# 300 unauthenticated connections sending 1 MiB each.
rss() { awk '/^VmRSS/ {print $2}' /proc/$srv/status; }
before=$(rss)
mkfifo "$W/hold"
python3 "$PROBE" flood "$port" 300 1048576 <"$W/hold" >"$W/flood" &
flood=$!
exec 7>"$W/hold"
i=0
until [ -s "$W/flood" ] || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done
during=$(rss)
exec 7>&-
wait "$flood"
grown=$(((during - before) / 1024))
echo "300 unauthenticated 1 MiB bodies: the server grew by $grown MiB ($before -> $during KiB); $(cat "$W/flood") answered 401"
check "300 unauthenticated bodies cost < 20 MiB" yes "$([ "$grown" -lt 20 ] && echo yes || echo "no: $grown MiB")"
check "each was answered 401" 300 "$(cat "$W/flood")"
check "serving after the flood" 200 "$(code -H "$A" $U/v1/boxes)"

# The request log: JSON lines with the fields, never the key.
check "request log lines are JSON" 0 "$(grep '^{' "$W/serve.log" | python3 -c '
import json, sys
bad = 0
for line in sys.stdin:
    d = json.loads(line)
    bad += not all(k in d for k in ("method", "path", "status", "duration_ms", "request_id"))
print(bad)')"
check "the route's pattern is logged" 1 \
    "$(grep -c '"path":"/v1/images/import","status":401,.*"route":"/v1/images/import"' "$W/serve.log")"
check "a 401 is logged" 1 "$(grep -c '"path":"/v1/images/import","status":401' "$W/serve.log")"
check "a path that is not UTF-8 is logged too" 1 "$(grep -c '"path":"(not UTF-8)"' "$W/serve.log")"
check "the key is never logged" 0 "$(grep -c "$TOK" "$W/serve.log")"
"$BOXLET" rm -f tr >/dev/null 2>&1
stop "$srv"

# ---- keys given --------------------------------------------------------------
long=$(head -c 600 /dev/zero | tr '\0' k)
printf '%s\n' "$long" >"$W/key"
chmod 600 "$W/key"
serve --port 0 --api-key-file "$W/key"
check "a 600-byte key from --api-key-file" 200 "$(code -H "Authorization: Bearer $long" http://127.0.0.1:$port/v1/boxes)"
check "its prefix is not enough" 401 "$(code -H "Authorization: Bearer kkkk" http://127.0.0.1:$port/v1/boxes)"
stop "$srv"
: >"$W/serve.log"
serve --port 0 --api-key visible
check "--api-key works" 200 "$(code -H "Authorization: Bearer visible" http://127.0.0.1:$port/v1/boxes)"
check "--api-key is warned of" 1 "$(grep -c 'visible to every local user' "$W/serve.log")"
stop "$srv"

# ---- --import-dir ------------------------------------------------------------
D=$W/imports
mkdir -p "$D/rootfs/bin" "$W/outside"
echo inside >"$D/rootfs/hello"
echo secret >"$W/outside/secret"
ln -s "$W/outside" "$D/escape"
ln -s /etc "$D/etc"
serve --port 0 --import-dir "$D"
U=http://127.0.0.1:$port
imp() { code -H "$A" -XPOST $U/v1/images/import -d "{\"source\":\"$1\",\"name\":\"$2\"}"; }
check "a path outside the directory" 403 "$(imp "$W/outside" out1)"
check "/etc" 403 "$(imp /etc out2)"
check "dot-dot out of it" 403 "$(imp "$D/../outside" out3)"
check "relative dot-dot" 403 "$(imp "../outside" out4)"
check "a symlink out of it" 403 "$(imp "$D/escape" out5)"
check "a symlink to /etc" 403 "$(imp "etc" out6)"
check "the reason" 1 "$(grep -c 'import-dir' "$W/body")"
check "a missing path inside it" 404 "$(imp "$D/nothing" out7)"
check "a directory inside it" 201 "$(imp "$D/rootfs" inside)"
check "relative to it" 201 "$(imp "rootfs" inside2)"
check "no image was made from outside" "" "$("$BOXLET" images -q 2>/dev/null | grep '^out')"
"$BOXLET" rmi inside inside2 >/dev/null 2>&1
# Host-path volumes of boxes made over REST: the same confinement.
before=$("$BOXLET" ls -q 2>/dev/null)
vol() { code -H "$A" -XPOST $U/v1/boxes -d "{\"image\":\"host\",\"auto_start\":false,\"volumes\":[{\"host_path\":\"$1\",\"guest_path\":\"/h\"}]}"; }
check "volume: a path outside the directory" 403 "$(vol "$W/outside")"
check "volume: /etc" 403 "$(vol /etc)"
check "volume: dot-dot out of it" 403 "$(vol "$D/../outside")"
check "volume: relative dot-dot" 403 "$(vol "../outside")"
check "volume: a symlink out of it" 403 "$(vol "$D/escape")"
check "volume: a symlink to /etc" 403 "$(vol "etc")"
check "volume: a path through a symlink" 403 "$(vol "$D/escape/secret")"
check "volume: a missing path inside it" 404 "$(vol "$D/nothing")"
check "no box was made from outside" "$before" "$("$BOXLET" ls -q 2>/dev/null)"
check "volume: a directory inside it" 201 "$(vol "rootfs")"
check "recorded as the path it resolved to" 1 \
    "$(grep -c "\"host_path\":\"$D/rootfs\"" "$W/body")"
for b in $("$BOXLET" ls -q 2>/dev/null); do "$BOXLET" rm -f "$b" >/dev/null 2>&1; done
stop "$srv"

# ---- addresses -----------------------------------------------------------------
if [ -f /proc/net/if_inet6 ] && grep -q '^00000000000000000000000000000001' /proc/net/if_inet6; then
    serve --host ::1 --port 0
    check "--host ::1 listens on [::1]" 200 "$(code -g "http://[::1]:$port/v1/config")"
    check "and not on 127.0.0.1" 000 "$(code "http://127.0.0.1:$port/v1/config")"
    check "and nowhere else" 1 "$(ss -Hltn "sport = :$port" | wc -l)"
    stop "$srv"
else
    echo "test_server_trust: no IPv6 loopback: the ::1 part skipped"
fi
serve --host localhost --port 0
check "--host localhost" 200 "$(code "http://localhost:$port/v1/config")"
stop "$srv"
out=$("$BOXLET" serve --host 192.0.2.1 --port 0 2>&1)
check "an address not on this machine: exit 125" 125 $?
check "with the reason" 1 "$(printf %s "$out" | grep -c '192.0.2.1.*not on this machine')"
out=$("$BOXLET" serve --host 0.0.0.0 --port 0 --insecure-no-auth 2>&1)
check "--insecure-no-auth off loopback: exit 125" 125 $?
check "with the reason" 1 "$(printf %s "$out" | grep -c 'refused on 0.0.0.0')"
: >"$W/serve.log"
serve --port 0 --insecure-no-auth
check "--insecure-no-auth on loopback serves without a key" 200 "$(code http://127.0.0.1:$port/v1/boxes)"
check "loudly" 1 "$(grep -c 'WARNING: no authentication' "$W/serve.log")"
stop "$srv"

# Out of descriptors: the pending connections wait; the loop does not spin
# on the readable listening socket, and serves again once they are freed.
rm -f "$W/ready"; mkfifo "$W/ready"
(ulimit -n 64; exec "$BOXLET" serve --port 0 --insecure-no-auth --ready-fd 3 3>"$W/ready" 2>/dev/null) &
srv=$!
pids="$pids $srv"
port=$(head -n 1 "$W/ready")
python3 -c '
import socket, sys, time
ss = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(100)]
time.sleep(float(sys.argv[2]))' "$port" 3 &
holder=$!
sleep 1
t1=$(awk '{print $14 + $15}' /proc/$srv/stat)
sleep 1
t2=$(awk '{print $14 + $15}' /proc/$srv/stat)
check "out of descriptors: no busy loop (CPU ticks in 1 s)" yes "$([ $((t2 - t1)) -lt 50 ] && echo yes || echo "no: $((t2 - t1))")"
wait "$holder"
check "serving again once they are freed" 200 "$(code --max-time 5 http://127.0.0.1:$port/v1/config)"
stop "$srv"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
