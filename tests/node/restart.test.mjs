// Kill -9 `boxlet serve` while 20 executions stream to 20 boxlet.v1
// clients; restart it on the same home; every client resumes by offset and
// the concatenated output of each is byte-exact. argv: boxlet binary.
import WebSocket from 'ws';
import { api, authHeaders, counter, sleep, startServer as spawnServer } from './serve.mjs';

const [, , boxlet] = process.argv;
const t = counter(), check = t.check;
const startServer = () => spawnServer(boxlet);

// Streams one execution from `state.offset` until exit or the socket dies.
function follow(base, eid, state) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/boxes/rs/executions/${eid}/attach?stdin=false&stdout_offset=${state.offset}`, 'boxlet.v1', { headers: authHeaders() });
    ws.on('message', (data, binary) => {
      if (binary) { const b = Buffer.from(data); state.chunks.push(b.subarray(1)); state.offset += b.length - 1; }
      else { const m = JSON.parse(data.toString()); if (m.type === 'exit') state.exit = m; if (m.type === 'gap') state.gaps++; }
    });
    ws.on('close', () => resolve());
    ws.on('error', () => resolve());
    ws.on('unexpected-response', () => resolve());
  });
}

const script = 'i=0; while [ $i -lt 150 ]; do echo "$ID line $i"; i=$((i+1)); sleep 0.02; done';
const expected = (id) => Array.from({ length: 150 }, (_, i) => `${id} line ${i}\n`).join('');

async function main() {
  let srv = await startServer();
  check('create', (await api(srv.base, 'POST', '/v1/boxes', { image: 'host', name: 'rs' })).status === 201);
  const execs = [];
  for (let i = 0; i < 20; i++) {
    const r = await api(srv.base, 'POST', '/v1/boxes/rs/exec', { command: 'sh', args: ['-c', script], env: { ID: `x${i}` } });
    execs.push({ id: r.json.execution_id, tag: `x${i}`, state: { offset: 0, chunks: [], gaps: 0 } });
  }
  let runs = execs.map((e) => follow(srv.base, e.id, e.state));
  await sleep(1200);
  srv.proc.kill('SIGKILL'); // mid-stream
  await Promise.all(runs);
  const midway = execs.filter((e) => !e.state.exit).length;
  check('the kill interrupted streams', midway > 0, `${midway} still running`);
  srv = await startServer(); // same home: rebuilt from the agents
  for (let round = 0; round < 5 && execs.some((e) => !e.state.exit); round++)
    await Promise.all(execs.filter((e) => !e.state.exit).map((e) => follow(srv.base, e.id, e.state)));
  let exact = 0;
  for (const e of execs)
    exact += Buffer.concat(e.state.chunks).toString() === expected(e.tag) && e.state.gaps === 0 && e.state.exit ? 1 : 0;
  check('every stream byte-exact across the restart', exact === 20, `${exact}/20`);
  await api(srv.base, 'DELETE', '/v1/boxes/rs?force=true');
  srv.proc.kill('SIGTERM');
  t.done();
}
main().catch((e) => { console.log(`FAIL ${e.stack}`); console.log(`${t.passed} passed, ${t.failed + 1} failed`); process.exit(1); });
