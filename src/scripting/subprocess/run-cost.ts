import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import type { RunUsage } from '../types.ts';

/** Where a job's figures start from. */
export interface CostMark {
  cpuNs: number | null;
  /** Set only when the peak could not be reset: the job's peak is then judged against these. */
  before: { hwm: number; rss: number } | null;
}

/**
 * A runner's cost per job, read from kept-open /proc files of the runner
 * (about 1 µs a read; a readFile would cost 10 µs and a thread-pool trip):
 * - CPU: the main thread's time on a CPU (`schedstat`, nanoseconds, as the
 *   scheduler counts it) before and after the job. The scripts run on that
 *   thread in every runner; Node's helper threads (GC, compiler) and a PHP
 *   job's forked child are not counted.
 * - Memory: the peak resident set (`VmHWM`) after resetting it before the
 *   job (writing 5 to `clear_refs`, which only resets the mark). Where the
 *   reset is refused, the peak of the job is the new high-water mark if the
 *   job raised it, else the larger of the resident sets before and after.
 */
export class RunCost {
  private readonly buffer = Buffer.alloc(2048);
  /** Bytes read into `buffer` by the last read. */
  private length = 0;
  private schedstat: number | null;
  private status: number | null;
  private clearRefs: number | null;

  constructor(pid: number) {
    this.schedstat = open(`/proc/${pid}/schedstat`, 'r');
    this.status = open(`/proc/${pid}/status`, 'r');
    this.clearRefs = open(`/proc/${pid}/clear_refs`, 'w');
  }

  begin(): CostMark {
    let reset = false;
    if (this.clearRefs !== null) {
      try {
        writeSync(this.clearRefs, RESET_PEAK);
        reset = true;
      } catch {
        closeSync(this.clearRefs);
        this.clearRefs = null;
      }
    }
    const memory = reset ? null : this.memory();
    return { cpuNs: this.cpuNs(), before: memory && memory.hwm !== null && memory.rss !== null ? { hwm: memory.hwm, rss: memory.rss } : null };
  }

  end(mark: CostMark): RunUsage {
    const cpuNs = this.cpuNs();
    const cpuMs = cpuNs !== null && mark.cpuNs !== null ? Math.round((cpuNs - mark.cpuNs) / 1000) / 1000 : null;
    const { hwm, rss } = this.memory();
    let peakMemoryBytes: number | null = hwm;
    if (mark.before && hwm !== null && rss !== null && hwm <= mark.before.hwm) peakMemoryBytes = Math.max(mark.before.rss, rss);
    return { cpuMs, peakMemoryBytes };
  }

  close(): void {
    for (const fd of [this.schedstat, this.status, this.clearRefs]) if (fd !== null) closeSync(fd);
    this.schedstat = this.status = this.clearRefs = null;
  }

  private cpuNs(): number | null {
    // `schedstat` is "<ns on a CPU> <ns waiting> <timeslices>".
    return this.read(this.schedstat) ? this.numberAt(0) : null;
  }

  /** Parsed from the bytes read: the status text is about 1.4 KB, and a string of it per job was garbage. */
  private memory(): { hwm: number | null; rss: number | null } {
    if (!this.read(this.status)) return { hwm: null, rss: null };
    return { hwm: this.kilobytes(VM_HWM), rss: this.kilobytes(VM_RSS) };
  }

  private read(fd: number | null): boolean {
    if (fd === null) return false;
    try {
      this.length = readSync(fd, this.buffer, 0, this.buffer.length, 0);
      return true;
    } catch {
      return false; // the process is gone
    }
  }

  /** `VmHWM:\t   1736 kB` as bytes. */
  private kilobytes(field: Buffer): number | null {
    const at = this.buffer.indexOf(field);
    // Past `length` are bytes of an earlier read.
    if (at === -1 || at + field.length > this.length) return null;
    const kb = this.numberAt(at + field.length);
    return kb === null ? null : kb * 1024;
  }

  /** The decimal number at `from` in the bytes read, after blanks; null when there is none. */
  private numberAt(from: number): number | null {
    const { buffer, length } = this;
    let at = from;
    while (at < length && (buffer[at] === SPACE || buffer[at] === TAB)) at++;
    let value = 0;
    const start = at;
    for (; at < length && buffer[at]! >= ZERO && buffer[at]! <= NINE; at++) value = value * 10 + (buffer[at]! - ZERO);
    return at === start ? null : value;
  }
}

const RESET_PEAK = Buffer.from('5');
const VM_HWM = Buffer.from('VmHWM:');
const VM_RSS = Buffer.from('VmRSS:');
const [SPACE, TAB, ZERO, NINE] = [0x20, 0x09, 0x30, 0x39];

function open(path: string, flags: string): number | null {
  try {
    return openSync(path, flags);
  } catch {
    return null;
  }
}
