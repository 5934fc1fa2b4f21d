// BoxLite's own Node SDK (@boxlite-ai/boxlite, REST mode) driving `boxlet
// serve` unchanged: create a box, exec with env, working_dir and timeout,
// read stdout and stderr, write stdin and close it, wait for the exit code,
// signal, kill, stop, remove. argv: the server URL, its API key (the
// credential travels in the SDK's REST options). Prints "N passed, N failed".
import { ApiKeyCredential, JsBoxlite, BoxliteRestOptions } from '@boxlite-ai/boxlite';

const [, , url, key] = process.argv;
let passed = 0, failed = 0;
const check = (name, cond, detail = '') => {
  if (cond) passed++; else { failed++; console.log(`FAIL ${name} ${detail}`); }
};

async function drain(stream) {
  let s = '';
  for (;;) { const chunk = await stream.next(); if (chunk === null) return s; s += chunk; }
}

async function run(box, cmd, args, env, opts = {}) {
  const ex = await box.exec(cmd, args, env, false, null, opts.timeout ?? null, opts.dir ?? null);
  const out = drain(await ex.stdout()), err = drain(await ex.stderr());
  if (opts.stdin !== undefined) {
    const w = await ex.stdin();
    await w.write(Buffer.from(opts.stdin));
    await w.close();
  }
  if (opts.during) await opts.during(ex);
  const res = await ex.wait();
  return { res, out: await out, err: await err };
}

async function main() {
  const rt = JsBoxlite.rest(new BoxliteRestOptions({ url, credential: key ? new ApiKeyCredential(key) : undefined }));
  // BOXLET_TEST_IMAGE: the image of a run on vm boxes (test_server_ws.sh).
  // The box has the SDK's default network, as a user's would.
  const vm = !!process.env.BOXLET_TEST_IMAGE;
  const box = await rt.create({ image: process.env.BOXLET_TEST_IMAGE || 'host',
    workingDir: '/tmp', env: [{ key: 'BOXV', value: 'boxdefault' }] }, 'sdkbox');
  check('create', !!box);
  if (vm) { // a vm box: its pid 1 is the guest's init (serve --isolation vm)
    const r = await run(box, 'sh', ['-c', "tr '\\0' ' ' < /proc/1/cmdline"], null);
    check('the box is a VM', r.out.includes('--vm-init'), JSON.stringify(r.out));
  }

  let r = await run(box, 'sh', ['-c', 'echo "$BOXV $MINE $(pwd)"; echo to-stderr >&2; read line; echo "got $line"; exit 3'],
    [['MINE', 'execenv']], { dir: '/usr', stdin: 'typed input\n' });
  check('stdout with env and working_dir', r.out === 'boxdefault execenv /usr\ngot typed input\n', JSON.stringify(r.out));
  check('stderr', r.err === 'to-stderr\n', JSON.stringify(r.err));
  check('exit code', r.res.exitCode === 3, JSON.stringify(r.res));

  const t0 = Date.now();
  r = await run(box, 'sleep', ['30'], null, { timeout: 1 });
  check('timeout ends it', Date.now() - t0 < 20000 && r.res.exitCode !== 0, JSON.stringify(r.res));

  r = await run(box, 'sh', ['-c', "trap 'echo got-term; exit 9' TERM; echo ready; while :; do sleep 0.05; done"], null, {
    during: async (ex) => { await new Promise((ok) => setTimeout(ok, 500)); await ex.signal(15); },
  });
  check('signal', r.out.includes('got-term') && r.res.exitCode === 9, JSON.stringify([r.out, r.res]));

  r = await run(box, 'sleep', ['30'], null, {
    during: async (ex) => { await new Promise((ok) => setTimeout(ok, 300)); await ex.kill(); },
  });
  check('kill', r.res.exitCode !== 0, JSON.stringify(r.res));

  await box.stop();
  check('stop', true);
  await rt.remove('sdkbox', true);
  check('remove', true);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.log(`FAIL exception ${e.stack || e}`); console.log(`${passed} passed, ${failed + 1} failed`); process.exit(1); });
