/**
 * Calls with no warm context for their script get their contexts one at a
 * time, before they take a run slot and reserve their worst-case memory
 * (engine.ts). Made the other way round, every call waiting for a new
 * instance held a reservation it could not use yet: 32 cold calls at once
 * filled the default budget, which then evicted every idle context, so the
 * next calls waited for new instances too (10,000 services in turn over 32
 * connections: 70 to 190 calls a second instead of about 1,100). In the
 * lane, only the call whose turn it is holds an instance the budget does not
 * count yet, and a slow start cannot hold the budget for the rest.
 */
export class ColdLane {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;

  /** Calls waiting for their turn. */
  get waiting(): number {
    return this.queued;
  }

  /**
   * Runs `step` once every call before it has taken its turn; refused at once
   * when `full` says so, given the calls waiting here. A turn only waits for
   * the contexts made before it (the step itself bounds its wait for a run
   * slot by the call's timeout, as every call's).
   */
  enter<T>(step: () => Promise<T>, full: (waiting: number) => Error | null): Promise<T> {
    const refused = full(this.queued);
    if (refused) return Promise.reject(refused);
    this.queued++;
    const turn = this.tail.then(() => {
      this.queued--;
      return step();
    });
    this.tail = turn.catch(() => undefined);
    return turn;
  }
}
