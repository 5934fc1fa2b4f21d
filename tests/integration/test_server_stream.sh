#!/bin/sh
# boxlet serve's route table and streamed bodies, against a real server on
# loopback with raw sockets (what a hostile client can do, byte by byte):
#  - GET .../executions streams its body (ROUTE_STREAM_OUT): chunked, every
#    execution once, the connection reusable after the last chunk; under a
#    prefix too; an error before the first byte stays a plain JSON error;
#  - clients that go away mid-stream, or never read, cost the server
#    nothing lasting: it goes on answering, the stream threads free;
#  - a WebSocket upgrade is read, matched and authenticated as any request:
#    401 without the key on any path, 404 for a route that is no WebSocket,
#    the attach route under a prefix of several segments; an unknown
#    execution is refused after the upgrade (error frame, Close 4404);
#  - the request log names the route's pattern.
# Prints "N passed, N failed".
set -u
BOXLET=$1
[ "$(id -u)" -eq 0 ] || { echo "0 passed, 0 failed, 1 skipped (boxes need root)"; exit 0; }
export BOXLET_HOME=$(mktemp -d /tmp/boxlet-stream.XXXXXX)
chmod 711 "$BOXLET_HOME"
fifo=$BOXLET_HOME/ready; mkfifo "$fifo"
BOXLET_API_KEY=stream-key "$BOXLET" serve --port 0 --log-requests --ready-fd 3 3>"$fifo" \
    2>"$BOXLET_HOME/serve.log" &
srv=$!
cleanup() {
    kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null
    for b in $("$BOXLET" ls -q 2>/dev/null); do "$BOXLET" rm -f "$b" >/dev/null 2>&1; done
    rm -rf "$BOXLET_HOME"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port=$(head -n 1 "$fifo")
[ -n "$port" ] || { echo "test_server_stream: the server did not start"; exit 1; }

python3 - "$port" stream-key "$BOXLET_HOME/serve.log" <<'PY'
import json, socket, sys, time

PORT, KEY, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
passed = failed = 0


def ok(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL %s%s" % (what, ("\n  " + str(detail)[:500]) if detail else ""), flush=True)
    return cond


class Conn:
    """One keep-alive HTTP/1.1 connection, parsed by hand."""

    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
        self.buf = b""

    def send(self, method, path, body=None, auth=True, extra=""):
        data = json.dumps(body).encode() if body is not None else b""
        head = "%s %s HTTP/1.1\r\nHost: x\r\n%s%sContent-Length: %d\r\n\r\n" % (
            method, path, ("Authorization: Bearer %s\r\n" % KEY) if auth else "", extra,
            len(data))
        self.s.sendall(head.encode() + data)

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self):
        status = int(self._line().split()[1])
        headers = {}
        while True:
            line = self._line()
            if not line:
                break
            k, _, v = line.decode().partition(":")
            headers[k.strip().lower()] = v.strip()
        body, chunks = b"", 0
        if headers.get("transfer-encoding") == "chunked":
            while True:
                n = int(self._line().split(b";")[0], 16)
                if n == 0:
                    ok(self._line() == b"", "the last chunk ends with an empty line")
                    break
                body += self._take(n)
                ok(self._take(2) == b"\r\n", "a chunk ends with CRLF")
                chunks += 1
        else:
            body = self._take(int(headers.get("content-length", "0")))
        return status, headers, body, chunks

    def call(self, method, path, body=None, **kw):
        self.send(method, path, body, **kw)
        return self.response()

    def close(self):
        self.s.close()


c = Conn()
st, _, body, _ = c.call("POST", "/v1/boxes", {"image": "host", "name": "streamer"})
ok(st == 201, "create a box", body)
N = 150
ids = set()
for i in range(N):
    st, _, body, _ = c.call("POST", "/v1/boxes/streamer/exec",
                            {"command": "sh", "args": ["-c", "exit %d" % (i % 7)]})
    if st == 201:
        ids.add(json.loads(body)["execution_id"])
ok(len(ids) == N, "%d executions started" % N, len(ids))

# The streamed list, on the connection the execs used: chunked, whole, and
# the connection still good afterwards.
for prefix in ("", "/tenant-a", "/acme/team"):
    st, h, body, chunks = c.call("GET", "/v1%s/boxes/streamer/executions" % prefix)
    what = "GET %s/executions" % (prefix or "")
    ok(st == 200, what + ": 200", body[:200])
    ok(h.get("transfer-encoding") == "chunked" and "content-length" not in h,
       what + ": chunked, no Content-Length", h)
    ok(h.get("content-type", "").startswith("application/json"), what + ": JSON", h)
    ok(len(h.get("x-request-id", "")) == 16, what + ": X-Request-Id", h)
    ok(chunks >= 1, what + ": at least one chunk", chunks)
    try:
        got = [e["execution_id"] for e in json.loads(body)["executions"]]
    except (ValueError, KeyError) as e:
        got = []
        ok(False, what + ": the body is the JSON list", repr(e) + repr(body[:200]))
    ok(sorted(got) == sorted(ids), what + ": every execution, once", len(got))
    st, _, body, _ = c.call("GET", "/v1/config")
    ok(st == 200, what + ": the connection serves the next request", st)

# An error before the first byte is a plain JSON error.
st, h, body, _ = c.call("GET", "/v1/boxes/nosuch/executions")
ok(st == 404 and "content-length" in h and json.loads(body)["error"]["code"] == "not_found",
   "no such box: 404 with the envelope, not chunked", (st, h, body[:200]))
st, _, _, _ = c.call("HEAD", "/v1/boxes/streamer/executions")
ok(st == 405, "HEAD on the list: 405", st)
c.close()

# Clients that go away: before reading anything, after the head, half-way.
for i in range(12):
    d = Conn()
    d.send("GET", "/v1/boxes/streamer/executions")
    if i % 3 == 1:
        d._line()
    elif i % 3 == 2:
        d._fill()
    d.close()
# A client that never reads, holding its connection open.
idle = [Conn() for _ in range(6)]
for d in idle:
    d.send("GET", "/v1/boxes/streamer/executions")
c = Conn()
for i in range(3):
    st, _, body, _ = c.call("GET", "/v1/boxes/streamer/executions")
    ok(st == 200 and len(json.loads(body)["executions"]) == N,
       "the list while %d clients never read (%d)" % (len(idle), i), st)
st, _, body, _ = c.call("GET", "/v1/metrics")
ok(st == 200, "the server goes on", st)
for d in idle:
    d.close()

# WebSocket upgrades: the same parse, key and table as any request.
def upgrade(path, auth=True):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=15)
    req = ("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n"
           % (path, ("Authorization: Bearer %s\r\n" % KEY) if auth else ""))
    s.sendall(req.encode())
    head = b""
    while b"\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    s.close()
    return int(head.split()[1]) if head else 0


eid = sorted(ids)[0]
att = "/boxes/streamer/executions/%s/attach" % eid
ok(upgrade("/v1/boxes/streamer", auth=False) == 401, "upgrade without the key, a REST path: 401")
ok(upgrade("/v1/nothing/at/all", auth=False) == 401, "upgrade without the key, no route: 401")
ok(upgrade("/v1" + att, auth=False) == 401, "upgrade without the key, the attach route: 401")
ok(upgrade("/v1/boxes/streamer") == 404, "upgrade on a route that is no WebSocket: 404")
ok(upgrade("/v1/config", auth=False) == 404, "upgrade on the open REST route: 404")
ok(upgrade("/v1" + att + "?stdin=false") == 101, "upgrade on the attach route: 101")
ok(upgrade("/v1/acme/team" + att + "?stdin=false") == 101,
   "upgrade under a prefix of two segments: 101")
# What only the agent knows comes after the upgrade (docs/server.md,
# "Attaching never waits on the loop"): an error frame, then Close 4404.
def refused_after_upgrade(path):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=15)
    req = ("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           "Authorization: Bearer %s\r\n\r\n" % (path, KEY))
    s.sendall(req.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            return 0, None, None
        data += chunk
    head, data = data.split(b"\r\n\r\n", 1)
    status, error = int(head.split()[1]), None
    def frame_len(d):  # server frames are unmasked; None until the length is in
        if len(d) < 2:
            return None
        n = d[1] & 0x7F
        if n == 126:
            return None if len(d) < 4 else (4, int.from_bytes(d[2:4], "big"))
        return None if n == 127 else (2, n)

    while status == 101:
        while frame_len(data) is None or len(data) < sum(frame_len(data)):
            chunk = s.recv(4096)
            if not chunk:
                return status, None, error
            data += chunk
        op, (hl, n) = data[0] & 0x0F, frame_len(data)
        payload, data = data[hl:hl + n], data[hl + n:]
        if op == 1:
            error = json.loads(payload)
        elif op == 8:
            s.close()
            return status, int.from_bytes(payload[:2], "big") if n >= 2 else None, error
    s.close()
    return status, None, error


st, code, err = refused_after_upgrade("/v1/boxes/streamer/executions/nosuch/attach")
ok(st == 101 and code == 4404 and err and err.get("status") == 404,
   "attach to no such execution: upgraded, then an error frame and Close 4404", (st, code, err))

st, _, _, _ = Conn().call("DELETE", "/v1/boxes/streamer?force=true")
ok(st == 204, "remove the box", st)

time.sleep(0.2)
lines = [json.loads(l) for l in open(LOG) if l.startswith("{")]
streamed = [l for l in lines if l["path"] == "/v1/acme/team/boxes/streamer/executions"]
ok(streamed and streamed[0]["route"] == "/v1/boxes/{box_id}/executions" and
   streamed[0]["status"] == 200, "the log names the route's pattern", streamed[:1])
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
