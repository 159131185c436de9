import { randomUUID } from 'node:crypto';
import type { QueueSettings } from '../config.ts';
import type { ClaimedRun, QueueDepth, QueueStore } from './queue-store.ts';
import type { AttemptOutcome, QueuedJob, QueuedRunInput, RunQueue, RunQueueStats } from './run-queue.ts';
import { toStoredRun } from './stored-run.ts';

/** Backoff never waits longer than this between attempts. */
const MAX_BACKOFF_MS = 3_600_000;
/**
 * Claims a run may lose with dying instances (beyond its own attempts) before
 * it is taken for what kills them and dropped, so it cannot crash-loop a cluster.
 */
const LOST_CLAIMS_ALLOWED = 3;
const DEFAULT_STOP_DEADLINE_MS = 10_000;

interface Running {
  row: ClaimedRun;
}

/**
 * The queue's scheduling over a QueueStore: claims due rows while slots are
 * free, renews running claims, retries failed runs after a doubling delay.
 * Claims on enqueue and when a slot frees up; polls only for rows stored by
 * other instances or left behind by a dead one.
 */
export class TableRunQueue implements RunQueue {
  private run: ((job: QueuedJob) => Promise<void>) | null = null;
  private readonly running = new Set<Running>();
  private claiming: Promise<void> | null = null;
  private claimAgain = false;
  private stopping = false;
  /** After stop(): runs still going are abandoned; their rows wait for their leases to expire. */
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private pollTimer: NodeJS.Timeout | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private idleWaiters: (() => void)[] = [];
  private readonly attempts: Record<AttemptOutcome, number> = { succeeded: 0, retried: 0, failed: 0, dropped: 0 };

  constructor(
    private readonly store: QueueStore,
    private readonly settings: QueueSettings,
    private readonly onError: (error: unknown) => void,
  ) {}

  async enqueue(runs: QueuedRunInput[]): Promise<void> {
    // All checked before any is written: a request's runs are stored together or refused together.
    const stored = runs.map((run) => toStoredRun(run, this.settings.maxPayloadBytes));
    if (stored.length === 0) return;
    await this.store.insert(stored);
    this.claim();
  }

  get stats(): RunQueueStats {
    return { running: this.running.size, concurrency: this.settings.concurrency, attempts: { ...this.attempts } };
  }

  depth(): Promise<QueueDepth> {
    return this.store.depth();
  }

  start(run: (job: QueuedJob) => Promise<void>): void {
    if (this.run) throw new Error('the run queue is already started');
    if (this.stopping) throw new Error('the run queue is stopped');
    this.run = run;
    if (this.settings.concurrency === 0) return;
    this.pollTimer = setInterval(() => this.claim(), this.settings.pollMs).unref();
    this.renewTimer = setInterval(() => this.renew(), this.settings.renewMs).unref();
    this.claim();
  }

  async stop(deadlineMs = DEFAULT_STOP_DEADLINE_MS): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.claiming;
    if (this.running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs))),
      ]);
      clearTimeout(timer);
    }
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.stopped = true;
  }

  /** Claims while slots are free; a call during a claim repeats it after, so no enqueue goes unseen. */
  private claim(): void {
    if (!this.run || this.stopping || this.settings.concurrency === 0) return;
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    this.claiming = this.claimWhileRoom()
      .catch((error: unknown) => this.onError(error))
      .finally(() => {
        this.claiming = null;
        if (this.claimAgain) {
          this.claimAgain = false;
          this.claim();
        }
      });
  }

  private async claimWhileRoom(): Promise<void> {
    for (;;) {
      const room = this.settings.concurrency - this.running.size;
      if (room <= 0 || this.stopping) return;
      const token = randomUUID();
      const claimed = await this.store.claim(room, token, this.settings.leaseMs);
      if (this.stopping) {
        await this.store.release([token]);
        return;
      }
      for (const row of claimed) this.begin(row);
      if (claimed.length < room) return;
    }
  }

  private begin(row: ClaimedRun): void {
    const lostClaims = row.claims - row.failures - 1;
    if (lostClaims > LOST_CLAIMS_ALLOWED) {
      this.drop(row, `its instance stopped or died while running it ${lostClaims} times`);
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(row.payload);
    } catch (error) {
      this.drop(row, `its stored event is not JSON (${(error as Error).message})`);
      return;
    }
    const entry: Running = { row };
    this.running.add(entry);
    const job: QueuedJob = {
      id: row.id,
      eventName: row.eventName,
      payload,
      attempt: row.failures + 1,
      willRetry: row.failures < row.retries,
    };
    void this.execute(entry, job);
  }

  private async execute(entry: Running, job: QueuedJob): Promise<void> {
    const { row } = entry;
    const outcome = await this.settle(job);
    this.running.delete(entry);
    this.attempts[!outcome.failed ? 'succeeded' : job.willRetry ? 'retried' : 'failed']++;
    try {
      // Stopped meanwhile: the database may be closing; the row's lease expires and another instance takes it.
      if (this.stopped) return;
      if (outcome.failed && job.willRetry) {
        const delayMs = this.backoff(row.failures + 1);
        if (!(await this.store.retryLater(row.id, row.token, delayMs))) this.claimLost(row);
        else this.wakeAfter(delayMs);
      } else {
        if (!(await this.store.remove(row.id, row.token))) this.claimLost(row);
      }
      if (outcome.timedOut) {
        this.onError(
          new Error(
            `queued run ${row.id} (${row.eventName}) did not settle within ${this.settings.leaseMs} ms (QUEUE_LEASE_MS); ` +
              (job.willRetry ? 'it will be retried' : 'it was dropped'),
          ),
        );
      }
    } catch (error) {
      this.onError(error);
    } finally {
      if (this.running.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      this.claim();
    }
  }

  /** The run's outcome; one that never settles counts as failed once the lease time has passed. */
  private async settle(job: QueuedJob): Promise<{ failed: boolean; timedOut: boolean }> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<{ failed: boolean; timedOut: boolean }>((resolve) => {
      timer = setTimeout(() => resolve({ failed: true, timedOut: true }), this.settings.leaseMs).unref();
    });
    const ran = Promise.resolve()
      .then(() => this.run!(job))
      .then(
        () => ({ failed: false, timedOut: false }),
        () => ({ failed: true, timedOut: false }),
      );
    try {
      return await Promise.race([ran, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Doubling from the base, with up to a quarter more at random so failed runs do not retry in lockstep. */
  private backoff(failures: number): number {
    const delay = Math.min(this.settings.retryBaseMs * 2 ** Math.min(failures - 1, 40), MAX_BACKOFF_MS);
    return Math.round(delay * (1 + Math.random() * 0.25));
  }

  /** A retry falls due here: claim it then instead of at the next poll. */
  private wakeAfter(delayMs: number): void {
    if (this.stopping) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.claim();
    }, delayMs + 1).unref();
    this.timers.add(timer);
  }

  private renew(): void {
    const tokens = [...new Set([...this.running].map((entry) => entry.row.token))];
    this.store.renew(tokens, this.settings.leaseMs).catch((error: unknown) => this.onError(error));
  }

  private drop(row: ClaimedRun, reason: string): void {
    this.attempts.dropped++;
    this.store.remove(row.id, row.token).catch((error: unknown) => this.onError(error));
    this.onError(new Error(`queued run ${row.id} (${row.eventName}) was dropped: ${reason}`));
  }

  private claimLost(row: ClaimedRun): void {
    this.onError(
      new Error(`queued run ${row.id} (${row.eventName}) lost its claim before it finished (lease expired); another instance may have run it too`),
    );
  }
}
