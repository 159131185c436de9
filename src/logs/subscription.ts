/** What a publisher needs of a subscriber. */
export interface Subscriber<T> {
  push(item: T): void;
  end(): void;
  /** How many clients this subscription serves (a shared one serves many: src/graphql/subscription-fanout.ts). */
  readonly listeners: number;
}

/** Why a subscriber is being dropped: its queue of items, or the bytes waiting for its socket. */
export type FellBehind = { items: number } | { bytes: number };

/** What a live subscription's source offers the fan-out (src/graphql/subscription-fanout.ts). */
export interface LiveSource<F> {
  /**
   * Every client subscribing with the same operation and variables may read
   * this one source: its items do not depend on when or by whom it was opened.
   */
  readonly shareable?: boolean;
  /** Clients this source serves; the fan-out sets it as they join and leave. */
  listeners?: number;
  /** The last item a client dropped for falling behind reads; undefined: none, it just completes. */
  farewell?(reason: FellBehind): F | undefined;
}

/**
 * One subscriber's bounded queue. Publishing never waits on a subscriber:
 * one that falls `capacity` items behind gets a last item saying so (of type
 * F, if `farewell` makes one) and is closed, so a slow reader cannot slow scripts.
 */
export class BoundedSubscription<T, F = T> implements AsyncIterableIterator<T | F>, Subscriber<T>, LiveSource<F> {
  /** A topic subscription yields what is published from now on, to whoever reads it. */
  readonly shareable = true;
  listeners = 1;
  private readonly queue: (T | F)[] = [];
  private waiter: ((result: IteratorResult<T | F>) => void) | null = null;
  private closed = false;

  constructor(
    private readonly capacity: number,
    private readonly onClose: () => void,
    private readonly makeFarewell?: (reason: FellBehind) => F | undefined,
  ) {}

  farewell(reason: FellBehind): F | undefined {
    return this.makeFarewell?.(reason);
  }

  push(item: T): void {
    if (this.closed) return;
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = null;
      resolve({ value: item, done: false });
      return;
    }
    if (this.queue.length >= this.capacity) {
      const last = this.farewell({ items: this.capacity });
      this.queue.length = 0;
      if (last !== undefined) this.queue.push(last);
      this.end();
      return;
    }
    this.queue.push(item);
  }

  next(): Promise<IteratorResult<T | F>> {
    if (this.queue.length > 0) return Promise.resolve({ value: this.queue.shift() as T | F, done: false });
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<T | F>> {
    this.queue.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error: unknown): Promise<IteratorResult<T | F>> {
    this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Stops receiving; items already queued are still delivered, then the subscription completes. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    if (this.waiter && this.queue.length === 0) {
      const resolve = this.waiter;
      this.waiter = null;
      resolve({ value: undefined, done: true });
    }
  }
}
