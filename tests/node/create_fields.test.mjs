// BoxLite's own Node SDK (REST mode) creating boxes with the fields beyond
// the basics, against `boxlet serve`: entrypoint/cmd run as the box's main
// command (what `boxlet logs` shows); autoStop/autoDelete/autoResume are
// echoed and enforced (an idle box stops, an exec resumes it, autoDelete
// removes it); advanced.capabilities reach the box's bounding set
// (/proc/self/status); a secret is in the process's environment and in
// neither the box's info nor the home (store, logs). argv: the server URL
// and its key; $BOXLET (the command) and $BOXLET_HOME come from
// test_server_ws.sh. Waits are polls with generous caps: they check what
// happens, not how fast. Prints "N passed, N failed".
import { ApiKeyCredential, JsBoxlite, BoxliteRestOptions } from '@boxlite-ai/boxlite';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const [, , url, key] = process.argv;
let passed = 0, failed = 0;
const check = (name, cond, detail = '') => {
  if (cond) passed++; else { failed++; console.log(`FAIL ${name} ${detail}`); }
};
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

async function drain(stream) {
  let s = '';
  for (;;) { const chunk = await stream.next(); if (chunk === null) return s; s += chunk; }
}

async function run(box, cmd, args) {
  const ex = await box.exec(cmd, args, null, false, null, null, null);
  const out = drain(await ex.stdout());
  const res = await ex.wait();
  return { res, out: await out };
}

// Polls until pred(info) (info null once the box is gone); at most 120 s.
async function until(rt, name, pred) {
  let info;
  for (let i = 0; i < 240; i++) {
    info = await rt.getInfo(name);
    if (pred(info)) return true;
    await sleep(500);
  }
  console.log(`  last seen: ${JSON.stringify(info)}`);
  return false;
}

const bits = (hex) => {
  const m = BigInt('0x' + hex.trim());
  const out = [];
  for (let b = 0n; b < 64n; b++) if ((m >> b) & 1n) out.push(Number(b));
  return out;
};

// Every file under dir holding needle (the store, its -wal, records, logs).
function filesHolding(dir, needle) {
  const hits = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) hits.push(...filesHolding(p, needle));
    else if (e.isFile() && statSync(p).size < (64 << 20) && readFileSync(p).includes(needle)) hits.push(p);
  }
  return hits;
}

function logs(name) {
  return execFileSync(process.env.BOXLET, ['--url', url, 'logs', name],
    { env: { ...process.env, BOXLET_API_KEY: key || '' }, encoding: 'utf8' });
}

async function mainCommand(rt) {
  const box = await rt.create({ image: 'host', entrypoint: ['sh', '-c'], cmd: ['echo main-ran >/tmp/main; echo main-output'] }, 'nmain');
  let r;
  for (let i = 0; i < 60; i++) { // the main command runs beside us: wait for its file
    r = await run(box, 'cat', ['/tmp/main']);
    if (r.res.exitCode === 0) break;
    await sleep(500);
  }
  check('entrypoint + cmd ran as the main command', r.out === 'main-ran\n', JSON.stringify(r));
  check('logs show it', logs('nmain') === 'main-output\n', JSON.stringify(logs('nmain')));
  await rt.remove('nmain', true);
}

async function lifecycle(rt) {
  const box = await rt.create({ image: 'host', autoStop: 2, autoDelete: 0, autoResume: true }, 'nstop');
  let info = await box.info();
  check('autoStop/autoDelete/autoResume echoed', info.autoStop === 2 && info.autoDelete === 0 && info.autoResume === true,
    JSON.stringify(info));
  check('an idle box stops', await until(rt, 'nstop', (i) => i && i.state.status === 'stopped'));
  const r = await run(box, 'echo', ['resumed']);
  check('an exec resumes it', r.out === 'resumed\n' && r.res.exitCode === 0, JSON.stringify(r));
  info = await box.info();
  check('it runs again', info.state.status === 'running', JSON.stringify(info.state));
  await rt.remove('nstop', true);

  await rt.create({ image: 'host', autoStop: 1, autoResume: false }, 'nnores');
  check('autoResume false echoed', (await rt.getInfo('nnores')).autoResume === false);
  check('stops when idle', await until(rt, 'nnores', (i) => i && i.state.status === 'stopped'));
  let refused = null;
  try { await run(await rt.get('nnores'), 'true', []); } catch (e) { refused = e; }
  check('an exec is refused without autoResume', refused && /auto_resume/.test(String(refused)), String(refused));
  await rt.remove('nnores', true);

  await rt.create({ image: 'host', autoStop: 1, autoDelete: 2 }, 'ndel');
  check('autoDelete echoed', (await rt.getInfo('ndel')).autoDelete === 2);
  check('autoDelete removes it once stopped', await until(rt, 'ndel', (i) => i === null));
}

async function capabilities(rt) {
  const capbnd = async (box) => bits((await run(box, 'sh', ['-c', 'grep CapBnd /proc/self/status | cut -f2'])).out);
  const capeff = async (box) => bits((await run(box, 'sh', ['-c', 'grep CapEff /proc/self/status | cut -f2'])).out);
  const withRaw = await rt.create({ image: 'host', advanced: { capabilities: { add: ['NET_RAW'] } } }, 'ncapadd');
  check('add NET_RAW: in CapBnd and CapEff', (await capbnd(withRaw)).includes(13) && (await capeff(withRaw)).includes(13));
  const dropped = await rt.create({ image: 'host', advanced: { capabilities: { drop: ['NET_RAW', 'MKNOD'] } } }, 'ncapdrop');
  const bnd = await capbnd(dropped), eff = await capeff(dropped);
  check('drop NET_RAW: gone from CapBnd and CapEff', !bnd.includes(13) && !eff.includes(13), JSON.stringify(bnd));
  check('drop MKNOD too, the rest kept', !bnd.includes(27) && bnd.includes(0) && bnd.includes(5), JSON.stringify(bnd));
  let refused = null;
  try { await rt.create({ image: 'host', advanced: { capabilities: { add: ['SYS_ADMIN'] } } }, 'ncapbad'); } catch (e) { refused = e; }
  check('add SYS_ADMIN is refused', refused && /SYS_ADMIN/.test(String(refused)), String(refused));
  check('and no box was made', (await rt.getInfo('ncapbad')) === null);
  await rt.remove('ncapadd', true);
  await rt.remove('ncapdrop', true);
}

async function secrets(rt) {
  const value = 'nv-' + randomBytes(12).toString('hex');
  const box = await rt.create({ image: 'host', secrets: [{ name: 'API_TOKEN', value }] }, 'nsecret');
  const r = await run(box, 'sh', ['-c', 'echo "$API_TOKEN"']);
  check('the secret reaches the process as its env', r.out === value + '\n', JSON.stringify(r.out));
  check('not in the box info', !JSON.stringify(await box.info()).includes(value));
  check('not in the list', !JSON.stringify(await rt.listInfo()).includes(value));
  const inspect = execFileSync(process.env.BOXLET, ['inspect', 'nsecret'], { encoding: 'utf8' });
  check('not in inspect', inspect.includes('API_TOKEN') && !inspect.includes(value), inspect);
  const hits = filesHolding(process.env.BOXLET_HOME, value);
  check('nowhere in the home (store, -wal, records, logs)', hits.length === 0, JSON.stringify(hits));
  await rt.remove('nsecret', true);
}

async function main() {
  const rt = JsBoxlite.rest(new BoxliteRestOptions({ url, credential: key ? new ApiKeyCredential(key) : undefined }));
  await mainCommand(rt);
  await lifecycle(rt);
  await capabilities(rt);
  await secrets(rt);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.log(`FAIL exception ${e.stack || e}`); console.log(`${passed} passed, ${failed + 1} failed`); process.exit(1); });
