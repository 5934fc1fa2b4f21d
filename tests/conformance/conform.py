"""The conformance walk of test_boxlite_conform.sh: argv = port, API key,
docs/openapi.yaml. Prints "N passed, N failed"."""
import base64, http.client as httpc, json, os, socket, struct, sys, threading, time

import yaml

from boxlite_ops import OPERATIONS, SCHEMAS, BOX_STATUSES, EXEC_STATUSES

PORT, KEY, DOCS, HOME = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
passed = failed = 0
counted = threading.Lock()  # default_grace runs on a thread of its own (main)


def ok(cond, what, detail=""):
    global passed, failed
    with counted:
        if cond:
            passed += 1
        else:
            failed += 1
            print("FAIL %s%s" % (what, ("\n  " + str(detail)[:400]) if detail else ""),
                  flush=True)
    return cond


def call(method, path, body=None, headers=None, raw=None, key=None):
    c = httpc.HTTPConnection("127.0.0.1", PORT, timeout=120)
    h = {"Authorization": "Bearer " + (key or KEY)}
    h.update(headers or {})
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        h["Content-Type"] = "application/json"
    c.request(method, "/v1" + path, body=data, headers=h)
    r = c.getresponse()
    st, hd, b = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    c.close()
    try:
        doc = json.loads(b) if b else None
    except ValueError:
        doc = None
    return st, hd, doc


def call_raw(method, path):
    """A request whose answer is bytes (an export): status and body."""
    c = httpc.HTTPConnection("127.0.0.1", PORT, timeout=120)
    c.request(method, "/v1" + path, headers={"Authorization": "Bearer " + KEY})
    r = c.getresponse()
    st, b = r.status, r.read()
    c.close()
    return st, b


def call_body(method, path, data, ctype):
    """A request with a body of bytes (an import): status, headers, JSON."""
    c = httpc.HTTPConnection("127.0.0.1", PORT, timeout=120)
    c.request(method, "/v1" + path, body=data,
              headers={"Authorization": "Bearer " + KEY, "Content-Type": ctype})
    r = c.getresponse()
    st, hd, b = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    c.close()
    try:
        doc = json.loads(b) if b else None
    except ValueError:
        doc = None
    return st, hd, doc


TYPES = {"str": str, "int": int, "num": (int, float), "bool": bool, "list": list, "obj": dict}


def shape(doc, name, label):
    s = SCHEMAS[name]
    if not ok(isinstance(doc, dict), label + ": a JSON object", doc):
        return
    for r in s["required"]:
        ok(r in doc, "%s: required %r" % (label, r), doc)
    for k, t in s["types"].items():
        if k not in doc:
            continue
        v, null_ok = doc[k], t.endswith("?")
        py = TYPES[t.rstrip("?")]
        good = (v is None and null_ok) or (isinstance(v, py) and
                                           not (isinstance(v, bool) and py in (int, (int, float))))
        ok(good, "%s: %s is %s" % (label, k, t), repr(v))


def envelope(doc, code, label):
    if not ok(isinstance(doc, dict) and "error" in doc, label + ": the error envelope", doc):
        return
    shape(doc["error"], "ErrorModel", label + " error")
    ok(doc["error"].get("code") == code, "%s: code %s" % (label, code), doc)


class WS:
    def __init__(self, target, key=None):
        kkey = key
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=120)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET /v1%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n"
                        % (target, key, kkey or KEY)).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.s.recv(4096)
            if not chunk:
                break
            buf += chunk
        head, _, self.buf = buf.partition(b"\r\n\r\n")
        line = head.decode("latin1").split("\r\n")[0]
        self.status = int(line.split()[1]) if line else 0

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        b0, b1 = self._need(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._need(8))[0]
        return b0 & 0x0F, self._need(n)

    def send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        hdr = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else
                                        bytes([0x80 | 126]) + struct.pack(">H", n))
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def until_close(self, on_data=None):
        """Reads to the Close: (text frames as JSON, close code or None on a
        reset)."""
        texts = []
        try:
            while True:
                op, p = self.frame()
                if op == 8:
                    return texts, struct.unpack(">H", p[:2])[0] if len(p) >= 2 else None
                if op == 9:
                    self.send(10, p)
                elif op == 1:
                    texts.append(json.loads(p))
                elif op == 2 and on_data:
                    on_data(p)
        except (EOFError, OSError):
            return texts, None


def wait_exec(box, eid, want="completed"):
    for _ in range(600):
        st, _, d = call("GET", "/boxes/%s/executions/%s" % (box, eid))
        if st != 200 or d.get("status") != "running":
            return d
        time.sleep(0.1)
    return d


# ---- finding 1: stopping a box never restarts it ------------------------------

def stop_never_restarts():
    st, _, box = call("POST", "/boxes", {"image": "host", "name": "conf-stop"})
    ok(st == 201, "create conf-stop", box)
    b = "conf-stop"
    st, _, ex = call("POST", "/boxes/%s/exec" % b,
                     {"command": "sh", "args": ["-c", "trap '' TERM; echo ready; sleep 300"]})
    ok(st == 201, "exec a TERM-ignoring command", ex)
    eid = ex["execution_id"]
    ws = WS("/boxes/%s/executions/%s/attach" % (b, eid))
    ok(ws.status == 101, "attach", ws.status)
    got = b""
    while b"ready" not in got:  # the process is up and has ignored TERM
        op, p = ws.frame()
        if op == 2:
            got += p[1:]
        elif op == 9:
            ws.send(10, p)
    st, _, d = call("POST", "/boxes/%s/stop" % b, {"timeout_seconds": 1})
    ok(st == 200 and d.get("status") == "stopped", "stop with an attached, TERM-ignoring exec",
       (st, d))
    texts, code = ws.until_close()
    exits = [t for t in texts if t.get("type") == "exit"]
    ok(len(exits) == 1 and exits[0].get("status") == "killed" and exits[0].get("signal") == 9,
       "the attach gets one exit frame, killed by 9", texts)
    ok(code == 1000, "then a normal close (1000), not a reset", code)
    st, _, d = call("GET", "/boxes/%s/executions/%s" % (b, eid))
    ok(st == 200 and d.get("status") == "killed" and d.get("exit_code") == -9,
       "the stopped box's execution stays readable (killed)", (st, d))
    st, _, d = call("GET", "/boxes/%s/executions" % b)
    ok(st == 200 and [x["execution_id"] for x in d["executions"]] == [eid],
       "the stopped box's executions are listed", (st, d))
    st, _, d = call("GET", "/boxes/%s/executions/nosuch" % b)
    ok(st == 404, "an unknown execution of a stopped box: 404", (st, d))
    call("GET", "/boxes/%s/metrics" % b)
    call("HEAD", "/boxes/%s" % b)
    st, _, d = call("GET", "/boxes/%s" % b)
    ok(d.get("status") == "stopped", "no read-only route started the box", d)
    ws = WS("/boxes/%s/executions/%s/attach" % (b, eid))
    if ws.status == 101:
        ws.until_close()
    st, _, d = call("GET", "/boxes/%s" % b)
    ok(d.get("status") == "stopped", "attaching to its execution did not start it", d)
    call("DELETE", "/boxes/%s?force=true" % b)


# ---- findings 3 and 5: counters, manners ---------------------------------------

def counters_and_manners():
    _, _, m0 = call("GET", "/metrics")
    shape(m0, "RuntimeMetrics", "GET /metrics")
    st, hd, box = call("POST", "/boxes", {"image": "host", "name": "conf-m"},
                       headers={"Idempotency-Key": "k-create-1"})
    ok(st == 201 and hd.get("location") == "/v1/boxes/" + box.get("box_id", "?"),
       "create: 201 with Location", (st, hd.get("location")))
    st2, hd2, box2 = call("POST", "/boxes", {"image": "host", "name": "conf-m"},
                          headers={"Idempotency-Key": "k-create-1"})
    ok(st2 == 201 and box2 == box and hd2.get("location") == hd.get("location"),
       "the same Idempotency-Key and body: the original answer, not a 409", (st2, box2))
    st3, _, d = call("POST", "/boxes", {"image": "host", "name": "conf-m-other"},
                     headers={"Idempotency-Key": "k-create-1"})
    ok(st3 == 422, "the same key with another body: 422", (st3, d))
    st4, _, d = call("POST", "/boxes", {"image": "host", "name": "conf-m-long"},
                     headers={"Idempotency-Key": "k" * 256})
    ok(st4 == 400 and "Idempotency-Key" in d["error"]["message"],
       "an Idempotency-Key over 255 bytes is 400, saying so", (st4, d))
    _, _, lst = call("GET", "/boxes")
    ok([b["name"] for b in lst["boxes"]].count("conf-m") == 1 and
       "conf-m-other" not in [b["name"] for b in lst["boxes"]],
       "a replay created nothing", lst)
    st, hd, ex = call("POST", "/tenant-a/boxes/conf-m/exec",
                      {"command": "sh", "args": ["-c", "printf 12345; printf 678 >&2"]})
    ok(st == 201 and hd.get("location") ==
       "/v1/tenant-a/boxes/conf-m/executions/" + ex.get("execution_id", "?"),
       "exec: Location under the request's prefix", hd.get("location"))
    wait_exec("conf-m", ex["execution_id"])
    st, _, ex2 = call("POST", "/boxes/conf-m/exec", {"command": "sleep", "args": ["60"]})
    st, _, d = call("GET", "/boxes/conf-m/executions/" + ex2["execution_id"])
    ok(d.get("status") == "running" and d.get("exit_code", 0) is None and
       d.get("duration_ms", 0) is None and "started_at" in d,
       "a running execution: exit_code null, started_at", d)
    st, _, d = call("POST", "/boxes/conf-m/executions/%s/signal" % ex2["execution_id"],
                    {"signal": 15})
    ok(st == 204, "signal: 204", (st, d))
    # Network counters from the box's own namespace: two ends of a TCP
    # connection on its loopback, and a refused connect.
    net = ("import socket,time\n"
           "s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n"
           "c=socket.create_connection(s.getsockname()); a,_=s.accept()\n"
           "try: socket.create_connection(('127.0.0.1', 1))\n"
           "except OSError: pass\n"
           "print('up', flush=True); time.sleep(60)\n")
    st, _, ex3 = call("POST", "/boxes/conf-m/exec", {"command": "python3", "args": ["-c", net]})
    for _ in range(300):
        _, _, d = call("GET", "/boxes/conf-m/executions/" + ex3["execution_id"])
        # "up" printed: a running execution counts its output in stdout_offset
        # (stdout_bytes is its result's, once it ended).
        if d.get("stdout_offset", 0) > 0 or d.get("status") != "running":
            break
        time.sleep(0.1)
    st, _, bm = call("GET", "/boxes/conf-m/metrics")
    shape(bm, "BoxMetrics", "box metrics")
    boot = bm.get("boot_timing")
    shape(boot, "BootTiming", "box metrics: boot_timing of a started box")
    total = boot.get("total_create_ms") if isinstance(boot, dict) else None
    ok(isinstance(total, int) and total > 0, "box metrics: boot_timing's total_create_ms > 0", bm)
    ok(isinstance(total, int) and
       all(isinstance(v, int) and 0 <= v <= total for v in boot.values()),
       "box metrics: each boot_timing phase an integer within the total", bm)
    ok(isinstance(bm.get("network_tcp_connections"), int) and bm["network_tcp_connections"] >= 2,
       "box metrics: the box's ESTABLISHED connections", bm)
    ok(isinstance(bm.get("network_tcp_errors"), int) and bm["network_tcp_errors"] >= 1,
       "box metrics: a refused connect is a TCP error", bm)
    ok(bm.get("network_bytes_sent") == 0 and bm.get("network_bytes_received") == 0,
       "box metrics: no traffic beyond loopback in a box without network", bm)
    ok(isinstance(bm.get("cpu_percent"), (int, float)) and 0 <= bm["cpu_percent"] <= 100,
       "box metrics: cpu_percent 0..100", bm)
    call("DELETE", "/boxes/conf-m/executions/" + ex3["execution_id"])
    ok(bm.get("commands_executed_total") == 3 and bm.get("bytes_received_total") == 11 and
       bm.get("bytes_sent_total") == 0, "box metrics: 3 commands, 11 bytes out, none in", bm)
    # stdin: the inline `stdin` field of an exec and bytes written on an
    # attach both count in bytes_sent_total, and the count survives a stop.
    st, _, ex4 = call("POST", "/boxes/conf-m/exec", {"command": "cat", "stdin": "hello"})
    wait_exec("conf-m", ex4["execution_id"])
    st, _, ex5 = call("POST", "/boxes/conf-m/exec", {"command": "sh", "args": ["-c", "read x; echo $x; sleep 60"]})
    ws = WS("/boxes/conf-m/executions/%s/attach" % ex5["execution_id"])
    ws.send(2, b"abc\n")
    got = b""
    while b"abc" not in got:
        op, p = ws.frame()
        if op == 2:
            got += p[1:]
        elif op == 9:
            ws.send(10, p)
    ws.s.close()
    st, _, bm = call("GET", "/boxes/conf-m/metrics")
    ok(bm.get("bytes_sent_total") == 9, "box metrics: bytes_sent_total counts stdin (5 + 4)", bm)
    st, _, d = call("GET", "/boxes/conf-m/executions/" + ex4["execution_id"])
    ok(d.get("stdin_bytes") == 5, "an execution's stdin_bytes", d)
    sent_before = bm.get("bytes_sent_total")
    received_before = bm.get("bytes_received_total")
    st, _, d = call("POST", "/boxes/conf-m/stop", {"timeout_seconds": 2})
    st, _, bm2 = call("GET", "/boxes/conf-m/metrics")
    ok(bm2.get("bytes_sent_total") == sent_before and
       bm2.get("bytes_received_total") >= received_before,
       "after the stop the counters have not gone down",
       [(x.get("bytes_sent_total"), x.get("bytes_received_total"), x.get("exec_errors_total"))
        for x in (bm, bm2)])
    _, _, m1 = call("GET", "/metrics")
    for k, n in (("boxes_created_total", 1), ("total_commands_executed", 5),
                 ("boxes_stopped_total", 1)):
        ok(m1.get(k, 0) - m0.get(k, 0) == n, "metrics: %s grew by %d" % (k, n), (m0, m1))
    st, _, d = call("POST", "/boxes/conf-nosuch/exec", {"command": "true"})
    # pagination and the status filter
    for i in range(3):
        call("POST", "/boxes", {"image": "host", "name": "conf-p%d" % i, "auto_start": False})
    st, _, cm = call("GET", "/boxes/conf-p0/metrics")
    ok(st == 200 and "boot_timing" not in cm, "box metrics: a box never started has no boot_timing",
       (st, cm))
    st, _, p1 = call("GET", "/boxes?pageSize=2")
    ok(st == 200 and len(p1["boxes"]) == 2 and isinstance(p1.get("next_page_token"), str),
       "pageSize=2: two boxes and a next_page_token", p1)
    seen = [b["box_id"] for b in p1["boxes"]]
    tok = p1.get("next_page_token")
    while tok:
        st, _, pn = call("GET", "/boxes?pageSize=2&pageToken=" + tok)
        seen += [b["box_id"] for b in pn["boxes"]]
        tok = pn.get("next_page_token")
    _, _, whole = call("GET", "/boxes")
    ok(seen == [b["box_id"] for b in whole["boxes"]] and whole.get("next_page_token") is None,
       "the pages put together are the whole list, once each", (seen, whole))
    _, _, cf = call("GET", "/boxes?status=configured")
    ok(sorted(b["name"] for b in cf["boxes"]) == ["conf-p0", "conf-p1", "conf-p2"],
       "status=configured keeps only those", cf)
    for bad in ("pageSize=0", "pageSize=x", "pageToken=-1", "status=sleeping"):
        st, _, d = call("GET", "/boxes?" + bad)
        ok(st == 400, "GET /boxes?%s: 400" % bad, (st, d))
    _, _, im = call("GET", "/images?pageSize=1")
    ok(len(im["images"]) <= 1 and "next_page_token" in im, "images: pageSize=1", im)
    st, _, d = call("GET", "/images?pageSize=1001")
    ok(st == 400, "images: pageSize over 1000 is 400", (st, d))
    for i in range(3):
        call("DELETE", "/boxes/conf-p%d" % i)
    call("DELETE", "/boxes/conf-m?force=true")


def default_grace():
    """A REST stop without a timeout gives a process that ignores SIGTERM
    BoxLite's 30 s (the CLI's default is 10 s): a lower bound only, which a
    slow machine cannot break."""
    call("POST", "/boxes", {"image": "host", "name": "conf-g"})
    st, _, ex = call("POST", "/boxes/conf-g/exec",
                     {"command": "sh", "args": ["-c", "trap '' TERM; echo up; sleep 300"]})
    for _ in range(300):
        _, _, d = call("GET", "/boxes/conf-g/executions/" + ex["execution_id"])
        if d.get("stdout_bytes", 0) > 0 or d.get("stdout_offset", 0) > 0:
            break
        time.sleep(0.1)
    t0 = time.time()
    st, _, d = call("POST", "/boxes/conf-g/stop")
    took = time.time() - t0
    ok(st == 200 and took >= 25, "a stop without a timeout waits BoxLite's 30 s", (st, took))
    _, _, d = call("GET", "/boxes/conf-g/executions/" + ex["execution_id"])
    ok(d.get("status") == "killed", "then the process is killed", d)
    call("DELETE", "/boxes/conf-g?force=true")


# ---- API keys: issued, bounded by their issuer, hashed, revocable -------------

def api_keys():
    st, hd, k1 = call("POST", "/api-keys", {"name": "writer", "permissions": ["write:boxes"]})
    ok(st == 201 and k1.get("value", "").startswith("blk_"), "issue a key", (st, k1))
    ok(hd.get("location") == "/v1/api-keys/writer", "its Location", hd.get("location"))
    v1 = k1.get("value", "x")
    stored = open(os.path.join(HOME, "api-keys.json")).read()
    ok(v1 not in stored and len(json.loads(stored)) == 1, "the store keeps a hash, not the value")
    ok(oct(os.stat(os.path.join(HOME, "api-keys.json")).st_mode & 0o777) == "0o600",
       "the store is mode 0600")
    st, _, me = call("GET", "/me", key=v1)
    ok(st == 200 and me["sub"] == "writer" and "box:write" in me["scopes"] and
       "box:delete" not in me["scopes"], "GET /me as the key: its own scopes", me)
    st, _, d = call("POST", "/boxes", {"image": "host", "name": "conf-k"}, key=v1)
    ok(st == 201, "write:boxes creates a box", (st, d))
    st, _, d = call("DELETE", "/boxes/conf-k?force=true", key=v1)
    ok(st == 403 and d["error"]["code"] == "permission_denied",
       "without delete:boxes, removing is 403", (st, d))
    st, _, k2 = call("POST", "/api-keys", {"name": "reader", "permissions": ["write:boxes"]},
                     key=v1)
    ok(st == 201, "a key passes on what it holds", (st, k2))
    st, _, d = call("POST", "/api-keys", {"name": "escalate", "permissions": ["delete:boxes"]},
                    key=v1)
    ok(st == 403 and "delete:boxes" in d["error"]["message"],
       "a key cannot grant more than it holds (403 names it)", (st, d))
    st, _, d = call("POST", "/api-keys", {"name": "x", "permissions": []}, key=v1)
    ok(st == 400, "an empty grant is 400", (st, d))
    st, _, k3 = call("POST", "/api-keys", {"name": "short", "permissions": ["write:boxes"],
                                           "expires_at": "2099-01-01T00:00:00Z"})
    st, _, d = call("POST", "/api-keys", {"name": "longer", "permissions": ["write:boxes"],
                                          "expires_at": "2100-01-01T00:00:00Z"},
                    key=k3["value"])
    ok(st == 403, "a child cannot outlive its issuer", (st, d))
    st, _, k4 = call("POST", "/api-keys", {"name": "inherits", "permissions": ["write:boxes"]},
                     key=k3["value"])
    ok(st == 201 and k4.get("expires_at", "").startswith("2099-01-01T00:00:00"),
       "an omitted expiry is the issuer's", (st, k4))
    st, _, d = call("POST", "/api-keys", {"name": "past", "permissions": ["write:boxes"],
                                          "expires_at": "2001-01-01T00:00:00Z"})
    ok(st == 400, "an expiry in the past is 400", (st, d))
    st, _, lst = call("GET", "/api-keys", key=v1)
    ok(st == 200 and [k["name"] for k in lst["api_keys"]] == ["reader"] and
       all("value" not in k for k in lst["api_keys"]),
       "a key lists what it issued, never a value", lst)
    st, _, lst = call("GET", "/api-keys")
    ok(sorted(k["name"] for k in lst["api_keys"]) == ["inherits", "reader", "short", "writer"],
       "the server's key lists them all", lst)
    st, _, d = call("DELETE", "/api-keys/short", key=v1)
    ok(st == 404, "a key cannot revoke one it did not issue", (st, d))
    st, _, d = call("DELETE", "/api-keys/reader", key=k2["value"])
    ok(st == 404, "nor itself", (st, d))
    # A key without write:boxes: no exec, no attach.
    st, _, k5 = call("POST", "/api-keys", {"name": "vols", "permissions": ["read:volumes"]})
    st, _, d = call("POST", "/boxes/conf-k/exec", {"command": "true"}, key=k5["value"])
    ok(st == 403, "without write:boxes, exec is 403", (st, d))
    st, _, ex = call("POST", "/boxes/conf-k/exec", {"command": "sleep", "args": ["5"]}, key=v1)
    ws = WS("/boxes/conf-k/executions/%s/attach" % ex.get("execution_id"), key=k5["value"])
    ok(ws.status == 403, "without write:boxes, attaching is 403", ws.status)
    ws.s.close()
    st, _, d = call("GET", "/boxes/conf-k", key=k5["value"])
    ok(st == 200, "reading needs no permission beyond a valid key", (st, d))
    # An Idempotency-Key is its caller's: another key's replay runs anew.
    st, _, a1 = call("POST", "/boxes", {"image": "host", "name": "conf-ik", "auto_start": False},
                     headers={"Idempotency-Key": "shared-1"}, key=v1)
    st2, _, a2 = call("POST", "/boxes", {"image": "host", "name": "conf-ik", "auto_start": False},
                      headers={"Idempotency-Key": "shared-1"}, key=k2["value"])
    ok(st == 201 and st2 == 409, "the same Idempotency-Key from another API key is not a replay",
       (st, st2, a2))
    call("DELETE", "/boxes/conf-ik")
    st, _, d = call("DELETE", "/api-keys/writer")
    ok(st == 204, "revoke", (st, d))
    st, _, d = call("GET", "/boxes", key=v1)
    ok(st == 401, "a revoked key is refused at once", (st, d))
    st, _, d = call("GET", "/boxes", key=v1 + "0")
    ok(st == 401, "a key that is not one is refused", (st, d))
    for n in ("reader", "short", "inherits", "vols"):
        call("DELETE", "/api-keys/" + n)
    call("DELETE", "/boxes/conf-k?force=true")


# ---- the walk ------------------------------------------------------------------

def walk():
    docs = yaml.safe_load(open(DOCS))
    doc_ops = {}
    for path, item in docs["paths"].items():
        for m in ("get", "put", "post", "delete", "head", "patch"):
            if m in item:
                doc_ops[(m.upper(), path)] = item[m]
    st, _, cfg = call("GET", "/config")
    shape(cfg, "ServerConfig", "GET /config")
    caps = cfg.get("capabilities", {})
    shape(caps, "ServerCapabilities", "capabilities")
    for k in SCHEMAS["ServerCapabilities"]["types"]:
        if k not in ("max_boxes_per_path_prefix", "file_transfer_max_bytes"):
            ok(k in caps, "capabilities.%s is advertised" % k, caps)

    st, _, box = call("POST", "/boxes", {"image": "host", "name": "conf-walk"})
    B = box["box_id"]
    st, _, ex = call("POST", "/boxes/%s/exec" % B, {"command": "sleep", "args": ["60"],
                                                   "tty": True})
    E = ex["execution_id"]
    call("POST", "/boxes/%s/exec" % B, {"command": "sh", "args": ["-c", "echo hi >/tmp/conf.txt"]})
    time.sleep(0.5)
    st, _, imgs = call("GET", "/images")
    I = imgs["images"][0]["id"] if imgs.get("images") else "host"
    ids = {"box_id": B, "exec_id": E, "image_id": I, "name": "conf-key",
           "volume_id": "conf-vol", "snapshot_name": "conf-snap"}
    bodies = {"createBox": {"image": "host", "name": "conf-walk2", "auto_start": False},
              "startExecution": {"command": "true"}, "signalExecution": {"signal": 28},
              "resizeExecution": {"rows": 30, "cols": 100}, "pullImage": {"reference": "host"},
              "createApiKey": {"name": "conf-key", "permissions": ["write:boxes"]},
              "createSnapshot": {"name": "s"}, "cloneBox": {"name": "c"},
              "createVolume": {"name": "conf-vol"}}
    flag_of = {"createSnapshot": "snapshots_enabled", "listSnapshots": "snapshots_enabled",
               "getSnapshot": "snapshots_enabled", "removeSnapshot": "snapshots_enabled",
               "restoreSnapshot": "snapshots_enabled", "cloneBox": "clone_enabled",
               "exportBox": "export_enabled", "importBox": "import_enabled"}
    # Box state (snapshots, clone, export, import) on a stopped box of its
    # own, in the order the operations need; volumes by the walk's id.
    state_ops = state_walk(doc_ops, caps)
    # Order: what removes or stops comes last.
    last = ["killExecution", "stopBox", "removeBox"]
    order = [o for o in OPERATIONS if o[0] not in last] + \
        [o for n in last for o in OPERATIONS if o[0] == n]
    for op_id, method, path, want, schema in order:
        label = "%s (%s %s)" % (op_id, method, path)
        if op_id in state_ops:
            continue
        target = path.format(**ids)
        d = doc_ops.get((method, path))
        ok(d is not None, label + ": in docs/openapi.yaml")
        unsupported = bool(d and d.get("x-boxlet-unsupported"))
        if op_id in flag_of:
            ok(caps.get(flag_of[op_id]) is (not unsupported),
               "%s: capabilities.%s matches" % (label, flag_of[op_id]), caps)
        if op_id == "attachExecution":
            ws = WS(target)
            ok(ws.status == 101, label + ": 101", ws.status)
            ws.s.close()
            continue
        if op_id == "uploadFiles":
            continue  # a tar stream: test_openapi covers it
        if op_id == "downloadFiles":
            target += "?path=%2Ftmp%2Fconf.txt"
        if op_id == "removeBox":
            target += "?force=true"
        if op_id == "prepareTunnel":
            target += "?port=8080"
        st, hd, doc = call(method, target, bodies.get(op_id))
        if unsupported:
            ok(st == 501, label + ": 501 (not served)", (st, doc))
            envelope(doc, "unsupported", label)
            continue
        ok(st == want, "%s: %d" % (label, want), (st, doc))
        if st == want and schema and method != "HEAD":
            shape(doc, schema, label)
        if st == 201:
            ok(hd.get("location", "").startswith("/v1/"), label + ": a Location header", hd)
        if st == want and op_id == "listBoxes":
            for x in doc["boxes"]:
                shape(x, "Box", label + " item")
                ok(x["status"] in BOX_STATUSES, label + ": a BoxStatus", x["status"])
        if st == want and op_id == "getExecution":
            ok(doc["status"] in EXEC_STATUSES, label + ": an execution status", doc)
            ok(doc["status"] != "running" or doc.get("exit_code", 0) is None,
               label + ": a running execution's exit_code is null", doc)
            ok("started_at" in doc, label + ": started_at", doc)
        if st == want and op_id == "getCurrentPrincipal":
            ok("path_prefix" in doc and doc["path_prefix"] is None, label + ": path_prefix null")
            ok(doc["principal_type"] in ("user", "service_account"), label + ": principal_type")
    # Error envelope on a miss.
    st, _, doc = call("GET", "/boxes/conf-nosuch")
    ok(st == 404, "a missing box: 404", st)
    envelope(doc, "not_found", "a missing box")
    call("DELETE", "/boxes/conf-walk2?force=true")


def state_walk(doc_ops, caps):
    """Snapshots, clone, export and import need a stopped box and an order
    of their own: create S stopped, snapshot it, list, get, restore,
    remove; clone it; export it and import the archive. Returns the
    operation ids it covered."""
    covered = {}
    for op_id, method, path, want, schema in OPERATIONS:
        covered[op_id] = (method, path, want, schema)
    names = ["createSnapshot", "listSnapshots", "getSnapshot", "restoreSnapshot",
             "removeSnapshot", "cloneBox", "exportBox", "importBox"]
    st, _, box = call("POST", "/boxes", {"image": "host", "name": "conf-state",
                                        "auto_start": False})
    ok(st == 201, "state walk: a stopped box", (st, box))
    S = box.get("box_id", "conf-state")
    ids = {"box_id": S, "snapshot_name": "conf-snap"}
    bodies = {"createSnapshot": {"name": "conf-snap"}, "cloneBox": {"name": "conf-clone"}}
    archive = b""
    made = []
    for op_id in names:
        method, path, want, schema = covered[op_id]
        label = "%s (%s %s)" % (op_id, method, path)
        d = doc_ops.get((method, path))
        ok(d is not None and not d.get("x-boxlet-unsupported"), label + ": served, in the spec")
        if op_id == "exportBox":
            st, data = call_raw("POST", path.format(**ids))
            ok(st == want and len(data) > 0, "%s: %d with an archive" % (label, want),
               (st, len(data)))
            archive = data
            continue
        if op_id == "importBox":
            st, hd, doc = call_body("POST", "/boxes/import?name=conf-imported", archive,
                                    "application/octet-stream")
        else:
            st, hd, doc = call(method, path.format(**ids), bodies.get(op_id))
        ok(st == want, "%s: %d" % (label, want), (st, doc))
        if st == want and schema:
            shape(doc, schema, label)
        if st == 201:
            ok(hd.get("location", "").startswith("/v1/"), label + ": a Location header", hd)
        if st == 201 and schema == "Box":
            made.append(doc["box_id"])
    for b in made + [S]:
        call("DELETE", "/boxes/%s?force=true" % b)
    return set(names)


def run(name, fn):
    try:
        fn()
    except Exception:
        import traceback
        ok(False, name + " ran to its end", traceback.format_exc())


def main():
    for name, fn in (("stop_never_restarts", stop_never_restarts),
                     ("counters_and_manners", counters_and_manners)):
        run(name, fn)
    # default_grace spends 30 s in one stop (the point of it): the checks
    # after it run meanwhile. Not beside counters_and_manners, which counts
    # the server's boxes and stops and pages through its whole list.
    grace = threading.Thread(target=run, args=("default_grace", default_grace))
    grace.start()
    for name, fn in (("api_keys", api_keys), ("walk", walk)):
        run(name, fn)
    grace.join()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


main()
