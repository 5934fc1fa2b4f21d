// BoxLite's own Node SDK (@boxlite-ai/boxlite, REST mode, unchanged) driving
// `boxlet serve`'s box state routes (docs/state.md): a snapshot is created,
// listed and read back, and restoring it brings back a file's earlier
// content and loses what was written after it; cloneBox yields a box with
// the parent's files that then goes its own way; volumes.create/list/get/
// remove work, and a managed volume mounted into two boxes shows one box's
// writes to the other; export then importBox reproduces a box's files in a
// new box. argv: the server URL, its API key. Prints "N passed, N failed".
import { ApiKeyCredential, JsBoxlite, BoxliteRestOptions } from '@boxlite-ai/boxlite';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [, , url, key] = process.argv;
let passed = 0, failed = 0;
const check = (name, cond, detail = '') => {
  if (cond) passed++; else { failed++; console.log(`FAIL ${name} ${detail}`); }
};

async function drain(stream) {
  let s = '';
  for (;;) { const chunk = await stream.next(); if (chunk === null) return s; s += chunk; }
}

// sh -c script in box: {code, out}.
async function sh(box, script) {
  const ex = await box.exec('sh', ['-c', script], null, false, null, 60, null);
  const out = drain(await ex.stdout()), err = drain(await ex.stderr());
  const res = await ex.wait();
  return { code: res.exitCode, out: await out, err: await err };
}

const made = { boxes: [], volumes: [] };

async function snapshots(rt) {
  const box = await rt.create({ image: 'host' }, 'st-snap');
  made.boxes.push('st-snap');
  let r = await sh(box, 'echo before > /st-file && cat /st-file');
  check('write before the snapshot', r.code === 0 && r.out === 'before\n', JSON.stringify(r));
  await box.stop();

  const s = await box.snapshot.create('s1');
  check('snapshot create', s && s.name === 's1' && s.boxId === box.id && s.id.length > 0,
    JSON.stringify(s));
  const list = await box.snapshot.list();
  check('snapshot list', list.length === 1 && list[0].name === 's1', JSON.stringify(list));
  const got = await box.snapshot.get('s1');
  check('snapshot get', got && got.id === s.id && got.name === 's1', JSON.stringify(got));
  const none = await box.snapshot.get('st-no-such').catch((e) => e);
  check('snapshot get of a missing one', none === null || none instanceof Error, String(none));

  r = await sh(box, 'echo after > /st-file && echo later > /st-later && cat /st-file /st-later');
  check('write after the snapshot', r.out === 'after\nlater\n', JSON.stringify(r));
  const busy = await box.snapshot.restore('s1').then(() => 'restored', (e) => e);
  check('restore of a running box is refused', busy instanceof Error, String(busy));
  await box.stop();
  await box.snapshot.restore('s1');
  r = await sh(box, 'cat /st-file; test -e /st-later && echo later-still-there; true');
  check('restore brings the earlier content back', r.out === 'before\n', JSON.stringify(r));
  await box.stop();

  const clone = await box.cloneBox(null, 'st-clone');
  made.boxes.push('st-clone');
  check('cloneBox', clone && clone.id !== box.id && clone.name === 'st-clone', clone && clone.id);
  r = await sh(clone, 'cat /st-file');
  check('the clone has the parent\'s files', r.out === 'before\n', JSON.stringify(r));
  await sh(clone, 'echo clone > /st-file');
  r = await sh(box, 'cat /st-file');
  check('the clone is independent', r.out === 'before\n', JSON.stringify(r));
  r = await sh(clone, 'cat /st-file');
  check('the clone keeps its own writes', r.out === 'clone\n', JSON.stringify(r));

  await box.stop();
  await box.snapshot.remove('s1');
  check('snapshot remove', (await box.snapshot.list()).length === 0);
}

async function volumes(rt) {
  const v = await rt.volumes.create('st-vol');
  made.volumes.push('st-vol');
  check('volumes.create', v && v.name === 'st-vol' && v.id, JSON.stringify(v));
  const list = await rt.volumes.list();
  check('volumes.list', list.some((x) => x.name === 'st-vol'), JSON.stringify(list));
  const got = await rt.volumes.get(v.id);
  check('volumes.get', got && got.name === 'st-vol', JSON.stringify(got));

  const spec = [{ managedVolume: 'st-vol', guestPath: '/data' }];
  const a = await rt.create({ image: 'host', volumes: spec }, 'st-vol-a');
  made.boxes.push('st-vol-a');
  const b = await rt.create({ image: 'host', volumes: spec }, 'st-vol-b');
  made.boxes.push('st-vol-b');
  let r = await sh(a, 'echo from-a > /data/shared && sync');
  check('box a writes the volume', r.code === 0, JSON.stringify(r));
  r = await sh(b, 'cat /data/shared');
  check('box b reads box a\'s write', r.out === 'from-a\n', JSON.stringify(r));

  const inUse = await rt.volumes.remove('st-vol').then(() => 'removed', (e) => e);
  check('removing a volume in use is refused', inUse instanceof Error, String(inUse));
  for (const n of ['st-vol-a', 'st-vol-b']) {
    await rt.remove(n, true);
    made.boxes.splice(made.boxes.indexOf(n), 1);
  }
  await rt.volumes.remove('st-vol');
  made.volumes.pop();
  const gone = await rt.volumes.get('st-vol').then((x) => x, (e) => e);
  check('volumes.remove', gone === null || gone instanceof Error, String(gone));
}

async function exportImport(rt) {
  const box = await rt.create({ image: 'host', env: [{ key: 'CARRIED', value: 'yes' }] }, 'st-exp');
  made.boxes.push('st-exp');
  let r = await sh(box, 'mkdir -p /srv/app && echo payload > /srv/app/data && ln -s data /srv/app/link');
  check('write before export', r.code === 0, JSON.stringify(r));
  await box.stop();
  const dir = mkdtempSync(join(tmpdir(), 'boxlet-st-'));
  try {
    const path = join(dir, 'st-exp.boxlite');
    const out = await box.export(path);
    check('export writes the archive', statSync(out || path).size > 1024, String(out));
    const copy = await rt.importBox(out || path, 'st-imp');
    made.boxes.push('st-imp');
    check('importBox', copy && copy.name === 'st-imp' && copy.id !== box.id, copy && copy.id);
    r = await sh(copy, 'cat /srv/app/data /srv/app/link; echo $CARRIED');
    check('the imported box has the files and options', r.out === 'payload\npayload\nyes\n', JSON.stringify(r));
    const again = await rt.importBox(out || path, 'st-imp').then(() => 'imported', (e) => e);
    check('a name taken is refused', again instanceof Error, String(again));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const rt = JsBoxlite.rest(new BoxliteRestOptions({ url, credential: key ? new ApiKeyCredential(key) : undefined }));
  try {
    await snapshots(rt);
    await volumes(rt);
    await exportImport(rt);
  } finally {
    for (const n of made.boxes) await rt.remove(n, true).catch(() => {});
    for (const n of made.volumes) await rt.volumes.remove(n, true).catch(() => {});
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.log(`FAIL exception ${e.stack || e}`); console.log(`${passed} passed, ${failed + 1} failed`); process.exit(1); });
