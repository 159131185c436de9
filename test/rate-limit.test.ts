/**
 * Rate limits per app and role (issue #10, `rate_limit_per_minute`), through
 * real HTTP: past the limit 429 with Retry-After, in the contract's error
 * shape on REST and GraphQL's (RATE_LIMITED) on /graphql; one counter per
 * app (or guest role) over both doors; the administrator never limited; a
 * changed limit applies on the next request; two instances sharing
 * PostgreSQL and Redis share the count. Hostile: floods past the limit and
 * of wrong keys keep the server responsive and count nothing they should not.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './helpers/eventually.ts';
import { expectErrorShape, HEALTHZ_BUDGET_MS, whileProbingHealth } from './helpers/hostile.ts';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.ts';
import { REDIS_URL, redisAvailable } from './helpers/redis.ts';
import { ADMIN_KEY, asAdmin, createService, restAs, startTestServer, type RestResponse, type TestServer } from './helpers/server.ts';

const WRONG_KEY = `sga_${'x'.repeat(32)}`;
/** Everything, on every service and the system API: these tests are about counting, not rights. */
const EVERYTHING = [
  { service_id: null, component: '*', verb_mask: 31, requestor_mask: 3 },
  { service_id: 0, component: '*', verb_mask: 31, requestor_mask: 3 },
];
const SCRIPT_TYPES = '{ scriptTypes { name } }';


async function gqlAs(t: TestServer, key: string | null, query: string, variables: Record<string, unknown> = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) headers['x-dreamfactory-api-key'] = key;
  const response = await fetch(`${t.url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return { status: response.status, headers: response.headers, body: (await response.json()) as any };
}


async function createRole(t: TestServer, name: string, rateLimit: number | null, access: unknown[] = EVERYTHING): Promise<number> {
  const created = await asAdmin(t, 'POST', '/api/v2/system/role', { resource: [{ name, role_service_access_by_role_id: access, rate_limit_per_minute: rateLimit }] });
  return created.resource[0].id;
}

async function createApp(t: TestServer, name: string, roleId: number, rateLimit: number | null): Promise<{ id: number; key: string }> {
  const created = await asAdmin(t, 'POST', '/api/v2/system/app', { resource: [{ name, role_id: roleId, rate_limit_per_minute: rateLimit }] });
  return { id: created.resource[0].id, key: created.resource[0].api_key };
}

/** `n` calls of the test service, one after another (a limit is about order, not speed). */
async function callsInRow(t: TestServer, key: string | null, n: number): Promise<RestResponse[]> {
  const responses: RestResponse[] = [];
  for (let i = 0; i < n; i++) responses.push(await restAs(t, key, 'GET', '/api/v2/echo'));
  return responses;
}

/** `total` calls with at most `parallel` in flight; the statuses in order of completion. */
async function flood(parallel: number, total: number, call: () => Promise<Response>): Promise<number[]> {
  const statuses: number[] = [];
  let started = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (started < total) {
        started++;
        const response = await call();
        await response.arrayBuffer();
        statuses.push(response.status);
      }
    }),
  );
  return statuses;
}

function expectRateLimited(response: RestResponse, limit: number): void {
  expectErrorShape(response, [429]);
  expect(response.json.error).toMatchObject({ code: 429, status_code: 429, context: { limit, window_seconds: 60 } });
  expect(response.json.error.message).toMatch(new RegExp(`Rate limit of ${limit} requests per minute exceeded`));
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(response.json.error.context.retry_after).toBe(retryAfter);
}

describe('rate limits on one instance', () => {
  let t: TestServer;
  let roleId: number;

  beforeAll(async () => {
    t = await startTestServer({ GUEST_ROLE: 'visitors' });
    await createService(t, 'echo', 'javascript', 'return { ok: true }');
    roleId = await createRole(t, 'clients', null);
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('answers the 6th REST call of an app limited to 5 with 429, Retry-After and the error shape; other apps are not affected', async () => {
    const limited = await createApp(t, 'five-rest', roleId, 5);
    const other = await createApp(t, 'five-other', roleId, 5);
    const unlimited = await createApp(t, 'no-limit', roleId, null);
    const answers = await callsInRow(t, limited.key, 6);
    expect(answers.slice(0, 5).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.slice(0, 5).map((r) => r.headers.get('x-ratelimit-remaining'))).toEqual(['4', '3', '2', '1', '0']);
    expect(answers[0]!.headers.get('x-ratelimit-limit')).toBe('5');
    expectRateLimited(answers[5]!, 5);
    expect(answers[5]!.json.error.message).toContain('app "five-rest"');
    // The system API is counted too: it is the same door.
    expectRateLimited(await restAs(t, limited.key, 'GET', '/api/v2/system/script_type'), 5);
    // Its own counter, and none at all.
    expect((await callsInRow(t, other.key, 5)).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const free = await callsInRow(t, unlimited.key, 12);
    expect(free.every((r) => r.status === 200)).toBe(true);
    expect(free[0]!.headers.get('x-ratelimit-limit')).toBeNull();
  });

  it('answers the 6th GraphQL operation with HTTP 429 and RATE_LIMITED; REST and GraphQL spend one counter', async () => {
    const limited = await createApp(t, 'five-graphql', roleId, 5);
    for (let i = 0; i < 5; i++) {
      const answer = await gqlAs(t, limited.key, SCRIPT_TYPES);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.data.scriptTypes.length).toBeGreaterThan(0);
    }
    const refused = await gqlAs(t, limited.key, SCRIPT_TYPES);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.body.data).toBeUndefined();
    expect(refused.body.errors[0]).toMatchObject({
      message: expect.stringMatching(/Rate limit of 5 requests per minute exceeded for app "five-graphql"/),
      extensions: { code: 'RATE_LIMITED', status: 429, limit: 5, retryAfter: Number(refused.headers.get('retry-after')) },
    });

    const mixed = await createApp(t, 'four-mixed', roleId, 4);
    expect((await callsInRow(t, mixed.key, 2)).map((r) => r.status)).toEqual([200, 200]);
    expect((await gqlAs(t, mixed.key, SCRIPT_TYPES)).status).toBe(200);
    expect((await gqlAs(t, mixed.key, SCRIPT_TYPES)).status).toBe(200);
    expectRateLimited((await callsInRow(t, mixed.key, 1))[0]!, 4);
  });

  it('never limits the administrator, even with every app and role limited', async () => {
    const answers = await callsInRow(t, ADMIN_KEY, 30);
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(answers[0]!.headers.get('x-ratelimit-limit')).toBeNull();
    for (let i = 0; i < 10; i++) expect((await gqlAs(t, ADMIN_KEY, SCRIPT_TYPES)).status).toBe(200);
  });

  it("applies the role's limit to an app without its own; an app's own limit wins over its role's", async () => {
    const limitedRole = await createRole(t, 'three-a-minute', 3);
    const byRole = await createApp(t, 'by-role', limitedRole, null);
    const own = await createApp(t, 'own-limit', limitedRole, 10);
    const answers = await callsInRow(t, byRole.key, 4);
    expect(answers.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
    expectRateLimited(answers[3]!, 3);
    // Each app of the role has its own counter (keyed by app), at its own limit.
    const ownAnswers = await callsInRow(t, own.key, 10);
    expect(ownAnswers.every((r) => r.status === 200)).toBe(true);
    expectRateLimited((await callsInRow(t, own.key, 1))[0]!, 10);
  });

  it('takes a changed limit from the next request on, over REST and GraphQL', async () => {
    const app = await createApp(t, 'changing', roleId, 2);
    expect((await callsInRow(t, app.key, 3)).map((r) => r.status)).toEqual([200, 200, 429]);
    // Raised: the same minute's count, a higher ceiling.
    const raised = await asAdmin(t, 'PATCH', `/api/v2/system/app/${app.id}`, { rate_limit_per_minute: 4 });
    expect(raised.rate_limit_per_minute).toBe(4);
    const afterRaise = await restAs(t, app.key, 'GET', '/api/v2/echo');
    expect(afterRaise.status).toBe(200);
    expect(afterRaise.headers.get('x-ratelimit-limit')).toBe('4');
    // Lowered through GraphQL: refused at once.
    const lowered = await gqlAs(t, ADMIN_KEY, 'mutation { updateApp(name: "changing", input: { rateLimitPerMinute: 1 }) { rateLimitPerMinute } }');
    expect(lowered.body.data.updateApp.rateLimitPerMinute).toBe(1);
    expectRateLimited(await restAs(t, app.key, 'GET', '/api/v2/echo'), 1);
    // Removed (null): no limit, and the role has none.
    await asAdmin(t, 'PATCH', `/api/v2/system/app/${app.id}`, { rate_limit_per_minute: null });
    expect((await callsInRow(t, app.key, 5)).every((r) => r.status === 200)).toBe(true);
    // A role's limit, changed through GraphQL, reaches its apps on the next request too.
    const role = await gqlAs(t, ADMIN_KEY, 'mutation { updateRole(name: "clients", input: { rateLimitPerMinute: 1 }) { rateLimitPerMinute } }');
    expect(role.body.data.updateRole.rateLimitPerMinute).toBe(1);
    expectRateLimited(await restAs(t, app.key, 'GET', '/api/v2/echo'), 1);
    await gqlAs(t, ADMIN_KEY, 'mutation { updateRole(name: "clients", input: { rateLimitPerMinute: null }) { rateLimitPerMinute } }');
    expect((await restAs(t, app.key, 'GET', '/api/v2/echo')).status).toBe(200);
  });

  it('shows and validates rate_limit_per_minute on system/app, system/role and GraphQL', async () => {
    const role = await asAdmin(t, 'GET', `/api/v2/system/role/${roleId}`);
    expect(role).toHaveProperty('rate_limit_per_minute', null);
    const read = await gqlAs(t, ADMIN_KEY, '{ app(name: "five-rest") { rateLimitPerMinute } role(name: "three-a-minute") { rateLimitPerMinute } }');
    expect(read.body.data).toEqual({ app: { rateLimitPerMinute: 5 }, role: { rateLimitPerMinute: 3 } });
    for (const bad of [0, -1, 1.5, '5', 1_000_001]) {
      const refused = await restAs(t, ADMIN_KEY, 'POST', '/api/v2/system/app', { resource: [{ name: `bad-${String(bad)}`, role_id: roleId, rate_limit_per_minute: bad }] });
      expectErrorShape(refused, [400]);
      expect(refused.json.error.message).toMatch(/rate_limit_per_minute/);
    }
  });

  it("limits guests by the guest role's limit, on one counter for the role; the GraphiQL page is not counted", async () => {
    const guestRole = await createRole(t, 'visitors', 3, [{ service_id: null, component: '*', verb_mask: 1, requestor_mask: 1 }]);
    expect(guestRole).toBeGreaterThan(0);
    const answers = await callsInRow(t, null, 4);
    expect(answers.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
    expectRateLimited(answers[3]!, 3);
    expect(answers[3]!.json.error.message).toContain('the guest role "visitors"');
    // A wrong key is not a guest: 401, and not counted against anyone.
    const wrong = await restAs(t, WRONG_KEY, 'GET', '/api/v2/echo');
    expectErrorShape(wrong, [401]);
    expect(wrong.headers.get('x-ratelimit-limit')).toBeNull();
    const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/graphiql/i);
  });

  it('hostile: 1,000 requests past the limit are refused cheaply, the server stays responsive; wrong keys are 401 and counted nowhere', async () => {
    const app = await createApp(t, 'flooder', roleId, 5);
    const bystander = await createApp(t, 'bystander', roleId, 5);
    const { result: statuses, slowestHealthMs } = await whileProbingHealth(t, () =>
      flood(8, 1_005, () => fetch(`${t.url}/api/v2/echo`, { headers: { 'x-dreamfactory-api-key': app.key } })),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(1_000);
    expect(slowestHealthMs).toBeLessThan(HEALTHZ_BUDGET_MS);
    // A refused request's body is never read: 429 for a large body too, answered whole.
    const big = await restAs(t, app.key, 'POST', '/api/v2/echo', { data: 'x'.repeat(256 * 1024) });
    expectRateLimited(big, 5);
    // GraphQL past the limit: same.
    const graphqlStatuses = await flood(8, 200, () =>
      fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-dreamfactory-api-key': app.key }, body: JSON.stringify({ query: SCRIPT_TYPES }) }),
    );
    expect(graphqlStatuses.every((s) => s === 429)).toBe(true);

    // 1,000 different wrong keys: 401 before the limiter, so no counter is made for any of them.
    const wrongStatuses = await flood(8, 1_000, () =>
      fetch(`${t.url}/api/v2/echo`, { headers: { 'x-dreamfactory-api-key': `sga_${Math.random().toString(36).slice(2).padEnd(32, 'q')}` } }),
    );
    expect(wrongStatuses.every((s) => s === 401)).toBe(true);
    expect(t.server.platform.apps.cachedKeys).toBeLessThan(50);
    // Nobody else paid for the flood.
    expect((await callsInRow(t, bystander.key, 5)).every((r) => r.status === 200)).toBe(true);
  });
});

const sharedAvailable = (await postgresAvailable()) && (await redisAvailable());

describe.skipIf(!sharedAvailable)('rate limits across instances sharing PostgreSQL and Redis', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: TestServer;
  let b: TestServer;
  let redis: Redis;
  let namespace: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    a = await startTestServer({ DATABASE_URL: database.url, REDIS_URL });
    b = await startTestServer({ DATABASE_URL: database.url, REDIS_URL });
    redis = new Redis(REDIS_URL);
    // As src/http/rate-limit.ts names it: one namespace per database.
    namespace = `scriptgate:${createHash('sha256').update(database.url).digest('hex').slice(0, 16)}:rate:`;
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    redis?.disconnect();
    await database?.drop();
  });

  it('shares one count: 3 calls on A and 3 on B, the 6th is 429', async () => {
    await createService(a, 'echo', 'javascript', 'return { ok: true }');
    const roleId = await createRole(a, 'shared', null);
    const app = await createApp(a, 'across', roleId, 5);
    expect((await callsInRow(a, app.key, 3)).map((r) => r.status)).toEqual([200, 200, 200]);
    // B learns of the new app and service through the database's change notices; until then its answers are 401/404, which count nothing.
    await eventually(async () => (await restAs(b, app.key, 'GET', '/api/v2/echo')).status === 200, 'instance B to serve the new app');
    expect((await restAs(b, app.key, 'GET', '/api/v2/echo')).status).toBe(200);
    const sixth = await restAs(b, app.key, 'GET', '/api/v2/echo');
    expectRateLimited(sixth, 5);
    // And A sees the same count.
    expectRateLimited(await restAs(a, app.key, 'GET', '/api/v2/echo'), 5);
    // The counter lives in Redis for the window only.
    const ttl = await redis.pttl(`${namespace}app:${app.id}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('hostile: wrong keys on both instances add no Redis key', async () => {
    const before = await redis.keys(`${namespace}*`);
    const statuses = await flood(8, 400, () =>
      fetch(`${(Math.random() < 0.5 ? a : b).url}/api/v2/echo`, { headers: { 'x-dreamfactory-api-key': `sga_${Math.random().toString(36).slice(2).padEnd(32, 'z')}` } }),
    );
    expect(statuses.every((s) => s === 401)).toBe(true);
    expect(await redis.keys(`${namespace}*`)).toEqual(before);
  });
});

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

/** A Redis of this test's own (the machine's is shared), killed mid-test: the limiter must fail open, not hang or refuse. */
describe.skipIf(!hasRedisServer && process.env.CI !== 'true')('rate limits when Redis goes away', () => {
  let redisProcess: ChildProcess;
  let url: string;
  let t: TestServer;

  beforeAll(async () => {
    const port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    redisProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await eventually(async () => {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    }, 'our redis-server to answer');
    t = await startTestServer({ REDIS_URL: url });
  });
  afterAll(async () => {
    await t?.stop();
    if (redisProcess?.exitCode === null) redisProcess.kill('SIGKILL');
  });

  it('counts in Redis, then lets requests through uncounted, promptly, while Redis is gone', async () => {
    await createService(t, 'echo', 'javascript', 'return { ok: true }');
    const roleId = await createRole(t, 'clients', null);
    const app = await createApp(t, 'two', roleId, 2);
    expect((await callsInRow(t, app.key, 3)).map((r) => r.status)).toEqual([200, 200, 429]);
    const exited = new Promise((resolve) => redisProcess.once('exit', resolve));
    redisProcess.kill('SIGKILL');
    await exited;
    // Fail open: a limit is not worth an outage. Each answer comes at once, not after a Redis timeout.
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const response = await restAs(t, app.key, 'GET', '/api/v2/echo');
      expect(response.status).toBe(200);
      expect(performance.now() - started).toBeLessThan(1_000);
    }
  });
});
