// Descriptors per idle attachment in `boxlet serve`: 100 observers of a
// sleeping execution cost the server at most one descriptor each (the
// client's socket: the attaches of a box share one agent connection), and
// all of them are given back when the clients leave. A burst of attaches
// all at once is served in full: their ATTACHes reach the agent faster than
// it reads them (some 240 filled its socket, and every later one was
// refused as if the agent did not answer), so they wait for room instead.
// argv: boxlet binary.
import fs from 'node:fs';
import WebSocket from 'ws';
import { api, authHeaders, counter, sleep, startServer } from './serve.mjs';

const [, , boxlet] = process.argv;
const t = counter(), check = t.check;
const fds = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;
const rssKib = (pid) => parseInt(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1], 10);
const N = 100, BURST = 2000;

function open(base, eid) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/boxes/fd/executions/${eid}/attach?stdin=false`, { headers: authHeaders() });
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  });
}

// Resolves {ws} once attached, or {reason} (an error frame, a close, a
// refused upgrade).
function attached(base, eid) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/boxes/fd/executions/${eid}/attach?stdin=false`,
      'boxlet.v1', { headers: authHeaders() });
    ws.on('message', (d, bin) => {
      if (bin) return;
      const m = JSON.parse(d.toString());
      if (m.type === 'attached') resolve({ ws });
      if (m.type === 'error') resolve({ reason: m.message });
    });
    ws.on('close', (code) => resolve({ reason: `closed ${code}` }));
    ws.on('unexpected-response', (q, r) => resolve({ reason: `HTTP ${r.statusCode}` }));
    ws.on('error', (e) => resolve({ reason: e.message }));
  });
}

async function main() {
  const srv = await startServer(boxlet);
  const pid = srv.proc.pid;
  check('create', (await api(srv.base, 'POST', '/v1/boxes', { name: 'fd', image: 'host' })).status === 201);
  const eid = (await api(srv.base, 'POST', '/v1/boxes/fd/exec', { command: 'sleep', args: ['60'] })).json.execution_id;
  (await open(srv.base, eid)).close(); // warm up: whatever a first attach opens for good
  await sleep(500);
  const before = fds(pid), rss0 = rssKib(pid);
  const socks = [];
  for (let i = 0; i < N; i++) socks.push(await open(srv.base, eid));
  await sleep(300);
  const during = fds(pid), rss1 = rssKib(pid);
  const per = (during - before) / N;
  console.log(`server descriptors: ${before} before, ${during} with ${N} idle attachments (${per.toFixed(2)} each); ` +
    `memory ${((rss1 - rss0) / N).toFixed(1)} KiB each (measured, not checked: docs/BENCHMARKS.md)`);
  check('at most one descriptor per idle attachment', per <= 1.05, `${per}`);
  for (const ws of socks) ws.close();
  await sleep(1500);
  const after = fds(pid);
  check('every descriptor given back', after <= before + 1, `${after} after, ${before} before`);

  // A burst: BURST observers at once (boxlet.v1, so that success is an
  // `attached` frame and a failure an `error` frame or a 4xxx close).
  const outcomes = await Promise.all(Array.from({ length: BURST }, () => attached(srv.base, eid)));
  const ok = outcomes.filter((o) => o.ws).length;
  const why = outcomes.find((o) => !o.ws);
  check(`a burst of ${BURST} attaches: every one attached`, ok === BURST,
    `${ok} attached; first failure: ${why ? why.reason : ''}`);
  for (const o of outcomes) if (o.ws) o.ws.close();
  await sleep(500);

  // Stdin for a process that does not read it stays with the client: the
  // server stops reading the client's socket (2 MiB queued) rather than
  // holding all of it.
  const deaf = (await api(srv.base, 'POST', '/v1/boxes/fd/exec', { command: 'sleep', args: ['30'] })).json.execution_id;
  const owner = new WebSocket(`${srv.base.replace('http', 'ws')}/v1/boxes/fd/executions/${deaf}/attach`, { headers: authHeaders() });
  await new Promise((ok, no) => { owner.on('open', ok); owner.on('error', no); });
  const rssBefore = rssKib(pid), chunk = Buffer.alloc(1 << 20, 0x61);
  for (let i = 0; i < 64; i++) owner.send(chunk); // 64 MiB, as fast as the socket takes it
  await sleep(1500);
  const grew = (rssKib(pid) - rssBefore) / 1024;
  console.log(`server memory after 64 MiB of unread stdin: +${grew.toFixed(1)} MiB; ` +
    `${(owner.bufferedAmount / (1 << 20)).toFixed(1)} MiB still in the client`);
  check('unread stdin does not pile up in the server', grew < 24, `+${grew.toFixed(1)} MiB`);
  check('it waits in the client instead', owner.bufferedAmount > 16 << 20, `${owner.bufferedAmount}`);
  owner.terminate();
  await api(srv.base, 'DELETE', '/v1/boxes/fd?force=true');
  srv.proc.kill('SIGTERM');
  t.done();
}
main().catch((e) => { console.log(`FAIL ${e.stack}`); console.log(`${t.passed} passed, ${t.failed + 1} failed`); process.exit(1); });
