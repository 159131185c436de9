/**
 * The runner protocol: JSON, one message per line, on the child's extra pipes
 * (server → runner on fd 3, runner → server on fd 4). Script output never
 * shares these pipes, so binary or non-UTF-8 output cannot corrupt them.
 */
import type { ApiResult, JsonValue, LogStream } from '../types.ts';

/** fd numbers inside the child. */
export const PROTOCOL_IN_FD = 3;
export const PROTOCOL_OUT_FD = 4;

/** What a result message may add to twice the response and the job message it answers. */
export const RESULT_SLACK_BYTES = 64 * 1024;

/** Server → runner. */
export interface JobFrame {
  t: 'job';
  id: number;
  script: string;
  event: unknown;
  /** `secrets`: the service's secret values (this pipe is the only way they reach the runner: never argv or environment). */
  platform: { config: Record<string, unknown>; session: Record<string, unknown>; secrets: Record<string, string> };
  limits: {
    timeoutMs: number;
    memoryLimitMb: number;
    /**
     * The platform's response limit. A result message may carry the response
     * twice (returned and event.response) and the event back, so the runner
     * refuses one larger than 2 × this + the job message's own size + 64 KiB
     * (RESULT_SLACK_BYTES), naming this limit; the server reads no more.
     */
    maxResponseBytes: number;
  };
}
/**
 * Server → runner: compile `script` as a job would (the same wrapper) and run
 * none of it; answered by a `checked` frame with the same id. Only ever sent
 * to a worker that runs no jobs (see check-worker.ts).
 */
export interface CheckFrame {
  t: 'check';
  id: number;
  script: string;
}

export interface ApiResultFrame {
  t: 'api-result';
  job: number;
  id: number;
  result: ApiResult;
}

/**
 * A `platform.api` call as the script made it: the arguments after the path
 * as given, the callback left out. The host decides which is the payload and
 * which the options (api-call.ts), so every runner reads them the same way.
 */
export interface RawApiCall {
  method: string;
  path: string;
  args: JsonValue[];
}

/** Runner → server. */
export type RunnerFrame =
  | { t: 'ready'; pid: number; version?: string }
  | { t: 'log'; job: number; s: LogStream; m: string }
  | { t: 'api'; job: number; id: number; call: RawApiCall }
  | { t: 'result'; job: number; returned?: JsonValue; event: JsonValue; exited?: boolean; exitCode?: number }
  | { t: 'error'; job: number; kind: 'error' | 'memory' | 'output'; message: string; line?: number; column?: number; stack?: string }
  /** The answer to a `check`: at most 20 diagnostics (untrusted: the server re-shapes them). */
  | { t: 'checked'; id: number; diagnostics: unknown }
  /** The job is over and its output written; `dirty`: it left the process unfit for another job. */
  | { t: 'done'; job: number; code?: number | null; dirty?: boolean };

export function encodeFrame(frame: JobFrame | ApiResultFrame | CheckFrame): string {
  return `${JSON.stringify(frame)}\n`;
}

/** What a frame is, from how it starts (every runner writes `t` first, without spaces). */
export type FrameClass = 'log' | 'result' | 'other';

/** Bytes one frame may take, by class; past it the frame is skipped without being kept. */
export interface FrameLimits {
  log: number;
  /** Results, errors and platform.api calls: what a script hands back. */
  result: number;
  /** Protocol chatter (ready, done). */
  other: number;
}

export const IDLE_FRAME_LIMITS: FrameLimits = { log: 64 * 1024, result: 64 * 1024, other: 64 * 1024 };

/** While a check runs: 20 diagnostics of 1,000 characters, escaped, fit with room to spare. */
export const CHECK_FRAME_LIMITS: FrameLimits = { ...IDLE_FRAME_LIMITS, result: 256 * 1024 };

const CLASS_PREFIXES: Array<[Buffer, FrameClass]> = [
  [Buffer.from('{"t":"log"'), 'log'],
  [Buffer.from('{"t":"result"'), 'result'],
  [Buffer.from('{"t":"error"'), 'result'],
  [Buffer.from('{"t":"api"'), 'result'],
  [Buffer.from('{"t":"checked"'), 'result'],
];
const LONGEST_PREFIX = Math.max(...CLASS_PREFIXES.map(([prefix]) => prefix.length));

function classify(head: Buffer): FrameClass | null {
  for (const [prefix, kind] of CLASS_PREFIXES) {
    const n = Math.min(prefix.length, head.length);
    if (head.subarray(0, n).equals(prefix.subarray(0, n)) && n === prefix.length) return kind;
  }
  return head.length >= LONGEST_PREFIX ? 'other' : null;
}

/**
 * Splits the runner's byte stream into frames. A frame is kept in memory
 * only up to its class's limit: past it the rest of the line is skipped as
 * it arrives (a gigabyte line never grows the server) and `onOversize` says
 * which class of frame was dropped. An unreadable frame stops the reader
 * (the worker is then replaced).
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private kind: FrameClass | null = null;
  private skipping = false;
  private broken = false;
  limits: FrameLimits = IDLE_FRAME_LIMITS;

  constructor(
    private readonly onFrame: (frame: RunnerFrame) => void,
    private readonly onBadFrame: (reason: string) => void,
    private readonly onOversize: (kind: FrameClass, limit: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (!this.broken && start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline < 0 ? chunk.length : newline;
      if (!this.skipping) this.take(chunk.subarray(start, end));
      if (newline < 0) return;
      start = newline + 1;
      this.endLine();
    }
  }

  private take(piece: Buffer): void {
    if (piece.length === 0) return;
    this.chunks.push(piece);
    this.buffered += piece.length;
    if (this.kind === null) this.kind = classify(this.chunks.length === 1 ? piece : Buffer.concat(this.chunks).subarray(0, LONGEST_PREFIX));
    const limit = this.limits[this.kind ?? 'other'];
    if (this.buffered > limit) {
      const kind = this.kind ?? 'other';
      this.chunks = [];
      this.buffered = 0;
      this.skipping = true;
      this.onOversize(kind, limit);
    }
  }

  private endLine(): void {
    const line = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const skipped = this.skipping;
    this.chunks = [];
    this.buffered = 0;
    this.kind = null;
    this.skipping = false;
    if (skipped || line.length === 0) return;
    let frame: RunnerFrame;
    try {
      frame = JSON.parse(line.toString('utf8')) as RunnerFrame;
    } catch {
      this.broken = true;
      this.onBadFrame(`unreadable message from the runner: ${line.subarray(0, 120).toString('utf8')}`);
      return;
    }
    if (!frame || typeof frame !== 'object') {
      this.broken = true;
      this.onBadFrame('a message from the runner was not an object');
      return;
    }
    this.onFrame(frame);
  }
}
