import type { LogStream } from '../types.ts';

/**
 * One execution's log, as the worker hands lines over. The execution itself
 * enforces the byte cap and marks truncation; this only stops forwarding once
 * the cap is passed, so a flood of output costs nothing more. It counts bytes
 * the same way and forwards the first line past the cap, which is the line
 * that makes the execution mark its log truncated.
 */
export class JobLog {
  private used = 0;
  private overflowed = false;

  constructor(
    private readonly sink: (stream: LogStream, message: string) => void,
    private readonly maxBytes: number,
  ) {}

  write(stream: LogStream, message: string): void {
    if (this.overflowed) return;
    this.used += Buffer.byteLength(message, 'utf8');
    if (this.used > this.maxBytes) this.overflowed = true;
    this.emit(stream, message);
  }

  system(message: string): void {
    this.emit('SYSTEM', message);
  }

  private emit(stream: LogStream, message: string): void {
    try {
      this.sink(stream, message);
    } catch {
      // A failing log consumer must not take the engine down.
    }
  }
}
