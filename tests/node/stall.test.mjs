// No box, client or registry stalls the others: while one box's agent is
// unreachable (SIGSTOPped: it takes connections and never answers; asked
// for by its name, id and id prefixes) and four
// pulls hang on a registry that trickles bytes (tests/fixtures/
// slow_registry.py), other clients' REST calls — reads, execs in another
// box, box creates — and another box's attach stream are answered at once.
// The latencies are printed; the asserts are loose (median and worst under
// 1 s, where a stall is the agent's 5-10 s deadline or a pull's minutes).
// argv: the boxlet binary.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { api, authHeaders, counter, sleep, startServer } from './serve.mjs';

const [, , boxlet] = process.argv;
const t = counter(), check = t.check;
const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

function startRegistry() {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', [fixtures + 'slow_registry.py'], { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout.once('data', (d) => resolve({ proc: p, port: parseInt(d.toString(), 10) }));
    p.once('exit', (code) => reject(new Error(`slow registry exited ${code}`)));
  });
}

async function timed(base, method, path, body) {
  const t0 = performance.now();
  const r = await api(base, method, path, body);
  return { ...r, ms: performance.now() - t0 };
}

async function main() {
  const srv = await startServer(boxlet);
  const reg = await startRegistry();
  const base = srv.base;
  const aborts = new AbortController();
  let victimPid = 0;
  try {
    check('create other', (await api(base, 'POST', '/v1/boxes', { name: 'other', image: 'host' })).status === 201);
    const victim = await api(base, 'POST', '/v1/boxes', { name: 'victim', image: 'host' });
    check('create victim', victim.status === 201);
    victimPid = victim.json.pid;
    const tick = await api(base, 'POST', '/v1/boxes/other/exec',
      { command: 'sh', args: ['-c', 'while :; do echo t; sleep 0.05; done'] });
    const arrivals = [];
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/boxes/other/executions/${tick.json.execution_id}/attach?stdin=false`,
      { headers: authHeaders() });
    ws.on('message', (d, bin) => { if (bin) arrivals.push(performance.now()); });
    await new Promise((ok) => ws.once('open', ok));

    // The hostile part: an agent that takes connections and never answers,
    // requests that need it, and four pulls from a registry that trickles.
    process.kill(victimPid, 'SIGSTOP');
    const hostile = [];
    const send = (method, path, body) => hostile.push(fetch(base + path,
      { method, headers: { ...authHeaders(), 'content-type': 'application/json' }, signal: aborts.signal,
        body: body ? JSON.stringify(body) : undefined }).catch(() => null));
    // By name, id and id prefixes: four keys, one box, one worker thread.
    const vid = victim.json.id;
    for (const key of ['victim', vid, vid.slice(0, 12), vid.slice(0, 16)]) {
      send('POST', `/v1/boxes/${key}/exec`, { command: 'true' });
      send('GET', `/v1/boxes/${key}/executions`);
    }
    send('GET', '/v1/boxes/victim/metrics');
    for (let i = 0; i < 4; i++) send('POST', '/v1/images/pull', { reference: `127.0.0.1:${reg.port}/slow${i}:1` });
    await sleep(300); // they are all in progress

    const from = performance.now();
    const lat = { read: [], exec: [], create: [] };
    let failed = 0;
    for (let i = 0; i < 10; i++) {
      for (const p of ['/v1/config', '/v1/boxes', '/v1/boxes/other', `/v1/boxes/other/executions/${tick.json.execution_id}`]) {
        const r = await timed(base, 'GET', p);
        lat.read.push(r.ms); failed += r.status !== 200;
      }
      const e = await timed(base, 'POST', '/v1/boxes/other/exec', { command: 'true' });
      lat.exec.push(e.ms); failed += e.status !== 201;
      const c = await timed(base, 'POST', '/v1/boxes', { name: `c${i}`, image: 'host', auto_start: false });
      lat.create.push(c.ms); failed += c.status !== 201;
    }
    const to = performance.now();
    const all = [...lat.read, ...lat.exec, ...lat.create];
    const during = arrivals.filter((a) => a >= from && a <= to);
    let gap = 0;
    for (let i = 1; i < during.length; i++) gap = Math.max(gap, during[i] - during[i - 1]);
    const f = (v) => v.toFixed(1);
    console.log(`while a box's agent is stopped and 4 pulls hang: median ms read ${f(median(lat.read))}, ` +
      `exec ${f(median(lat.exec))}, create ${f(median(lat.create))}, all ${f(median(all))} ` +
      `(worst ${f(Math.max(...all))}); stream: ${during.length} frames, largest gap ${f(gap)} ms`);
    check('every call answered as usual', failed === 0, `${failed} failed`);
    check('median under 1 s', median(all) < 1000, f(median(all)));
    check('worst under 1 s', Math.max(...all) < 1000, f(Math.max(...all)));
    check('the stream kept flowing', during.length > 0 && gap < 1000, `${during.length} frames, gap ${f(gap)}`);
    ws.close();

    // A WebSocket attach still meets the stopped agent on the event loop
    // (docs/server.md "Known gaps"): the first one waits out the agent's
    // deadline; after it the box is refused at once (503) for a while, so
    // it cannot hold the loop once per attach.
    const attachVictim = () => new Promise((resolve) => {
      const t0 = performance.now();
      const v = new WebSocket(`${base.replace('http', 'ws')}/v1/boxes/victim/executions/none/attach`,
        { headers: authHeaders() });
      v.on('unexpected-response', (q, r) => resolve({ status: r.statusCode, ms: performance.now() - t0 }));
      v.on('open', () => { v.close(); resolve({ status: 101, ms: performance.now() - t0 }); });
      v.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
    });
    const first = await attachVictim();
    const second = await attachVictim();
    console.log(`attach to the stopped box: ${first.status} after ${f(first.ms)} ms, then ${second.status} after ${f(second.ms)} ms`);
    check('the first attach to the stopped box fails', first.status >= 500, first.status);
    check('later ones are refused at once', second.status === 503 && second.ms < 1000, JSON.stringify(second));
  } finally {
    if (victimPid) try { process.kill(victimPid, 'SIGCONT'); } catch { /* gone */ }
    aborts.abort();
    reg.proc.kill();
    srv.proc.kill('SIGTERM');
    await new Promise((ok) => srv.proc.once('exit', ok));
  }
  t.done();
}

main().catch((e) => { console.log(`FAIL ${e.stack}`); process.exit(1); });
