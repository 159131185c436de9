/**
 * SQLite: execution batches are written by a thread of their own, the queue
 * on a connection of its own, beside Prisma's (issue #11). A Prisma
 * transaction held open across an await holds the write lock; a batch then
 * waits on its thread, so the event loop keeps serving and nothing is lost.
 * Pruning runs there too, slice by slice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type OpenDatabase } from '../src/db/client.ts';
import { SqliteExecutionWriter } from '../src/db/sqlite-execution-writer.ts';
import { eventually } from './helpers/eventually.ts';
import type { Worker } from 'node:worker_threads';
import type { ExecutionEvent, LogLineEvent } from '../src/logs/bus.ts';
import { threadCpuReader } from '../src/scripting/quickjs/thread-cpu.ts';

const mainThreadCpuMs = threadCpuReader();

let dataDir: string;
let database: OpenDatabase;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'scriptgate-sqlite-'));
  database = await openDatabase({ provider: 'sqlite', file: join(dataDir, 'scriptgate.db') }, () => undefined);
});
afterAll(async () => {
  await database?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function execution(id: string, service = 'held', status: ExecutionEvent['status'] = 'succeeded'): ExecutionEvent {
  const now = new Date();
  return {
    id, service, eventName: null, parentExecutionId: null, scriptType: 'javascript', status, trigger: 'http',
    startedAt: now, finishedAt: now, durationMs: 1, statusCode: 200, error: null, logBytes: 4, logsTruncated: false,
    serviceId: null, serviceVersion: null, replayOf: null, request: null, cpuMs: null, peakMemoryBytes: null,
  };
}

/** The longest gap between 5 ms timers while `body` runs: how long the event loop was held. */
async function loopHeldDuring<T>(body: () => Promise<T>): Promise<{ result: T; maxGapMs: number }> {
  let maxGapMs = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 5);
  try {
    return { result: await body(), maxGapMs };
  } finally {
    clearInterval(timer);
  }
}

describe('the hot path on its own SQLite connection', () => {
  it('waits out a Prisma transaction holding the write lock, without holding the event loop, and then writes', async () => {
    const { db, executionWriter } = database;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let inside!: () => void;
    const entered = new Promise<void>((resolve) => (inside = resolve));
    // A write inside an interactive transaction takes SQLite's write lock until the commit.
    const transaction = db.$transaction(async (tx) => {
      await tx.$executeRawUnsafe(`CREATE TABLE IF NOT EXISTS "HeldLock" ("id" INTEGER)`);
      await tx.$executeRawUnsafe(`INSERT INTO "HeldLock" VALUES (1)`);
      inside();
      await released;
    });
    await entered;

    let written = false;
    const { maxGapMs } = await loopHeldDuring(async () => {
      const write = executionWriter.write([execution('held-1')], [{ executionId: 'held-1', service: 'held', sequence: 1, stream: 'STDOUT', message: 'kept', timestamp: new Date() }]).then(() => {
        written = true;
      });
      // The batch meets the lock and waits between tries while the transaction stays open.
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(written).toBe(false);
      release();
      await transaction;
      await write;
    });
    expect(written).toBe(true);
    expect(maxGapMs).toBeLessThan(100);
    const stored = await db.execution.findUnique({ where: { id: 'held-1' }, include: { logs: true } });
    expect(stored?.logs.map((line) => line.message)).toEqual(['kept']);
  });
});

describe('the execution writer thread', () => {
  it('prunes a hundred thousand executions with their lines, slice by slice, off the event loop thread', async () => {
    const { db, executionWriter } = database;
    const total = 100_000;
    // Ids sort by age, as UUIDv7 ids do; the oldest is still running and must stay.
    const id = (n: number) => `busy-${String(n).padStart(6, '0')}`;
    const rows = Array.from({ length: total }, (_, n) => execution(id(n), 'busy', n === 0 ? 'running' : 'succeeded'));
    const lines: LogLineEvent[] = rows.map((row) => ({ executionId: row.id, service: 'busy', sequence: 1, stream: 'STDOUT', message: 'line', timestamp: new Date() }));
    for (let n = 0; n < total; n += 10_000) await executionWriter.write(rows.slice(n, n + 10_000), lines.slice(n, n + 10_000));
    await executionWriter.write([execution('quiet-1', 'quiet')], []);

    // Loaded and deleted through Prisma, this took about a second of this thread's CPU.
    const cpuBefore = mainThreadCpuMs();
    const removed = await executionWriter.prune(10);
    expect(mainThreadCpuMs() - cpuBefore).toBeLessThan(100);
    expect(removed).toBe(total - 11);
    const kept = await db.execution.findMany({ where: { service: 'busy' }, orderBy: { id: 'desc' }, select: { id: true } });
    expect(kept.map((row) => row.id)).toEqual([...Array.from({ length: 10 }, (_, n) => id(total - 1 - n)), id(0)]);
    expect(await db.logLine.count({ where: { execution: { service: 'busy' } } })).toBe(11);
    expect(await db.logLine.count()).toBe(await db.logLine.count({ where: { executionId: { in: kept.map((row) => row.id).concat('held-1') } } }));
    expect(await db.execution.count({ where: { service: 'quiet' } })).toBe(1);
  });

  it('a thread that dies fails only the batch in flight; the next batch starts a new thread', async () => {
    const { db, executionWriter } = database;
    await executionWriter.write([execution('before-death', 'mortal')], []);
    const thread = (executionWriter as unknown as { thread: Worker }).thread;
    const inFlight = executionWriter.write([execution('during-death', 'mortal')], []).then(
      () => 'written',
      (error: Error) => error.message,
    );
    await thread.terminate();
    // Written before the thread stopped, or failed with a reason (the recorder retries it): never left hanging.
    const outcome = await inFlight;
    expect(['written', expect.stringContaining('thread stopped')]).toContainEqual(outcome);
    await executionWriter.write([execution('after-death', 'mortal')], []);
    const stored = await db.execution.findMany({ where: { service: 'mortal' }, select: { id: true } });
    expect(stored.map((row) => row.id)).toEqual(expect.arrayContaining(['before-death', 'after-death']));
  });

  it('stops when idle (its memory goes with it) and starts again for the next batch', async () => {
    const writer = new SqliteExecutionWriter(join(dataDir, 'scriptgate.db'), 50);
    const threadOf = () => (writer as unknown as { thread: Worker | null }).thread;
    try {
      await writer.write([execution('idle-1', 'idle')], []);
      expect(threadOf()).not.toBeNull();
      await eventually(() => threadOf() === null, 'the idle thread stopped');
      await writer.write([execution('idle-2', 'idle')], []);
      const stored = await database.db.execution.findMany({ where: { service: 'idle' }, select: { id: true }, orderBy: { id: 'asc' } });
      expect(stored.map((row) => row.id)).toEqual(['idle-1', 'idle-2']);
    } finally {
      await writer.close();
    }
  });
});
