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
        writeSync(this.clearRefs, '5');
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
    const text = this.read(this.schedstat);
    if (text === null) return null;
    const ns = Number(text.slice(0, text.indexOf(' ')));
    return Number.isFinite(ns) ? ns : null;
  }

  private memory(): { hwm: number | null; rss: number | null } {
    const text = this.read(this.status);
    return { hwm: text === null ? null : kilobytes(text, 'VmHWM:'), rss: text === null ? null : kilobytes(text, 'VmRSS:') };
  }

  private read(fd: number | null): string | null {
    if (fd === null) return null;
    try {
      const length = readSync(fd, this.buffer, 0, this.buffer.length, 0);
      return this.buffer.toString('latin1', 0, length);
    } catch {
      return null; // the process is gone
    }
  }
}

function open(path: string, flags: string): number | null {
  try {
    return openSync(path, flags);
  } catch {
    return null;
  }
}

/** `VmHWM:\t   1736 kB` as bytes. */
function kilobytes(status: string, field: string): number | null {
  const at = status.indexOf(field);
  if (at === -1) return null;
  const kb = Number.parseInt(status.slice(at + field.length, status.indexOf('\n', at)), 10);
  return Number.isFinite(kb) ? kb * 1024 : null;
}
