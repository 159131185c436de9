import type { Db } from '../db/client.ts';
import type { ExecutionEvent, LogLineEvent } from './bus.ts';

/**
 * Writes executions and their log lines to the database in batches, off the
 * request path: a request only appends to memory. An execution that starts
 * and ends within one batch costs one insert.
 */
export class ExecutionRecorder {
  /** Latest state of executions not yet written (or changed since). */
  private readonly dirty = new Map<string, ExecutionEvent>();
  /** Executions whose row exists, so the next write is an update. */
  private readonly stored = new Set<string>();
  private lines: LogLineEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private failures = 0;

  constructor(
    private readonly db: Db,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  execution(event: ExecutionEvent): void {
    this.dirty.set(event.id, event);
    this.schedule();
  }

  line(line: LogLineEvent): void {
    this.lines.push(line);
    this.schedule();
  }

  /** Resolves once everything recorded before the call is in the database. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.flushing = this.flushing.then(() => this.writeBatch());
    return this.flushing;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.intervalMs);
  }

  private async writeBatch(): Promise<void> {
    if (this.dirty.size === 0 && this.lines.length === 0) return;
    const executions = [...this.dirty.values()];
    const lines = this.lines;
    this.dirty.clear();
    this.lines = [];
    const inserts = executions.filter((e) => !this.stored.has(e.id));
    const updates = executions.filter((e) => this.stored.has(e.id));
    try {
      await this.db.$transaction([
        ...(inserts.length ? [this.db.execution.createMany({ data: inserts.map(row) })] : []),
        ...updates.map((e) => this.db.execution.update({ where: { id: e.id }, data: row(e) })),
        ...(lines.length
          ? [
              this.db.logLine.createMany({
                data: lines.map((l) => ({
                  executionId: l.executionId,
                  sequence: l.sequence,
                  stream: l.stream,
                  message: l.message,
                  timestamp: l.timestamp,
                })),
              }),
            ]
          : []),
      ]);
      this.failures = 0;
      for (const e of executions) {
        if (e.status === 'running') this.stored.add(e.id);
        else this.stored.delete(e.id);
      }
    } catch (error) {
      // Keep the batch for the next try rather than lose it; give up after a few.
      this.failures++;
      this.onError(error);
      if (this.failures < 5) {
        for (const e of executions) if (!this.dirty.has(e.id)) this.dirty.set(e.id, e);
        this.lines = lines.concat(this.lines);
        this.schedule();
      }
    }
  }
}

function row(e: ExecutionEvent) {
  return {
    id: e.id,
    service: e.service,
    scriptType: e.scriptType,
    status: e.status,
    trigger: e.trigger,
    startedAt: e.startedAt,
    finishedAt: e.finishedAt,
    durationMs: e.durationMs,
    statusCode: e.statusCode,
    error: e.error ?? undefined,
    logBytes: e.logBytes,
    logsTruncated: e.logsTruncated,
  };
}
