import { print } from 'graphql';
import { Redis } from 'ioredis';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.ts';
import { startServer } from '../src/server.ts';
import { ExecutionLogsDocument, ExecutionUpdatedDocument } from './generated/graphql.ts';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.ts';
import { REDIS_URL, redisAvailable } from './helpers/redis.ts';
import { ADMIN_KEY, createService, startTestServer, type TestServer } from './helpers/server.ts';
import { eventually } from './helpers/eventually.ts';

const available = (await postgresAvailable()) && (await redisAvailable());

/** Several instances on one PostgreSQL database and one Redis: live logs follow runs on any of them. */
describe.skipIf(!available)('instances sharing Redis', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: TestServer;
  let b: TestServer;
  const clients: Client[] = [];

  /** Every `next` payload of one subscription on `server`, and whether it completed. */
  function follow(server: TestServer, query: string, variables: Record<string, unknown>) {
    const client = createClient({
      url: `ws://127.0.0.1:${server.server.port}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { 'X-DreamFactory-API-Key': ADMIN_KEY },
      retryAttempts: 0,
    });
    clients.push(client);
    const feed = { values: [] as any[], completed: false };
    client.subscribe({ query, variables }, { next: (r) => feed.values.push(r.data), error: () => (feed.completed = true), complete: () => (feed.completed = true) });
    return feed;
  }

  const until = (condition: () => boolean, what: string) => eventually(condition, what, 10_000);

  /** A new subscriber's instance tells the others over Redis: `a` has none of its own, so it sends once it heard. */
  const othersHear = () => until(() => a.server.platform.bus.executions.hasSubscribers, 'instance a to hear of the subscribers on b');

  beforeAll(async () => {
    database = await createTestDatabase();
    a = await startTestServer({ DATABASE_URL: database.url, REDIS_URL });
    b = await startTestServer({ DATABASE_URL: database.url, REDIS_URL });
    await createService(a, 'chatty', 'javascript', "for (let i = 1; i <= 20; i++) console.log('line ' + i); return 'done'");
  });
  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await a?.stop();
    await b?.stop();
    await database?.drop();
  });

  it('sends nothing over Redis while no other instance has live subscribers', async () => {
    const listener = new Redis(REDIS_URL);
    const heard: string[] = [];
    listener.on('pmessage', (_pattern: string, _channel: string, message: string) => heard.push(message));
    await listener.psubscribe('scriptgate:*:events');
    try {
      for (let i = 0; i < 5; i++) expect((await a.rest('GET', '/api/v2/chatty')).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(heard).toEqual([]);
    } finally {
      listener.disconnect();
    }
  });

  it("delivers a run's lines and state changes to subscribers on every instance, once each and in order", async () => {
    const onA = follow(a, print(ExecutionLogsDocument), { service: 'chatty' });
    const onB = follow(b, print(ExecutionLogsDocument), { service: 'chatty' });
    const updatesOnB = follow(b, print(ExecutionUpdatedDocument), { service: 'chatty' });
    await until(() => a.server.platform.bus.logs.subscriberCount === 1 && b.server.platform.bus.logs.subscriberCount === 1, 'both subscriptions');
    await until(() => b.server.platform.bus.executions.subscriberCount === 1, 'the update subscription');
    await othersHear();

    const run = await a.rest('GET', '/api/v2/chatty');
    expect(run.status).toBe(200);
    const expected = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
    await until(() => onA.values.length === 20 && onB.values.length === 20, 'every line on both instances');
    await until(() => updatesOnB.values.length === 2, 'both state changes on the other instance');
    for (const feed of [onA, onB]) expect(feed.values.map((v) => v.executionLogs.message)).toEqual(expected);
    expect(updatesOnB.values.map((v) => v.executionUpdated.status)).toEqual(['RUNNING', 'SUCCEEDED']);
    expect(updatesOnB.values[0].executionUpdated.id).toBe(run.headers.get('x-execution-id'));
    // Nothing arrives twice on the instance that ran it: a second run's lines come after exactly the first's.
    expect((await a.rest('GET', '/api/v2/chatty')).status).toBe(200);
    await until(() => onA.values.length >= 40 && onB.values.length >= 40, 'the second run on both instances');
    for (const feed of [onA, onB]) expect(feed.values.map((v) => v.executionLogs.message)).toEqual([...expected, ...expected]);
  });

  it('completes a subscription to one execution on another instance when that execution ends', async () => {
    await createService(a, 'slow-talk', 'javascript', "console.log('first'); await new Promise((r) => setTimeout(r, 300)); console.log('second'); return 1");
    const before = b.server.platform.bus.executions.subscriberCount;
    const updates = follow(b, print(ExecutionUpdatedDocument), { service: 'slow-talk' });
    await until(() => b.server.platform.bus.executions.subscriberCount === before + 1, 'the update subscription');
    await othersHear();
    const running = a.rest('GET', '/api/v2/slow-talk');
    await until(() => updates.values.length >= 1, 'the run to start, seen from the other instance');
    const followed = follow(b, print(ExecutionLogsDocument), { executionId: updates.values[0].executionUpdated.id });
    await until(() => followed.completed, 'the subscription to complete');
    expect((await running).status).toBe(200);
    expect(followed.values.map((v) => v.executionLogs.message)).toContain('second');
  });

  it('refuses to start when REDIS_URL points nowhere, saying so', async () => {
    const settings = loadSettings({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: a.dataDir + '-nowhere', ADMIN_KEY, LOG_LEVEL: 'silent', REDIS_URL: 'redis://:secret@127.0.0.1:1' });
    const failed = await startServer(settings).then(
      () => null,
      (error: Error) => error,
    );
    expect(failed?.message).toMatch(/REDIS_URL: cannot use Redis at redis:\/\/127\.0\.0\.1:1/);
    expect(failed?.message).not.toContain('secret');
  });
});
