// The attaches of one box share one agent connection in `boxlet serve`
// (channels, with per-channel pause and resume). This checks what sharing
// must not cost:
//  - a client that stops reading (its socket paused) stalls neither the
//    server nor another attach of the same box: the other keeps receiving
//    its lines on time while the first is stalled;
//  - the stalled owner loses nothing: its process waited (the agent paused
//    its channel) and every byte arrives once the client reads again;
//  - an observer of the stalled execution (boxlet.v1), reading normally,
//    accounts for every byte: received, or reported in a gap frame (an
//    observer never paces the process; it may fall behind the retained
//    window when the owner's burst comes, and is told so).
// argv: base URL, API key.
import WebSocket from 'ws';

const [, , base, key] = process.argv;
const auth = key ? { Authorization: `Bearer ${key}` } : {};
let passed = 0, failed = 0;
const check = (n, c, d = '') => { if (c) passed++; else { failed++; console.log(`FAIL ${n} ${d}`); } };
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const wsBase = base.replace(/^http/, 'ws');

async function api(method, path, body) {
  const r = await fetch(base + path, { method, headers: { ...auth, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined });
  const t = await r.text();
  return { status: r.status, json: t ? JSON.parse(t) : null };
}

// Attaches and collects: resolves {bytes, gapped, exit, chunks (when keep), ws}.
function attach(eid, query = '', protocol = undefined) {
  const r = { bytes: 0, gapped: 0, exit: null, chunks: [] };
  r.done = new Promise((resolve) => {
    r.ws = new WebSocket(`${wsBase}/v1/boxes/share/executions/${eid}/attach${query}`, protocol, { headers: auth });
    r.ws.on('message', (d, bin) => {
      if (bin) {
        r.bytes += d.length - 1;
        if (r.keep) r.chunks.push(d.subarray(1));
      } else {
        const m = JSON.parse(d.toString());
        if (m.type === 'exit') r.exit = m;
        if (m.type === 'gap') r.gapped += m.to - m.from;
      }
    });
    r.ws.on('close', resolve);
  });
  r.opened = new Promise((ok) => r.ws.on('open', ok));
  return r;
}

async function main() {
  check('create box', (await api('POST', '/v1/boxes', { name: 'share', image: 'host' })).status === 201);
  const total = 32 * 1024 * 1024; // more than every buffer on the way holds
  // A flood that waits for "go", so both readers are attached first.
  const flood = await api('POST', '/v1/boxes/share/exec',
    { command: 'sh', args: ['-c', `read go; head -c ${total} /dev/zero | tr '\\0' x`] });
  const tick = await api('POST', '/v1/boxes/share/exec',
    { command: 'sh', args: ['-c', 'read go; i=0; while [ $i -lt 30 ]; do echo $i; i=$((i+1)); sleep 0.05; done'] });
  const owner = attach(flood.json.execution_id);
  const observer = attach(flood.json.execution_id, '?stdin=false', 'boxlet.v1');
  const ticker = attach(tick.json.execution_id);
  await Promise.all([owner.opened, observer.opened, ticker.opened]);

  owner.ws._socket.pause(); // the stalled client: it reads nothing for a while
  owner.ws.send(Buffer.from('go\n'));
  ticker.ws.send(Buffer.from('go\n'));
  // The owner stays stalled until the ticker's attach ended (its 30 lines
  // and exit), or a minute passed: what is checked is that all of it came
  // while the owner read nothing, however slow the machine.
  await Promise.race([ticker.done, sleep(60000)]);
  const bytesDuring = ticker.bytes, exitDuring = ticker.exit;
  const during = await api('GET', `/v1/boxes/share/executions/${flood.json.execution_id}`);
  owner.ws._socket.resume();
  await Promise.all([owner.done, observer.done, ticker.done]);

  const want = 10 * 2 + 20 * 3; // "0\n" .. "29\n"
  check('the other attach streamed on while one client was stalled', bytesDuring === want,
    `${bytesDuring} of ${want} bytes arrived during the stall`);
  check('its exit, during the stall too', exitDuring && exitDuring.exit_code === 0, JSON.stringify(exitDuring));
  check('the stalled owner\'s process was held back (still running)',
    during.json && during.json.status === 'running', JSON.stringify(during.json));
  check('the stalled owner got every byte', owner.bytes === total, `${owner.bytes} of ${total}`);
  check('its exit after all output', owner.exit && owner.exit.exit_code === 0, JSON.stringify(owner.exit));
  check('the observer of the same execution accounts for every byte (received or gap)',
    observer.bytes + observer.gapped === total, `${observer.bytes} + ${observer.gapped} gap of ${total}`);
  check('its exit too', observer.exit && observer.exit.exit_code === 0, JSON.stringify(observer.exit));
  // The box restarts under an attach: the attach ends, and attaches to the
  // new agent work (the old shared connection is not reused).
  const sleeper = await api('POST', '/v1/boxes/share/exec', { command: 'sleep', args: ['30'] });
  const held = attach(sleeper.json.execution_id, '?stdin=false');
  await held.opened;
  check('stop', (await api('POST', '/v1/boxes/share/stop')).status < 300);
  check('start', (await api('POST', '/v1/boxes/share/start')).status < 300);
  const ended = await Promise.race([held.done.then(() => true), sleep(15000).then(() => false)]);
  check('the attach ended with the box', ended);
  const again = await api('POST', '/v1/boxes/share/exec', { command: 'echo', args: ['again'] });
  const fresh = attach(again.json.execution_id);
  fresh.keep = true;
  await fresh.done;
  check('an attach after the restart works', Buffer.concat(fresh.chunks).toString() === 'again\n' &&
    fresh.exit && fresh.exit.exit_code === 0, JSON.stringify(fresh.exit));
  check('remove box', (await api('DELETE', '/v1/boxes/share?force=true')).status === 204);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
main().catch((e) => { console.log(`FAIL ${e.stack}`); console.log(`${passed} passed, ${failed + 1} failed`); process.exit(1); });
