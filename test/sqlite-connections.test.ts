/**
 * SQLite: the hot path (execution batches, the queue) writes on a connection
 * of its own, beside Prisma's (issue #11). A Prisma transaction held open
 * across an await holds the write lock; a batch then waits between tries,
 * never inside SQLite, so the event loop keeps serving and nothing is lost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type OpenDatabase } from '../src/db/client.ts';
import type { ExecutionEvent } from '../src/logs/bus.ts';

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

function execution(id: string): ExecutionEvent {
  const now = new Date();
  return {
    id, service: 'held', eventName: null, parentExecutionId: null, scriptType: 'javascript', status: 'succeeded', trigger: 'http',
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
