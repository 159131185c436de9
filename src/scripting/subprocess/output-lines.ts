/**
 * Turns a script's raw stdout or stderr bytes into log lines as they arrive.
 * Bytes are split on newlines before decoding, so invalid UTF-8 only spoils
 * its own line (decoded with U+FFFD). The runner writes an end-of-job marker
 * after each job; everything before it belongs to that job.
 */
const MAX_LINE_BYTES = 16 * 1024;

export class OutputLines {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** The marker as it ends a line (the runner writes it followed by a newline). */
  private readonly marker: Buffer;

  constructor(
    markerLine: Buffer,
    private readonly onLine: (line: string) => void,
    private readonly onMarker: () => void,
  ) {
    this.marker = markerLine.at(-1) === 0x0a ? markerLine.subarray(0, -1) : markerLine;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline < 0) break;
      this.take(chunk.subarray(start, newline));
      start = newline + 1;
      this.endLine();
    }
    if (start < chunk.length) this.take(chunk.subarray(start));
  }

  /** Emits whatever partial line is left (the process is gone). */
  flush(): void {
    if (this.pendingBytes > 0) this.emit(this.drain());
  }

  private take(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    // A very long line is emitted in pieces, cut on a UTF-8 character boundary,
    // but never while it could still be the start of the marker.
    while (this.pendingBytes > MAX_LINE_BYTES + this.marker.length) {
      const all = this.drain();
      let cut = MAX_LINE_BYTES;
      while (cut > 0 && (all[cut]! & 0xc0) === 0x80) cut--;
      this.emit(all.subarray(0, cut));
      const rest = all.subarray(cut);
      this.pending = [rest];
      this.pendingBytes = rest.length;
    }
  }

  private endLine(): void {
    const line = this.drain();
    const { marker } = this;
    if (line.length >= marker.length && line.subarray(line.length - marker.length).equals(marker)) {
      const before = line.subarray(0, line.length - marker.length);
      if (before.length > 0) this.emit(before);
      this.onMarker();
      return;
    }
    this.emit(line);
  }

  private drain(): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    return all;
  }

  private emit(bytes: Buffer): void {
    let text = bytes.toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    this.onLine(text);
  }
}
