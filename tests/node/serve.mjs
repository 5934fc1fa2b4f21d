// What the node tests that start `boxlet serve` themselves share: a result
// counter, a sleep, starting a server on a free port (resolved once it
// reports the port on --ready-fd), its credential (the token the server
// keeps in $BOXLET_HOME/serve.token, as a client on this machine finds it)
// and a JSON REST call that sends it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

let token = null;
// The Authorization header of the server startServer started last.
export const authHeaders = () => (token ? { Authorization: `Bearer ${token}` } : {});

export function counter() {
  const c = { passed: 0, failed: 0 };
  c.check = (name, cond, detail = '') => {
    if (cond) c.passed++;
    else { c.failed++; console.log(`FAIL ${name} ${detail}`); }
  };
  c.done = () => { console.log(`${c.passed} passed, ${c.failed} failed`); process.exit(c.failed ? 1 : 0); };
  return c;
}

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// Starts `boxlet serve --port 0` with extra args: {proc, port, base}.
export function startServer(boxlet, extra = []) {
  return new Promise((resolve, reject) => {
    const p = spawn(boxlet, ['serve', '--port', '0', '--ready-fd', '3', ...extra],
      { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
    p.stdio[3].once('data', (d) => {
      const port = parseInt(d.toString(), 10);
      token = readFileSync(`${process.env.BOXLET_HOME}/serve.token`, 'utf8').trim();
      resolve({ proc: p, port, base: `http://127.0.0.1:${port}` });
    });
    p.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

export async function api(base, method, path, body) {
  const r = await fetch(base + path, { method, headers: { ...authHeaders(), 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, json: await r.json().catch(() => null) };
}
