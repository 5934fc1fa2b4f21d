// BoxLite's own Node SDK (REST mode) against `boxlet serve`: the runtime's
// and a box's metrics report real counters (stdin and output bytes
// included) after a few execs; a box
// stopped under an attached execution that ignores SIGTERM gives wait()
// the killed result (not "connection reset") and stays stopped; an
// InteractiveBox started then stopped leaves its box stopped. argv: the
// server URL, its API key. Prints "N passed, N failed".
import { ApiKeyCredential, JsBoxlite, BoxliteRestOptions, InteractiveBox } from '@boxlite-ai/boxlite';

const [, , url, key] = process.argv;
let passed = 0, failed = 0;
const check = (name, cond, detail = '') => {
  if (cond) passed++; else { failed++; console.log(`FAIL ${name} ${detail}`); }
};

async function drain(stream) {
  let s = '';
  for (;;) { const chunk = await stream.next(); if (chunk === null) return s; s += chunk; }
}

async function rest(path) {
  const r = await fetch(`${url}/v1${path}`, { headers: { Authorization: `Bearer ${key}` } });
  return [r.status, r.status === 200 ? await r.json() : null];
}

async function main() {
  const rt = JsBoxlite.rest(new BoxliteRestOptions({ url, credential: new ApiKeyCredential(key) }));
  const m0 = await rt.metrics();
  const box = await rt.create({ image: 'host' }, 'conf-node');
  let out = '';
  for (const word of ['one', 'two', 'three']) {
    const ex = await box.exec('sh', ['-c', `printf ${word}; printf e >&2`], null, false);
    const o = drain(await ex.stdout()), e = drain(await ex.stderr());
    const res = await ex.wait();
    out += (await o) + (await e);
    check(`exec ${word}`, res.exitCode === 0, JSON.stringify(res));
  }
  {
    const ex = await box.exec('cat', [], null, false);
    const o = drain(await ex.stdout());
    const w = await ex.stdin();
    await w.write(Buffer.from('xyz'));
    await w.close();
    const res = await ex.wait();
    out += await o;
    check('exec cat with stdin', res.exitCode === 0, JSON.stringify(res));
  }
  const m1 = await rt.metrics();
  check('rt.metrics(): boxesCreatedTotal grew by 1', m1.boxesCreatedTotal - m0.boxesCreatedTotal === 1, JSON.stringify([m0, m1]));
  check('rt.metrics(): totalCommandsExecuted grew by 4', m1.totalCommandsExecuted - m0.totalCommandsExecuted === 4, JSON.stringify([m0, m1]));
  check('rt.metrics(): numRunningBoxes counts it', m1.numRunningBoxes >= 1, JSON.stringify(m1));
  const bm = await box.metrics();
  check('box.metrics(): commandsExecutedTotal 4', bm.commandsExecutedTotal === 4, JSON.stringify(bm));
  check('box.metrics(): bytesSentTotal is the stdin written', bm.bytesSentTotal === 3, JSON.stringify(bm));
  check('box.metrics(): bytesReceivedTotal is stdout + stderr', bm.bytesReceivedTotal === out.length, JSON.stringify([bm, out]));
  check('box.metrics(): memoryBytes measured', bm.memoryBytes > 0, JSON.stringify(bm));
  await box.stop();
  await rt.remove('conf-node', true);

  // Stop a box while an attached execution ignores SIGTERM: wait() gets the
  // killed result (not "connection reset"), and the box stays stopped.
  const sb = await rt.create({ image: 'host' }, 'conf-stopper');
  const ex = await sb.exec('sh', ['-c', "trap '' TERM; echo ready; sleep 300"], null, false);
  const so = await ex.stdout();
  check('the TERM-ignoring command is up', (await so.next()).includes('ready'));
  const waiting = ex.wait().then((r) => r, (e) => ({ error: String(e) }));
  const rest0 = await fetch(`${url}/v1/boxes/conf-stopper/stop`, {
    method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ timeout_seconds: 1 }),
  });
  check('stop answers 200', rest0.status === 200, String(rest0.status));
  const res = await waiting;
  check('wait() after a box stop: killed by 9, not a reset', res.exitCode === -9 && !res.error, JSON.stringify(res));
  let [st0, b0] = await rest('/boxes/conf-stopper');
  check('the stopped box stays stopped', st0 === 200 && b0.status === 'stopped', JSON.stringify(b0));
  await rt.remove('conf-stopper', true);

  const ib = new InteractiveBox({ runtime: rt, image: 'host', name: 'conf-ibox', autoRemove: false, tty: false });
  await ib.start();
  let [st, b] = await rest('/boxes/conf-ibox');
  check('InteractiveBox.start(): running', st === 200 && b.status === 'running', JSON.stringify([st, b]));
  await ib.stop();
  await new Promise((ok) => setTimeout(ok, 1000)); // whatever the SDK does after its stop has had its turn
  [st, b] = await rest('/boxes/conf-ibox');
  check('InteractiveBox.stop(): the box stays stopped', st === 200 && b.status === 'stopped', JSON.stringify([st, b]));
  const m2 = await rt.metrics();
  check('rt.metrics() after: the two boxes since were counted', m2.boxesCreatedTotal - m1.boxesCreatedTotal === 2, JSON.stringify(m2));
  await rt.remove('conf-ibox', true);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.log(`FAIL exception ${e.stack || e}`); console.log(`${passed} passed, ${failed + 1} failed`); process.exit(1); });
