// WebSocket attach against a real `boxlet serve` (URL and API key from argv):
// framing both ways, exit after all output, one stdin owner, observers,
// backlog replay, control messages and their errors, refused upgrades.
// Prints "N passed, N failed".
import WebSocket from 'ws';

const [, , base, key] = process.argv;
const auth = { Authorization: `Bearer ${key}` };
const wsBase = base.replace(/^http/, 'ws');
let passed = 0, failed = 0;

function check(name, cond, detail = '') {
  if (cond) passed++;
  else { failed++; console.log(`FAIL ${name} ${detail}`); }
}

async function api(method, path, body) {
  const r = await fetch(base + path, {
    method, headers: { ...auth, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

async function exec(box, command, args, extra = {}) {
  const r = await api('POST', `/v1/boxes/${box}/exec`, { command, args, ...extra });
  if (r.status !== 201) throw new Error(`exec: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.execution_id;
}

// Attaches and collects everything until the socket closes.
function attach(box, eid, { query = '', headers = auth, onOpen } = {}) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${wsBase}/v1/boxes/${box}/executions/${eid}/attach${query}`, { headers });
    const res = { out: Buffer.alloc(0), err: Buffer.alloc(0), texts: [], exitBeforeData: false };
    ws.on('open', () => onOpen && onOpen(ws));
    ws.on('message', (data, binary) => {
      if (binary) {
        const b = Buffer.from(data);
        if (res.exit) res.exitBeforeData = true;
        if (b[0] === 1) res.out = Buffer.concat([res.out, b.subarray(1)]);
        else res.err = Buffer.concat([res.err, b.subarray(1)]);
      } else {
        const m = JSON.parse(data.toString());
        if (m.type === 'exit') res.exit = m; else res.texts.push(m);
      }
    });
    ws.on('unexpected-response', (req, r) => resolve({ http: r.statusCode }));
    ws.on('close', (code) => resolve({ ...res, close: code }));
    ws.on('error', () => {});
    res.ws = ws;
  });
}

async function main() {
  const created = await api('POST', '/v1/boxes', { image: 'host', name: 'wsbox' });
  check('create box', created.status === 201, JSON.stringify(created.json));

  const step = (m) => process.env.DEBUG && console.log(`step: ${m}`);
  // stdin both ways, split streams, exit frame, Close 1000
  let eid = await exec('wsbox', 'sh', ['-c', 'read a; read b; echo "got $a $b"; echo oops >&2; exit 5']);
  let r = await attach('wsbox', eid, { onOpen: (ws) => {
    ws.send(Buffer.from('one\n')); ws.send(Buffer.from('two\n'));
    ws.send(JSON.stringify({ type: 'stdin_eof' }));
  } });
  check('stdout', r.out.toString() === 'got one two\n', JSON.stringify(r.out.toString()));
  check('stderr', r.err.toString() === 'oops\n');
  check('exit frame', r.exit && r.exit.exit_code === 5 && r.exit.status === 'completed', JSON.stringify(r.exit));
  check('close 1000', r.close === 1000, r.close);

  // exit only after all output, for many fast commands
  let incomplete = 0;
  for (let i = 0; i < 100; i++) {
    const id = await exec('wsbox', 'echo', [`line ${i}`]);
    const x = await attach('wsbox', id);
    if (x.out.toString() !== `line ${i}\n` || !x.exit || x.exitBeforeData) incomplete++;
  }
  check('100 fast commands: all output before exit', incomplete === 0, `${incomplete} incomplete`);

  console.log('progress: fast commands done');
  // one stdin owner; observers see the same bytes
  eid = await exec('wsbox', 'sh', ['-c', 'read go; seq 1 20000']);
  const ownerP = attach('wsbox', eid, { onOpen: (ws) => setTimeout(() => ws.send(Buffer.from('go\n')), 300) });
  await new Promise((ok) => setTimeout(ok, 100));
  const second = await attach('wsbox', eid);
  check('second stdin owner refused with 409', second.http === 409, JSON.stringify(second.http));
  const obs = await attach('wsbox', eid, { query: '?stdin=false' });
  const owner = await ownerP;
  if (!obs.out) console.log('observer:', JSON.stringify(obs));
  check('owner got everything', owner.out.length === 108894, owner.out.length);
  check('observer got identical output', Buffer.compare(owner.out, obs.out) === 0, obs.out.length);

  console.log('progress: owner/observer done');
  // backlog replay for a plain client, after the end
  eid = await exec('wsbox', 'sh', ['-c', 'echo early; echo late >&2']);
  await new Promise((ok) => setTimeout(ok, 300));
  r = await attach('wsbox', eid);
  check('backlog replayed', r.out.toString() === 'early\n' && r.err.toString() === 'late\n');

  // control messages: signal works; bad ones get an error frame, the socket stays
  eid = await exec('wsbox', 'sh', ['-c', "trap 'echo usr1; exit 7' USR1; echo ready; while :; do sleep 0.05; done"]);
  r = await attach('wsbox', eid, { onOpen: (ws) => {
    ws.send('not json');
    ws.send(JSON.stringify({ type: 'resize', rows: 10, cols: 10 }));
    ws.send(JSON.stringify({ type: 'signal', sig: 9 }));
    setTimeout(() => ws.send(JSON.stringify({ type: 'signal', sig: 10 })), 400);
  } });
  check('signal via WebSocket', r.out.toString().includes('usr1') && r.exit && r.exit.exit_code === 7, JSON.stringify(r.exit));
  check('three error frames', r.texts.filter((t) => t.type === 'error').length === 3, JSON.stringify(r.texts));

  // refused upgrades
  r = await attach('wsbox', 'nosuch');
  check('unknown execution: 404', r.http === 404, r.http);
  r = await attach('wsbox', eid, { headers: {} });
  check('no API key: 401', r.http === 401, r.http);

  const del = await api('DELETE', '/v1/boxes/wsbox?force=true');
  check('remove box', del.status === 204, del.status);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.log(`FAIL exception ${e.stack}`); console.log(`${passed} passed, ${failed + 1} failed`); process.exit(1); });
