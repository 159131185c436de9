// The Scriptgate server under test, in its own process, run as `npm start`
// runs it (dist/scriptgate.mjs: the CommonJS bundle through V8's code cache),
// so every figure is the product's. Prints one JSON line {port, pid} once
// /healthz answers; stops as the server does on SIGTERM (draining, exit 0).
import { request } from 'node:http';
import { createServer } from 'node:net';
import { pathToFileURL } from 'node:url';

/** A port free a moment ago: the server reads PORT from the environment and logs its URL only at info level. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function healthy(port) {
  return new Promise((resolve) => {
    const asked = request({ host: '127.0.0.1', port, path: '/healthz' }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    asked.once('error', () => resolve(false));
    asked.end();
  });
}

// With an IPC channel (the bench's memory module): report memory on request,
// after a full collection when asked and run with --expose-gc.
process.on('message', (message) => {
  if (message !== 'memory' && message !== 'gc-memory') return;
  const gc = globalThis.gc;
  if (message === 'gc-memory' && gc) gc();
  process.send?.({ memory: process.memoryUsage(), gc: message === 'gc-memory' && !!gc });
});
process.channel?.unref();

const port = await freePort();
process.env.PORT = String(port);
process.env.HOST = '127.0.0.1';
// BENCH_BUNDLE: another build's launcher (bench/fast-spreads.ts compares two), under the package root as dist/ is.
await import(process.env.BENCH_BUNDLE ? pathToFileURL(process.env.BENCH_BUNDLE).href : '../../dist/scriptgate.mjs');
const startedAt = Date.now();
while (!(await healthy(port))) {
  if (Date.now() - startedAt > 60_000) throw new Error(`the server did not answer /healthz on port ${port} within 60 s`);
  await new Promise((resolve) => setTimeout(resolve, 10));
}
console.log(JSON.stringify({ port, pid: process.pid }));
