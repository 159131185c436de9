import type Database from 'better-sqlite3';
import type { QueueSettings } from '../config.ts';
import type { OpenDatabase } from '../db/client.ts';
import { PostgresQueueStore } from './postgres-queue-store.ts';
import type { QueueDepth } from './queue-store.ts';
import { PrismaExecutor, SqliteConnectionExecutor } from './sql-executor.ts';
import { SqliteQueueStore } from './sqlite-queue-store.ts';
import { TableRunQueue } from './table-run-queue.ts';

export interface QueuedRunInput {
  /** The event script's name (e.g. "orders.get.queued"). */
  eventName: string;
  /** JSON-serialisable: the event (request + response) and the caller's session. The queue stores and returns it as is. */
  payload: unknown;
  /** Retries after a failed run (config.retries), 0 = run once. */
  retries: number;
}

export interface QueuedJob {
  id: string;
  eventName: string;
  payload: unknown;
  /** 1 for the first run */
  attempt: number;
  /** whether another attempt follows if this one throws */
  willRetry: boolean;
}

/**
 * Runs of `queued` event scripts, stored in the platform database so none is
 * lost to a restart or crash. Each stored run is claimed by one instance at a
 * time under a lease; it runs exactly once unless the instance running it
 * dies mid-run (then it runs again elsewhere once the lease expires).
 */
export interface RunQueue {
  /** Resolves once the runs are stored durably (before the response is sent). Several at once in one write. */
  enqueue(runs: QueuedRunInput[]): Promise<void>;
  /**
   * Starts claiming and running jobs with at most `concurrency` at once; a job
   * whose `run` rejects is retried with backoff until retries are spent, then
   * dropped (the run itself records its failed execution). Jobs enqueued on
   * this instance start promptly (no poll delay).
   */
  start(run: (job: QueuedJob) => Promise<void>): void;
  /** Stops claiming; waits for running jobs up to deadlineMs. */
  stop(deadlineMs?: number): Promise<void>;
  /** This instance's runs in progress and what became of its attempts since start. */
  readonly stats: RunQueueStats;
  /** Stored runs by state, over every instance sharing the database (one query). */
  depth(): Promise<QueueDepth>;
}

/** What became of the attempts this instance ran. */
export interface RunQueueStats {
  running: number;
  concurrency: number;
  /** Attempts by outcome: succeeded; failed with a retry to come (retried); failed with none left (failed); never run, e.g. a run that keeps killing its instances (dropped). */
  attempts: Record<AttemptOutcome, number>;
}

export type AttemptOutcome = 'succeeded' | 'retried' | 'failed' | 'dropped';

export interface QueueDatabase extends Pick<OpenDatabase, 'db' | 'provider'> {
  /** SQLite: the hot path's own connection, for prepared statements on it; without it the queue goes through Prisma's raw SQL. */
  sqliteConnection?: (() => Promise<Database.Database>) | null;
}

/** `onError`: background failures (database unreachable, a lost claim, a dropped run), reported, never thrown. */
export function createRunQueue(database: QueueDatabase, settings: QueueSettings, onError: (error: unknown) => void): RunQueue {
  const store =
    database.provider === 'postgresql'
      ? new PostgresQueueStore(new PrismaExecutor(database.db))
      : new SqliteQueueStore(database.sqliteConnection ? new SqliteConnectionExecutor(database.sqliteConnection) : new PrismaExecutor(database.db));
  return new TableRunQueue(store, settings, onError);
}
