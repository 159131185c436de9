import { DomainError } from '../domain/errors.ts';

/** Rows one operation may return in total, across aliases and lists; past it, BAD_USER_INPUT before the work. */
export const MAX_ROWS_PER_OPERATION = 20_000;
/** Script text one operation may return (`content`, repeated per alias); the response is built whole in memory. */
export const MAX_CONTENT_BYTES_PER_OPERATION = 32 * 1024 * 1024;
/** Rows completed per event-loop turn when a resolver hands a long list to GraphQL. */
const ROWS_PER_TURN = 500;

/**
 * What one GraphQL operation shares: data loaded once (aliases of the same
 * list query reuse it) and a budget of rows and script bytes that every
 * list resolver charges before doing the work, so a request that would
 * return too much is refused cheaply instead of exhausting the server.
 */
export class RequestScope {
  private readonly loaded = new Map<string, Promise<unknown>>();
  private rows = 0;
  private contentBytes = 0;
  /** Set once the budget is exceeded: every field still to load refuses the same way. */
  private refusal: DomainError | null = null;

  /** `load()` once per key for this operation. */
  once<T>(key: string, load: () => Promise<T>): Promise<T> {
    let pending = this.loaded.get(key) as Promise<T> | undefined;
    if (!pending) {
      pending = load();
      this.loaded.set(key, pending);
    }
    return pending;
  }

  /** Counts `rows` (and script bytes) toward this operation's budget; throws BAD_USER_INPUT naming `field` past it. */
  charge(field: string, rows: number, contentBytes = 0): void {
    if (this.refusal) throw this.refusal;
    this.rows += rows;
    this.contentBytes += contentBytes;
    this.refusal = this.overBudget(field, rows);
    if (this.refusal) throw this.refusal;
  }

  /**
   * Waits one event-loop turn, then throws if any field of the operation was
   * refused meanwhile: aliases resolve together, so after charging, each
   * waits for the others to charge before loading anything.
   */
  async afterOthersCharged(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.refusal) throw this.refusal;
  }

  private overBudget(field: string, rows: number): DomainError | null {
    if (this.rows > MAX_ROWS_PER_OPERATION) {
      return new DomainError(
        'BAD_INPUT',
        `This operation asks for more than ${MAX_ROWS_PER_OPERATION} rows in total (${this.rows} so far, ${rows} at "${field}"): page with first/after, or send fewer aliases.`,
        { field, limit: 'rows', max: MAX_ROWS_PER_OPERATION },
      );
    }
    if (this.contentBytes > MAX_CONTENT_BYTES_PER_OPERATION) {
      return new DomainError(
        'BAD_INPUT',
        `This operation asks for more than ${MAX_CONTENT_BYTES_PER_OPERATION} bytes of script content in total (at "${field}"): select content per service with service(name:), or page with first/after.`,
        { field, limit: 'contentBytes', max: MAX_CONTENT_BYTES_PER_OPERATION },
      );
    }
    return null;
  }
}

/**
 * A long list as GraphQL completes it a chunk per event-loop turn: items
 * past the first chunk are promises that settle one turn apart, so
 * completing thousands of objects never blocks other requests for long.
 */
export function completedInTurns<T>(items: readonly T[]): (T | Promise<T>)[] {
  if (items.length <= ROWS_PER_TURN) return items as T[];
  const result: (T | Promise<T>)[] = items.slice(0, ROWS_PER_TURN);
  let turn: Promise<void> = Promise.resolve();
  for (let start = ROWS_PER_TURN; start < items.length; start += ROWS_PER_TURN) {
    turn = turn.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
    const ready = turn;
    for (let i = start; i < Math.min(start + ROWS_PER_TURN, items.length); i++) result.push(ready.then(() => items[i]!));
  }
  return result;
}
