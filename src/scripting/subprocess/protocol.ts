/**
 * The runner protocol: JSON, one message per line, on the child's extra pipes
 * (server → runner on fd 3, runner → server on fd 4). Script output never
 * shares these pipes, so binary or non-UTF-8 output cannot corrupt them.
 */
import type { ApiCall, ApiResult, JsonValue, LogStream } from '../types.ts';

/** fd numbers inside the child. */
export const PROTOCOL_IN_FD = 3;
export const PROTOCOL_OUT_FD = 4;

/** Server → runner. */
export interface JobFrame {
  t: 'job';
  id: number;
  script: string;
  event: unknown;
  platform: { config: Record<string, unknown>; session: Record<string, unknown> };
  limits: { timeoutMs: number; memoryLimitMb: number };
}
export interface ApiResultFrame {
  t: 'api-result';
  job: number;
  id: number;
  result: ApiResult;
}

/** Runner → server. */
export type RunnerFrame =
  | { t: 'ready'; pid: number; version?: string }
  | { t: 'log'; job: number; s: LogStream; m: string }
  | { t: 'api'; job: number; id: number; call: ApiCall }
  | { t: 'result'; job: number; returned?: JsonValue; event: JsonValue; exited?: boolean; exitCode?: number }
  | { t: 'error'; job: number; kind: 'error' | 'memory'; message: string; line?: number; column?: number; stack?: string }
  /** The job is over and its output written; `dirty`: it left the process unfit for another job. */
  | { t: 'done'; job: number; code?: number | null; dirty?: boolean };

export function encodeFrame(frame: JobFrame | ApiResultFrame): string {
  return `${JSON.stringify(frame)}\n`;
}

/**
 * Splits the runner's byte stream into frames. A frame larger than
 * `maxFrameBytes` cannot be trusted to fit in memory: `onOversize` is called
 * and the reader stops (the worker is then replaced).
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private broken = false;

  constructor(
    private readonly onFrame: (frame: RunnerFrame) => void,
    private readonly onBadFrame: (reason: string) => void,
    private readonly maxFrameBytes: number,
  ) {}

  push(chunk: Buffer): void {
    if (this.broken) return;
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline < 0) break;
      const piece = chunk.subarray(start, newline);
      const line = this.chunks.length === 0 ? piece : Buffer.concat([...this.chunks, piece]);
      this.chunks = [];
      this.buffered = 0;
      start = newline + 1;
      if (line.length === 0) continue;
      let frame: RunnerFrame;
      try {
        frame = JSON.parse(line.toString('utf8')) as RunnerFrame;
      } catch {
        this.fail(`unreadable message from the runner: ${line.subarray(0, 120).toString('utf8')}`);
        return;
      }
      this.onFrame(frame);
      if (this.broken) return;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.chunks.push(rest);
      this.buffered += rest.length;
      if (this.buffered > this.maxFrameBytes) {
        this.fail(`a message from the runner exceeded ${Math.round(this.maxFrameBytes / 1048576)} MB`);
      }
    }
  }

  private fail(reason: string): void {
    this.broken = true;
    this.chunks = [];
    this.onBadFrame(reason);
  }
}
