import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadSettings, type QueueSettings } from '../src/config.ts';
import { openDatabase, type OpenDatabase } from '../src/db/client.ts';
import { DomainError } from '../src/domain/errors.ts';
import { createRunQueue, type QueuedJob, type RunQueue } from '../src/queue/run-queue.ts';
import { eventually } from './helpers/eventually.ts';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.ts';

function settings(overrides: Partial<QueueSettings> = {}): QueueSettings {
  return { concurrency: 2, retryBaseMs: 20, pollMs: 20, leaseMs: 30_000, renewMs: 10_000, maxPayloadBytes: 1024 * 1024, ...overrides };
}

/** Every database and queue a test opens, closed after it. */
const opened: OpenDatabase[] = [];
const openedFiles = new Map<OpenDatabase, string>();
const queues: RunQueue[] = [];
const connections: Database.Database[] = [];
const errors: unknown[] = [];
const onError = (error: unknown) => errors.push(error);

afterEach(async () => {
  for (const queue of queues.splice(0)) await queue.stop(100);
  for (const connection of connections.splice(0)) connection.close();
  for (const database of opened.splice(0)) await database.close();
  errors.length = 0;
});

async function open(database: Parameters<typeof openDatabase>[0]): Promise<OpenDatabase> {
  const result = await openDatabase(database, onError);
  opened.push(result);
  if (database.provider === 'sqlite') openedFiles.set(result, database.file);
  return result;
}

/** SQLite's statements through Prisma, or prepared on a connection of their own (the server passes Prisma's). */
let sqliteMode: 'prisma' | 'connection' = 'prisma';

function queueOn(database: OpenDatabase, overrides: Partial<QueueSettings> = {}): RunQueue {
  const file = database.provider === 'sqlite' && sqliteMode === 'connection' ? openedFiles.get(database) : undefined;
  const sqliteConnection = file
    ? async () => {
        const connection = new Database(file, { timeout: 5000 });
        connections.push(connection);
        return connection;
      }
    : undefined;
  const queue = createRunQueue({ ...database, ...(sqliteConnection ? { sqliteConnection } : {}) }, settings(overrides), onError);
  queues.push(queue);
  return queue;
}

async function rowsLeft(database: OpenDatabase): Promise<number> {
  const [row] = await database.db.$queryRawUnsafe<{ n: bigint | number }[]>('SELECT COUNT(*) AS n FROM "QueuedRun"');
  return Number(row!.n);
}

const never = () => new Promise<void>(() => undefined);

describe.each(['prisma', 'connection'] as const)('run queue on SQLite (statements: %s)', (mode) => {
  let dir: string;
  let file: string;
  let count = 0;
  beforeAll(() => {
    sqliteMode = mode;
    dir = mkdtempSync(join(tmpdir(), 'scriptgate-queue-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const fresh = () => {
    file = join(dir, `queue-${++count}.db`);
    return open({ provider: 'sqlite', file });
  };

  it('runs each job once, in enqueue order, never more at once than its concurrency', async () => {
    const database = await fresh();
    const queue = queueOn(database, { concurrency: 3 });
    await queue.enqueue(Array.from({ length: 12 }, (_, n) => ({ eventName: 'orders.get.queued', payload: { n }, retries: 0 })));
    const started: number[] = [];
    let now = 0;
    let most = 0;
    queue.start(async (job) => {
      started.push((job.payload as { n: number }).n);
      most = Math.max(most, ++now);
      await new Promise((resolve) => setTimeout(resolve, 5));
      now--;
    });
    await eventually(() => started.length === 12 && now === 0, 'all twelve runs');
    await eventually(async () => (await rowsLeft(database)) === 0, 'the finished rows removed');
    expect(started).toEqual(Array.from({ length: 12 }, (_, n) => n));
    expect(most).toBe(3);
    expect(errors).toEqual([]);
    expect(connections.length).toBe(mode === 'connection' ? 1 : 0);
  });

  it('starts a run enqueued on this instance at once, without waiting for the poll', async () => {
    const database = await fresh();
    const queue = queueOn(database, { pollMs: 600_000 });
    const ran: QueuedJob[] = [];
    queue.start(async (job) => void ran.push(job));
    const enqueuedAt = Date.now();
    await queue.enqueue([{ eventName: 'a.get.queued', payload: { request: { x: 1 } }, retries: 0 }]);
    await eventually(() => ran.length === 1, 'the run', 2000);
    expect(Date.now() - enqueuedAt).toBeLessThan(1000);
    expect(ran[0]).toMatchObject({ eventName: 'a.get.queued', payload: { request: { x: 1 } }, attempt: 1, willRetry: false });
    expect(ran[0]!.id).toMatch(/^\d+$/);
  });

  it('is durable: runs stored by an instance that never ran them are run by the next one on the same file', async () => {
    const first = await fresh();
    const apiOnly = queueOn(first, { concurrency: 0 });
    apiOnly.start(async () => {
      throw new Error('an instance with concurrency 0 must not run anything');
    });
    await apiOnly.enqueue([
      { eventName: 'orders.post.queued', payload: { session: { user: 7 }, event: { body: 'é\u0000😀' } }, retries: 1 },
      { eventName: 'orders.get.queued', payload: [1, 'two', null], retries: 0 },
    ]);
    await apiOnly.stop();
    await first.close();
    opened.splice(opened.indexOf(first), 1);

    const second = await open({ provider: 'sqlite', file });
    const ran: QueuedJob[] = [];
    queueOn(second).start(async (job) => void ran.push(job));
    await eventually(() => ran.length === 2, 'both runs on the new instance');
    expect(ran.map((job) => [job.eventName, job.payload, job.willRetry])).toEqual([
      ['orders.post.queued', { session: { user: 7 }, event: { body: 'é\u0000😀' } }, true],
      ['orders.get.queued', [1, 'two', null], false],
    ]);
    expect(errors).toEqual([]);
  });

  it('retries a failing run with doubling delays, then drops it', async () => {
    const database = await fresh();
    const queue = queueOn(database, { retryBaseMs: 60, pollMs: 600_000 });
    const attempts: { job: QueuedJob; at: number }[] = [];
    queue.start(async (job) => {
      attempts.push({ job, at: Date.now() });
      if ((job.payload as { succeedOn: number }).succeedOn !== job.attempt) throw new Error(`attempt ${job.attempt} fails`);
    });
    await queue.enqueue([
      { eventName: 'always.fails.queued', payload: { succeedOn: 0 }, retries: 2 },
      { eventName: 'second.time.queued', payload: { succeedOn: 2 }, retries: 5 },
    ]);
    await eventually(async () => (await rowsLeft(database)) === 0, 'both runs finished or dropped', 5000);
    const of = (name: string) => attempts.filter((a) => a.job.eventName === name);
    expect(of('always.fails.queued').map((a) => [a.job.attempt, a.job.willRetry])).toEqual([
      [1, true],
      [2, true],
      [3, false],
    ]);
    expect(of('second.time.queued').map((a) => [a.job.attempt, a.job.willRetry])).toEqual([
      [1, true],
      [2, true],
    ]);
    const [first, second, third] = of('always.fails.queued').map((a) => a.at);
    expect(second! - first!).toBeGreaterThanOrEqual(60);
    expect(third! - second!).toBeGreaterThanOrEqual(120);
    expect(errors).toEqual([]);
  });

  it('refuses what it cannot store, and stores nothing of that batch', async () => {
    const database = await fresh();
    const queue = queueOn(database, { maxPayloadBytes: 4096 });
    const good = { eventName: 'ok.get.queued', payload: {}, retries: 0 };
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const refusals: [unknown, RegExp, number][] = [
      [{ eventName: 'big.get.queued', payload: { body: 'x'.repeat(5000) }, retries: 0 }, /over the limit of 4096 bytes \(QUEUE_MAX_PAYLOAD_BYTES\)/, 413],
      [{ eventName: 'wide.get.queued', payload: { body: '😀'.repeat(1500) }, retries: 0 }, /6\d{3} bytes, over the limit/, 413],
      [{ eventName: 'cycle.get.queued', payload: cyclic, retries: 0 }, /cannot be stored as JSON \(Converting circular structure/, 400],
      [{ eventName: 'big.int.queued', payload: { n: 1n }, retries: 0 }, /cannot be stored as JSON \(Do not know how to serialize a BigInt/, 400],
      [{ eventName: 'fn.get.queued', payload: () => 1, retries: 0 }, /function has no JSON form/, 400],
      [{ eventName: 'undef.get.queued', payload: undefined, retries: 0 }, /undefined has no JSON form/, 400],
      [{ eventName: 'throws.get.queued', payload: { toJSON: () => { throw new Error('hostile toJSON'); } }, retries: 0 }, /hostile toJSON/, 400],
      [{ eventName: '', payload: {}, retries: 0 }, /event script name of 1 to 255/, 400],
      [{ eventName: 'x'.repeat(256), payload: {}, retries: 0 }, /event script name of 1 to 255/, 400],
      [{ eventName: 'neg.get.queued', payload: {}, retries: -1 }, /retries must be a whole number from 0 to 100, got -1/, 400],
      [{ eventName: 'frac.get.queued', payload: {}, retries: 1.5 }, /got 1.5/, 400],
      [{ eventName: 'many.get.queued', payload: {}, retries: 101 }, /got 101/, 400],
      [{ eventName: 'text.get.queued', payload: {}, retries: '3' }, /got 3/, 400],
      [null, /event script name/, 400],
    ];
    for (const [run, message, status] of refusals) {
      const refused = await queue.enqueue([good, run as typeof good]).then(
        () => null,
        (error: unknown) => error,
      );
      expect(refused, String(message)).toBeInstanceOf(DomainError);
      expect((refused as DomainError).message).toMatch(message);
      expect((refused as DomainError).status).toBe(status);
    }
    expect(await rowsLeft(database)).toBe(0);
    await queue.enqueue([]);
    expect(await rowsLeft(database)).toBe(0);
  });

  it('stores a batch larger than one statement takes in one transaction', async () => {
    const database = await fresh();
    const queue = queueOn(database, { concurrency: 0 });
    await queue.enqueue(Array.from({ length: 700 }, (_, n) => ({ eventName: 'batch.get.queued', payload: { n }, retries: 0 })));
    expect(await rowsLeft(database)).toBe(700);
    const refused = await queue.enqueue([...Array.from({ length: 650 }, () => ({ eventName: 'batch.get.queued', payload: {}, retries: 0 })), { eventName: '', payload: {}, retries: 0 }]).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DomainError);
    expect(await rowsLeft(database)).toBe(700);
  });

  it('stores names and payloads that look like SQL as plain data', async () => {
    const database = await fresh();
    const queue = queueOn(database);
    const name = `x'); DROP TABLE "QueuedRun"; --`;
    const payload = { body: `'; DELETE FROM "QueuedRun"; --`, lone: '\ud800', nested: { '"key"': [1.5, -0, 1e308] } };
    const ran: QueuedJob[] = [];
    queue.start(async (job) => void ran.push(job));
    await queue.enqueue([{ eventName: name, payload, retries: 0 }]);
    await eventually(() => ran.length === 1, 'the run');
    expect(ran[0]!.eventName).toBe(name);
    expect(ran[0]!.payload).toEqual(JSON.parse(JSON.stringify(payload)));
  });

  it('a run that never settles holds one slot only, and stop() does not wait for it past its deadline', async () => {
    const database = await fresh();
    const queue = queueOn(database, { concurrency: 2 });
    const ran: number[] = [];
    queue.start(async (job) => {
      const n = (job.payload as { n: number }).n;
      if (n === 0) return never();
      ran.push(n);
    });
    await queue.enqueue(Array.from({ length: 6 }, (_, n) => ({ eventName: 'hang.get.queued', payload: { n }, retries: 0 })));
    await eventually(() => ran.length === 5, 'the other five runs through the free slot');
    const stopping = Date.now();
    await queue.stop(50);
    expect(Date.now() - stopping).toBeLessThan(1000);
    // Left claimed: another instance takes it once its lease expires.
    expect(await rowsLeft(database)).toBe(1);
  });

  it('frees the slot of a run that has not settled after the lease time, and reports it', async () => {
    const database = await fresh();
    const queue = queueOn(database, { concurrency: 1, leaseMs: 200, renewMs: 50 });
    const ran: number[] = [];
    queue.start(async (job) => {
      const n = (job.payload as { n: number }).n;
      ran.push(n);
      if (n === 0) return never();
    });
    await queue.enqueue([0, 1].map((n) => ({ eventName: 'slow.get.queued', payload: { n }, retries: 0 })));
    await eventually(() => ran.length === 2, 'the second run after the first timed out', 5000);
    await eventually(async () => (await rowsLeft(database)) === 0, 'both rows gone');
    expect(ran).toEqual([0, 1]);
    expect(errors.map(String)).toEqual([expect.stringMatching(/did not settle within 200 ms \(QUEUE_LEASE_MS\); it was dropped/)]);
  });

  it('takes a run again once the lease of the instance that stopped running it expires', async () => {
    const database = await fresh();
    const dying = queueOn(database, { concurrency: 1, leaseMs: 300, renewMs: 50 });
    let dyingRan = 0;
    dying.start(async () => {
      dyingRan++;
      return never();
    });
    await dying.enqueue([{ eventName: 'lost.get.queued', payload: { n: 1 }, retries: 0 }]);
    await eventually(() => dyingRan === 1, 'the first claim');
    await dying.stop(0); // renewal stops: as good as dead for the row

    const other = await open({ provider: 'sqlite', file });
    const ran: QueuedJob[] = [];
    const claimedAt = Date.now();
    queueOn(other, { leaseMs: 300, renewMs: 50 }).start(async (job) => void ran.push(job));
    await eventually(() => ran.length === 1, 'the run on the other instance', 5000);
    expect(ran[0]).toMatchObject({ eventName: 'lost.get.queued', attempt: 1, willRetry: false });
    expect(Date.now() - claimedAt).toBeLessThan(2000);
    await eventually(async () => (await rowsLeft(other)) === 0, 'the row removed');
  });

  it('loses nothing when the process is killed (SIGKILL) mid-run: the next process runs all of them', async () => {
    file = join(dir, `queue-${++count}.db`);
    const child = join(dir, 'dying-instance.mts');
    const src = (path: string) => JSON.stringify(resolve('src', path));
    writeFileSync(
      child,
      `import { openDatabase } from ${src('db/client.ts')};
       import { createRunQueue } from ${src('queue/run-queue.ts')};
       const database = await openDatabase({ provider: 'sqlite', file: ${JSON.stringify(file)} }, console.error);
       const queue = createRunQueue(database, ${JSON.stringify(settings({ concurrency: 1, leaseMs: 400, renewMs: 100 }))}, console.error);
       queue.start((job) => { console.log('RUNNING ' + job.eventName); return new Promise(() => {}); });
       await queue.enqueue([1, 2, 3].map((n) => ({ eventName: 'killed.' + n + '.queued', payload: { n }, retries: 0 })));
       setInterval(() => {}, 1000);`,
    );
    const dying = spawn(process.execPath, ['--import', 'tsx', child], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    dying.stdout!.on('data', (chunk: Buffer) => (output += chunk));
    const exited = new Promise((resolve) => dying.on('exit', resolve));
    await eventually(() => output.includes('RUNNING killed.1.queued'), 'the first run started in the child', 20_000);
    dying.kill('SIGKILL');
    await exited;

    const database = await open({ provider: 'sqlite', file });
    expect(await rowsLeft(database)).toBe(3);
    const ran: QueuedJob[] = [];
    const restartedAt = Date.now();
    queueOn(database, { leaseMs: 400, renewMs: 100 }).start(async (job) => void ran.push(job));
    await eventually(() => ran.length === 3, 'all three runs after the kill', 5000);
    // The two never claimed at once, and the one the dead process held once its lease expired.
    expect(ran.map((job) => [job.eventName, job.attempt]).sort()).toEqual([
      ['killed.1.queued', 1],
      ['killed.2.queued', 1],
      ['killed.3.queued', 1],
    ]);
    expect(Date.now() - restartedAt).toBeLessThan(3000);
    await eventually(async () => (await rowsLeft(database)) === 0, 'the rows removed');
  });

  it('drops a run whose instances keep dying while running it', async () => {
    const database = await fresh();
    await database.db.$executeRawUnsafe(
      `INSERT INTO "QueuedRun" ("eventName", "payload", "retries", "failures", "claims", "runAfter") VALUES ('poison.get.queued', '{}', 1, 1, 5, 0)`,
    );
    const ran: QueuedJob[] = [];
    queueOn(database).start(async (job) => void ran.push(job));
    await eventually(() => errors.length === 1, 'the drop reported');
    expect(String(errors[0])).toMatch(/poison\.get\.queued\) was dropped: its instance stopped or died while running it 4 times/);
    await eventually(async () => (await rowsLeft(database)) === 0, 'the row removed');
    expect(ran).toEqual([]);
  });
});

const postgres = await postgresAvailable();

describe.skipIf(!postgres)('run queue on PostgreSQL', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('runs each of 200 jobs exactly once with two instances claiming at once', async () => {
    const [a, b] = [await open({ provider: 'postgresql', url: database.url }), await open({ provider: 'postgresql', url: database.url })];
    const runs = new Map<number, string[]>();
    const runner = (instance: string) => async (job: QueuedJob) => {
      const n = (job.payload as { n: number }).n;
      runs.set(n, [...(runs.get(n) ?? []), instance]);
      await new Promise((resolve) => setImmediate(resolve));
    };
    const queueA = queueOn(a, { concurrency: 4 });
    const queueB = queueOn(b, { concurrency: 4 });
    queueA.start(runner('a'));
    queueB.start(runner('b'));
    // Enqueued through both, in batches, while both claim.
    const batches = [];
    for (let n = 0; n < 200; n += 10) {
      const queue = (n / 10) % 2 === 0 ? queueA : queueB;
      batches.push(queue.enqueue(Array.from({ length: 10 }, (_, i) => ({ eventName: 'pg.get.queued', payload: { n: n + i }, retries: 0 }))));
    }
    await Promise.all(batches);
    await eventually(async () => runs.size === 200 && (await rowsLeft(a)) === 0, 'all 200 runs done and removed');
    const twice = [...runs].filter(([, by]) => by.length !== 1);
    expect(twice).toEqual([]);
    const byA = [...runs.values()].filter((by) => by[0] === 'a').length;
    expect(byA).toBeGreaterThan(0);
    expect(byA).toBeLessThan(200);
    expect(errors).toEqual([]);
  });

  it('retries on PostgreSQL with attempts counted, and a lost lease is taken by the other instance', async () => {
    const [a, b] = [await open({ provider: 'postgresql', url: database.url }), await open({ provider: 'postgresql', url: database.url })];
    const dying = queueOn(a, { concurrency: 1, leaseMs: 300, renewMs: 50, pollMs: 600_000 });
    dying.start(async (job) => {
      if (job.eventName === 'hang.get.queued') return never();
      throw new Error('fails');
    });
    await dying.enqueue([{ eventName: 'hang.get.queued', payload: {}, retries: 0 }]);
    await eventually(async () => {
      const [row] = await a.db.$queryRawUnsafe<{ claims: number }[]>(`SELECT "claims" FROM "QueuedRun" WHERE "eventName" = 'hang.get.queued'`);
      return row?.claims === 1;
    }, 'the claim on the dying instance');
    await dying.stop(0);

    const ran: QueuedJob[] = [];
    const other = queueOn(b, { leaseMs: 300, renewMs: 50, retryBaseMs: 30 });
    other.start(async (job) => {
      ran.push(job);
      if (job.eventName === 'flaky.get.queued' && job.attempt < 3) throw new Error('flaky');
    });
    await other.enqueue([{ eventName: 'flaky.get.queued', payload: { p: 1 }, retries: 3 }]);
    await eventually(async () => ran.length === 4 && (await rowsLeft(b)) === 0, 'the taken-over run and three flaky attempts', 5000);
    expect(ran.filter((job) => job.eventName === 'hang.get.queued').map((job) => job.attempt)).toEqual([1]);
    expect(ran.filter((job) => job.eventName === 'flaky.get.queued').map((job) => [job.attempt, job.willRetry])).toEqual([
      [1, true],
      [2, true],
      [3, true],
    ]);
  });
});

describe('queue settings', () => {
  it('has defaults, derives the lease from the script timeout maximum, and refuses bad values', () => {
    expect(loadSettings({}).queue).toEqual({
      concurrency: 2,
      retryBaseMs: 1000,
      pollMs: 1000,
      leaseMs: 90_000,
      renewMs: 15_000,
      maxPayloadBytes: 32 * 1024 * 1024,
    });
    expect(loadSettings({ QUEUE_CONCURRENCY: '0', SCRIPT_MAX_TIMEOUT_MS: '1000', QUEUE_LEASE_MS: '4000' }).queue).toMatchObject({
      concurrency: 0,
      leaseMs: 4000,
      renewMs: 1333,
    });
    expect(() => loadSettings({ QUEUE_LEASE_MS: '60000' })).toThrow(/QUEUE_LEASE_MS must be a whole number from 61000/);
    expect(() => loadSettings({ QUEUE_CONCURRENCY: '-1' })).toThrow(ConfigError);
    expect(() => loadSettings({ QUEUE_RETRY_BASE_MS: '0' })).toThrow(/QUEUE_RETRY_BASE_MS/);
    expect(() => loadSettings({ QUEUE_POLL_MS: 'soon' })).toThrow(/QUEUE_POLL_MS/);
    expect(() => loadSettings({ QUEUE_MAX_PAYLOAD_BYTES: '10' })).toThrow(/QUEUE_MAX_PAYLOAD_BYTES/);
  });
});
