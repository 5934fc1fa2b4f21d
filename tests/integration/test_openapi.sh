#!/bin/sh
# docs/openapi.yaml against a real `boxlet serve` on loopback: every
# operation of the spec gets real requests (with a real box, execution and
# image, or nonexistent ones), and each answer's status must be one the spec
# lists for it, 2xx JSON bodies must match their schemas (every required
# property, the types, no property the spec does not name), errors the
# envelope, and every REST answer must carry X-Request-Id (and a 201 a
# Location). Also: 401 without the key on every route but GET /v1/config,
# 413 over --max-body on every route, 400 for an unknown field where the
# spec refuses them and for a missing required field, the {prefix} segment
# exactly where the spec allows it, the WebSocket attach (upgrade,
# subprotocol, frames against the frame schemas), and the other way round,
# that every row of the server's route table (`boxlet serve --routes`,
# src/server/route.c) is in the spec and nothing else is, with the spec's
# security, WebSocket and unsupported marks matching the rows' flags.
# Prints "N passed, N failed".
set -u
BOXLET=$1
here=$(cd "$(dirname "$0")" && pwd)
SPEC=$here/../../docs/openapi.yaml
[ "$(id -u)" -eq 0 ] || { echo "0 passed, 0 failed, 1 skipped (boxes need root)"; exit 0; }
python3 -c 'import yaml' 2>/dev/null ||
    { echo "test_openapi: python3-yaml is missing (scripts/deps.sh installs it)"; exit 1; }
export BOXLET_HOME=$(mktemp -d /tmp/boxlet-oapi.XXXXXX)
chmod 711 "$BOXLET_HOME"
fifo=$BOXLET_HOME/ready; mkfifo "$fifo"
BOXLET_API_KEY=oapi-key "$BOXLET" serve --port 0 --max-body 65536 --import-dir "$BOXLET_HOME" \
    --ready-fd 3 3>"$fifo" &
srv=$!
cleanup() {
    kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null
    for b in $("$BOXLET" ls -q 2>/dev/null); do "$BOXLET" rm -f "$b" >/dev/null 2>&1; done
    for v in $("$BOXLET" volume ls -q 2>/dev/null); do "$BOXLET" volume rm -f "$v" >/dev/null 2>&1; done
    rm -rf "$BOXLET_HOME"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
port=$(head -n 1 "$fifo")
[ -n "$port" ] || { echo "test_openapi: the server did not start"; exit 1; }
python3 "$here/../fixtures/make_oci.py" "$BOXLET_HOME/layout" --tag multi >/dev/null ||
    { echo "test_openapi: make_oci.py failed"; exit 1; }

routes=$BOXLET_HOME/routes
"$BOXLET" serve --routes >"$routes" || { echo "test_openapi: boxlet serve --routes failed"; exit 1; }

python3 - "$SPEC" "$port" oapi-key "$BOXLET_HOME/layout" "$routes" <<'PY'
import base64, http.client as httpc, io, json, os, re, socket, struct, sys, tarfile, time
import yaml

SPEC, PORT, KEY, LAYOUT = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
MAX_BODY = 65536
spec = yaml.safe_load(open(SPEC))

# The server's route table, row by row: METHOD /v1PATH FLAGS (route.c).
TABLE = {}
for line in open(sys.argv[5]):
    m, path, flags = line.split()
    TABLE[(m, path)] = set(flags.split(","))
SERVER_ROUTES = sorted(TABLE)
# Operations of the spec the server does not implement (none today): they
# must be listed here to be let off the table.
NOT_IMPLEMENTED = set()
# BoxLite's own operations (its openapi/box.openapi.yaml); every other
# operation must be marked x-boxlet-extension.
BOXLITE_OPS = {("GET", "/config"), ("GET", "/me"), ("GET", "/metrics"), ("GET", "/boxes"),
               ("POST", "/boxes"), ("GET", "/boxes/{box_id}"), ("HEAD", "/boxes/{box_id}"),
               ("DELETE", "/boxes/{box_id}"), ("POST", "/boxes/{box_id}/start"),
               ("POST", "/boxes/{box_id}/stop"), ("GET", "/boxes/{box_id}/metrics"),
               ("POST", "/boxes/{box_id}/exec"),
               ("GET", "/boxes/{box_id}/executions/{exec_id}"),
               ("DELETE", "/boxes/{box_id}/executions/{exec_id}"),
               ("POST", "/boxes/{box_id}/executions/{exec_id}/signal"),
               ("POST", "/boxes/{box_id}/executions/{exec_id}/resize"),
               ("GET", "/boxes/{box_id}/executions/{exec_id}/attach"),
               ("PUT", "/boxes/{box_id}/files"), ("GET", "/boxes/{box_id}/files"),
               ("POST", "/boxes/{box_id}/network/tunnel"),
               ("POST", "/images/pull"), ("GET", "/images"), ("GET", "/images/{image_id}"),
               ("HEAD", "/images/{image_id}"), ("POST", "/api-keys"), ("GET", "/api-keys"),
               ("DELETE", "/api-keys/{name}"),
               ("POST", "/boxes/{box_id}/snapshots"), ("GET", "/boxes/{box_id}/snapshots"),
               ("GET", "/boxes/{box_id}/snapshots/{snapshot_name}"),
               ("DELETE", "/boxes/{box_id}/snapshots/{snapshot_name}"),
               ("POST", "/boxes/{box_id}/snapshots/{snapshot_name}/restore"),
               ("POST", "/boxes/{box_id}/clone"), ("POST", "/boxes/{box_id}/export"),
               ("POST", "/boxes/import"), ("POST", "/volumes"), ("GET", "/volumes"),
               ("GET", "/volumes/{volume_id}"), ("DELETE", "/volumes/{volume_id}")}
# BoxLite's operations boxlet answers 501 unsupported (the route table's
# unsupported section; x-boxlet-unsupported in the spec): none at present.
UNSUPPORTED = set()
WS_OP = ("GET", "/boxes/{box_id}/executions/{exec_id}/attach")
METHODS = ("get", "put", "post", "delete", "head", "patch", "options", "trace")

passed = failed = 0
T0 = time.time()
exercised = set()


def ok(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL %s%s" % (what, ("\n  " + detail) if detail else ""), flush=True)
    return cond


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        cur = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            cur = cur[part]
        node = cur
    return node


def schema(name):
    return spec["components"]["schemas"][name]


# ---- the spec itself ---------------------------------------------------------

def walk_refs(node, where):
    if isinstance(node, dict):
        if "$ref" in node:
            try:
                resolve(node)
            except (KeyError, TypeError):
                ok(False, "%s: $ref %s does not resolve" % (where, node["$ref"]))
        for k, v in node.items():
            walk_refs(v, where + "/" + str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk_refs(v, "%s/%d" % (where, i))


ok(str(spec.get("openapi", "")).startswith("3.0."), "the spec is OpenAPI 3.0.x")
walk_refs(spec, "#")
ops = {}
for path, item in spec["paths"].items():
    for m in METHODS:
        if m in item:
            ops[(m.upper(), path)] = (item, item[m])
ids = [o.get("operationId") for _, o in ops.values()]
ok(len(ids) == len(set(ids)) and None not in ids, "operationIds are present and unique", str(ids))
for (m, path), (item, op) in sorted(ops.items()):
    declared = {resolve(p)["name"] for p in item.get("parameters", []) + op.get("parameters", [])
                if resolve(p)["in"] == "path"}
    ok(declared == set(re.findall(r"{(\w+)}", path)), "%s %s: path parameters declared" % (m, path),
       str(declared))
    for st, r in op["responses"].items():
        ok("description" in resolve(r), "%s %s %s: a description" % (m, path, st))

# ---- the spec against the server's own route list ----------------------------

ok(len(TABLE) > 20 and ("GET", "/v1/config") in TABLE, "serve --routes prints the table",
   str(sorted(TABLE)))
served = {(m, p[len("/v1"):]) for m, p in SERVER_ROUTES}
for key in sorted(served):
    ok(key in ops, "route %s /v1%s is in the spec" % key)
    flags = TABLE[(key[0], "/v1" + key[1])]
    if key in ops:
        op = ops[key][1]
        ok(("open" in flags) == (op.get("security", None) == []),
           "route %s /v1%s: open (no key) exactly where the spec has security: []" % key,
           str(flags))
        ok(("websocket" in flags) == (key == WS_OP),
           "route %s /v1%s: a WebSocket exactly where the spec says so" % key, str(flags))
        ok(("unsupported" in flags) == (op.get("x-boxlet-unsupported") is True) ==
           (key in UNSUPPORTED),
           "route %s /v1%s: unsupported exactly where the spec says so" % key, str(flags))
for key in sorted(ops):
    ok(key in served or key in NOT_IMPLEMENTED,
       "spec operation %s %s is a row of the route table (or listed as not implemented)" % key)
    ext = ops[key][1].get("x-boxlet-extension") is True
    ok(ext == (key not in BOXLITE_OPS),
       "%s %s: x-boxlet-extension %s" % (key + ("set" if key not in BOXLITE_OPS else "absent",)))

# ---- JSON against a schema ---------------------------------------------------

DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def validate(v, s, where, errs):
    """Appends to errs what in v does not match schema s (properties the
    schema does not name count as errors: the spec must be exact)."""
    s = resolve(s)
    if "allOf" in s:
        merged = {k: x for k, x in s.items() if k != "allOf"}
        for sub in s["allOf"]:
            sub = resolve(sub)
            for k, x in sub.items():
                if k == "properties":
                    merged.setdefault("properties", {}).update(x)
                elif k == "required":
                    merged["required"] = merged.get("required", []) + x
                else:
                    merged.setdefault(k, x)
        s = merged
    if v is None:
        if not s.get("nullable"):
            errs.append("%s: null" % where)
        return
    if "enum" in s and v not in s["enum"]:
        errs.append("%s: %r not in %r" % (where, v, s["enum"]))
    if "oneOf" in s:
        if not any(not validate_list(v, sub, where) for sub in s["oneOf"]):
            errs.append("%s: matches no oneOf branch" % where)
        return
    t = s.get("type")
    is_int = isinstance(v, int) and not isinstance(v, bool)
    if t == "integer" and not is_int:
        errs.append("%s: %r is not an integer" % (where, v))
    elif t == "number" and not (is_int or isinstance(v, float)):
        errs.append("%s: %r is not a number" % (where, v))
    elif t == "boolean" and not isinstance(v, bool):
        errs.append("%s: %r is not a boolean" % (where, v))
    elif t == "string":
        if not isinstance(v, str):
            errs.append("%s: %r is not a string" % (where, v))
        else:
            if "pattern" in s and not re.search(s["pattern"], v):
                errs.append("%s: %r does not match %s" % (where, v, s["pattern"]))
            if s.get("format") == "date-time" and not DATE_TIME.match(v):
                errs.append("%s: %r is not a date-time" % (where, v))
            if len(v) < s.get("minLength", 0):
                errs.append("%s: %r is too short" % (where, v))
    elif t == "array":
        if not isinstance(v, list):
            errs.append("%s: not an array" % where)
        else:
            for i, x in enumerate(v):
                validate(x, s.get("items", {}), "%s[%d]" % (where, i), errs)
    elif t == "object":
        if not isinstance(v, dict):
            errs.append("%s: not an object" % where)
            return
        for r in s.get("required", []):
            if r not in v:
                errs.append("%s: required property %r is missing" % (where, r))
        props = s.get("properties", {})
        extra = s.get("additionalProperties")
        for k, x in v.items():
            if k in props:
                validate(x, props[k], where + "." + k, errs)
            elif isinstance(extra, dict):
                validate(x, extra, where + "." + k, errs)
            else:
                errs.append("%s: property %r is not in the spec" % (where, k))
    if (is_int or isinstance(v, float)) and t in ("integer", "number"):
        if "minimum" in s and v < s["minimum"]:
            errs.append("%s: %r < minimum %r" % (where, v, s["minimum"]))
        if "maximum" in s and v > s["maximum"]:
            errs.append("%s: %r > maximum %r" % (where, v, s["maximum"]))


def validate_list(v, s, where):
    errs = []
    validate(v, s, where, errs)
    return errs


# ---- HTTP ----------------------------------------------------------------------

def url(tmpl, ids, prefix=None, query=""):
    return "/v1" + ("/" + prefix if prefix else "") + tmpl.format(**ids) + \
        ("?" + query if query else "")


def http_call(method, target, body=None, auth=True, raw=None):
    c = httpc.HTTPConnection("127.0.0.1", PORT, timeout=60)
    headers = {"Authorization": "Bearer " + KEY} if auth else {}
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        headers["Content-Type"] = "application/json"
    c.request(method, target, body=data, headers=headers)
    r = c.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    c.close()
    return out


def check(method, tmpl, answer, want=None, what=""):
    """Checks one answer of operation (method, tmpl) against the spec."""
    status, headers, body = answer
    key = (method, tmpl)
    label = "%s %s%s -> %d" % (method, tmpl, (" (" + what + ")") if what else "", status)
    if not ok(key in ops, label + ": the operation is in the spec"):
        return None
    exercised.add(key)
    op = ops[key][1]
    responses = op["responses"]
    ok(str(status) in responses, label + ": status listed in the spec", "listed: %s; body: %s"
       % (sorted(responses), body[:300]))
    if want is not None:
        ok(status == want, label + ": the test expected %d" % want,
           body[:300].decode("utf-8", "replace"))
    if str(status) not in responses:
        return None
    ok(re.match(r"^[0-9a-f]{16}$", headers.get("x-request-id", "")),
       label + ": X-Request-Id header", str(headers))
    if status == 201:  # BoxLite's Location on what a request made
        ok(headers.get("location", "").startswith("/v1/"), label + ": a Location header",
           str(headers))
    resp = resolve(responses[str(status)])
    content = resp.get("content", {})
    if method == "HEAD" or not content:
        ok(body == b"", label + ": no body", body[:200])
        return None
    if "application/json" not in content:  # a tar archive (GET .../files)
        ctype = next(iter(content))
        ok(headers.get("content-type", "").startswith(ctype), label + ": " + ctype)
        return None
    ok(headers.get("content-type", "").startswith("application/json"), label + ": JSON")
    try:
        doc = json.loads(body)
    except ValueError:
        ok(False, label + ": the body is JSON", body[:200])
        return None
    errs = validate_list(doc, content["application/json"]["schema"], "body")
    ok(not errs, label + ": body matches the spec's schema", "\n  ".join(errs[:8]))
    return doc


def call(method, tmpl, ids=None, body=None, query="", want=None, what="", raw=None,
         prefix_too=None):
    """One real request to operation (method, tmpl) and its checks. For GET
    and HEAD (or prefix_too) the same request under a {prefix} segment must
    answer the same status where the spec allows a prefix, and 404 where it
    does not."""
    ids = ids or {}
    ans = http_call(method, url(tmpl, ids, None, query), body=body, raw=raw)
    doc = check(method, tmpl, ans, want, what)
    if prefix_too is None:
        prefix_too = method in ("GET", "HEAD")
    if prefix_too and (method, tmpl) in ops:
        item = ops[(method, tmpl)][0]
        allowed = any("{prefix}" in s["url"] for s in item.get("servers", []))
        pans = http_call(method, url(tmpl, ids, "tenant-a", query), body=body, raw=raw)
        if allowed:
            ok(pans[0] == ans[0], "%s %s under /v1/tenant-a: same status" % (method, tmpl),
               "%d vs %d: %s" % (pans[0], ans[0], pans[2][:200]))
        else:
            ok(pans[0] == 404, "%s %s under /v1/tenant-a: not served (404)" % (method, tmpl),
               "%d: %s" % (pans[0], pans[2][:200]))
    return doc


# ---- WebSocket -------------------------------------------------------------------

class WS:
    def __init__(self, target, proto=None, auth=True):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=15)
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               % (target, PORT, key))
        if proto:
            req += "Sec-WebSocket-Protocol: %s\r\n" % proto
        if auth:
            req += "Authorization: Bearer %s\r\n" % KEY
        self.s.sendall((req + "\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.s.recv(4096)
            if not chunk:
                break
            buf += chunk
        head, _, self.buf = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin1").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines[0] else 0
        self.headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        if self.status != 101:  # the refusal's body, by its length
            n = int(self.headers.get("content-length", "0"))
            while len(self.buf) < n:
                chunk = self.s.recv(4096)
                if not chunk:
                    break
                self.buf += chunk
            self.body = self.buf
            self.s.close()

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
        hdr = bytes([0x80 | opcode])
        n = len(payload)
        hdr += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def close(self):
        try:
            self.send(8, struct.pack(">H", 1000))
        except OSError:
            pass
        self.s.close()


FRAME_SCHEMAS = {"attached": "AttachAttachedFrame", "gap": "AttachGapFrame",
                 "exit": "AttachExitFrame", "error": "AttachErrorFrame"}


def check_frame(label, opcode, payload):
    """A data frame from the server against the frame schemas; returns the
    text frame's type, or 'binary'."""
    if opcode == 2:
        ok(len(payload) >= 1 and payload[0] in (1, 2), label + ": binary frame [0x01|0x02 ...]",
           repr(payload[:20]))
        return "binary"
    if not ok(opcode == 1, label + ": a text or binary frame", "opcode %d" % opcode):
        return None
    doc = json.loads(payload)
    t = doc.get("type")
    if not ok(t in FRAME_SCHEMAS, label + ": frame type %r is in the spec" % t):
        return t
    errs = validate_list(doc, schema(FRAME_SCHEMAS[t]), t)
    ok(not errs, label + ": %s frame matches %s" % (t, FRAME_SCHEMAS[t]), "\n  ".join(errs))
    return t


def ws_check(label, ws, want):
    """The upgrade's status against the attach operation."""
    exercised.add(WS_OP)
    responses = ops[WS_OP][1]["responses"]
    ok(str(ws.status) in responses, "%s -> %d: status listed in the spec" % (label, ws.status),
       getattr(ws, "body", b"")[:200])
    return ok(ws.status == want, "%s: the test expected %d, got %d" % (label, want, ws.status),
              getattr(ws, "body", b"")[:200])


def ws_refused_in_band(label, ws, want):
    """A refusal that needs the agent: 101, an error frame with the status
    the upgrade would have had, then Close 4000 + that status."""
    if not ws_check(label + " (upgraded)", ws, 101):
        return
    seen, code = ws_until_close(label, ws)
    ok([t for t in seen if t not in ("ping", "pong")] == ["error"], label + ": one error frame",
       str(seen))
    ok(code == 4000 + want, "%s: Close %d" % (label, 4000 + want), str(code))


def ws_until_close(label, ws):
    """Reads to the Close: returns the types seen and the close code."""
    seen, code = [], None
    try:
        while True:
            opcode, payload = ws.frame()
            if opcode == 8:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                break
            if opcode in (9, 10):
                if opcode == 9:
                    ws.send(10, payload)
                seen.append("ping" if opcode == 9 else "pong")
                continue
            seen.append(check_frame(label, opcode, payload))
    except (EOFError, OSError):
        pass
    ws.s.close()
    return seen, code


# ---- the requests ----------------------------------------------------------------

def requests():
    B, E, I = "/boxes/{box_id}", "/boxes/{box_id}/executions/{exec_id}", "/images/{image_id}"
    none = {"box_id": "oapi-nosuch", "exec_id": "nosuch", "image_id": "oapi-nosuch",
            "name": "oapi-nosuch", "volume_id": "oapi-nosuch", "snapshot_name": "nosuch"}

    # Authentication: every route but GET /v1/config wants the key; 401 comes
    # before routing, so nonexistent ids do.
    ans = http_call("GET", "/v1/config", auth=False)
    check("GET", "/config", ans, 200, "without the key")
    for (m, path) in sorted(ops):
        if (m, path) in (("GET", "/config"), WS_OP):
            continue
        check(m, path, http_call(m, url(path, none), auth=False), 401, "without the key")
    ws_check("attach without the key", WS(url(WS_OP[1], none), auth=False), 401)

    # Bodies over --max-body: 413 on every route, before anything else.
    big = b"{" + b" " * (MAX_BODY + 100) + b"}"
    for (m, path) in sorted(ops):
        if "stream-in" in TABLE.get((m, "/v1" + path), ()):  # not capped: read by its handler
            check(m, path, http_call(m, url(path, none), raw=big), 400,
                  "body over --max-body is streamed (no ?path=: 400)")
        elif (m, path) != WS_OP:
            check(m, path, http_call(m, url(path, none), raw=big), 413, "body over --max-body")

    call("GET", "/config", want=200)
    call("GET", "/me", want=200)
    call("GET", "/metrics", want=200)
    call("POST", "/api-keys", body={"name": "oapi-k", "permissions": ["write:boxes"]}, want=201)
    call("POST", "/api-keys", body={"name": "oapi-k", "permissions": ["write:boxes"]}, want=409,
         what="name taken")
    call("POST", "/api-keys", body={"name": "oapi-k2", "permissions": ["root"]}, want=400,
         what="no such permission")
    call("GET", "/api-keys", want=200)
    call("DELETE", "/api-keys/{name}", {"name": "oapi-k"}, want=204)
    call("DELETE", "/api-keys/{name}", {"name": "oapi-k"}, want=404)

    # A box and its executions.
    box = call("POST", "/boxes", body={"image": "host", "name": "oapi-box", "env": {"A": "1"},
                                       "labels": {"t": "1"}, "pids_max": 256, "network": False},
               want=201) or {}
    ids = {"box_id": box.get("box_id", "oapi-nosuch"), "exec_id": "nosuch", "image_id": "host",
           "snapshot_name": "oapi-snap", "volume_id": "oapi-vol"}
    call("POST", "/boxes", body={"image": "host", "name": "oapi-box"}, want=409, what="name taken")
    # a plain name is a registry reference (Docker's rules): a missing path is the local miss
    call("POST", "/boxes", body={"image": "/nonexistent/oapi-no-such-image"}, want=403,
         what="an image that is a path on the server's machine")
    call("GET", "/boxes", want=200)
    call("GET", B, ids, want=200)
    call("GET", B, {"box_id": "oapi-box"}, want=200, what="by name")
    call("GET", B, none, want=404)
    call("HEAD", B, ids, want=204)
    call("HEAD", B, none, want=404)
    call("GET", B + "/metrics", ids, want=200)
    call("POST", B + "/start", ids, want=200)
    call("POST", B + "/start", none, want=404)
    call("DELETE", B, ids, want=409, what="running, without force")
    call("POST", B + "/exec", ids, body={"command": "true", "zz": 1}, want=400,
         what="unknown field")
    call("POST", B + "/exec", none, body={"command": "true"}, want=404)
    ex = call("POST", B + "/exec", ids, body={"command": "sleep", "args": ["30"], "tty": True,
                                              "rows": 30, "cols": 90, "retain_bytes": 4096,
                                              "reconnect_grace_seconds": 60}, want=201) or {}
    ids["exec_id"] = ex.get("execution_id", "nosuch")
    quick = {"command": "sh", "args": ["-c", "printf out; printf err >&2"], "env": {"B": "2"},
             "working_dir": "/", "timeout_seconds": 20}
    ex2 = call("POST", B + "/exec", ids, body=quick, want=201) or {}
    ids2 = dict(ids, exec_id=ex2.get("execution_id", "nosuch"))
    call("GET", B + "/executions", ids, want=200)
    call("GET", E, ids, want=200)
    call("GET", E, dict(ids, exec_id="nosuch"), want=404)
    call("POST", E + "/signal", ids, body={"signal": 28}, want=204)
    call("POST", E + "/signal", ids, body={"signal": 9}, want=400, what="not whitelisted")
    call("POST", E + "/signal", dict(ids, exec_id="nosuch"), body={"signal": 15}, want=404)
    call("POST", E + "/resize", ids, body={"rows": 40, "cols": 100}, want=204)
    for (m, path) in sorted(UNSUPPORTED):  # BoxLite's operations not served
        call(m, path, dict(ids, name="k", volume_id="v", snapshot_name="s"), want=501,
             what="not served")

    # Unknown fields where the spec refuses them; a missing required field (with
    # a real box and execution: bodies of signal and resize are read after the
    # lookups).
    for (m, path), (item, op) in sorted(ops.items()):
        rb = op.get("requestBody", {}).get("content", {}).get("application/json")
        if not rb:
            continue
        s = resolve(rb["schema"])
        if s.get("additionalProperties") is False:
            check(m, path, http_call(m, url(path, ids), body={"zz_not_a_field": 1}), 400,
                  "an unknown field")
        if s.get("required"):
            check(m, path, http_call(m, url(path, ids), body={}), 400, "a required field missing")

    # The WebSocket attach.
    att = url(WS_OP[1], ids2)
    ws = WS(att + "?stdout_offset=0&stderr_offset=0", proto="boxlet.v1")
    if ws_check("attach, boxlet.v1", ws, 101):
        ok(ws.headers.get("sec-websocket-protocol") == "boxlet.v1", "boxlet.v1 is echoed")
        seen, code = ws_until_close("attach, boxlet.v1", ws)
        data = [t for t in seen if t not in ("ping", "pong")]
        ok(seen[:1] == ["ping"], "a Ping right after the upgrade", str(seen))
        ok(data[:1] == ["attached"] and data[-1:] == ["exit"] and "binary" in data,
           "boxlet.v1: attached, output, exit", str(seen))
        ok(code == 1000, "Close 1000 after exit", str(code))
    ws = WS(att + "?stdin=false")
    if ws_check("attach, plain observer", ws, 101):
        ok("sec-websocket-protocol" not in ws.headers, "no subprotocol when none was asked")
        seen, code = ws_until_close("attach, plain", ws)
        data = [t for t in seen if t not in ("ping", "pong")]
        ok("attached" not in data and data[-1:] == ["exit"], "plain: output then exit", str(seen))
        ok(code == 1000, "plain: Close 1000 after exit", str(code))
    ws = WS(url(WS_OP[1], ids), proto="boxlet.v1")  # the terminal one, as stdin owner
    if ws_check("attach, stdin owner", ws, 101):
        second = WS(url(WS_OP[1], ids))
        ok("x-request-id" not in second.headers, "upgrade answers are not REST answers")
        ws_refused_in_band("a second stdin owner", second, 409)
        ws.send(1, b'{"type":"no-such-message"}')
        got = None
        try:
            while time.time() < T0 + 30:
                opcode, payload = ws.frame()
                if opcode == 9:
                    ws.send(10, payload)
                elif opcode == 1:
                    got = check_frame("attach, stdin owner", opcode, payload)
                    if got == "error":
                        break
        except (EOFError, OSError) as e:
            got = repr(e)
        ok(got == "error", "an unknown control message gets an error frame", str(got))
        ws.close()
    ws_check("attach, a bad offset", WS(att + "?stdout_offset=x", proto="boxlet.v1"), 400)
    ws_refused_in_band("attach, no such execution", WS(url(WS_OP[1], dict(ids, exec_id="nosuch"))),
                       404)
    ws_check("attach, no such box", WS(url(WS_OP[1], dict(ids, box_id="nosuch"))), 404)
    ws = WS(url(WS_OP[1], ids2, "tenant-a") + "?stdin=false")
    ws_check("attach under /v1/tenant-a", ws, 101)
    if ws.status == 101:
        ws_until_close("attach under a prefix", ws)

    # Files: a tar archive in and out (BoxLite's Files tag).
    F, tar = B + "/files", io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        info = tarfile.TarInfo("oapi.txt")
        info.size = 6
        tf.addfile(info, io.BytesIO(b"oapi!\n"))
    tar = tar.getvalue()
    call("PUT", F, ids, query="path=%2Ftmp%2Foapi.txt", raw=tar, want=204)
    call("PUT", F, ids, query="path=%2Ftmp%2Foapi.txt&overwrite=false", raw=tar, want=409)
    call("PUT", F, ids, query="path=%2Fproc%2Foapi", raw=tar, want=400, what="on a mount")
    call("PUT", F, ids, query="path=%2Ftmp%2Fbad", raw=b"x" * 1024, want=400, what="not a tar")
    call("PUT", F, none, query="path=%2Ftmp%2Foapi.txt", raw=tar, want=404)
    call("GET", F, ids, query="path=%2Ftmp%2Foapi.txt", want=200)
    call("GET", F, ids, query="path=%2Ftmp%2Fnosuch", want=404)
    call("GET", F, ids, query="path=%2Fproc%2Fself", want=400, what="on a mount")
    call("GET", F, ids, want=400, what="no path")

    call("DELETE", E, ids, want=204)
    call("DELETE", E, dict(ids, exec_id="nosuch"), want=404)
    call("POST", B + "/stop", ids, query="timeout=soon", want=400, what="a bad timeout")
    call("POST", B + "/stop", ids, query="timeout=2", want=200)
    call("POST", B + "/stop", none, want=404)
    # Snapshots, restore, clone (the box is stopped now).
    S = B + "/snapshots/{snapshot_name}"
    call("POST", B + "/snapshots", ids, body={"name": "oapi-snap"}, want=201)
    call("POST", B + "/snapshots", ids, body={"name": "oapi-snap"}, want=409, what="name taken")
    call("POST", B + "/snapshots", ids, body={"name": "bad/name"}, want=400, what="a bad name")
    call("POST", B + "/snapshots", none, body={"name": "x"}, want=404)
    call("GET", B + "/snapshots", ids, want=200)
    call("GET", B + "/snapshots", none, want=404)
    call("GET", S, ids, want=200)
    call("GET", S, dict(ids, snapshot_name="nosuch"), want=404)
    call("POST", S + "/restore", ids, want=204)
    call("POST", S + "/restore", dict(ids, snapshot_name="nosuch"), want=404)
    clone = call("POST", B + "/clone", ids, body={"name": "oapi-clone"}, want=201) or {}
    call("POST", B + "/clone", ids, body={"name": "oapi-clone"}, want=409, what="name taken")
    clone2 = call("POST", B + "/clone", ids, body={"snapshot": "oapi-snap"}, want=201,
                  what="from a snapshot") or {}
    call("POST", B + "/clone", none, want=404)
    call("DELETE", S, ids, want=204)
    call("DELETE", S, ids, want=404, what="removed already")
    # Export and import, both bodies streamed.
    ans = http_call("POST", url(B + "/export", ids))
    check("POST", B + "/export", ans, 200)
    box_archive = ans[2]
    call("POST", B + "/export", none, want=404)
    ans = http_call("POST", "/v1/boxes/import?name=oapi-imported", raw=box_archive)
    imported = check("POST", "/boxes/import", ans, 201) or {}
    call("POST", "/boxes/import", query="name=oapi-imported", raw=box_archive, want=409,
         what="name taken")
    call("POST", "/boxes/import", raw=b"not a box archive", want=400, what="not an archive")
    call("POST", "/boxes/import", raw=box_archive[:700], want=400, what="cut short")

    # Managed volumes, and a box that mounts one; host paths only beneath --import-dir.
    V = "/volumes/{volume_id}"
    call("POST", "/volumes", body={"name": "oapi-vol", "size_bytes": 64 << 20}, want=201)
    call("POST", "/volumes", body={"name": "oapi-vol"}, want=409, what="name taken")
    call("POST", "/volumes", body={"name": "bad/name"}, want=400, what="a bad name")
    call("POST", "/volumes", body={"size_bytes": -1}, want=400, what="a negative size")
    auto = call("POST", "/volumes", want=201, what="no name") or {}
    call("GET", "/volumes", want=200)
    call("GET", V, ids, want=200)
    call("GET", V, none, want=404)
    vbox = call("POST", "/boxes", body={"image": "host", "name": "oapi-vbox", "auto_start": False,
                                        "volumes": [{"managed_volume": "oapi-vol",
                                                     "guest_path": "/data"}]}, want=201) or {}
    call("POST", "/boxes", body={"image": "host", "volumes": [{"host_path": "/etc",
                                                               "guest_path": "/h"}]},
         want=403, what="a host path out of --import-dir")
    call("POST", "/boxes", body={"image": "host", "volumes": [{"guest_path": "/h"}]},
         want=400, what="a volume without a source")
    call("DELETE", V, ids, want=409, what="in use")
    call("DELETE", B, {"box_id": vbox.get("box_id", "oapi-nosuch")}, want=204)
    call("DELETE", V, ids, want=204)
    call("DELETE", V, {"volume_id": auto.get("name", "oapi-nosuch")}, want=204)
    call("DELETE", V, none, want=404)
    call("DELETE", V, none, query="force=true", want=204, what="force: missing is removed")
    for c in (clone, clone2, imported):
        call("DELETE", B, {"box_id": c.get("box_id", "oapi-nosuch")}, want=204)

    call("DELETE", B, ids, want=204)
    call("DELETE", B, none, want=404)

    # Images. POST /v1/images/import is in every version of the server.
    call("POST", "/images/import", body={"source": "oci:%s:multi" % LAYOUT, "name": "oapi-img"},
         want=201)
    call("POST", "/images/import", body={"source": LAYOUT + "-missing", "name": "oapi-img2"},
         want=404, what="no such source")
    call("POST", "/images/import", body={"source": "/etc", "name": "oapi-img3"},
         want=403, what="out of --import-dir")
    call("GET", "/images", want=200)
    call("GET", I, ids, want=200)
    call("GET", I, none, want=404)
    call("HEAD", I, ids, want=204)
    call("HEAD", I, none, want=404)
    call("POST", "/images/pull", body={"reference": "host"}, want=200, what="stored already",
         prefix_too=True)
    call("POST", "/images/pull", body={"reference": "127.0.0.1:1/oapi/none:latest"}, want=422,
         what="an unreachable registry")
    call("POST", "/boxes", body={"image": "127.0.0.1:1/oapi/none:latest"}, want=422,
         what="an image that cannot be pulled")
    call("DELETE", I, ids, want=204)
    call("DELETE", I, none, want=404)
    call("POST", "/images/prune", want=200)

try:
    requests()
except Exception:  # a crash of the test (or of the server) is a failure, not a silence
    import traceback
    ok(False, "the requests ran to the end", traceback.format_exc())

for key in sorted(ops):
    ok(key in exercised, "%s %s was exercised by the test" % key)
print("checked in %.1f s" % (time.time() - T0))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
