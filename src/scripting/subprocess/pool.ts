import { overloaded, ScriptFailure } from '../failure.ts';
import type { ScriptJob, ScriptOutcome } from '../types.ts';
import type { LanguageSpec } from './languages/language.ts';
import { Worker, type WorkerEvents, type WorkerState } from './worker.ts';

export interface PoolOptions {
  language: LanguageSpec;
  /** Workers kept warm even when idle. */
  minSize: number;
  /** Workers at most; calls beyond wait in the queue. */
  maxSize: number;
  /** Workers one service (script key) may have busy at once; its further calls wait their turn. */
  workersPerService: number;
  /** Calls of one service allowed to wait; four times that in all. Past either a call is refused as overloaded. */
  queueLimit: number;
  /** Memory limit for workers started ahead of need (languages that fix it at start). */
  defaultMemoryLimitMb: number;
  /** Extra idle workers are stopped after this long unused. */
  idleTtlMs: number;
  createWorker(memoryLimitMb: number, network: boolean, events: WorkerEvents): Worker;
}

/** A live worker as diagnostics and tests see it. */
export interface WorkerDescription {
  /** Host pid of our child: bwrap, or the runner unsandboxed. */
  pid: number | undefined;
  /** Host pid of the runner. */
  runnerPid: number | undefined;
  /** Host uid its processes run as (sandboxed as root), else null. */
  uid: number | null;
  scriptKey: string | null;
  state: string;
  /** From spawn until it could take a job, in ms. */
  startMs: number | null;
}

/** What the pool holds now, for operators (/metrics). */
export interface PoolStats {
  /** Live workers by state. */
  workers: Record<WorkerState, number>;
  /** Calls waiting for a worker. */
  queued: number;
  /** Calls refused as overloaded (503) since start. */
  rejected: number;
}

interface Waiting {
  job: ScriptJob;
  resolve: (outcome: ScriptOutcome) => void;
  reject: (failure: ScriptFailure) => void;
  timer: NodeJS.Timeout;
  /** Arrival order, for first come first served among equals. */
  seq: number;
}

/** After this many start-up failures in a row, calls fail fast for a while instead of respawning in a loop. */
const START_FAILURE_LIMIT = 3;
const START_BACKOFF_MS = 2000;
/** The queue of a whole type holds this many times one service's share. */
const TOTAL_QUEUE_FACTOR = 4;
/** Nested calls may take workers past `maxSize` up to this many times it, then they are refused as overloaded. */
const NESTED_CAPACITY_FACTOR = 2;

/**
 * A `platform.api` call's run: the scripts up its chain wait for it holding
 * their workers, so it never waits for a fair share or for one of them.
 */
const isNested = (job: ScriptJob): boolean => (job.depth ?? 0) > 0;

/**
 * The warm workers of one script type: picks a worker that fits each call,
 * keeps one spare started ahead of need, grows on demand up to `maxSize`,
 * queues what does not fit, refuses past the queue, replaces dead workers
 * and retires idle extras.
 *
 * Fair shares: a service has at most `workersPerService` workers busy; its
 * further calls wait. A freed worker goes to the waiting service with the
 * fewest busy workers (then first come); when that service needs a worker of
 * its own and the pool is full, an idle worker of another service is retired
 * to make room, so a busy service cannot keep its neighbours waiting.
 */
export class WorkerPool {
  private readonly workers = new Set<Worker>();
  private queue: Waiting[] = [];
  private nextSeq = 0;
  private stopping = false;
  private readonly reaper: NodeJS.Timeout;
  private averageMs = 50;
  private rejected = 0;
  private startFailures = 0;
  private lastStartError: string | null = null;
  private lastStartFailureAt = 0;
  private memoryLimitForSpares: number;
  private networkForSpares = true;
  private readonly events: WorkerEvents = {
    idle: (worker) => this.onIdle(worker),
    exit: (worker, startError) => this.onExit(worker, startError),
  };

  constructor(private readonly options: PoolOptions) {
    this.memoryLimitForSpares = options.defaultMemoryLimitMb;
    this.reaper = setInterval(() => this.retireIdleExtras(), Math.max(1000, Math.min(options.idleTtlMs, 10_000)));
    this.reaper.unref();
  }

  /** Starts the minimum number of workers and waits until they can take calls. */
  async warmUp(): Promise<void> {
    const started: Worker[] = [];
    while (!this.stopping && this.liveCount() < this.options.minSize) {
      // One spawn an event-loop turn: a spawn holds the loop 5 to 20 ms here (the fork copies the server's page tables).
      if (started.length) await new Promise((resolve) => setImmediate(resolve));
      started.push(this.spawn(this.memoryLimitForSpares, this.networkForSpares));
    }
    await Promise.all(started.map((worker) => worker.ready));
  }

  run(job: ScriptJob): Promise<ScriptOutcome> {
    const type = this.options.language.type;
    if (this.stopping) return Promise.reject(new ScriptFailure('unavailable', `The ${type} engine is shutting down.`));
    if (this.options.language.memoryLimitAtSpawn) this.memoryLimitForSpares = job.limits.memoryLimitMb;
    this.networkForSpares = job.limits.network;
    const worker = this.idleWorkerFor(job);
    if (worker) return this.dispatch(worker, job);
    if (this.failingToStart()) {
      return Promise.reject(new ScriptFailure('unavailable', `Could not start a ${type} worker: ${this.lastStartError}`));
    }
    const waitingForKey = this.queue.reduce((n, waiting) => n + (waiting.job.scriptKey === job.scriptKey ? 1 : 0), 0);
    if (isNested(job) && this.liveCount() >= this.options.maxSize * NESTED_CAPACITY_FACTOR) {
      return Promise.reject(this.overloaded(`All ${this.liveCount()} ${type} workers are busy, most with calls waiting for nested platform.api calls.`));
    }
    if (waitingForKey >= this.options.queueLimit) {
      return Promise.reject(this.overloaded(`This service's ${type} calls are all busy and ${waitingForKey} more are waiting.`));
    }
    if (this.queue.length >= this.options.queueLimit * TOTAL_QUEUE_FACTOR) {
      return Promise.reject(this.overloaded(`All ${this.options.maxSize} ${type} workers are busy and ${this.queue.length} calls are waiting.`));
    }
    return new Promise<ScriptOutcome>((resolve, reject) => {
      // A call may wait for busy workers as long as it would be allowed to run, no longer.
      const waitMs = job.limits.timeoutMs > 0 ? job.limits.timeoutMs : 30_000;
      const giveUp = (): void => {
        // A worker starting for it is no sign of overload: a cold start (slow on a loaded host) ends in a worker or in a start failure.
        if (this.workerComingFor(job)) {
          waiting.timer = setTimeout(giveUp, waitMs);
          return;
        }
        this.queue = this.queue.filter((entry) => entry !== waiting);
        reject(this.overloaded(`No ${type} worker became free within ${waitMs} ms.`));
      };
      const waiting: Waiting = { job, resolve, reject, seq: this.nextSeq++, timer: setTimeout(giveUp, waitMs) };
      this.queue.push(waiting);
      this.provision();
    });
  }

  /** The owner's script changed or it was deleted: its bound workers must not serve it again. */
  forget(scriptKey: string): void {
    for (const worker of this.workers) {
      if (worker.boundKey !== scriptKey) continue;
      if (worker.state === 'idle') void worker.close();
      else worker.retireWhenIdle = true;
    }
  }

  pids(): number[] {
    const pids: number[] = [];
    for (const worker of this.workers) if (worker.pid) pids.push(worker.pid);
    return pids;
  }

  describe(): WorkerDescription[] {
    return [...this.workers].map((worker) => ({
      pid: worker.pid,
      runnerPid: worker.runnerPid,
      uid: worker.uid,
      scriptKey: worker.boundKey,
      state: worker.state,
      startMs: worker.startMs,
    }));
  }

  get size(): number {
    return this.liveCount();
  }

  get stats(): PoolStats {
    const workers: Record<WorkerState, number> = { starting: 0, idle: 0, busy: 0, closing: 0, dead: 0 };
    for (const worker of this.workers) workers[worker.state]++;
    return { workers, queued: this.queue.length, rejected: this.rejected };
  }

  /** Refuses new calls, lets running ones finish until the deadline, then ends every worker. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    clearInterval(this.reaper);
    const type = this.options.language.type;
    for (const waiting of this.queue) {
      clearTimeout(waiting.timer);
      waiting.reject(new ScriptFailure('unavailable', `The ${type} engine is shutting down.`));
    }
    this.queue = [];
    const busy = [...this.workers].filter((worker) => worker.state === 'busy');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(busy.map((worker) => worker.whenIdle())),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadlineMs)))),
    ]);
    clearTimeout(timer);
    await Promise.all([...this.workers].map((worker) => worker.close()));
  }

  // ---- choosing and starting workers ------------------------------------------

  /**
   * An idle worker that fits, if the service is under its share: one already
   * serving this owner first, so fresh ones stay free for others.
   */
  private idleWorkerFor(job: ScriptJob): Worker | null {
    let fallback: Worker | null = null;
    let own: Worker | null = null;
    let busy = 0;
    for (const worker of this.workers) {
      if (worker.state === 'busy' && worker.boundKey === job.scriptKey) busy++;
      if (worker.state !== 'idle' || worker.retireWhenIdle || !worker.fits(job)) continue;
      if (worker.boundKey === job.scriptKey) own ??= worker;
      else fallback ??= worker;
    }
    if (busy >= this.options.workersPerService && !isNested(job)) return null;
    return own ?? fallback;
  }

  private dispatch(worker: Worker, job: ScriptJob): Promise<ScriptOutcome> {
    const started = performance.now();
    const running = worker.run(job);
    const record = (): void => {
      this.averageMs = this.averageMs * 0.9 + (performance.now() - started) * 0.1;
    };
    running.then(record, record);
    this.keepSpare();
    return running;
  }

  private take(waiting: Waiting): void {
    this.queue.splice(this.queue.indexOf(waiting), 1);
    clearTimeout(waiting.timer);
  }

  private onIdle(worker: Worker): void {
    this.startFailures = 0;
    if (this.stopping) return;
    if (worker.retireWhenIdle) {
      void worker.close();
      this.provision();
      return;
    }
    for (const waiting of this.waitingInTurn()) {
      if (worker.fits(waiting.job)) {
        this.take(waiting);
        this.dispatch(worker, waiting.job).then(waiting.resolve, waiting.reject);
        break;
      }
      // Its turn comes first, but it needs a worker of its own: with the pool full, this one makes room.
      if (!this.workerComingFor(waiting.job) && this.liveCount() >= this.options.maxSize) {
        void worker.close();
        break;
      }
    }
    this.provision();
  }

  private onExit(worker: Worker, startError: string | null): void {
    this.workers.delete(worker);
    if (startError) {
      this.startFailures++;
      this.lastStartError = startError;
      this.lastStartFailureAt = Date.now();
    }
    if (this.stopping) return;
    if (this.failingToStart()) {
      for (const waiting of this.queue) {
        clearTimeout(waiting.timer);
        waiting.reject(new ScriptFailure('unavailable', `Could not start a ${this.options.language.type} worker: ${startError}`));
      }
      this.queue = [];
      return;
    }
    this.provision();
  }

  /** Every queued call whose service is under its share gets a worker on its way (within capacity), and the minimum stays warm. */
  private provision(): void {
    if (this.stopping || this.failingToStart()) return;
    if (this.queue.length > 0) this.provisionWaiting();
    while (this.liveCount() < this.options.minSize) this.spawn(this.memoryLimitForSpares, this.networkForSpares);
    this.keepSpare();
  }

  private provisionWaiting(): void {
    const coming = [...this.workers].filter((worker) => worker.state === 'starting' && !worker.retireWhenIdle);
    const planned = this.busyByKey();
    for (const waiting of this.waitingInTurn(planned)) {
      const key = waiting.job.scriptKey;
      const nested = isNested(waiting.job);
      if ((planned.get(key) ?? 0) >= this.options.workersPerService && !nested) continue;
      planned.set(key, (planned.get(key) ?? 0) + 1);
      const index = coming.findIndex((worker) => worker.fits(waiting.job));
      if (index >= 0) {
        coming.splice(index, 1);
        continue;
      }
      if (!this.makeRoom(waiting.job) && !(nested && this.liveCount() < this.options.maxSize * NESTED_CAPACITY_FACTOR)) break;
      this.spawn(waiting.job.limits.memoryLimitMb, waiting.job.limits.network);
    }
  }

  /**
   * Waiting calls in turn: nested calls first, deepest first (their callers
   * hold workers until they end); then calls of services under their share,
   * those with the fewest busy workers first, then first come.
   */
  private waitingInTurn(busy: Map<string, number> = this.busyByKey()): Waiting[] {
    if (this.queue.length === 0) return [];
    const share = this.options.workersPerService;
    const busyOf = (waiting: Waiting): number => busy.get(waiting.job.scriptKey) ?? 0;
    const depthOf = (waiting: Waiting): number => waiting.job.depth ?? 0;
    return this.queue
      .filter((waiting) => busyOf(waiting) < share || isNested(waiting.job))
      .sort((a, b) => depthOf(b) - depthOf(a) || busyOf(a) - busyOf(b) || a.seq - b.seq);
  }

  private busyByKey(): Map<string, number> {
    const busy = new Map<string, number>();
    for (const worker of this.workers) {
      if (worker.state === 'busy' && worker.boundKey !== null) busy.set(worker.boundKey, (busy.get(worker.boundKey) ?? 0) + 1);
    }
    return busy;
  }

  private workerComingFor(job: ScriptJob): boolean {
    for (const worker of this.workers) if (worker.state === 'starting' && !worker.retireWhenIdle && worker.fits(job)) return true;
    return false;
  }

  /**
   * One unbound worker idle or starting ahead of need, while under `maxSize`,
   * so a call for a new owner (or a burst) does not wait for a process start.
   */
  private keepSpare(): void {
    if (this.stopping || this.failingToStart() || this.liveCount() >= this.options.maxSize) return;
    for (const worker of this.workers) {
      if ((worker.state === 'idle' || worker.state === 'starting') && worker.boundKey === null && !worker.retireWhenIdle) return;
    }
    this.spawn(this.memoryLimitForSpares, this.networkForSpares);
  }

  /** Room for one more worker: under capacity, or by retiring the least recently used idle worker that does not fit. */
  private makeRoom(job: ScriptJob): boolean {
    if (this.liveCount() < this.options.maxSize) return true;
    let coldest: Worker | null = null;
    for (const worker of this.workers) {
      if (worker.state !== 'idle' || worker.fits(job)) continue;
      if (!coldest || worker.lastUsedAt < coldest.lastUsedAt) coldest = worker;
    }
    if (!coldest) return false;
    void coldest.close();
    return true;
  }

  private spawn(memoryLimitMb: number, network: boolean): Worker {
    const worker = this.options.createWorker(memoryLimitMb, network, this.events);
    this.workers.add(worker);
    return worker;
  }
  private retireIdleExtras(): void {
    if (this.stopping) return;
    const now = Date.now();
    const idle = [...this.workers]
      .filter((worker) => worker.state === 'idle' && now - worker.lastUsedAt > this.options.idleTtlMs)
      .sort((a, b) => a.lastUsedAt - b.lastUsedAt);
    for (const worker of idle) {
      if (this.liveCount() <= this.options.minSize) break;
      void worker.close();
    }
  }

  /** Workers that count against capacity (closing ones are on their way out). */
  private liveCount(): number {
    let count = 0;
    for (const worker of this.workers) if (worker.state !== 'closing' && worker.state !== 'dead') count++;
    return count;
  }

  private failingToStart(): boolean {
    return this.startFailures >= START_FAILURE_LIMIT && Date.now() - this.lastStartFailureAt < START_BACKOFF_MS;
  }

  private overloaded(message: string): ScriptFailure {
    this.rejected++;
    return overloaded(message, ((this.queue.length + 1) * this.averageMs) / Math.max(1, this.options.maxSize));
  }
}
