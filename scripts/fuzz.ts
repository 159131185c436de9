/**
 * `npm run fuzz -- N [SEED]`: N generated malformed REST and GraphQL requests
 * (the generator of test/fuzz) against a server this script starts on a free
 * loopback port with a data directory of its own, then stops. Prints counts
 * by status and every failure with its seed and index; exits 1 on any.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../src/config.ts';
import { startServer } from '../src/server.ts';
import { createFuzzTargets, formatReport } from '../test/fuzz/fixture.ts';
import { runFuzz } from '../test/fuzz/runner.ts';

const count = Number(process.argv[2] ?? 10_000);
const seed = Number(process.argv[3] ?? Math.floor(Math.random() * 2 ** 31));
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(seed)) {
  console.error('usage: npm run fuzz -- COUNT [SEED]');
  process.exit(2);
}

const key = 'fuzz-admin-key';
const dataDir = mkdtempSync(join(tmpdir(), 'scriptgate-fuzz-'));
const server = await startServer(loadSettings({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_KEY: key, LOG_LEVEL: 'silent' }));
let failed = true;
try {
  const rest = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${server.url}${path}`, { method, headers: { 'x-dreamfactory-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: JSON.parse(text) };
  };
  await createFuzzTargets({ rest });
  console.log(`fuzz: ${count} requests, seed ${seed}, server ${server.url}`);
  const started = performance.now();
  const report = await runFuzz({
    port: server.port,
    seed,
    count,
    key,
    onProgress: (done) => {
      if (done % 5000 === 0) console.log(`  ${done} done`);
    },
  });
  console.log(formatReport(report));
  if (report.failures.length > 20) console.log(`  ... and ${report.failures.length - 20} more`);
  console.log(`took ${((performance.now() - started) / 1000).toFixed(1)} s; replay one with FUZZ_SEED=${seed} (index = request number)`);
  failed = report.failures.length > 0;
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
