/**
 * Calls with no warm context for their script get their contexts one at a
 * time, before they take a run slot and reserve their worst-case memory
 * (engine.ts). Made the other way round, every call waiting for a new
 * instance held a reservation it could not use yet: 32 cold calls at once
 * filled the default budget, which then evicted every idle context, so the
 * next calls waited for new instances too (10,000 services in turn over 32
 * connections: 130 to 190 calls a second instead of about 1,100). In the
 * lane, only the call whose turn it is holds an instance the budget does not
 * count yet, and a slow start cannot hold the budget for the rest. A call
 * that would have to wait for a slot or for room passes its turn on at once
 * and waits at the gate without a context, as a warm call does, so the lane
 * never waits for a run to end.
 */
export class ColdLane {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;

  /** Calls waiting for their turn. */
  get waiting(): number {
    return this.queued;
  }

  /**
   * Runs `step` once every call before it has taken its turn and passed it
   * on (by calling `passOn`, or by settling); refused at once when `full`
   * says so, given the calls waiting here.
   */
  enter<T>(step: (passOn: () => void) => Promise<T>, full: (waiting: number) => Error | null): Promise<T> {
    const refused = full(this.queued);
    if (refused) return Promise.reject(refused);
    this.queued++;
    let passOn!: () => void;
    const passed = new Promise<void>((resolve) => (passOn = resolve));
    const turn = this.tail.then(() => {
      this.queued--;
      return step(passOn);
    });
    this.tail = Promise.race([passed, turn.then(ignore, ignore)]);
    return turn;
  }
}

function ignore(): void {}
