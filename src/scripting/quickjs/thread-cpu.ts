import { openSync, readSync } from 'node:fs';

/**
 * CPU time of the calling thread, in ms. QuickJS runs guest code on the
 * host's main thread, and process.cpuUsage() also counts GC helpers, the
 * thread pool and the log writer, which can sum to more than the time that
 * passed. On Linux the thread's own figure (schedstat, ns on a CPU) is one
 * pread of an open file (~3 µs); elsewhere the process's figure stands in.
 */
export function threadCpuReader(): () => number {
  try {
    const fd = openSync('/proc/thread-self/schedstat', 'r');
    const buffer = Buffer.alloc(64);
    const read = () => {
      const length = readSync(fd, buffer, 0, buffer.length, 0);
      return Number(buffer.toString('latin1', 0, length).split(' ', 1)[0]) / 1e6;
    };
    if (Number.isFinite(read())) return read;
  } catch {
    // No procfs: fall through.
  }
  return () => {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000;
  };
}
