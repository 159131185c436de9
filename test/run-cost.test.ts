import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { typeRunsHere } from './helpers/interpreters.ts';
import { asAdmin, createService, startTestServer, type TestServer } from './helpers/server.ts';

/**
 * Cost per run, per engine: CPU that rises for a busy loop and stays near
 * zero for a trivial script, and a peak that rises with what a script holds.
 * Real interpreters, sandboxed as configured.
 */

const BUSY_MS = 300;
const HOLD_BYTES = 48 * 1024 * 1024;

/** Per type: a trivial script, a busy loop of BUSY_MS wall-clock time, and one holding HOLD_BYTES. */
const SCRIPTS: Record<string, { trivial: string; busy: string; hungry: string }> = {
  javascript: {
    trivial: 'return 1;',
    busy: `const end = Date.now() + ${BUSY_MS}; let n = 0; while (Date.now() < end) n++; return n > 0;`,
    hungry: `const s = 'x'.repeat(${HOLD_BYTES}); return s.length;`,
  },
  nodejs: {
    trivial: 'return 1;',
    busy: `const end = Date.now() + ${BUSY_MS}; let n = 0; while (Date.now() < end) n++; return n > 0;`,
    hungry: `const b = Buffer.alloc(${HOLD_BYTES}, 1); return b.length;`,
  },
  python3: {
    trivial: 'return 1',
    busy: `import time\nend = time.time() + ${BUSY_MS / 1000}\nn = 0\nwhile time.time() < end:\n    n += 1\nreturn n > 0`,
    hungry: `b = b'x' * ${HOLD_BYTES}\nreturn len(b)`,
  },
  php: {
    trivial: 'return 1;',
    busy: `$end = microtime(true) + ${BUSY_MS / 1000}; $n = 0; while (microtime(true) < $end) { $n++; } return $n > 0;`,
    hungry: `$s = str_repeat('x', ${HOLD_BYTES}); return strlen($s);`,
  },
};

describe('cost per run', () => {
  let t: TestServer;
  let available: Record<string, boolean> = {};

  beforeAll(async () => {
    t = await startTestServer();
    const types = (await asAdmin(t, 'GET', '/api/v2/system/script_type')).resource as { name: string; available: boolean }[];
    available = Object.fromEntries(types.map((type) => [type.name, type.available]));
  });
  afterAll(() => t?.stop());

  async function run(name: string) {
    const response = await t.rest('GET', `/api/v2/${name}`);
    expect(response.status, response.text).toBe(200);
    const record = await asAdmin(t, 'GET', `/api/v2/system/execution/${response.headers.get('x-execution-id')}`);
    return record as { cpu_ms: number | null; peak_memory_bytes: number | null; duration_ms: number };
  }

  for (const [type, scripts] of Object.entries(SCRIPTS)) {
    it(`${type}: CPU rises for a busy loop and stays near zero for a trivial script; the peak rises with what the script holds`, async ({ skip }) => {
      if (!typeRunsHere(type, available[type] ?? false)) skip();
      await createService(t, `${type}-trivial`, type, scripts.trivial, { memory_limit_mb: 128 });
      await createService(t, `${type}-busy`, type, scripts.busy, { memory_limit_mb: 128 });
      await createService(t, `${type}-hungry`, type, scripts.hungry, { memory_limit_mb: 128 });
      await run(`${type}-trivial`); // warm: a worker's or context's first run does one-time work
      const trivial = await run(`${type}-trivial`);
      const busy = await run(`${type}-busy`);
      const hungry = await run(`${type}-hungry`);

      expect(trivial.cpu_ms).not.toBeNull();
      expect(trivial.cpu_ms!).toBeLessThan(10);
      // A busy loop of 300 ms wall-clock time: most of it on a CPU even on a loaded machine.
      expect(busy.cpu_ms!).toBeGreaterThan(BUSY_MS * 0.3);
      // One thread cannot use more CPU than the time that passed.
      expect(busy.cpu_ms!).toBeLessThanOrEqual(busy.duration_ms * 1.05 + 5);

      expect(trivial.peak_memory_bytes!).toBeGreaterThan(0);
      expect(hungry.peak_memory_bytes! - trivial.peak_memory_bytes!).toBeGreaterThan(HOLD_BYTES * 0.6);

      // The same figures over GraphQL, and summed per service.
      const since = new Date(Date.now() - 60_000).toISOString();
      const result = await t.gql(`query($since: DateTime!) { service(name: "${type}-busy") { stats(since: $since) { calls failures p50Ms p95Ms cpuMs } } }`, {
        since,
      });
      expect(result.errors).toBeUndefined();
      const stats = (result.data as any).service.stats;
      expect(stats).toMatchObject({ calls: 1, failures: 0 });
      expect(stats.cpuMs).toBeCloseTo(busy.cpu_ms!, 2);
      expect(stats.p50Ms).toBeCloseTo(busy.duration_ms, 2);
    }, 60_000);
  }

  it('stats count failures and percentiles over a window', async () => {
    await createService(t, 'flaky', 'javascript', "if (event.request.parameters.fail) throw new Error('no'); return 1;");
    for (let i = 0; i < 18; i++) expect((await t.rest('GET', '/api/v2/flaky')).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await t.rest('GET', '/api/v2/flaky?fail=1')).status).toBe(500);
    const stats = async (since: Date) =>
      ((await t.gql(`query($s: DateTime!) { service(name: "flaky") { stats(since: $s) { calls failures p50Ms p95Ms cpuMs } } }`, { s: since.toISOString() })) as any).data
        .service.stats;
    const all = await stats(new Date(Date.now() - 60_000));
    expect(all).toMatchObject({ calls: 20, failures: 2 });
    expect(all.p95Ms).toBeGreaterThanOrEqual(all.p50Ms);
    expect(await stats(new Date(Date.now() + 60_000))).toEqual({ calls: 0, failures: 0, p50Ms: null, p95Ms: null, cpuMs: 0 });
  });

  it('hostile: an app that may read services but not executions gets no stats', async () => {
    const role = await asAdmin(t, 'POST', '/api/v2/system/role', {
      name: 'services-only',
      role_service_access_by_role_id: [{ service_id: 0, component: 'service/*', verb_mask: 1, requestor_mask: 1 }],
    });
    const app = await asAdmin(t, 'POST', '/api/v2/system/app', { name: 'services-only-app', role_id: role.id });
    const result = await t.gql(`{ service(name: "flaky") { name stats(since: "2000-01-01T00:00:00Z") { calls } } }`, undefined, {
      authorization: `Bearer ${app.api_key}`,
    });
    expect(result.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
  });
});
