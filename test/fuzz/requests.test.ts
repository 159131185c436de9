import { afterAll, beforeAll, expect, it } from 'vitest';
import { healthzLatency } from '../helpers/hostile.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from '../helpers/server.ts';
import { createFuzzTargets, formatReport } from './fixture.ts';
import { runFuzz } from './runner.ts';

/**
 * About 2,000 generated malformed REST and GraphQL requests against one
 * server: none may answer 5xx (but 503 with Retry-After), hang or drop the
 * connection, and every error must be in its door's shape. The seed is
 * printed; FUZZ_SEED=<seed> replays a run, `npm run fuzz -- N` runs longer.
 */
const COUNT = Number(process.env.FUZZ_COUNT ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
  await createFuzzTargets(t);
});
afterAll(async () => {
  await t?.stop();
});

it(`answers ${COUNT} malformed requests without a 5xx, a hang or a dropped connection`, async () => {
  const report = await runFuzz({ port: t.server.port, seed: SEED, count: COUNT, key: ADMIN_KEY });
  console.log(formatReport(report));
  expect(report.failures, formatReport(report)).toEqual([]);
  expect(Object.values(report.byStatus).reduce((a, b) => a + b, 0)).toBe(COUNT);
  expect(await healthzLatency(t)).toBeLessThan(1000);
  expect((await t.rest('GET', '/api/v2/fuzz-ok')).json).toEqual({ ok: true });
}, 120_000);
