import { readFile } from 'node:fs/promises';

/** Resident memory of a process in bytes, or null when it is gone or /proc is not there. */
export async function residentBytes(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}

/**
 * A backstop behind each language's own limit (RLIMIT_AS, memory_limit, V8's
 * heap size): polls the job's process and reports once when its resident
 * memory passes the limit, e.g. for Node Buffers, which live outside the heap.
 */
export class MemoryWatch {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly limitBytes: number,
    private readonly onExceeded: () => void,
    private readonly intervalMs = 50,
  ) {}

  watch(pid: number): void {
    this.stop();
    const tick = async (): Promise<void> => {
      const rss = await residentBytes(pid);
      if (this.timer === null) return;
      if (rss !== null && rss > this.limitBytes) {
        this.stop();
        this.onExceeded();
        return;
      }
      this.timer = setTimeout(() => void tick(), this.intervalMs);
    };
    // Short jobs finish before the first poll and never pay for one.
    this.timer = setTimeout(() => void tick(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
