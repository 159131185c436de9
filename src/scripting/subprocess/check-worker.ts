import type { Diagnostic } from '../diagnostics.ts';
import { overloaded, ScriptFailure } from '../failure.ts';
import type { Worker, WorkerEvents } from './worker.ts';

export interface CheckWorkerOptions {
  type: string;
  /** A worker like the pool's, with no network and the default memory limit. */
  create(events: WorkerEvents): Worker;
  /** How long one compile may take once the worker is ready; past it the worker is killed. */
  timeoutMs: number;
  /** Checks allowed to wait; past it, overloaded (503). */
  queueLimit: number;
  /** The worker is stopped after this long without a check. */
  idleTtlMs: number;
}

interface PendingCheck {
  script: string;
  resolve: (diagnostics: Diagnostic[]) => void;
  reject: (failure: ScriptFailure) => void;
}

/**
 * The one warm worker of a type that answers syntax checks, started on the
 * first check and stopped after `idleTtlMs` without one. Not a pool worker:
 * a worker that ran a service's script may hold what that script left in the
 * process (a patched module), which must never see another script's text, so
 * checks go only to a worker that never runs a job; and keeping it apart
 * leaves the pool's service affinity and fair shares as they are. Checks run
 * one at a time (a compile takes a few ms).
 */
export class CheckWorker {
  private worker: Worker | null = null;
  private readonly queue: PendingCheck[] = [];
  private running = false;
  private stopped = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly events: WorkerEvents = {
    idle: () => {},
    exit: (worker) => {
      if (this.worker === worker) this.worker = null;
    },
  };

  constructor(private readonly options: CheckWorkerOptions) {}

  check(script: string): Promise<Diagnostic[]> {
    if (this.stopped) return Promise.reject(new ScriptFailure('unavailable', `The ${this.options.type} engine is shutting down.`));
    if (this.queue.length >= this.options.queueLimit) {
      return Promise.reject(overloaded(`${this.queue.length} ${this.options.type} syntax checks are waiting.`, this.queue.length * 5));
    }
    return new Promise<Diagnostic[]>((resolve, reject) => {
      this.queue.push({ script, resolve, reject });
      void this.next();
    });
  }

  /** Pids of the checking worker, if one runs (tests). */
  get pid(): number | undefined {
    return this.worker?.pid;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const pending of this.queue.splice(0)) pending.reject(new ScriptFailure('unavailable', `The ${this.options.type} engine is shutting down.`));
    await this.worker?.close();
  }

  private async next(): Promise<void> {
    if (this.running) return;
    const pending = this.queue.shift();
    if (!pending) {
      this.retireLater();
      return;
    }
    this.running = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    try {
      const worker = await this.ready();
      pending.resolve(await worker.check(pending.script, this.options.timeoutMs));
    } catch (error) {
      pending.reject(
        error instanceof ScriptFailure
          ? error
          : new ScriptFailure('unavailable', `Could not start a ${this.options.type} worker to check the script: ${(error as Error).message}`),
      );
    } finally {
      this.running = false;
      void this.next();
    }
  }

  private async ready(): Promise<Worker> {
    let worker = this.worker;
    if (!worker || worker.state === 'dead' || worker.state === 'closing') worker = this.worker = this.options.create(this.events);
    await worker.ready;
    return worker;
  }

  private retireLater(): void {
    if (this.idleTimer || !this.worker) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (!this.running && this.queue.length === 0) void this.worker?.close();
    }, this.options.idleTtlMs);
    this.idleTimer.unref();
  }
}
