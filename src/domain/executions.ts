import type { Db } from '../db/client.ts';
import type { Prisma } from '../generated/prisma-sqlite/client.ts';
import type { EventBus, ExecutionEvent, LogLineEvent } from '../logs/bus.ts';
import type { ExecutionRecorder } from '../logs/recorder.ts';
import type { LogStream, RunUsage } from '../scripting/types.ts';
import type { RecordedRequest } from './recorded-request.ts';
import { badInput, notFound } from './errors.ts';
import { uuidv7 } from './ids.ts';

export type ExecutionStatus = ExecutionEvent['status'];
/** Ids are UUIDv7 taken at the start time, so id order is start order. */
export const NEWEST_FIRST = { id: 'desc' } as const;
export const EXECUTION_STATUSES: ExecutionStatus[] = ['running', 'succeeded', 'failed', 'timed_out'];

/** Characters of one SYSTEM line (they bypass the byte cap, so they are clipped instead). */
const SYSTEM_LINE_MAX = 4096;

function clippedSystemLine(message: string): string {
  return message.length > SYSTEM_LINE_MAX ? `${message.slice(0, SYSTEM_LINE_MAX)}…` : message;
}

/** What a secret's value becomes in a log line or an error. */
export const REDACTED = '[secret]';
/** Values shorter than this (in characters) are not redacted: "1" or "yes" would blank out ordinary text. */
export const MIN_REDACTED_LENGTH = 4;

/** Hides secret values in a text; the same string back when it holds none. */
export type Redact = (text: string) => string;

const redactors = new WeakMap<object, Redact | null>();

/**
 * The redactor for one service's secret values, made once per values object
 * (the store hands out the same frozen object until a secret changes); null
 * when there is nothing to hide, so a run without secrets does no work per line.
 */
export function redactorFor(values: Readonly<Record<string, string>>): Redact | null {
  let redact = redactors.get(values);
  if (redact === undefined) {
    redact = buildRedactor(Object.values(values));
    redactors.set(values, redact);
  }
  return redact;
}

function buildRedactor(values: readonly string[]): Redact | null {
  const needles = new Set<string>();
  for (const value of values) {
    if ([...value].length < MIN_REDACTED_LENGTH) continue;
    needles.add(value);
    // As it reads inside JSON text (console.log of an object, an error's context): quotes, newlines escaped.
    const inJson = JSON.stringify(value).slice(1, -1);
    if (inJson !== value && inJson.length >= MIN_REDACTED_LENGTH) needles.add(inJson);
  }
  if (needles.size === 0) return null;
  // Longest first; every character inside any occurrence is hidden, so overlapping
  // values (or one inside another) leave no piece of either behind.
  const sorted = [...needles].sort((a, b) => b.length - a.length);
  return (text) => {
    let ranges: [number, number][] | null = null;
    for (const needle of sorted) {
      for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) (ranges ??= []).push([at, at + needle.length]);
    }
    if (!ranges) return text;
    ranges.sort((a, b) => a[0] - b[0]);
    // Merged into spans; each span becomes one marker.
    let out = '';
    let copied = 0;
    let [spanStart, spanEnd] = ranges[0]!;
    for (let i = 1; i < ranges.length; i++) {
      const [start, stop] = ranges[i]!;
      if (start < spanEnd) {
        spanEnd = Math.max(spanEnd, stop);
        continue;
      }
      out += text.slice(copied, spanStart) + REDACTED;
      copied = spanEnd;
      [spanStart, spanEnd] = [start, stop];
    }
    return out + text.slice(copied, spanStart) + REDACTED + text.slice(spanEnd);
  };
}

/**
 * Runs started and finished since start, per script type and status: plain
 * counts in memory, read by /metrics when scraped (two map lookups a run).
 */
export class ExecutionCounts {
  private readonly byType = new Map<string, Record<ExecutionStatus, number>>();

  count(scriptType: string, status: ExecutionStatus): void {
    let counts = this.byType.get(scriptType);
    if (!counts) this.byType.set(scriptType, (counts = { running: 0, succeeded: 0, failed: 0, timed_out: 0 }));
    counts[status]++;
  }

  /** Per script type: `running` counts runs started, the other statuses runs finished so. */
  snapshot(): Map<string, Readonly<Record<ExecutionStatus, number>>> {
    return new Map([...this.byType].map(([type, counts]) => [type, { ...counts }]));
  }
}

/**
 * One run of a script as it happens: numbers its log lines, enforces the log
 * byte cap (marking truncation once), and publishes every change on the bus,
 * which the recorder and live subscribers read.
 */
export class ExecutionRun {
  private sequence = 0;
  private readonly state: ExecutionEvent;
  private readonly started = performance.now();

  constructor(
    private readonly bus: EventBus,
    private readonly recorder: ExecutionRecorder,
    init: RunInit,
    private readonly maxLogBytes: number,
    /** Hides the service's secret values in lines and the error before they are stored or streamed; null when it has none. */
    private readonly redact: Redact | null = null,
    private readonly counts: ExecutionCounts | null = null,
  ) {
    const startedAt = new Date();
    this.state = {
      // Ids sort by start time (lists are newest first by id): same clock reading.
      id: uuidv7(startedAt.getTime()),
      eventName: null,
      parentExecutionId: null,
      serviceId: null,
      serviceVersion: null,
      replayOf: null,
      request: null,
      ...init,
      status: 'running',
      startedAt,
      finishedAt: null,
      durationMs: null,
      statusCode: null,
      error: null,
      logBytes: 0,
      logsTruncated: false,
      cpuMs: null,
      peakMemoryBytes: null,
    };
    this.counts?.count(this.state.scriptType, 'running');
    this.publish();
  }

  get id(): string {
    return this.state.id;
  }

  readonly log = (stream: LogStream, message: string): void => {
    if (this.state.finishedAt) return;
    // Before the cap and the clipping: what is counted and kept is what is shown.
    if (this.redact) message = this.redact(message);
    // The platform's own notices (why a run failed or timed out) are few; they
    // are always kept, past the cap too, clipped, and do not count toward it.
    if (stream === 'SYSTEM') {
      this.emit(stream, clippedSystemLine(message));
      return;
    }
    if (this.state.logsTruncated) return;
    const bytes = Buffer.byteLength(message);
    if (this.state.logBytes + bytes > this.maxLogBytes) {
      this.state.logsTruncated = true;
      this.emit('SYSTEM', `Log output truncated: this execution reached its cap of ${this.maxLogBytes} bytes.`);
      return;
    }
    this.state.logBytes += bytes;
    this.emit(stream, message);
  };

  /** What the engine measured the run to cost; stored with how it ended. */
  readonly usage = (usage: RunUsage): void => {
    if (this.state.finishedAt) return;
    this.state.cpuMs = usage.cpuMs;
    this.state.peakMemoryBytes = usage.peakMemoryBytes;
  };

  finish(outcome: { status: FinishedStatus; statusCode: number; error?: ExecutionEvent['error'] }): void {
    if (this.state.finishedAt) return;
    this.state.status = outcome.status;
    this.state.statusCode = outcome.statusCode;
    const error = outcome.error ?? null;
    this.state.error = error && this.redact ? { ...error, message: this.redact(error.message) } : error;
    this.state.finishedAt = new Date();
    this.state.durationMs = Math.round((performance.now() - this.started) * 1000) / 1000;
    this.counts?.count(this.state.scriptType, outcome.status);
    this.publish();
    this.bus.logs.endExecution(this.state.id);
  }

  /**
   * The caller refused the answer of a run that had succeeded: a typed
   * GraphQL field's result that does not match its declared type, found once
   * the run had ended. The record then says what the caller got: failed
   * (500), the reason as its error and as a SYSTEM line. Counts for /metrics
   * stay as they were (counters only go up).
   */
  refuseAnswer(reason: string): void {
    if (this.state.status !== 'succeeded') return;
    // The reason quotes the script's value (graphql-js writes a string whole): clipped before it is stored.
    const message = clippedSystemLine(this.redact ? this.redact(reason) : reason);
    this.state.status = 'failed';
    this.state.statusCode = 500;
    this.state.error = { message, kind: 'SCRIPT_ERROR' };
    this.emit('SYSTEM', message);
    this.publish();
  }

  private emit(stream: LogStream, message: string): void {
    const line: LogLineEvent = {
      executionId: this.state.id,
      service: this.state.service,
      sequence: ++this.sequence,
      stream,
      message,
      timestamp: new Date(),
    };
    this.recorder.line(line);
    this.bus.logs.publish(line);
  }

  private publish(): void {
    // The recorder always writes the latest state, so it can hold the live
    // object; subscribers get a snapshot, made only when there are any.
    this.recorder.execution(this.state);
    if (this.bus.executions.hasSubscribers) this.bus.executions.publish({ ...this.state });
  }
}

export interface RunInit {
  service: string;
  eventName?: string | null;
  parentExecutionId?: string | null;
  serviceId?: number | null;
  serviceVersion?: number | null;
  replayOf?: string | null;
  request?: RecordedRequest | null;
  scriptType: string;
  trigger: string;
}

export type FinishedStatus = Exclude<ExecutionStatus, 'running'>;

export interface ExecutionFilter {
  service?: string | null;
  status?: ExecutionStatus | null;
}

/** Starting runs, and reading back what ran (newest first). */
export class ExecutionLog {
  /** This instance's runs by script type and status, since start. */
  readonly counts = new ExecutionCounts();

  constructor(
    private readonly db: Db,
    private readonly bus: EventBus,
    private readonly recorder: ExecutionRecorder,
  ) {}

  start(init: RunInit, maxLogBytes: number, redact: Redact | null = null): ExecutionRun {
    return new ExecutionRun(this.bus, this.recorder, init, maxLogBytes, redact, this.counts);
  }

  /** Waits until everything recorded so far is queryable. */
  ready(): Promise<void> {
    return this.recorder.flush();
  }

  /** The database filter for `filter`, once pending writes are in. */
  async whereOf(filter: ExecutionFilter) {
    if (filter.status && !EXECUTION_STATUSES.includes(filter.status)) {
      throw badInput(`Unknown execution status "${filter.status}" (known: ${EXECUTION_STATUSES.join(', ')}).`, 'status');
    }
    await this.ready();
    return {
      ...(filter.service ? { service: filter.service.toLowerCase() } : {}),
      ...(filter.status ? { status: filter.status } : {}),
    };
  }

  /** A page of executions matching `where` (from whereOf and a parsed `filter=`), newest first. */
  async list(where: Prisma.ExecutionWhereInput, page: { limit: number; offset: number }) {
    await this.ready();
    const [rows, count] = await Promise.all([
      this.db.execution.findMany({ where, orderBy: NEWEST_FIRST, take: page.limit, skip: page.offset }),
      this.db.execution.count({ where }),
    ]);
    return { rows, count };
  }

  async get(id: string) {
    await this.ready();
    const execution = await this.db.execution.findUnique({ where: { id } });
    if (!execution) throw notFound(`Execution ${id} not found.`);
    return execution;
  }

  async logs(executionId: string, page: { afterSequence: number; limit: number }) {
    await this.ready();
    return this.db.logLine.findMany({
      where: { executionId, sequence: { gt: page.afterSequence } },
      orderBy: { sequence: 'asc' },
      take: page.limit,
    });
  }

  /** Keeps the newest `keep` finished executions of each service (never a running one); their log lines go with them. */
  prune(keep: number): Promise<number> {
    return this.recorder.prune(keep);
  }
}
