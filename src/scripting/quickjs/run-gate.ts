import { overloaded, ScriptFailure } from '../failure.ts';

interface Waiter {
  admit: () => void;
  refuse: (failure: ScriptFailure) => void;
  timer: NodeJS.Timeout;
}

/**
 * Bounds how many JavaScript runs hold a context at once. Synchronous scripts
 * never overlap (they finish in their request's tick), but scripts awaiting
 * timers or `platform.api` each hold a WebAssembly instance (about 0.3 MB,
 * plus whatever their heap holds): without a bound, a flood of slow calls
 * grows memory without end. Past `maxRunning`, calls wait in FIFO order, no
 * longer than their own timeout; past `queueLimit` waiting, they are refused
 * at once as overloaded (503 with Retry-After).
 */
export class RunGate {
  private running = 0;
  /** Insertion order is arrival order; a waiter that times out deletes itself. */
  private readonly waiting = new Set<Waiter>();
  private averageMs = 50;

  constructor(
    private readonly maxRunning: number,
    private readonly queueLimit: number,
  ) {}

  /** Takes a slot at once if one is free: the common case costs no promise. */
  tryEnter(): boolean {
    if (this.running >= this.maxRunning || this.waiting.size > 0) return false;
    this.running++;
    return true;
  }

  /** Resolves when a slot is taken for this call; rejects as overloaded. */
  enter(maxWaitMs: number): Promise<void> {
    if (this.tryEnter()) return Promise.resolve();
    if (this.waiting.size >= this.queueLimit) {
      return Promise.reject(this.overloaded(`${this.running} JavaScript runs are in progress and ${this.waiting.size} calls are waiting.`));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        admit: resolve,
        refuse: reject,
        timer: setTimeout(() => {
          this.waiting.delete(waiter);
          reject(this.overloaded(`No JavaScript run slot became free within ${maxWaitMs} ms.`));
        }, maxWaitMs),
      };
      this.waiting.add(waiter);
    });
  }

  /** Gives the slot to the longest waiting call, or frees it. */
  leave(ranMs: number): void {
    this.averageMs = this.averageMs * 0.9 + ranMs * 0.1;
    const next = this.waiting.values().next();
    if (next.done) {
      this.running--;
      return;
    }
    this.waiting.delete(next.value);
    clearTimeout(next.value.timer);
    next.value.admit();
  }

  /** Refuses every waiting call (shutting down). */
  refuseWaiting(failure: ScriptFailure): void {
    for (const waiter of this.waiting) {
      clearTimeout(waiter.timer);
      waiter.refuse(failure);
    }
    this.waiting.clear();
  }

  get inProgress(): number {
    return this.running;
  }

  private overloaded(message: string): ScriptFailure {
    return overloaded(message, ((this.waiting.size + 1) * this.averageMs) / Math.max(1, this.maxRunning));
  }
}
