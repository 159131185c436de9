import type { ExecutionWriter } from '../db/execution-writer.ts';
import type { ExecutionEvent, LogLineEvent } from './bus.ts';

const MAX_BACKOFF_MS = 2_000;

/**
 * Writes executions and their log lines to the database in batches, off the
 * request path: a request only appends to memory. An execution that starts
 * and ends within one batch costs one insert.
 *
 * A failing batch is retried with backoff (a database restart or a busy lock
 * loses nothing). If it keeps failing for `giveUpAfterMs` it is split, one
 * execution with its lines per transaction, so one bad row cannot hold back
 * or poison the rest; what fails alone is dropped and reported, and an execution whose
 * row could not be created has its later lines dropped too (they could only
 * fail on the missing row) until a later state of it is written.
 */
export class ExecutionRecorder {
  /** Latest state of executions not yet written (or changed since). */
  private readonly dirty = new Map<string, ExecutionEvent>();
  /** Running executions whose row exists. */
  private readonly stored = new Set<string>();
  /** Running executions whose row could not be written: their lines are dropped. */
  private readonly abandoned = new Set<string>();
  private lines: LogLineEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private failures = 0;
  private failingSince: number | null = null;

  constructor(
    private readonly writer: ExecutionWriter,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
    /** How long whole batches are retried before being split up. */
    private readonly giveUpAfterMs = 5_000,
  ) {}

  execution(event: ExecutionEvent): void {
    this.dirty.set(event.id, event);
    this.schedule();
  }

  line(line: LogLineEvent): void {
    if (this.abandoned.has(line.executionId)) return;
    this.lines.push(line);
    this.schedule();
  }

  /** Resolves once everything recorded before the call is in the database (or given up on). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.flushing = this.flushing.then(() => this.writeBatch());
    return this.flushing;
  }

  /** Keeps the newest `keep` finished executions of each service, once what is pending is written. */
  async prune(keep: number): Promise<number> {
    await this.flush();
    return this.writer.prune(keep);
  }

  private schedule(delayMs = this.intervalMs): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, delayMs);
  }

  private async writeBatch(): Promise<void> {
    if (this.dirty.size === 0 && this.lines.length === 0) return;
    const executions = [...this.dirty.values()];
    const lines = this.lines;
    this.dirty.clear();
    this.lines = [];
    try {
      await this.write(executions, lines);
      this.failures = 0;
      this.failingSince = null;
      return;
    } catch (error) {
      this.failures++;
      this.failingSince ??= Date.now();
      this.onError(error);
      // Queries flush too (to read their writes), so give up on time, not on attempts.
      if (Date.now() - this.failingSince < this.giveUpAfterMs) {
        // Keep the batch for the next try; newer states of the same executions win.
        for (const e of executions) if (!this.dirty.has(e.id)) this.dirty.set(e.id, e);
        this.lines = lines.concat(this.lines);
        this.schedule(Math.min(this.intervalMs * 2 ** this.failures, MAX_BACKOFF_MS));
        return;
      }
    }
    this.failures = 0;
    this.failingSince = null;
    await this.writeSeparately(executions, lines);
  }

  /** One transaction per execution: what still fails is dropped (and reported), the rest is kept. */
  private async writeSeparately(executions: ExecutionEvent[], lines: LogLineEvent[]): Promise<void> {
    const byExecution = new Map<string, { state: ExecutionEvent | null; lines: LogLineEvent[] }>();
    for (const e of executions) byExecution.set(e.id, { state: e, lines: [] });
    for (const l of lines) {
      const group = byExecution.get(l.executionId) ?? { state: null, lines: [] };
      group.lines.push(l);
      byExecution.set(l.executionId, group);
    }
    for (const [id, group] of byExecution) {
      try {
        await this.write(group.state ? [group.state] : [], group.lines);
        this.abandoned.delete(id);
      } catch (error) {
        this.onError(error);
        // Lines of a still-running execution without a row would only fail again.
        if (!this.stored.has(id) && group.state?.status === 'running') this.abandoned.add(id);
      }
    }
  }

  private async write(executions: ExecutionEvent[], lines: LogLineEvent[]): Promise<void> {
    await this.writer.write(executions, lines);
    for (const e of executions) {
      if (e.status === 'running') this.stored.add(e.id);
      else {
        this.stored.delete(e.id);
        this.abandoned.delete(e.id);
      }
    }
  }
}
