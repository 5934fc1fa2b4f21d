// Invalid WebSocket input against a real `boxlet serve`, table-driven, on a
// raw TCP socket (so the frames can be as wrong as a broken or hostile
// client makes them): each row gives the bytes sent after the upgrade and
// the exact outcome — the Close code the server answers with, the error
// frame it sends while the socket stays open, or (where libwebsockets
// decides) a dropped connection or an ignored frame. After every row the server
// must still serve REST and a fresh attach. argv: base URL [API key].
import net from 'node:net';
import crypto from 'node:crypto';
import WebSocket from 'ws';

const [, , base, key] = process.argv;
const auth = key ? { Authorization: `Bearer ${key}` } : {};
const { hostname, port } = new URL(base);
let passed = 0, failed = 0;
const check = (n, c, d = '') => { if (c) passed++; else { failed++; console.log(`FAIL ${n} ${d}`); } };

async function api(method, path, body) {
  const r = await fetch(base + path, { method, headers: { ...auth, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined });
  const t = await r.text();
  return { status: r.status, json: t ? JSON.parse(t) : null };
}

// One client frame, masked unless told otherwise.
function frame(opcode, payload, { fin = true, mask = true, rsv = 0 } = {}) {
  const p = Buffer.from(payload);
  const head = [((fin ? 0x80 : 0) | rsv | opcode)];
  if (p.length < 126) head.push((mask ? 0x80 : 0) | p.length);
  else if (p.length < 65536) head.push((mask ? 0x80 : 0) | 126, p.length >> 8, p.length & 255);
  else { head.push((mask ? 0x80 : 0) | 127, 0, 0, 0, 0); const b = Buffer.alloc(4); b.writeUInt32BE(p.length); head.push(...b); }
  if (!mask) return Buffer.concat([Buffer.from(head), p]);
  const m = crypto.randomBytes(4);
  return Buffer.concat([Buffer.from(head), m, Buffer.from(p.map((x, i) => x ^ m[i & 3]))]);
}

// Parses server frames out of buf: [{op, payload}], rest.
function parseFrames(buf) {
  const out = [];
  for (;;) {
    if (buf.length < 2) break;
    let len = buf[1] & 127, h = 2;
    if (len === 126) { if (buf.length < 4) break; len = buf.readUInt16BE(2); h = 4; }
    else if (len === 127) { if (buf.length < 10) break; len = Number(buf.readBigUInt64BE(2)); h = 10; }
    if (buf.length < h + len) break;
    out.push({ op: buf[0] & 15, payload: buf.subarray(h, h + len) });
    buf = buf.subarray(h + len);
  }
  return { frames: out, rest: buf };
}

// Upgrades a raw socket, sends `bytes`, and collects what comes back until
// the server closes or `ms` pass.
function rawAttach(path, bytes, ms = 1500, protocol) {
  return new Promise((resolve) => {
    const s = net.connect(port, hostname);
    let buf = Buffer.alloc(0), upgraded = false, frames = [];
    const finish = (closed) => { s.destroy(); resolve({ upgraded, frames, closed }); };
    const timer = setTimeout(() => finish(false), ms);
    s.on('connect', () => {
      const k = crypto.randomBytes(16).toString('base64');
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${k}\r\nSec-WebSocket-Version: 13\r\n` +
        (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
        (key ? `Authorization: Bearer ${key}\r\n` : '') + '\r\n');
    });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        upgraded = buf.subarray(0, 12).toString() === 'HTTP/1.1 101';
        buf = buf.subarray(end + 4);
        if (upgraded) s.write(bytes);
      }
      const p = parseFrames(buf);
      frames = frames.concat(p.frames);
      buf = p.rest;
      const c = p.frames.find((f) => f.op === 8); // echo a Close, as a client must
      if (c) s.write(frame(8, c.payload.subarray(0, 2)));
    });
    s.on('close', () => { clearTimeout(timer); finish(true); });
    s.on('error', () => {});
  });
}

const closeCode = (r) => {
  const c = r.frames.find((f) => f.op === 8);
  return c && c.payload.length >= 2 ? c.payload.readUInt16BE(0) : null;
};
const errorFrames = (r) => r.frames.filter((f) => f.op === 1).map((f) => JSON.parse(f.payload.toString()))
  .filter((m) => m.type === 'error');

async function stillServing(eid) {
  const cfg = await api('GET', '/v1/config');
  const ok = await new Promise((resolve) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/boxes/bf/executions/${eid}/attach?stdin=false`, { headers: auth });
    ws.on('open', () => { ws.close(); resolve(true); });
    ws.on('error', () => resolve(false));
  });
  return cfg.status === 200 && ok;
}

async function main() {
  check('create', (await api('POST', '/v1/boxes', { name: 'bf', image: 'host' })).status === 201);
  const long = await api('POST', '/v1/boxes/bf/exec', { command: 'sleep', args: ['60'] });
  const eid = long.json.execution_id;
  const path = `/v1/boxes/bf/executions/${eid}/attach`;
  const big = Buffer.alloc((1 << 20) + 10, 0x61);
  const rows = [
    // name, bytes, expected close code (or null), expected error frames, query, protocol
    // libwebsockets 4.1 does not enforce the mask bit (RFC 6455 says close):
    // the frame is taken as it is, so here the text gets its error frame.
    ['unmasked client frame (accepted by libwebsockets)', frame(1, 'not json', { mask: false }), null, 1],
    ['reserved data opcode 3', frame(3, 'x'), 1002, 0],
    ['reserved control opcode 11', frame(11, ''), 1002, 0],
    ['RSV1 without an extension', frame(1, 'x', { rsv: 0x40 }), 1002, 0],
    ['ping over 125 bytes', frame(9, Buffer.alloc(126)), 'dropped', 0],
    ['fragmented ping', frame(9, 'x', { fin: false }), 1002, 0],
    ['continuation without a message', frame(0, 'x'), 1002, 0],
    ['text that is not UTF-8', frame(1, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 1007, 0],
    ['text message over 1 MiB', Buffer.concat([frame(1, big.subarray(0, 600000), { fin: false }), frame(0, big.subarray(600000))]), 1009, 0],
    ['control text that is not JSON', frame(1, 'not json'), null, 1],
    ['control message of an unknown type', frame(1, '{"type":"frobnicate"}'), null, 1],
    ['control message without a type', frame(1, '{"rows":3}'), null, 1],
    ['signal not on the whitelist', frame(1, '{"type":"signal","sig":9}'), null, 1],
    ['resize of an execution without a TTY', frame(1, '{"type":"resize","rows":10,"cols":10}'), null, 1],
    ['stdin from an observer', frame(2, 'abc'), null, 1, '?stdin=false'],
    ['stdin_offset past what the execution has', frame(1, '{"type":"stdin_offset","offset":99}'), null, 1, '', 'boxlet.v1'],
  ];
  for (const [name, bytes, code, nerr, query = '', proto] of rows) {
    const r = await rawAttach(path + query, bytes, 1500, proto);
    check(`${name}: upgraded`, r.upgraded);
    if (code === 'dropped')
      check(`${name}: connection dropped`, r.closed && closeCode(r) === null, `close ${closeCode(r)}`);
    else if (code !== null)
      check(`${name}: Close ${code}`, closeCode(r) === code, `close ${closeCode(r)}`);
    else
      check(`${name}: ${nerr} error frame, socket kept`, errorFrames(r).length === nerr && !r.closed,
        `${JSON.stringify(errorFrames(r))} closed ${r.closed}`);
    check(`${name}: the server keeps serving`, await stillServing(eid));
  }
  await api('DELETE', '/v1/boxes/bf?force=true');
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
main().catch((e) => { console.log(`FAIL ${e.stack}`); console.log(`${passed} passed, ${failed + 1} failed`); process.exit(1); });
