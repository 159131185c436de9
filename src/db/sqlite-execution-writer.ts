import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ExecutionEvent, LogLineEvent } from '../logs/bus.ts';
import { PACKAGE_ROOT } from '../package-root.ts';
import {
  EXECUTION_COLUMNS,
  executionValues,
  LINE_COLUMNS,
  lineValues,
  PRUNE_SQL,
  pruneInSlices,
  quote,
  UPDATED_ON_CONFLICT,
  type ExecutionWriter,
} from './execution-writer.ts';

/** Plain CommonJS beside this module, loaded by path: the same file for the sources and every bundle. */
const THREAD_FILE = join(PACKAGE_ROOT, 'src', 'db', 'sqlite-writer-thread.cjs');
/** How long a batch waits for the write lock (a Prisma transaction holding it) before it fails and is retried. */
const BUSY_TIMEOUT_MS = 5_000;
/** A thread with nothing to do for this long stops: its heap (some 10 MB of RSS) is not held by an idle server. */
const IDLE_STOP_MS = 5_000;

interface Waiting {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
}

/** What the thread does (sqlite-writer-thread.cjs has a handler for each). */
type Task =
  | { kind: 'write'; executions: unknown[][]; lines: unknown[][] }
  | { kind: 'servicesOver'; keep: number }
  | { kind: 'pruneSlice'; service: string; size: number; keep: number };

/**
 * Batches on SQLite, written by a thread of their own: better-sqlite3 is
 * synchronous, and on the event loop each row cost some 6 µs of every
 * request's time (inserting, growing the WAL, checkpointing), more with the
 * request recorded. The event loop now only posts the rows (about 1 µs a
 * row); the thread spells them for SQLite and runs each batch in one
 * transaction on its own connection, where waiting for the write lock blocks
 * nothing else. The thread starts on the first batch and stops after 5 s
 * without one (starting costs some 30 ms, off the request path); if it dies,
 * the batches in flight fail (the recorder retries them) and the next starts
 * a new one.
 */
export class SqliteExecutionWriter implements ExecutionWriter {
  private thread: Worker | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private lastId = 0;

  constructor(
    private readonly file: string,
    private readonly idleStopMs = IDLE_STOP_MS,
  ) {}

  async write(executions: ExecutionEvent[], lines: LogLineEvent[]): Promise<void> {
    await this.ask({ kind: 'write', executions: executions.map(executionValues), lines: lines.map(lineValues) });
  }

  prune(keep: number): Promise<number> {
    return pruneInSlices(keep, {
      servicesOver: (over) => this.ask({ kind: 'servicesOver', keep: over }) as Promise<string[]>,
      slice: (service, size, kept) => this.ask({ kind: 'pruneSlice', service, size, keep: kept }) as Promise<number>,
    });
  }

  async close(): Promise<void> {
    await this.stop();
    this.failAll(new Error('The execution writer was closed.'));
  }

  private async stop(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const thread = this.thread;
    // Forgotten first: its exit is then not taken for a death.
    this.thread = null;
    if (thread) await thread.terminate();
  }

  private ask(task: Task): Promise<unknown> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const thread = this.thread ?? this.start();
    const id = ++this.lastId;
    return new Promise((resolve, reject) => {
      // Only a task in flight keeps the process alive.
      if (this.waiting.size === 0) thread.ref();
      this.waiting.set(id, { resolve, reject });
      thread.postMessage({ id, task });
    });
  }

  private start(): Worker {
    const thread = new Worker(THREAD_FILE, {
      workerData: {
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        file: this.file,
        busyTimeoutMs: BUSY_TIMEOUT_MS,
        upsertSql:
          `INSERT INTO "Execution" (${EXECUTION_COLUMNS.map(quote).join(', ')}) VALUES (${EXECUTION_COLUMNS.map(() => '?').join(', ')}) ` +
          `ON CONFLICT ("id") DO UPDATE SET ${UPDATED_ON_CONFLICT.map((c) => `${quote(c)} = excluded.${quote(c)}`).join(', ')}`,
        appendSql: `INSERT INTO "LogLine" (${LINE_COLUMNS.map(quote).join(', ')}) VALUES (${LINE_COLUMNS.map(() => '?').join(', ')})`,
        servicesOverSql: PRUNE_SQL.servicesOver(() => '?'),
        pruneSliceSql: PRUNE_SQL.slice(() => '?'),
      },
    });
    thread.unref();
    thread.on('message', ({ id, result, error }: { id: number; result?: unknown; error?: { message: string; code?: string } }) => {
      const waiting = this.waiting.get(id);
      this.waiting.delete(id);
      if (this.waiting.size === 0) {
        thread.unref();
        if (this.idleTimer) clearTimeout(this.idleTimer);
        this.idleTimer = setTimeout(() => void this.stop(), this.idleStopMs).unref();
      }
      if (error) waiting?.reject(Object.assign(new Error(error.message), { code: error.code }));
      else waiting?.resolve(result);
    });
    const lost = (error: Error) => {
      if (this.thread !== thread) return;
      this.thread = null;
      this.failAll(error);
    };
    thread.on('error', lost);
    thread.on('exit', (code) => lost(new Error(`The SQLite execution writer thread stopped (exit code ${code}).`)));
    return (this.thread = thread);
  }

  private failAll(error: Error): void {
    for (const waiting of this.waiting.values()) waiting.reject(error);
    this.waiting.clear();
  }
}
