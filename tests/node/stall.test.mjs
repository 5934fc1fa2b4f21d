// No box, client or registry stalls the others: while one box's agent is
// unreachable (SIGSTOPped: it takes connections and never answers; asked
// for by its name, id and id prefixes) and four
// pulls hang on a registry that trickles bytes (tests/fixtures/
// slow_registry.py), other clients' REST calls — reads, execs in another
// box, box creates, an exec and attach with output in another box — and
// another box's attach stream are answered at once, while four WebSocket
// attaches to the stopped box wait for its agent off the event loop, an
// established attach to it has sent a signal and a resize, and its stdin
// owner 1 MiB of stdin (more than the agent's socket holds). The
// latencies are printed; the asserts are loose (median and worst under 1 s,
// where a stall is the agent's 5-10 s deadline or a pull's minutes). Then
// one waiting client leaves before the agent answers (its pending attach is
// dropped: the ASan build checks for leaks and use-after-free), the agent
// resumes, and every other waiting attach settles. Then: a client leaves
// while its box's connection is still being opened; an attach the agent
// never answers gives up after its deadline (Close 4504) and the box is
// refused for a while (503); the server stops while an attach waits, and
// exits 0.
// argv: the boxlet binary.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { api, authHeaders, counter, sleep, startServer } from './serve.mjs';

const [, , boxlet] = process.argv;
const t = counter(), check = t.check;
const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
let base = '', wsBase = '';
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

// An attach to execution eid of box, as a plain client: settled
// resolves once output arrived or the socket closed; state is live.
const attachVictim = (eid) => attachBox('victim', eid);

function attachBox(box, eid) {
  const state = { opened: false, closed: false, out: '', errors: [], close: 0 };
  const ws = new WebSocket(`${wsBase}/v1/boxes/${box}/executions/${eid}/attach?stdin=false`,
    { headers: authHeaders() });
  const settled = new Promise((resolve) => {
    ws.on('open', () => { state.opened = true; });
    ws.on('message', (d, bin) => {
      if (bin) { state.out += Buffer.from(d).subarray(1).toString(); resolve(state); }
      else { const m = JSON.parse(d.toString()); if (m.type === 'error') state.errors.push(m); }
    });
    ws.on('unexpected-response', (q, r) => { state.close = r.statusCode; state.closed = true; resolve(state); });
    ws.on('close', (code) => { state.closed = true; state.close = code; resolve(state); });
    ws.on('error', () => {});
  });
  return { ws, state, settled };
}

// Runs cmd in box `other` and attaches to it: its output, close code, and
// the milliseconds from the exec request to the close.
async function execAttach(cmd) {
  const t0 = performance.now();
  const r = await api(base, 'POST', '/v1/boxes/other/exec', { command: 'sh', args: ['-c', cmd] });
  return new Promise((resolve) => {
    const w = new WebSocket(`${wsBase}/v1/boxes/other/executions/${r.json && r.json.execution_id}/attach`,
      { headers: authHeaders() });
    let out = '';
    w.on('message', (d, bin) => { if (bin) out += Buffer.from(d).subarray(1).toString(); });
    w.on('unexpected-response', (q, res) => resolve({ out, close: res.statusCode, ms: performance.now() - t0 }));
    w.on('close', (code) => resolve({ out, close: code, ms: performance.now() - t0 }));
    w.on('error', () => {});
  });
}

async function main() {
  const srv = await startServer(boxlet);
  const reg = await startRegistry();
  base = srv.base;
  const exitP = new Promise((ok) => srv.proc.once('exit', (code, sig) => ok(sig || code)));
  wsBase = base.replace('http', 'ws');
  const aborts = new AbortController();
  let victimPid = 0, otherPid = 0, exited = null;
  try {
    check('create other', (await api(base, 'POST', '/v1/boxes', { name: 'other', image: 'host' })).status === 201);
    const victim = await api(base, 'POST', '/v1/boxes', { name: 'victim', image: 'host' });
    check('create victim', victim.status === 201);
    victimPid = victim.json.pid;
    const tick = await api(base, 'POST', '/v1/boxes/other/exec',
      { command: 'sh', args: ['-c', 'while :; do echo t; sleep 0.05; done'] });
    const arrivals = [];
    const ws = new WebSocket(`${wsBase}/v1/boxes/other/executions/${tick.json.execution_id}/attach?stdin=false`,
      { headers: authHeaders() });
    ws.on('message', (d, bin) => { if (bin) arrivals.push(performance.now()); });
    await new Promise((ok) => ws.once('open', ok));
    const vex = (await api(base, 'POST', '/v1/boxes/victim/exec',
      { command: 'sh', args: ['-c', 'echo ready; exec cat'] })).json.execution_id;
    check('exec in victim', !!vex);

    // An attach that meets a stopped agent waits for it, and goes on once
    // the agent answers (here: resumed before its deadline).
    process.kill(victimPid, 'SIGSTOP');
    const early = attachVictim(vex);
    await sleep(300);
    process.kill(victimPid, 'SIGCONT');
    const got = await early.settled;
    check('an attach waiting for a stopped agent completes once it answers', got.out.includes('ready'),
      JSON.stringify(got));
    // A stdin owner of the same execution, attached while the agent runs.
    const feeder = new WebSocket(`${wsBase}/v1/boxes/victim/executions/${vex}/attach`, { headers: authHeaders() });
    await new Promise((ok) => feeder.once('message', ok)); // the backlog: attached

    // The hostile part: an agent that takes connections and never answers,
    // requests and WebSocket attaches that need it, and four pulls from a
    // registry that trickles.
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
    const pending = [];
    for (let i = 0; i < 4; i++) pending.push(attachVictim(vex));
    // Control messages on an established attach to the stopped box: sent,
    // their answers awaited off the loop.
    early.ws.send(JSON.stringify({ type: 'signal', sig: 28 }));
    early.ws.send(JSON.stringify({ type: 'resize', rows: 30, cols: 90 }));
    // ... and 1 MiB of stdin for it: more than the agent's socket holds.
    feeder.send(Buffer.alloc(1 << 20, 'y'));
    await sleep(300); // they are all in progress

    const from = performance.now();
    const lat = { read: [], exec: [], create: [], attach: [] };
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
      const a = await execAttach(`echo hi-${i}`);
      lat.attach.push(a.ms); failed += a.out !== `hi-${i}\n` || a.close !== 1000;
    }
    const to = performance.now();
    const all = [...lat.read, ...lat.exec, ...lat.create, ...lat.attach];
    const during = arrivals.filter((a) => a >= from && a <= to);
    let gap = 0;
    for (let i = 1; i < during.length; i++) gap = Math.max(gap, during[i] - during[i - 1]);
    const f = (v) => v.toFixed(1);
    console.log(`while a box's agent is stopped, 4 attaches wait for it and 4 pulls hang: median ms ` +
      `read ${f(median(lat.read))}, exec ${f(median(lat.exec))}, create ${f(median(lat.create))}, ` +
      `exec+attach ${f(median(lat.attach))}, all ${f(median(all))} (worst ${f(Math.max(...all))}); ` +
      `stream: ${during.length} frames, largest gap ${f(gap)} ms`);
    check('every call answered as usual', failed === 0, `${failed} failed`);
    check('median under 1 s', median(all) < 1000, f(median(all)));
    check('worst under 3 s', Math.max(...all) < 3000, f(Math.max(...all))); // held by the stalled agent: 10 s
    check('the stream kept flowing', during.length > 0 && gap < 3000, `${during.length} frames, gap ${f(gap)}`);
    check('the attaches to the stopped box are still waiting',
      pending.every((p) => p.state.opened && !p.state.closed && p.state.out === ''),
      JSON.stringify(pending.map((p) => p.state)));
    ws.close();

    // A client leaves while its attach still waits for the agent; then the
    // agent answers. The others complete, or end with an error frame and a
    // 4xxx close if the agent's deadline passed first; none hangs.
    pending[0].ws.terminate();
    await sleep(100);
    process.kill(victimPid, 'SIGCONT');
    const ends = await Promise.all(pending.slice(1).map((p) => p.settled));
    console.log(`after the agent resumed: ${JSON.stringify(ends.map((e) => e.out ? 'streamed' : `closed ${e.close}`))}`);
    check('every waiting attach settles', ends.every((e) => e.out.length > 0 ||
      (e.close >= 4000 && e.close < 5000 && e.errors.length === 1)),
      JSON.stringify(ends.map((e) => ({ ...e, out: e.out.length }))));
    const cfg = await timed(base, 'GET', '/v1/config');
    check('the server still serves', cfg.status === 200);
    for (const p of pending) p.ws.terminate();
    early.ws.terminate();

    // A client that leaves while its box's connection is still being opened
    // (connect and HELLO on an opening thread, the agent stopped): the open
    // is dropped when it comes back, and the next attach works.
    await sleep(2500); // the connection closes 2 s after the box's last attach
    process.kill(victimPid, 'SIGSTOP');
    const orphan = attachVictim(vex);
    await new Promise((ok) => orphan.ws.once('open', ok));
    orphan.ws.terminate();
    await sleep(200);
    process.kill(victimPid, 'SIGCONT');
    const next = attachVictim(vex);
    const n = await next.settled;
    // (what it streams: the retained end of `ready` and the stdin cat echoed)
    check('after a client left a pending open, the next attach streams', n.out.length > 0,
      JSON.stringify({ ...n, out: n.out.length }));
    next.ws.terminate();

    // An agent that never answers: the attach gives up after its deadline
    // (10 s) with an error frame and Close 4504, and the box's attaches are
    // then refused in the upgrade (503) for a while.
    const next2 = attachVictim(vex);
    await new Promise((ok) => setTimeout(ok, 300));
    await next2.settled; // it streams: the connection is open again
    process.kill(victimPid, 'SIGSTOP');
    const late = attachVictim(vex);
    const l = await late.settled;
    next2.ws.terminate();
    feeder.terminate();
    check('an attach the agent never answers ends with 4504 and says why', l.close === 4504 &&
      l.errors.length === 1 && l.errors[0].status === 504 && /did not answer/.test(l.errors[0].message),
      JSON.stringify(l));
    const refused = await attachVictim(vex).settled;
    check('then the box is refused in the upgrade', refused.close === 503 && !refused.opened,
      JSON.stringify(refused));

    // The server is stopped while an attach (to another box, whose agent
    // is stopped now) still waits: it exits cleanly all the same.
    otherPid = (await api(base, 'GET', '/v1/boxes/other')).json.pid;
    process.kill(otherPid, 'SIGSTOP');
    const last = attachBox('other', tick.json.execution_id);
    await new Promise((ok) => last.ws.once('open', ok));
    srv.proc.kill('SIGTERM');
    const lastEnd = await last.settled;
    process.kill(otherPid, 'SIGCONT');
    check('a waiting attach is closed at shutdown', lastEnd.close === 1001, JSON.stringify(lastEnd));
  } finally {
    for (const pid of [victimPid, otherPid])
      if (pid) try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
    aborts.abort();
    reg.proc.kill();
    srv.proc.kill('SIGTERM');
    exited = await exitP;
  }
  check('the server exits cleanly (under ASan: no leak)', exited === 0, exited);
  t.done();
}

main().catch((e) => { console.log(`FAIL ${e.stack}`); process.exit(1); });
