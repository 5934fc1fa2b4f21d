// Slow requests do not stall the server: while one box's stop waits out
// its timeout (a process that ignores SIGTERM), another box's attachment
// keeps streaming and quick requests are answered at once. argv: base URL, API key.
import WebSocket from 'ws';

const [, , base, key] = process.argv;
const auth = key ? { Authorization: `Bearer ${key}` } : {};
let passed = 0, failed = 0;
const check = (n, c, d = '') => { if (c) passed++; else { failed++; console.log(`FAIL ${n} ${d}`); } };
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

async function api(method, path, body) {
  const r = await fetch(base + path, { method, headers: { ...auth, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined });
  const t = await r.text();
  return { status: r.status, json: t ? JSON.parse(t) : null };
}

async function main() {
  check('create slow', (await api('POST', '/v1/boxes', { name: 'slow', image: 'host' })).status === 201);
  check('create live', (await api('POST', '/v1/boxes', { name: 'live', image: 'host' })).status === 201);
  // The stubborn process: in the box's init's way of a clean stop.
  await api('POST', '/v1/boxes/slow/exec', { command: 'sh', args: ['-c', "trap '' TERM; while :; do sleep 0.1; done"] });
  const tick = await api('POST', '/v1/boxes/live/exec', { command: 'sh', args: ['-c', 'i=0; while [ $i -lt 240 ]; do echo $i; i=$((i+1)); sleep 0.05; done'] });
  const arrivals = [];
  const done = new Promise((resolve) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/boxes/live/executions/${tick.json.execution_id}/attach`, { headers: auth });
    ws.on('message', (d, bin) => { if (bin) arrivals.push(Date.now()); });
    ws.on('close', resolve);
  });
  await sleep(500);
  const t0 = Date.now();
  const stop = api('POST', '/v1/boxes/slow/stop?timeout=8');
  await sleep(300);
  const q0 = Date.now();
  const cfg = await api('GET', '/v1/config');
  const quick = Date.now() - q0;
  const st = await stop;
  const stopMs = Date.now() - t0;
  await done;
  check('the stop took its timeout', st.status === 200 && stopMs >= 7500, `${st.status} in ${stopMs} ms`);
  check('a quick request answered during the stop', cfg.status === 200 && quick < 3000, `${quick} ms`); // a loop held by the stop: 8 s
  let gap = 0;
  for (let i = 1; i < arrivals.length; i++)
    if (arrivals[i] >= t0 && arrivals[i] <= t0 + stopMs) gap = Math.max(gap, arrivals[i] - arrivals[i - 1]);
  check('the attachment kept streaming during the stop', gap < 3000, `largest gap ${gap} ms`);
  await api('DELETE', '/v1/boxes/slow?force=true');
  await api('DELETE', '/v1/boxes/live?force=true');
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
main().catch((e) => { console.log(`FAIL ${e.stack} cause: ${e.cause && (e.cause.stack || e.cause)}`); console.log(`${passed} passed, ${failed + 1} failed`); process.exit(1); });
