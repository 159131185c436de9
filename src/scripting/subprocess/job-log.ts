import type { LogStream } from '../types.ts';

/**
 * One execution's log: passes lines to `job.log` until `maxLogBytes` is
 * reached, then says so once on the SYSTEM stream and drops the rest.
 */
export class JobLog {
  private used = 0;
  private truncated = false;

  constructor(
    private readonly sink: (stream: LogStream, message: string) => void,
    private readonly maxBytes: number,
  ) {}

  write(stream: LogStream, message: string): void {
    if (this.truncated) return;
    const size = Buffer.byteLength(message, 'utf8') + 1;
    if (this.used + size > this.maxBytes) {
      this.truncated = true;
      this.emit('SYSTEM', `Output truncated: the log limit of ${this.maxBytes} bytes was reached; later output was dropped.`);
      return;
    }
    this.used += size;
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
