import { overloaded, ScriptFailure } from '../failure.ts';
import type { MemoryBudget } from './memory-budget.ts';

interface Waiter {
  bytes: number;
  held: number;
  admit: () => void;
  refuse: (failure: ScriptFailure) => void;
  timer: NodeJS.Timeout;
}

/**
 * Bounds the JavaScript runs holding a context at once, by count and by
 * sandbox memory. Synchronous scripts never overlap (they finish in their
 * request's tick), but scripts awaiting timers or `platform.api` each hold a
 * WebAssembly instance that may grow to its memory limit: without a bound, a
 * flood of slow or big calls grows memory without end. A run enters only when
 * a slot is free and its worst-case memory fits the budget (idle contexts are
 * evicted to make room); otherwise it waits in FIFO order, no longer than its
 * own timeout, and past `queueLimit` waiting it is refused at once as
 * overloaded (503 with Retry-After).
 */
export class RunGate {
  private running = 0;
  /** Insertion order is arrival order; a waiter that times out deletes itself. */
  private readonly waiting = new Set<Waiter>();
  private averageMs = 50;
  /** Calls refused as overloaded (queue full, or no slot within their timeout) since start. */
  private refused = 0;

  constructor(
    private readonly maxRunning: number,
    private readonly queueLimit: number,
    private readonly budget: MemoryBudget,
  ) {}

  /** Whether a call for `bytes` would have to wait: every slot taken, calls waiting, or no room even with every idle context dropped. */
  wouldWait(bytes: number): boolean {
    return this.busy() || !this.budget.couldFit(bytes);
  }

  /** Every slot taken, or calls waiting (they go first). */
  private busy(): boolean {
    return this.running >= this.maxRunning || this.waiting.size > 0;
  }

  /** Takes a slot and reserves `bytes` at once if both are free: the common case costs no promise. */
  tryEnter(bytes: number, held = 0): boolean {
    if (this.busy() || !this.budget.makeRoom(bytes - held)) return false;
    this.admit(bytes, held);
    return true;
  }

  /** `held`: bytes of a context the call already has, counted as idle until now; the reservation covers them from here. */
  private admit(bytes: number, held: number): void {
    this.running++;
    this.budget.removeIdle(held);
    this.budget.reserve(bytes);
  }

  /** Resolves when a slot and `bytes` are taken for this call; rejects as overloaded. `bytes` must fit the budget when nothing else runs. */
  enter(bytes: number, maxWaitMs: number, held = 0): Promise<void> {
    if (this.tryEnter(bytes, held)) return Promise.resolve();
    if (this.waiting.size >= this.queueLimit) {
      return Promise.reject(this.overloaded(`${this.running} JavaScript runs are in progress and ${this.waiting.size} calls are waiting.`));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        bytes,
        held,
        admit: resolve,
        refuse: reject,
        timer: setTimeout(() => {
          this.waiting.delete(waiter);
          const { reservedBytes, totalBytes } = this.budget.stats;
          reject(
            this.overloaded(
              `No JavaScript run slot became free within ${maxWaitMs} ms (${this.running} runs in progress hold ${mb(reservedBytes)} of ${mb(totalBytes)} MB of sandbox memory).`,
            ),
          );
          // The head may have been the one that did not fit: those behind it may.
          this.admitWaiting();
        }, maxWaitMs),
      };
      this.waiting.add(waiter);
    });
  }

  /**
   * Gives back the slot and the reservation, then admits waiting calls that
   * now fit. `handBack` runs in between: a context going back to the idle
   * pool is counted there only once its reservation is gone.
   */
  leave(ranMs: number, bytes: number, handBack?: () => void): void {
    this.averageMs = this.averageMs * 0.9 + ranMs * 0.1;
    this.running--;
    this.budget.unreserve(bytes);
    try {
      handBack?.();
    } finally {
      this.admitWaiting();
    }
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

  get waitingCount(): number {
    return this.waiting.size;
  }

  get refusedCount(): number {
    return this.refused;
  }

  private admitWaiting(): void {
    for (const waiter of this.waiting) {
      if (this.running >= this.maxRunning || !this.budget.makeRoom(waiter.bytes - waiter.held)) return;
      this.waiting.delete(waiter);
      clearTimeout(waiter.timer);
      this.admit(waiter.bytes, waiter.held);
      waiter.admit();
    }
  }

  /**
   * For calls refused before they reach the gate (cold-lane.ts), counted as
   * its own: when `othersWaiting` more calls wait elsewhere, whether the queue
   * is full, as an overloaded failure; null when there is room.
   */
  refuseWhenFull(othersWaiting: number): ScriptFailure | null {
    const waiting = this.waiting.size + othersWaiting;
    return waiting >= this.queueLimit ? this.overloaded(`${this.running} JavaScript runs are in progress and ${waiting} calls are waiting.`) : null;
  }

  private overloaded(message: string): ScriptFailure {
    this.refused++;
    return overloaded(message, ((this.waiting.size + 1) * this.averageMs) / Math.max(1, this.maxRunning));
  }
}

function mb(bytes: number): number {
  return Math.round(bytes / (1024 * 1024));
}
