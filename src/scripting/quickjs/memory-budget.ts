const MB = 1024 * 1024;

/** Linear memory every instance starts with (capped-modules.ts: 256 pages). */
export const INITIAL_INSTANCE_BYTES = 16 * MB;
/** Room above a script's limit for QuickJS's own structures (capped-modules.ts maximum). */
export const RUNTIME_SLACK_BYTES = 8 * MB;

/** The most linear memory an instance for this limit can ever hold: what a run reserves. */
export function instanceMaxBytes(memoryLimitMb: number): number {
  return INITIAL_INSTANCE_BYTES + memoryLimitMb * MB + RUNTIME_SLACK_BYTES;
}

/**
 * QuickJS's linear memory over all live instances (QUICKJS_TOTAL_MEMORY_MB).
 * A running context is counted at its worst case (its instance's maximum,
 * reserved before the run starts, since a run can grow to it); an idle or
 * spare one at its `WebAssembly.Memory` byteLength, which cannot change while
 * no guest code runs in it. Linear memory never shrinks: an instance gives
 * its memory back only when it is dropped.
 */
export class MemoryBudget {
  private reserved = 0;
  private idle = 0;
  private peak = 0;
  /** Set by the pool: drops idle contexts, coldest first, until `bytes` are freed or none is left. */
  evictIdle: (bytes: number) => void = () => undefined;

  constructor(readonly totalBytes: number) {}

  /** Whether `bytes` more fit, after evicting idle contexts if that makes room. */
  makeRoom(bytes: number): boolean {
    const over = this.reserved + this.idle + bytes - this.totalBytes;
    if (over > 0) this.evictIdle(over);
    return this.hasRoom(bytes);
  }

  /** Whether `bytes` more could fit at all now: with every idle context dropped, if it came to that. */
  couldFit(bytes: number): boolean {
    return this.reserved + bytes <= this.totalBytes;
  }

  /** Whether `bytes` more fit without evicting anything (spares never push warm contexts out). */
  hasRoom(bytes: number): boolean {
    return this.reserved + this.idle + bytes <= this.totalBytes;
  }

  reserve(bytes: number): void {
    this.reserved += bytes;
    this.notePeak();
  }

  unreserve(bytes: number): void {
    this.reserved -= bytes;
  }

  addIdle(bytes: number): void {
    this.idle += bytes;
    this.notePeak();
  }

  removeIdle(bytes: number): void {
    this.idle -= bytes;
  }

  get stats() {
    return { totalBytes: this.totalBytes, reservedBytes: this.reserved, idleBytes: this.idle, peakBytes: this.peak };
  }

  private notePeak(): void {
    if (this.reserved + this.idle > this.peak) this.peak = this.reserved + this.idle;
  }
}
