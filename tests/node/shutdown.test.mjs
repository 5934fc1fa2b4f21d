// SIGTERM to `boxlet serve` while clients are attached: each attachment is
// closed with 1001 "server shutdown" (not dropped), the server exits 0 soon,
// and the boxes and executions keep running: a new server on the same home
// serves the execution again and the client resumes by offset with
// nothing lost. argv: boxlet binary.
import WebSocket from 'ws';
import { api, authHeaders, counter, sleep, startServer as spawnServer } from './serve.mjs';

const [, , boxlet] = process.argv;
const t = counter(), check = t.check;
const startServer = () => spawnServer(boxlet);

// Streams from state.offset until exit or close; resolves with the close code.
function follow(base, eid, state, owner) {
  return new Promise((resolve) => {
    const q = `stdout_offset=${state.offset}${owner ? '' : '&stdin=false'}`;
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/boxes/sd/executions/${eid}/attach?${q}`, 'boxlet.v1', { headers: authHeaders() });
    ws.on('message', (data, binary) => {
      if (binary) { const b = Buffer.from(data); state.chunks.push(b.subarray(1)); state.offset += b.length - 1; }
      else { const m = JSON.parse(data.toString()); if (m.type === 'exit') state.exit = m; }
    });
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.on('error', () => {});
  });
}

const script = 'i=0; while [ $i -lt 60 ]; do echo "line $i"; i=$((i+1)); sleep 0.05; done';
const expected = Array.from({ length: 60 }, (_, i) => `line ${i}\n`).join('');

async function main() {
  let srv = await startServer();
  check('create', (await api(srv.base, 'POST', '/v1/boxes', { image: 'host', name: 'sd' })).status === 201);
  const r = await api(srv.base, 'POST', '/v1/boxes/sd/exec', { command: 'sh', args: ['-c', script] });
  const eid = r.json.execution_id;
  const a = { offset: 0, chunks: [] }, b = { offset: 0, chunks: [] };
  const closes = [follow(srv.base, eid, a, true), follow(srv.base, eid, b, false)];
  await sleep(800);
  const t0 = Date.now();
  const exited = new Promise((ok) => srv.proc.once('exit', (code, sig) => ok({ code, sig })));
  srv.proc.kill('SIGTERM');
  const got = await Promise.all(closes);
  for (const [i, c] of got.entries())
    check(`attachment ${i} closed with 1001 "server shutdown"`, c.code === 1001 && c.reason === 'server shutdown', JSON.stringify(c));
  const ex = await exited;
  check('the server exits 0 promptly', ex.code === 0 && Date.now() - t0 < 15000, `${JSON.stringify(ex)} after ${Date.now() - t0} ms`);
  check('the stream was cut mid-way', !a.exit && a.offset > 0, `offset ${a.offset}`);
  srv = await startServer(); // the execution kept running meanwhile
  await follow(srv.base, eid, a, true);
  check('resumed by offset after the restart, byte-exact', Buffer.concat(a.chunks).toString() === expected && a.exit && a.exit.exit_code === 0,
    `${a.offset} bytes, exit ${JSON.stringify(a.exit)}`);
  await api(srv.base, 'DELETE', '/v1/boxes/sd?force=true');
  srv.proc.kill('SIGTERM');
  t.done();
}
main().catch((e) => { console.log(`FAIL ${e.stack}`); console.log(`${t.passed} passed, ${t.failed + 1} failed`); process.exit(1); });
