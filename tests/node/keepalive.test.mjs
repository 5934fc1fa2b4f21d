// Keepalive: a Ping right after the upgrade and then on schedule; a peer
// that never answers is dropped within the idle window and its stdin slot
// is released for another client. The silent peer is a raw TCP socket that
// speaks just enough WebSocket to upgrade. argv: boxlet binary.
import net from 'node:net';
import crypto from 'node:crypto';
import WebSocket from 'ws';
import { authHeaders, counter, sleep, startServer as spawnServer } from './serve.mjs';

const [, , boxlet] = process.argv;
const t = counter(), check = t.check;
const startServer = () => spawnServer(boxlet, ['--ping-interval', '4', '--idle-timeout', '12']);

// Upgrades, then only listens: never a Pong, never a frame.
function silentPeer(port, path) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const t0 = Date.now(), pings = [];
    let upgraded = false, buf = Buffer.alloc(0), tUp = 0;
    s.on('connect', () => s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
      `Authorization: ${authHeaders().Authorization}\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n\r\n`));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        upgraded = buf.subarray(0, 12).toString().includes('101');
        tUp = Date.now() - t0; // pings count from the upgrade, not the connect (the attach's
        buf = buf.subarray(end + 4); // setup before the 101 may take long on a loaded machine)
      }
      while (buf.length >= 2) { // unmasked server frames
        let len = buf[1] & 0x7f, off = 2;
        if (len === 126) { len = buf.readUInt16BE(2); off = 4; }
        if (buf.length < off + len) break;
        if ((buf[0] & 0x0f) === 0x9) pings.push(Date.now() - t0 - tUp);
        buf = buf.subarray(off + len);
      }
    });
    s.on('close', () => resolve({ upgraded, pings, closedAfter: Date.now() - t0 }));
  });
}

// Attaches as stdin owner (boxlet.v1, so that success is an `attached`
// frame): 101 once attached, or the refusal's HTTP status (a refusal that
// needs the agent comes after the upgrade as Close 4000 + status).
function owner(port, path) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, 'boxlet.v1', { headers: authHeaders() });
    ws.on('message', (d, bin) => {
      if (!bin && JSON.parse(d.toString()).type === 'attached') { ws.close(); resolve(101); }
    });
    ws.on('close', (code) => resolve(code >= 4000 && code < 5000 ? code - 4000 : 0));
    ws.on('unexpected-response', (q, r) => resolve(r.statusCode));
    ws.on('error', () => resolve(0));
  });
}

async function main() {
  const srv = await startServer();
  const base = `http://127.0.0.1:${srv.port}`;
  const post = (p, b) => fetch(base + p, { method: 'POST', headers: authHeaders(), body: JSON.stringify(b) }).then((r) => r.json());
  await post('/v1/boxes', { image: 'host', name: 'ka' });
  const { execution_id: eid } = await post('/v1/boxes/ka/exec', { command: 'sleep', args: ['30'] });
  const path = `/v1/boxes/ka/executions/${eid}/attach`;
  const peerP = silentPeer(srv.port, path);
  await sleep(800);
  check('slot held while the peer may be alive', (await owner(srv.port, path)) === 409);
  const peer = await peerP;
  check('upgraded', peer.upgraded);
  // (bounds far from the interval's 4 s and the window's 12 s: a loaded machine cannot fail them)
  check('a ping right after the upgrade', peer.pings.length > 0 && peer.pings[0] < 2000, JSON.stringify(peer.pings));
  check('pings on schedule', peer.pings.length >= 2, JSON.stringify(peer.pings));
  check('silent peer dropped within the window', peer.closedAfter >= 11500 && peer.closedAfter < 40000, peer.closedAfter);
  await sleep(300);
  check('its slot was released', (await owner(srv.port, path)) === 101);
  await fetch(`${base}/v1/boxes/ka?force=true`, { method: 'DELETE', headers: authHeaders() });
  srv.proc.kill('SIGTERM');
  t.done();
}
main().catch((e) => { console.log(`FAIL ${e.stack}`); console.log(`${t.passed} passed, ${t.failed + 1} failed`); process.exit(1); });
