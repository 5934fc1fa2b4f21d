// BoxLite's Files routes on a real `boxlet serve` (started here, with a
// 64 KiB --max-body): BoxLite's own Node SDK (REST mode, unchanged) copies a
// file and a directory tree in and out, byte-exact with modes; raw HTTP gets
// each status (401, 404, 409, 400 for a mount, 411 without a length, an
// upload over --max-body accepted); an upload cut midway leaves nothing in
// the box; a 2 GiB upload and download stream through with the server's
// peak RSS (VmHWM) reported and under 64 MiB (512 MiB sanitized). argv:
// boxlet binary.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ApiKeyCredential, BoxliteRestOptions, JsBoxlite } from '@boxlite-ai/boxlite';
import { api, authHeaders, counter, sleep, startServer } from './serve.mjs';

const [, , boxlet] = process.argv;
const t = counter(), check = t.check;
const BIG = 2 * 1024 ** 3;
const hwmKib = (pid) => parseInt(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1], 10);

// A ustar header for one regular file.
function tarHeader(name, size, mode = 0o644) {
  const h = Buffer.alloc(512);
  const oct = (v, len, off) => h.write(v.toString(8).padStart(len - 1, '0') + '\0', off, 'ascii');
  h.write(name, 0, 'utf8');
  oct(mode, 8, 100); oct(0, 8, 108); oct(0, 8, 116); oct(size, 12, 124); oct(1700000000, 12, 136);
  h.write('0', 156, 'ascii');
  h.write('ustar\u000000', 257, 'ascii');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

function tarOf(name, data, mode) {
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([tarHeader(name, data.length, mode), data, pad, Buffer.alloc(1024)]);
}

const url = (base, box, p, extra = '') => `${base}/v1/boxes/${box}/files?path=${encodeURIComponent(p)}${extra}`;

async function put(base, box, p, body, extra = '', headers = authHeaders()) {
  const r = await fetch(url(base, box, p, extra), { method: 'PUT', headers: { ...headers, 'content-type': 'application/x-tar' }, body });
  return { status: r.status, text: await r.text() };
}

async function get(base, box, p, extra = '') {
  const r = await fetch(url(base, box, p, extra), { headers: { ...authHeaders(), accept: 'application/x-tar' } });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()), type: r.headers.get('content-type') };
}

// Runs sh -c script in the box (BoxLite's SDK) and returns its stdout.
async function sh(box, script) {
  const ex = await box.exec('sh', ['-c', script], null, false);
  const out = await ex.stdout();
  let s = '';
  for (;;) { const c = await out.next(); if (c === null) break; s += c; }
  await ex.wait();
  return s;
}

// Every regular file, directory and its mode under dir, with file hashes.
function tree(dir) {
  const out = [];
  const walk = (d, rel) => {
    for (const e of fs.readdirSync(d).sort()) {
      const p = path.join(d, e), st = fs.lstatSync(p), r = path.join(rel, e);
      if (st.isDirectory()) { out.push(`${r}/ ${(st.mode & 0o7777).toString(8)}`); walk(p, r); }
      else out.push(`${r} ${(st.mode & 0o7777).toString(8)} ${createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir, '');
  return out.join('\n');
}

async function sdkRoundTrips(box, tmp, base) {
  const f = path.join(tmp, 'blob.bin');
  fs.writeFileSync(f, Buffer.from(Array.from({ length: 300000 }, (_, i) => (i * 7 + (i >> 9)) & 255)));
  fs.chmodSync(f, 0o751);
  await box.copyIn(f, '/tmp/in/blob.bin');
  check('copyIn file: in the box with its mode', (await sh(box, 'stat -c %a /tmp/in/blob.bin')).trim() === '751');
  fs.mkdirSync(path.join(tmp, 'back'));
  await box.copyOut('/tmp/in/blob.bin', path.join(tmp, 'back', 'blob.bin'));
  const back = path.join(tmp, 'back', 'blob.bin');
  check('copyOut file: byte-exact', fs.existsSync(back) && fs.readFileSync(back).equals(fs.readFileSync(f)));
  // BoxLite's SDK writes a single file it copies out with its own default
  // mode (its tree extraction keeps modes, checked below); the archive the
  // server sends carries the file's mode.
  const raw = await fetch(`${base}/v1/boxes/files/files?path=%2Ftmp%2Fin%2Fblob.bin`, { headers: authHeaders() });
  const head = Buffer.from(await raw.arrayBuffer()).subarray(0, 512);
  check('GET file: its mode in the archive', parseInt(head.subarray(100, 107).toString(), 8) === 0o751, head.subarray(100, 107).toString());

  const src = path.join(tmp, 'tree');
  fs.mkdirSync(path.join(src, 'sub', 'deeper'), { recursive: true });
  fs.mkdirSync(path.join(src, 'empty'));
  fs.writeFileSync(path.join(src, 'a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(src, 'sub', 'run.sh'), '#!/bin/sh\necho hi\n');
  fs.writeFileSync(path.join(src, 'sub', 'deeper', 'secret'), Buffer.alloc(70000, 0x5a));
  fs.chmodSync(path.join(src, 'sub', 'run.sh'), 0o755);
  fs.chmodSync(path.join(src, 'sub', 'deeper', 'secret'), 0o600);
  fs.chmodSync(path.join(src, 'sub', 'deeper'), 0o750);
  await box.copyIn(src, '/tmp/treein');
  check('copyIn tree: modes in the box',
    (await sh(box, 'cd /tmp/treein && stat -c "%n %a" a.txt sub/run.sh sub/deeper sub/deeper/secret empty')) ===
      'a.txt 644\nsub/run.sh 755\nsub/deeper 750\nsub/deeper/secret 600\nempty 755\n');
  const dst = path.join(tmp, 'treeout');
  await box.copyOut('/tmp/treein', dst);
  const got = fs.existsSync(path.join(dst, 'a.txt')) ? dst : path.join(dst, 'treein');
  check('copyOut tree: byte-exact with modes', tree(got) === tree(src), `\n${tree(got)}\n--\n${tree(src)}`);
}

async function statuses(base, box) {
  const one = tarOf('x.txt', Buffer.from('x\n'));
  check('401 without the key', (await put(base, 'files', '/tmp/k', one, '', {})).status === 401);
  check('404 unknown box (PUT)', (await put(base, 'nosuchbox', '/tmp/k', one)).status === 404);
  check('404 unknown box (GET)', (await get(base, 'nosuchbox', '/tmp')).status === 404);
  const missing = await get(base, 'files', '/tmp/no/such/file');
  check('404 missing source, as JSON', missing.status === 404 && /not_found/.test(missing.body.toString()), missing.status);
  check('400 without path', (await fetch(`${base}/v1/boxes/files/files`, { headers: authHeaders() })).status === 400);
  check('400 relative path', (await get(base, 'files', 'tmp')).status === 400);
  // libwebsockets drops a request whose URI holds %00 before it is routed;
  // files.c refuses one too (a NUL would cut the path short).
  const nul = await fetch(`${base}/v1/boxes/files/files?path=%2Ftmp%2Fa%00b`, { method: 'PUT', headers: authHeaders(), body: one })
    .then((r) => r.status, () => 'dropped');
  check('an encoded NUL in the path is refused', nul === 400 || nul === 'dropped', nul);
  check('... and nothing was written', (await sh(box, 'ls /tmp/a /tmp/a?b 2>/dev/null | wc -l')).trim() === '0');
  check('204 upload', (await put(base, 'files', '/tmp/k.txt', one)).status === 204);
  check('409 existing without overwrite', (await put(base, 'files', '/tmp/k.txt', one, '&overwrite=false')).status === 409);
  check('204 overwrite', (await put(base, 'files', '/tmp/k.txt', one, '&overwrite=true')).status === 204);
  check('400 destination on a mount (/proc)', (await put(base, 'files', '/proc/x', one)).status === 400);
  check('400 destination on a mount (/usr bind)', (await put(base, 'files', '/usr/x', one)).status === 400);
  check('400 source on a mount', (await get(base, 'files', '/proc/self/status')).status === 400);
  const bad = await put(base, 'files', '/tmp/notar', Buffer.alloc(2048, 0x41));
  check('400 not a tar', bad.status === 400, bad.status);
  check('nothing left of a refused archive', (await sh(box, 'ls -a /tmp | grep -c -e notar -e boxlet-put')).trim() === '0');
  const big = Buffer.from(Array.from({ length: 200000 }, (_, i) => i & 255));
  check('upload over --max-body accepted', (await put(base, 'files', '/tmp/over.bin', tarOf('over.bin', big))).status === 204);
  const dl = await get(base, 'files', '/tmp/over.bin');
  check('download: a tar of the file', dl.status === 200 && dl.type === 'application/x-tar' &&
    dl.body.subarray(0, 8).toString() === 'over.bin' && dl.body.subarray(512, 512 + big.length).equals(big));
  check('411 without Content-Length', (await chunkedPut(base, one)) === 411);
}

// A PUT with Transfer-Encoding: chunked: its status.
function chunkedPut(base, body) {
  return new Promise((resolve, reject) => {
    const rq = http.request(url(base, 'files', '/tmp/chunked'), { method: 'PUT', headers: { ...authHeaders(), 'transfer-encoding': 'chunked' } },
      (res) => { res.resume(); resolve(res.statusCode); });
    rq.on('error', reject);
    rq.end(body);
  });
}

// Sends the head and part of a 4 MiB archive's body, then cuts the connection.
function cutUpload(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      const total = 512 + (4 << 20) + 1024;
      s.write(`PUT /v1/boxes/files/files?path=%2Ftmp%2Fcut.bin HTTP/1.1\r\nHost: x\r\nAuthorization: ${authHeaders().Authorization}\r\n` +
        `Content-Type: application/x-tar\r\nContent-Length: ${total}\r\n\r\n`);
      s.write(tarHeader('cut.bin', 4 << 20));
      s.write(Buffer.alloc(1 << 20, 0x33), () => setTimeout(() => { s.destroy(); resolve(); }, 300));
    });
    s.on('error', () => resolve());
  });
}

// Streams a BIG-byte file (a repeating pattern) up as a tar: its sha256.
function bigUpload(port) {
  const block = Buffer.alloc(1 << 20);
  for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 255;
  const hash = createHash('sha256');
  return new Promise((resolve, reject) => {
    const rq = http.request({ host: '127.0.0.1', port, method: 'PUT', path: '/v1/boxes/files/files?path=%2Fbig.bin',
      headers: { ...authHeaders(), 'content-type': 'application/x-tar', 'content-length': 512 + BIG + 1024 } },
    (res) => { res.resume(); res.on('end', () => resolve({ status: res.statusCode, sum: hash.digest('hex') })); });
    rq.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < BIG) {
        hash.update(block);
        sent += block.length;
        if (!rq.write(block)) return rq.once('drain', pump);
      }
      rq.end(Buffer.alloc(1024));
    };
    rq.write(tarHeader('big.bin', BIG));
    pump();
  });
}

// Streams the big file down: status, the content's sha256 and length.
function bigDownload(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/v1/boxes/files/files?path=%2Fbig.bin', headers: authHeaders() }, (res) => {
      const hash = createHash('sha256');
      let at = 0, got = 0;
      res.on('data', (d) => {
        const from = Math.max(0, 512 - at), to = Math.min(d.length, 512 + BIG - at);
        if (to > from) { hash.update(d.subarray(from, to)); got += to - from; }
        at += d.length;
      });
      res.on('end', () => resolve({ status: res.statusCode, sum: hash.digest('hex'), got }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

async function main() {
  const srv = await startServer(boxlet, ['--max-body', '65536']);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'boxlet-files-'));
  try {
    check('create', (await api(srv.base, 'POST', '/v1/boxes', { name: 'files', image: 'host' })).status === 201);
    const rt = JsBoxlite.rest(new BoxliteRestOptions({ url: srv.base, credential: new ApiKeyCredential(authHeaders().Authorization.slice(7)) }));
    const box = await rt.get('files');
    await sdkRoundTrips(box, tmp, srv.base);
    await statuses(srv.base, box);

    await cutUpload(srv.port);
    let left = '';
    for (let i = 0; i < 50; i++) { // the server notices the cut when it reads the socket
      left = (await sh(box, 'ls -a /tmp | grep -e cut.bin -e boxlet-put')).trim();
      if (!left) break;
      await sleep(100);
    }
    check('a cut upload leaves nothing', left === '', left);

    const up = await bigUpload(srv.port);
    check('2 GiB upload', up.status === 204, up.status);
    check('2 GiB in the box', (await sh(box, 'stat -c %s /big.bin')).trim() === String(BIG));
    const down = await bigDownload(srv.port);
    check('2 GiB download byte-exact', down.status === 200 && down.got === BIG && down.sum === up.sum, JSON.stringify(down));
    const hwm = hwmKib(srv.proc.pid);
    console.log(`server peak RSS (VmHWM) after 2 GiB up and down: ${(hwm / 1024).toFixed(1)} MiB`);
    // A sanitized server keeps freed chunks in ASan's quarantine (256 MiB)
    // and carries shadow memory: the bound is the plain build's.
    const sanitized = fs.readFileSync(boxlet).includes('AddressSanitizer');
    const maxMib = sanitized ? 512 : 64;
    check(`server peak RSS < ${maxMib} MiB`, hwm < maxMib * 1024, `${hwm} KiB`);
    await sh(box, 'rm -f /big.bin');
  } finally {
    await api(srv.base, 'DELETE', '/v1/boxes/files?force=true').catch(() => {});
    srv.proc.kill();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  t.done();
}

main().catch((e) => { console.log(`FAIL exception ${e.stack || e}`); t.failed++; t.done(); });
