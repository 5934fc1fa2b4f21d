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
function attach(box, eid, { query = '', headers = auth, onOpen, protocol } = {}) {
  return new Promise((resolve) => {
    const url = `${wsBase}/v1/boxes/${box}/executions/${eid}/attach${query}`;
    const ws = protocol ? new WebSocket(url, protocol, { headers }) : new WebSocket(url, { headers });
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
    // What only the agent knows refuses the attach after the upgrade: an
    // error frame, then Close 4000 + the HTTP status the upgrade would have had.
    ws.on('close', (code) => resolve({ ...res, close: code, protocol: ws.protocol,
      ...(code >= 4000 && code < 5000 ? { http: code - 4000 } : {}) }));
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
  for (let i = 0; i < 500; i++) {
    const id = await exec('wsbox', 'echo', [`line ${i}`]);
    const x = await attach('wsbox', id);
    if (x.out.toString() !== `line ${i}\n` || !x.exit || x.exitBeforeData) incomplete++;
  }
  check('500 fast commands: all output before exit', incomplete === 0, `${incomplete} incomplete`);

  console.log('progress: fast commands done');
  // one stdin owner; observers see the same bytes
  eid = await exec('wsbox', 'sh', ['-c', 'read go; seq 1 20000']);
  const ownerP = attach('wsbox', eid, { onOpen: (ws) => setTimeout(() => ws.send(Buffer.from('go\n')), 300) });
  await new Promise((ok) => setTimeout(ok, 100));
  const second = await attach('wsbox', eid);
  check('second stdin owner refused with 409', second.http === 409, JSON.stringify(second.http));
  const why = second.texts && second.texts.find((t) => t.type === 'error');
  check('... with an error frame saying why', why && why.status === 409 && why.boxlet_code === 'conflict' &&
    /stdin/.test(why.message) && second.out.length === 0, JSON.stringify(second.texts));
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

  // no frame ends inside a UTF-8 sequence (BoxLite's SDK decodes each alone)
  eid = await exec('wsbox', 'sh', ['-c', "printf 'a\\342'; sleep 0.3; printf '\\202\\254b\\n'"]);
  const frames = [];
  await new Promise((resolve) => {
    const ws = new WebSocket(`${wsBase}/v1/boxes/wsbox/executions/${eid}/attach`, { headers: auth });
    ws.on('message', (d, bin) => { if (bin) frames.push(Buffer.from(d).subarray(1)); });
    ws.on('close', resolve);
  });
  const dec = new TextDecoder('utf-8', { fatal: true });
  let whole = true;
  for (const f of frames) { try { dec.decode(f); } catch { whole = false; } }
  check('frames end on UTF-8 boundaries', whole && Buffer.concat(frames).toString() === 'a€b\n',
    JSON.stringify(frames.map((f) => [...f])));

  // plain clients never get a subprotocol they did not ask for
  check('no unrequested subprotocol', r.protocol === '', JSON.stringify(r.protocol));

  // boxlet.v1: resume at an offset
  const seq = (n) => Array.from({ length: n }, (_, i) => `${i + 1}\n`).join('');
  eid = await exec('wsbox', 'seq', ['1', '1000']);
  await new Promise((ok) => setTimeout(ok, 300));
  r = await attach('wsbox', eid, { protocol: 'boxlet.v1', query: '?stdout_offset=100' });
  const at = r.texts.find((t) => t.type === 'attached');
  check('boxlet.v1 negotiated', r.protocol === 'boxlet.v1', r.protocol);
  check('attached frame', at && at.stdout_offset === 100 && at.stdin_offset === 0, JSON.stringify(at));
  check('resume at the offset', r.out.toString() === seq(1000).slice(100), r.out.length);

  // boxlet.v1: an explicit gap for what the window no longer holds
  eid = await exec('wsbox', 'seq', ['1', '300000']);
  await new Promise((ok) => setTimeout(ok, 1500));
  r = await attach('wsbox', eid, { protocol: 'boxlet.v1' });
  const gap = r.texts.find((t) => t.type === 'gap');
  const total = seq(300000).length;
  check('gap frame', gap && gap.stream === 'stdout' && gap.from === 0 && gap.to === total - r.out.length,
    JSON.stringify(gap));
  check('then the retained bytes', r.out.toString() === seq(300000).slice(total - r.out.length));

  // boxlet.v1: exactly-once stdin across a dropped connection
  eid = await exec('wsbox', 'cat', []);
  await attach('wsbox', eid, { protocol: 'boxlet.v1', onOpen: (ws) => {
    ws.send(Buffer.from('abc'));
    setTimeout(() => ws.terminate(), 300); // gone without a goodbye
  } });
  await new Promise((ok) => setTimeout(ok, 200));
  let again;
  for (let i = 0; i < 20; i++) { // the agent notices the old owner leave
    again = await attach('wsbox', eid, { protocol: 'boxlet.v1', onOpen: (ws) => {
      ws.send(JSON.stringify({ type: 'stdin_offset', offset: 0 })); // unsure: resend all
      ws.send(Buffer.from('abcdef'));
      ws.send(JSON.stringify({ type: 'stdin_eof' }));
    } });
    if (!again.http) break;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  const at2 = again.texts && again.texts.find((t) => t.type === 'attached');
  check('reattach reports the stdin offset', at2 && at2.stdin_offset === 3, JSON.stringify(at2));
  check('stdin exactly once', again.out && again.out.toString() === 'abcdef', JSON.stringify(again.out && again.out.toString()));

  // refused upgrades
  r = await attach('wsbox', 'nosuch');
  check('unknown execution: 404', r.http === 404 && r.close === 4404, `${r.http} ${r.close}`);
  check('... said in an error frame', r.texts.length === 1 && r.texts[0].type === 'error' &&
    r.texts[0].code === 'not_found', JSON.stringify(r.texts));
  r = await attach('wsbox', eid, { headers: {} });
  check('no API key: 401', r.http === 401, r.http);

  const del = await api('DELETE', '/v1/boxes/wsbox?force=true');
  check('remove box', del.status === 204, del.status);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.log(`FAIL exception ${e.stack}`); console.log(`${passed} passed, ${failed + 1} failed`); process.exit(1); });
