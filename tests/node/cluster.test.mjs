// Three `boxlet serve --node` nodes behind HAProxy (the configuration
// deploy/haproxy/gen-haproxy.sh writes), BoxLite's own Node SDK pointed at
// the proxy as if it were one server (docs/scale.md):
// - BoxLite's everyday scenarios (boxlite_sdk.test.mjs: create by name,
//   exec, stdin, signal, kill, stop, remove by name) pass through it;
// - boxes land on all three nodes, and listing shows every node's boxes;
// - a node killed: its boxes answer 503 upstream_unavailable (the time is
//   printed, not asserted), the list names it missing, and executions on
//   the other nodes stream on without a lost byte;
// - the node restarted: its boxes are back;
// - the proxy killed and started again: every box still routes right;
// - a node drained (SIGUSR1): creates land elsewhere, its boxes still serve;
// - the edges: an unknown tag 404 at the proxy, another node's tag 404 at a
//   node, a name shaped like a tagged id refused, no key 401 through the
//   proxy, a fourth node with another key getting nothing from its peers,
//   and a peer that accepts and never answers: a partial list, in bounded
//   time, while the node answers other requests;
// - boxlet's own CLI through the proxy, by name and by id.
// argv: boxlet, a scratch directory (home1..3, key), gen-haproxy.sh, the
// everyday scenarios' script. Prints "N passed, N failed".
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { ApiKeyCredential, JsBoxlite, BoxliteRestOptions } from '@boxlite-ai/boxlite';
import { counter, sleep } from './serve.mjs';

const [, , boxlet, dir, gen, everyday] = process.argv;
const c = counter();
const key = readFileSync(`${dir}/key`, 'utf8').trim();
const auth = { Authorization: `Bearer ${key}` };
const nodes = [1, 2, 3].map((i) => ({ i, name: `n${i}`, host: `127.0.0.${i + 1}`, proc: null }));
const children = new Set();
let port = 0, proxyPort = 0, proxy = null;

function freeOn(host, p) {
  return new Promise((ok) => {
    const s = net.createServer();
    s.once('error', () => ok(false));
    s.listen(p, host, () => s.close(() => ok(true)));
  });
}

// A port free on every address given.
async function freePort(hosts) {
  for (let tries = 0; tries < 50; tries++) {
    const p = 20000 + Math.floor(Math.random() * 40000);
    let ok = true;
    for (const h of hosts) ok = ok && await freeOn(h, p);
    if (ok) return p;
  }
  throw new Error('no free port');
}

function track(p) {
  children.add(p);
  p.once('exit', () => children.delete(p));
  return p;
}

function startNode(n) {
  const peers = nodes.filter((m) => m !== n).map((m) => `${m.host}:${port}`).join(',');
  return new Promise((resolve, reject) => {
    const p = track(spawn(boxlet, ['serve', '--host', n.host, '--port', String(port), '--node', n.name,
      '--peers', peers, '--api-key-file', `${dir}/key`, '--ready-fd', '3'],
    { env: { ...process.env, BOXLET_HOME: `${dir}/home${n.i}` }, stdio: ['ignore', 'ignore', 'inherit', 'pipe'] }));
    p.stdio[3].once('data', () => { n.proc = p; resolve(); });
    p.once('exit', (code) => reject(new Error(`node ${n.name} exited ${code}`)));
  });
}

function stopNode(n, sig = 'SIGKILL') {
  return new Promise((ok) => { n.proc.once('exit', () => ok()); n.proc.kill(sig); n.proc = null; });
}

async function startProxy() {
  const cfg = spawnSync('sh', [gen, '-b', `127.0.0.1:${proxyPort}`, '-d', dir, '-w',
    ...nodes.map((n) => `${n.name}=${n.host}:${port}`)], { encoding: 'utf8' });
  if (cfg.status !== 0) throw new Error(`gen-haproxy.sh: ${cfg.stderr}`);
  writeFileSync(`${dir}/haproxy.cfg`, cfg.stdout);
  const check = spawnSync('haproxy', ['-c', '-f', `${dir}/haproxy.cfg`], { encoding: 'utf8' });
  c.check('haproxy -c takes the generated configuration', check.status === 0, check.stdout + check.stderr);
  // Quiet: its health checks' lines are not the test's.
  proxy = track(spawn('haproxy', ['-f', `${dir}/haproxy.cfg`, '-db', '-q'], { stdio: ['ignore', 'ignore', 'ignore'] }));
  // Up once it answers and sees every node that is up.
  await until(async () => (await get('/v1/boxes')).status === 200);
}

function stopProxy() {
  return new Promise((ok) => { proxy.once('exit', () => ok()); proxy.kill('SIGKILL'); proxy = null; });
}

async function until(cond, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    try { if (await cond()) return true; } catch { /* not yet */ }
    if (Date.now() > end) return false;
    await sleep(100);
  }
}

const base = () => `http://127.0.0.1:${proxyPort}`;
async function get(path, to = base()) {
  const r = await fetch(to + path, { headers: auth, redirect: 'manual' });
  return { status: r.status, json: await r.json().catch(() => null) };
}

const sdk = () => JsBoxlite.rest(new BoxliteRestOptions({ url: base(), credential: new ApiKeyCredential(key) }));
const tagOf = (id) => id.split('_')[0];

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

const LINES = 250;
const counting = `i=0; while [ $i -lt ${LINES} ]; do echo "line $i"; i=$((i+1)); sleep 0.01; done`;
const expected = Array.from({ length: LINES }, (_, i) => `line ${i}\n`).join('');

function everydayScenarios() {
  const r = spawnSync('node', [everyday, base(), key], { encoding: 'utf8', timeout: 120000 });
  const last = (r.stdout || '').trim().split('\n').pop();
  return { ok: r.status === 0, detail: `${r.stdout}${r.stderr}`, last };
}

async function main() {
  port = await freePort(nodes.map((n) => n.host));
  proxyPort = await freePort(['127.0.0.1']);
  for (const n of nodes) await startNode(n);
  await startProxy();
  let rt = sdk();

  // BoxLite's everyday scenarios, as they are, three times through the proxy.
  for (let k = 0; k < 3; k++) {
    const r = everydayScenarios();
    c.check(`everyday scenarios through the proxy (run ${k + 1}: ${r.last})`, r.ok, r.detail);
  }

  // Boxes land on every node; listing through any node shows all of them.
  const boxes = [];
  for (let k = 0; k < 6; k++) boxes.push(await rt.create({ image: 'host' }));
  const tags = new Set(boxes.map((b) => tagOf(b.id)));
  c.check('boxes land on all three nodes', tags.size === 3, JSON.stringify([...tags]));
  let listed = new Set((await rt.listInfo()).map((b) => b.id));
  c.check('the SDK lists every node\'s boxes', boxes.every((b) => listed.has(b.id)), JSON.stringify([...listed]));
  for (const n of nodes) { // and each node answers for the cluster
    const r = await get('/v1/boxes', `http://${n.host}:${port}`);
    const ids = new Set(r.json.boxes.map((b) => b.id));
    c.check(`${n.name} lists the cluster`, boxes.every((b) => ids.has(b.id)) && r.json.missing_nodes.length === 0,
      JSON.stringify(r.json.missing_nodes));
  }
  // Pages of the cluster's list: pageSize 2 through one node walks every
  // node's boxes once each, and the last page's token is null.
  {
    const seen = [];
    let token = '', pages = 0, bad = '';
    do {
      const r = await get(`/v1/boxes?pageSize=2${token ? `&pageToken=${token}` : ''}`, `http://${nodes[0].host}:${port}`);
      if (r.status !== 200 || r.json.boxes.length > 2) { bad = JSON.stringify(r.json); break; }
      seen.push(...r.json.boxes.map((b) => b.id));
      token = r.json.next_page_token;
      pages++;
    } while (token && pages < 100);
    c.check('the cluster\'s list pages through every node', !bad && boxes.every((b) => seen.includes(b.id)) &&
      new Set(seen).size === seen.length && pages >= 3, bad || JSON.stringify({ pages, seen }));
  }
  const byNode = (name) => boxes.find((b) => tagOf(b.id) === name);
  const victim = nodes[1];
  const vbox = byNode(victim.name), b1 = byNode('n1'), b3 = byNode('n3');

  // Kill n2 while boxes on n1 and n3 stream: theirs lose nothing.
  const streams = [b1, b3].map((b) => run(b, 'sh', ['-c', counting]));
  await sleep(500);
  await stopNode(victim);
  const t0 = Date.now();
  const dead = await get(`/v1/boxes/${encodeURIComponent(vbox.id)}`);
  const ms = Date.now() - t0;
  console.log(`a box on the killed node answered ${dead.status} in ${ms} ms`);
  c.check('a box on a dead node: 503 upstream_unavailable', dead.status === 503 &&
    dead.json?.error?.code === 'upstream_unavailable', JSON.stringify(dead));
  let sdkErr = null;
  try { await run(vbox, 'true', []); } catch (e) { sdkErr = e; }
  c.check('the SDK\'s exec on that box fails', sdkErr !== null);
  const partial = await get('/v1/boxes');
  c.check('the list names the missing node', partial.status === 200 &&
    partial.json.missing_nodes.some((m) => m.peer.startsWith(`${victim.host}:`)) &&
    !partial.json.nodes.includes(victim.name), JSON.stringify(partial.json?.missing_nodes));
  c.check('and still lists the others\' boxes', [b1, b3].every((b) => partial.json.boxes.some((x) => x.id === b.id)));
  for (const [k, s] of (await Promise.all(streams)).entries())
    c.check(`the stream on ${tagOf([b1, b3][k].id)} lost no byte`, s.out === expected && s.res.exitCode === 0,
      `${s.out.length} of ${expected.length} bytes`);

  // Restart it: its boxes are back (they outlived it).
  await startNode(victim);
  c.check('the restarted node\'s box answers again', await until(async () => (await get(`/v1/boxes/${vbox.id}`)).status === 200));
  const back = await run(vbox, 'sh', ['-c', 'echo back']);
  c.check('and runs commands', back.out === 'back\n', JSON.stringify(back.out));

  // Restart the proxy: nothing it learned is needed.
  rt.close?.();
  await stopProxy();
  await startProxy();
  rt = sdk();
  for (const b of boxes) {
    const r = await get(`/v1/boxes/${b.id}`);
    c.check(`after the proxy's restart ${b.id} routes to its node`, r.status === 200 && r.json.id === b.id, JSON.stringify(r));
  }
  for (const b of [b1, vbox, b3]) {
    const box = await rt.get(b.id);
    const r = await run(box, 'hostname', []);
    c.check(`exec on ${tagOf(b.id)} after the proxy's restart`, r.res.exitCode === 0 && r.out.length > 0, JSON.stringify(r));
  }

  // Drain n1: creates land elsewhere, its boxes still serve.
  nodes[0].proc.kill('SIGUSR1');
  c.check('n1 says it drains', await until(async () => (await get('/v1/config', `http://${nodes[0].host}:${port}`)).json.draining === true));
  const refused = await fetch(`http://${nodes[0].host}:${port}/v1/boxes`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"image":"host"}' });
  c.check('n1 refuses creates with 503', refused.status === 503);
  const later = [];
  for (let k = 0; k < 4; k++) later.push(await rt.create({ image: 'host' }));
  c.check('creates during the drain land on other nodes', later.every((b) => tagOf(b.id) !== 'n1'), JSON.stringify(later.map((b) => b.id)));
  const drained = await run(await rt.get(b1.id), 'sh', ['-c', 'echo still']);
  c.check('a draining node\'s box is served', drained.out === 'still\n', JSON.stringify(drained.out));
  nodes[0].proc.kill('SIGUSR2');
  c.check('n1 ends its drain', await until(async () => (await get('/v1/config', `http://${nodes[0].host}:${port}`)).json.draining === false));

  // Names through the proxy: a name on another node is found and followed.
  const named = await rt.create({ image: 'host' }, 'clusternamed');
  const info = await rt.getInfo('clusternamed');
  c.check('a box name resolves through any node', info?.id === named.id, JSON.stringify(info?.id));

  // Tags and auth at the edges.
  const ulid = vbox.id.split('_')[1];
  let e = await get(`/v1/boxes/n9_${ulid}`);
  c.check('the proxy: a tag no node has is 404', e.status === 404 && e.json?.error?.code === 'not_found', JSON.stringify(e));
  e = await get(`/v1/boxes/n2_${ulid}`, `http://${nodes[0].host}:${port}`);
  c.check('a node: another node\'s tag is 404 naming it', e.status === 404 && /on node n2/.test(e.json?.error?.message), JSON.stringify(e));
  const tagged = await fetch(`${base()}/v1/boxes`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ image: 'host', name: `n1_${ulid}` }) });
  c.check('a name shaped like a tagged id is refused', tagged.status === 400);
  for (const path of ['/v1/boxes', '/v1/boxes/clusternamed', `/v1/boxes/${b1.id}`]) {
    const r = await fetch(base() + path, { redirect: 'manual' });
    c.check(`no key through the proxy: ${path} is 401`, r.status === 401);
  }
  // A node with another key learns nothing from its peers: they refuse it.
  const odd = { i: 4, name: 'n4', host: '127.0.0.5', proc: null };
  writeFileSync(`${dir}/key4`, 'another-key-entirely\n', { mode: 0o600 });
  const oddPort = await freePort([odd.host]);
  const p4 = track(spawn(boxlet, ['serve', '--host', odd.host, '--port', String(oddPort), '--node', 'n4',
    '--peers', nodes.map((n) => `${n.host}:${port}`).join(','), '--api-key-file', `${dir}/key4`],
  { env: { ...process.env, BOXLET_HOME: `${dir}/home4` }, stdio: ['ignore', 'ignore', 'ignore'] }));
  const oddBase = `http://${odd.host}:${oddPort}`; // n4, then n5
  await until(async () => (await fetch(oddBase + '/v1/config')).status === 200);
  const r4 = await fetch(oddBase + '/v1/boxes', { headers: { Authorization: 'Bearer another-key-entirely' } });
  const j4 = await r4.json();
  c.check('a node with another key gets no peer\'s boxes', r4.status === 200 && j4.boxes.length === 0 &&
    j4.missing_nodes.length === 3 && j4.missing_nodes.every((m) => /401/.test(m.error)), JSON.stringify(j4));
  await new Promise((ok) => { p4.once('exit', ok); p4.kill('SIGTERM'); });

  // A peer that accepts and never answers: a partial answer in bounded
  // time, and the node's other requests are not held up meanwhile.
  const hole = net.createServer(() => { /* accept, then silence */ });
  await new Promise((ok) => hole.listen(0, '127.0.0.6', ok));
  const p5 = track(spawn(boxlet, ['serve', '--host', '127.0.0.5', '--port', String(oddPort), '--node', 'n5',
    '--peers', [...nodes.map((n) => `${n.host}:${port}`), `127.0.0.6:${hole.address().port}`].join(','),
    '--api-key-file', `${dir}/key`],
  { env: { ...process.env, BOXLET_HOME: `${dir}/home4` }, stdio: ['ignore', 'ignore', 'ignore'] }));
  await until(async () => (await fetch(oddBase + '/v1/config')).status === 200);
  const t5 = Date.now();
  const listing = fetch(oddBase + '/v1/boxes', { headers: auth }).then((r) => r.json());
  await sleep(200);
  const t6 = Date.now();
  const meanwhile = await fetch(oddBase + '/v1/metrics?scope=local', { headers: auth });
  const quick = Date.now() - t6;
  const j5 = await listing;
  console.log(`with a silent peer: the list took ${Date.now() - t5} ms, another request meanwhile ${quick} ms`);
  c.check('a silent peer: the list answers, naming it missing', j5.missing_nodes?.length === 1 &&
    j5.missing_nodes[0].peer.startsWith('127.0.0.6:') && boxes.every((b) => j5.boxes.some((x) => x.id === b.id)),
  JSON.stringify(j5.missing_nodes));
  c.check('meanwhile the node answers other requests', meanwhile.status === 200);
  await new Promise((ok) => { p5.once('exit', ok); p5.kill('SIGTERM'); });
  hole.close();

  // boxlet's own CLI through the proxy: ids, and a name followed to its node.
  const cli = (...args) => spawnSync(boxlet, ['--url', base(), ...args],
    { encoding: 'utf8', env: { ...process.env, BOXLET_API_KEY: key } });
  let r = cli('exec', 'clusternamed', 'echo', 'by-name');
  c.check('boxlet --url PROXY exec NAME', r.status === 0 && r.stdout === 'by-name\n', r.stdout + r.stderr);
  r = cli('exec', b3.id, 'echo', 'by-id');
  c.check('boxlet --url PROXY exec ID', r.status === 0 && r.stdout === 'by-id\n', r.stdout + r.stderr);
  r = cli('ls', '-q');
  c.check('boxlet --url PROXY ls shows every node\'s boxes', r.status === 0 && boxes.every((b) => r.stdout.includes(b.id)), r.stdout + r.stderr);

  for (const b of [...boxes, ...later, named]) await rt.remove(b.id, true);
  listed = await rt.listInfo();
  c.check('every box removed through the proxy', listed.length === 0, JSON.stringify(listed.map((b) => b.id)));

  // Each node stops cleanly on SIGTERM (under ASan: no leak either).
  for (const n of nodes) {
    const p = n.proc;
    const code = await new Promise((ok) => { p.once('exit', (cd, sig) => ok(sig ?? cd)); p.kill('SIGTERM'); });
    n.proc = null;
    c.check(`${n.name} exits 0 on SIGTERM`, code === 0, String(code));
  }
}

function stopAll() {
  for (const p of children) p.kill('SIGKILL');
}

main().then(() => { stopAll(); c.done(); },
  (e) => { console.log(`FAIL exception ${e.stack || e}`); c.failed++; stopAll(); c.done(); });
