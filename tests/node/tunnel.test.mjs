// Services out of a box over REST, on a real `boxlet serve` started here:
// a box created with BoxLite's `ports` (published on the server's host,
// networking disabled; BoxLite's SDK refuses ports in REST mode itself, so
// the create is a plain REST call); BoxLite's own Node SDK (REST mode,
// unchanged) through
// `network.tunnel(port)` reaches python3's http.server in the box via the
// URI, echoes bytes with connect() (half-close both ways) and serves a
// local port with forward(). Then the attacks: the route needs the key;
// the URI is not on 127.0.0.1 nor guessable from another tunnel's; garbage,
// oversized and silent request heads are answered and closed; two thousand
// connections at once leave the server, other tunnels and later
// connections working; a client that never reads stalls only its own
// connection; a tunnel dies with its box's stop and is not revived by a
// start; an idle tunnel closes; a server on a non-loopback address makes
// none. argv: boxlet
// binary.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { ApiKeyCredential, BoxliteRestOptions, JsBoxlite } from '@boxlite-ai/boxlite';
import { api, authHeaders, counter, sleep, startServer } from './serve.mjs';

const [, , boxlet] = process.argv;
const t = counter(), check = t.check;

// Runs sh -c script in the box (BoxLite's SDK) and returns its stdout.
async function sh(box, script) {
  const ex = await box.exec('sh', ['-c', script], null, false);
  const out = await ex.stdout();
  let s = '';
  for (;;) { const c = await out.next(); if (c === null) break; s += c; }
  await ex.wait();
  return s;
}

// Starts a service in the box in the background (it outlives the exec).
const serve = (box, script) => box.exec('sh', ['-c', script], null, false);

const HTTP = 'mkdir -p /srv && echo from-the-box > /srv/m.txt && cd /srv && exec python3 -m http.server 8000 --bind 127.0.0.1';
// Echoes each connection's bytes until its EOF, then says "bye" and closes.
const ECHO = `exec python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 9000)); s.listen(64)
def one(c):
    while True:
        d = c.recv(65536)
        if not d: break
        c.sendall(d)
    c.sendall(b"bye"); c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=one, args=(c,), daemon=True).start()
'`;
// Writes without end to whoever connects.
const FLOOD = `exec python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 9001)); s.listen(8)
def one(c):
    try:
        while True: c.sendall(b"x" * 65536)
    except OSError: c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=one, args=(c,), daemon=True).start()
'`;

// Retries f until it stops throwing (a service in the box coming up).
async function until(f, tries = 100) {
  for (let i = 0; ; i++) {
    try { return await f(); } catch (e) { if (i >= tries) throw e; await sleep(100); }
  }
}

async function getText(url) {
  const r = await fetch(url, { signal: AbortSignal.timeout(10000) });
  return `${r.status} ${(await r.text()).trim()}`;
}

// Opens a raw TCP connection to an http://HOST:PORT URI.
function dial(uri) {
  const u = new URL(uri);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname, () => resolve(s));
    s.once('error', reject);
  });
}

// Sends bytes and collects everything until the peer closes (or 15 s).
function exchange(uri, bytes, { end = true } = {}) {
  return dial(uri).then((s) => new Promise((resolve) => {
    const got = [];
    s.on('data', (d) => got.push(d));
    s.on('error', () => {});
    const timer = setTimeout(() => { s.destroy(); resolve(Buffer.concat(got).toString()); }, 15000);
    s.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(got).toString()); });
    s.write(bytes);
    if (end) s.end();
  }));
}

// An http://A.B.C.D:PORT URI as /proc/net/tcp writes a local address.
function procAddr(uri) {
  const u = new URL(uri);
  const ip = u.hostname.split('.').map(Number);
  return ((ip[3] << 24 | ip[2] << 16 | ip[1] << 8 | ip[0]) >>> 0).toString(16).toUpperCase().padStart(8, '0') +
    ':' + Number(u.port).toString(16).toUpperCase().padStart(4, '0');
}

// Whether the host listens on an http://A.B.C.D:PORT URI (/proc/net/tcp).
function listening(uri) {
  const hex = procAddr(uri);
  return fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').some((l) => {
    const f = l.trim().split(/\s+/);
    return f[1] === hex && f[3] === '0A';
  });
}

// Runs sh -c script as another local user (uid and gid `uid`, no groups):
// its exit status and stdout.
function asUser(uid, script) {
  const r = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'sh', '-c', script],
    { encoding: 'utf8', timeout: 60000 });
  return { status: r.status, out: (r.stdout || '').trim() };
}

// Another local user finds the tunnel's listener as `ss` would, in
// /proc/net/tcp (it is listed there for everyone), then GETs a file
// through it: "HTTP-STATUS BODY", or "not-listed".
function stranger(uid, uri, file = 'm.txt') {
  return asUser(uid, `grep -q ' ${procAddr(uri)} ' /proc/net/tcp || { echo not-listed; exit 0; }
    curl -s --max-time 20 -o /tmp/.tunnel-$$ -w '%{http_code} ' ${uri}/${file}; cat /tmp/.tunnel-$$ 2>/dev/null; rm -f /tmp/.tunnel-$$`).out;
}

// The same user sends a CONNECT and a few bytes (/usr/bin/python3: the
// system's, readable by every user), and prints what came back. The
// server closes a refused connection at once: bytes that arrive after it
// did are answered with a reset, which may cut short the send or the
// read (never anything from the box).
function strangerConnect(uid, uri) {
  const u = new URL(uri);
  return asUser(uid, `exec /usr/bin/python3 -c '
import socket, sys
s = socket.create_connection(("${u.hostname}", ${u.port}), timeout=20)
got = b""
try:
    s.sendall(b"CONNECT x:1 HTTP/1.1\\r\\n\\r\\nsecret")
    s.shutdown(socket.SHUT_WR)
    while True:
        d = s.recv(65536)
        if not d: break
        got += d
except OSError:
    pass
sys.stdout.write("connected:" + got.decode("latin-1"))
'`).out;
}

// Reads a NativeBoxConnection until EOF.
async function readAll(conn) {
  const parts = [];
  for (;;) {
    const b = await conn.read(65536);
    if (!b || b.length === 0) break;
    parts.push(b);
  }
  return Buffer.concat(parts).toString();
}

async function sdkTunnels(box, base) {
  const tun = await box.network.tunnel(8000);
  const uri = tun.uri();
  check('tunnel: an http:// URI on loopback', /^http:\/\/127\.\d+\.\d+\.\d+:\d+$/.test(uri || ''), uri);
  check('tunnel: HTTP via the URI reaches the box', (await until(() => getText(`${uri}/m.txt`))) === '200 from-the-box');
  const again = await api(base, 'POST', `/v1/boxes/tun/network/tunnel?port=8000`);
  check('tunnel: the same URI for the same box and port', again.status === 200 && again.json.uri === uri, JSON.stringify(again.json));

  const echo = await box.network.tunnel(9000);
  const conn = await until(() => echo.connect());
  await conn.write(Buffer.from('ping through the tunnel\n'));
  await conn.shutdownWrite(); // the box's echo answers "bye" only after our EOF
  check('connect(): bytes echoed, half-close passed both ways', (await readAll(conn)) === 'ping through the tunnel\nbye');
  await conn.close();

  const fwd = await (await box.network.tunnel(8000)).forward({ type: 'tcp', host: '127.0.0.1', port: 0 });
  const addr = fwd.localAddr();
  check('forward(): a local port serves the box\'s HTTP', (await getText(`http://127.0.0.1:${addr.port}/m.txt`)) === '200 from-the-box');
  await fwd.close();
  return uri;
}

async function attacks(box, base, uri, serverPid) {
  const fds = () => fs.readdirSync(`/proc/${serverPid}/fd`).length;
  const u = new URL(uri);
  const noKey = await fetch(`${base}/v1/boxes/tun/network/tunnel?port=8000`, { method: 'POST' });
  check('the route needs the key (401)', noKey.status === 401, noKey.status);
  check('port 0 is 400', (await api(base, 'POST', '/v1/boxes/tun/network/tunnel?port=0')).status === 400);
  check('no port is 400', (await api(base, 'POST', '/v1/boxes/tun/network/tunnel')).status === 400);
  check('an unknown box is 404', (await api(base, 'POST', '/v1/boxes/nosuch/network/tunnel?port=80')).status === 404);
  check('the URI is not on 127.0.0.1', u.hostname !== '127.0.0.1');
  const refused = await dial(`http://127.0.0.1:${u.port}`).then((s) => { s.destroy(); return false; }, () => true);
  check('its port on 127.0.0.1 is closed (bound to its own address only)', refused);
  const other = (await api(base, 'POST', '/v1/boxes/tun/network/tunnel?port=9000')).json.uri;
  check('another tunnel: another random address', new URL(other).hostname !== u.hostname, other);

  // Another local user reads the listener's address from /proc/net/tcp
  // and connects: the tunnel is its creator's (root here) alone.
  const seen = stranger(65534, uri);
  check('another local user: sees the listener, but does not reach the box (403)', /^403 tunnel: refused/.test(seen) && !seen.includes('from-the-box'), seen);
  const raw = strangerConnect(65534, other);
  check('... nor with CONNECT (403 or a reset, the bytes go nowhere)', (raw === 'connected:' || raw.startsWith('connected:HTTP/1.1 403')) && !raw.includes('secret'), raw.slice(0, 120));
  // A tunnel asked for by that user (API key and all, from its own
  // socket) is its own: another listener, which serves it and no third
  // user; root's tunnel stays root's.
  const key = authHeaders().Authorization;
  const mine = asUser(65534, `curl -s --max-time 20 -X POST -H 'Authorization: ${key}' '${base}/v1/boxes/tun/network/tunnel?port=8000'`).out;
  const theirs = (() => { try { return JSON.parse(mine).uri; } catch { return undefined; } })();
  check('a tunnel opened by another user: its own URI', theirs && theirs !== uri, mine);
  check('... which serves that user', stranger(65534, theirs) === '200 from-the-box', stranger(65534, theirs));
  check('... and not a third one', /^403 /.test(stranger(65533, theirs)));
  check('... root (who could take it anyway) too', (await getText(`${theirs}/m.txt`)) === '200 from-the-box');

  check('garbage head: 400, closed', (await exchange(uri, 'GARBAGE\r\n\r\n')).startsWith('HTTP/1.1 400'));
  check('a binary head: 400, closed', (await exchange(uri, Buffer.from([0x16, 0x03, 1, 0, 0x0a, 0x0d, 0x0a]))).startsWith('HTTP/1.1 400'));
  const huge = await exchange(uri, `GET / HTTP/1.1\r\nX: ${'a'.repeat(9000)}\r\n\r\n`);
  check('a head over 8 KiB: 431, closed', huge.startsWith('HTTP/1.1 431'), huge.slice(0, 40));
  const silent = await exchange(uri, 'GET / HTTP/1.1\r\n', { end: false });
  check('a head never finished: 408 after its deadline, closed', silent.startsWith('HTTP/1.1 408'), silent.slice(0, 40));
  const closedPort = await exchange((await api(base, 'POST', '/v1/boxes/tun/network/tunnel?port=9999')).json.uri,
    'CONNECT x:1 HTTP/1.1\r\n\r\n');
  check('CONNECT to a port nothing listens on: 502 naming it', /^HTTP\/1.1 502[^]*port 9999/.test(closedPort), closedPort.slice(0, 200));

  // Two thousand connections at once, sending nothing.
  const fdsBefore = fds();
  // Past its 64 and its listen backlog they wait in SYN retries: the server
  // is asked while they do, not after.
  let established = 0;
  const many = Array.from({ length: 2000 }, () => {
    const s = net.connect(Number(u.port), u.hostname, () => established++);
    s.on('error', () => {});
    return s;
  });
  await until(async () => { if (established < 64) throw new Error(`${established} connections established`); }, 300);
  await sleep(1000); // a server without the cap would have taken more by now
  const held = fds() - fdsBefore;
  check('2000 connections: the server holds at most 64 of them (the per-tunnel cap)', held <= 64 + 8, held);
  const ok = await api(base, 'GET', '/v1/boxes');
  check('2000 connections: the server still answers', ok.status === 200);
  check('... and another tunnel still works', (await exchange(other, 'CONNECT x:1 HTTP/1.1\r\n\r\nhi')).endsWith('hibye'));
  for (const s of many) s.destroy();
  check('... and the tunnel itself, once they are gone', (await until(() => getText(`${uri}/m.txt`))) === '200 from-the-box');

  // A client that never reads a flooding service: only its connection stalls.
  const flood = (await api(base, 'POST', '/v1/boxes/tun/network/tunnel?port=9001')).json.uri;
  const stalled = await dial(flood);
  stalled.pause();
  stalled.write('CONNECT x:1 HTTP/1.1\r\n\r\n');
  await sleep(1500); // the flood fills the socket buffers on every hop
  check('a stalled reader: other connections go on', (await exchange(other, 'CONNECT x:1 HTTP/1.1\r\n\r\nstill')).endsWith('stillbye'));
  check('... HTTP too', (await getText(`${uri}/m.txt`)) === '200 from-the-box');
  check('... and the server', (await api(base, 'GET', '/v1/boxes/tun')).status === 200);
  stalled.destroy();
}

// CPU ticks (user + system) the process has used so far.
function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

// A server out of descriptors: its soft RLIMIT_NOFILE lowered (prlimit) to
// its lowest free descriptor number, so every accept fails with EMFILE
// and a connection stays queued on the tunnel's listener. The tunnels'
// thread must rest that listener, not poll it in a loop: the server uses
// less than a sixth of the watched time's CPU (a spinning thread uses all
// it is given; an idle server next to none). Once descriptors come back,
// the queued connection is served.
async function outOfDescriptors(boxlet) {
  const lean = await startServer(boxlet);
  const pid = lean.proc.pid;
  const [soft, hard] = spawnSync('prlimit', ['--pid', String(pid), '--nofile', '--output=SOFT,HARD', '--noheadings', '--raw'],
    { encoding: 'utf8' }).stdout.trim().split(/\s+/);
  try {
    const luri = (await api(`http://127.0.0.1:${lean.port}`, 'POST', '/v1/boxes/tun/network/tunnel?port=9999')).json?.uri;
    check('out of descriptors: a tunnel', !!luri, luri);
    const used = new Set(fs.readdirSync(`/proc/${pid}/fd`).map(Number));
    let free = 0;
    while (used.has(free)) free++;
    const lowered = spawnSync('prlimit', ['--pid', String(pid), `--nofile=${free}:${hard}`]);
    check('out of descriptors: the limit lowered', lowered.status === 0, lowered.stderr?.toString());
    const queued = await dial(luri);
    const got = [];
    queued.on('data', (d) => got.push(d));
    queued.on('error', () => {});
    const closed = new Promise((ok) => queued.on('close', ok));
    queued.write('CONNECT x:1 HTTP/1.1\r\n\r\n');
    const before = cpuTicks(pid), wall = Date.now();
    await sleep(3000);
    const ticks = cpuTicks(pid) - before, ms = Date.now() - wall;
    check('out of descriptors: the tunnels\' thread does not spin on the queued connection', ticks * 10 < ms / 6, `${ticks * 10} ms of CPU in ${ms} ms`);
    spawnSync('prlimit', ['--pid', String(pid), `--nofile=${soft}:${hard}`]);
    await Promise.race([closed, sleep(30000)]);
    const answer = Buffer.concat(got).toString();
    check('... and once descriptors come back, the queued connection is served (502: nothing on port 9999)', /^HTTP\/1.1 502/.test(answer), answer.slice(0, 80));
    queued.destroy();
  } finally { lean.proc.kill(); }
}

async function main() {
  const srv = await startServer(boxlet);
  const free = await new Promise((ok) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); }); });
  try {
    const rt = JsBoxlite.rest(new BoxliteRestOptions({ url: srv.base, credential: new ApiKeyCredential(authHeaders().Authorization.slice(7)) }));
    // BoxLite's SDK 0.10 refuses `ports` itself in REST mode ("local-only
    // for remote runtimes"): the REST body carries them as its OpenAPI says.
    const made = await api(srv.base, 'POST', '/v1/boxes', { name: 'tun', image: 'host', ports: [{ host_port: free, guest_port: 8000, protocol: 'tcp' }] });
    check('create with ports: 201', made.status === 201, JSON.stringify(made.json));
    const box = await rt.get('tun');
    const info = await api(srv.base, 'GET', '/v1/boxes/tun');
    const p = info.json?.config?.ports?.[0];
    check('create with ports: the Box reports them', p && p.host_port === free && p.guest_port === 8000 && p.host_ip === '127.0.0.1', JSON.stringify(info.json?.config));
    check('... networking disabled', info.json?.config?.network === false);
    serve(box, HTTP);
    serve(box, ECHO);
    serve(box, FLOOD);
    check('the published port serves the box\'s HTTP', (await until(() => getText(`http://127.0.0.1:${free}/m.txt`))) === '200 from-the-box');
    const taken = await api(srv.base, 'POST', '/v1/boxes', { image: 'host', ports: [{ host_port: free, guest_port: 80 }] });
    check('a taken host port: 409 at create, naming it', taken.status === 409 && taken.json.error.message.includes(`127.0.0.1:${free}`), JSON.stringify(taken.json));
    for (const bad of [[{ guest_port: 80 }], [{ host_port: 70000, guest_port: 80 }], [{ host_port: 8080, guest_port: 80, protocol: 'udp' }], 'x'])
      check(`bad ports ${JSON.stringify(bad)}: 400`, (await api(srv.base, 'POST', '/v1/boxes', { image: 'host', ports: bad })).status === 400);

    const uri = await sdkTunnels(box, srv.base);
    await attacks(box, srv.base, uri, srv.proc.pid);

    check('stop', (await api(srv.base, 'POST', '/v1/boxes/tun/stop')).status === 200);
    // The tunnels' thread sees the box's init end on its own turn: until
    // then a connection may still be accepted, but reaches nothing.
    const late = await exchange(uri, 'CONNECT x:1 HTTP/1.1\r\n\r\n').catch(() => '');
    check('after stop: nothing reaches the box through the tunnel', !late.startsWith('HTTP/1.1 200'), late.slice(0, 80));
    let closed = !listening(uri);
    for (let i = 0; i < 100 && !closed; i++) { await sleep(100); closed = !listening(uri); }
    check('after stop: the tunnel is closed', closed);
    const r = await api(srv.base, 'POST', '/v1/boxes/tun/network/tunnel?port=8000');
    check('after stop: no tunnel to a stopped box (409)', r.status === 409, JSON.stringify(r.json));
    await api(srv.base, 'POST', '/v1/boxes/tun/start');
    const revived = await dial(uri).then((s) => { s.destroy(); return 'open'; }, () => 'refused');
    check('after a start: the old URI stays closed', revived === 'refused');

    // An idle tunnel closes (--tunnel-idle 1 here): its URI stops answering,
    // and the next POST makes a new one.
    const quick = await startServer(boxlet, ['--tunnel-idle', '1']);
    try {
      const qbase = `http://127.0.0.1:${quick.port}`;
      const first = (await api(qbase, 'POST', '/v1/boxes/tun/network/tunnel?port=8000')).json?.uri;
      // Watched in /proc/net/tcp: a connection would be a use, and keep it.
      check('a new tunnel listens (seen in /proc/net/tcp)', first && listening(first), first);
      let gone = !listening(first);
      for (let i = 0; i < 100 && !gone; i++) {
        await sleep(100);
        gone = !listening(first);
      }
      check('an idle tunnel closes', gone);
      const second = (await api(qbase, 'POST', '/v1/boxes/tun/network/tunnel?port=8000')).json?.uri;
      check('... and the next POST makes a new URI', second && second !== first, `${first} ${second}`);
    } finally { quick.proc.kill(); }

    await outOfDescriptors(boxlet);

    // A server on a non-loopback address serves no tunnels (its URI would be
    // a port anyone on the network could scan for).
    const wide = await startServer(boxlet, ['--host', '0.0.0.0']);
    try {
      const w = await api(`http://127.0.0.1:${wide.port}`, 'POST', '/v1/boxes/tun/network/tunnel?port=8000');
      check('a server on 0.0.0.0: 501, saying why', w.status === 501 && /loopback/.test(w.json.error.message), JSON.stringify(w.json));
    } finally { wide.proc.kill(); }
  } finally {
    await api(srv.base, 'DELETE', '/v1/boxes/tun?force=true').catch(() => {});
    srv.proc.kill();
  }
  t.done();
}

main().catch((e) => { console.log(`FAIL exception ${e.stack || e}`); t.failed++; t.done(); });
