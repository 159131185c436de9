import type { ExecutionEvent, LogLineEvent } from '../logs/bus.ts';
import type { Db } from './client.ts';

/** Where the recorder's batches go: executions upserted by id, log lines appended. */
export interface ExecutionWriter {
  write(executions: ExecutionEvent[], lines: LogLineEvent[]): Promise<void>;
}

/** Column order of the batched writes (both providers). */
export const EXECUTION_COLUMNS = [
  'id',
  'service',
  'scriptType',
  'status',
  'trigger',
  'startedAt',
  'finishedAt',
  'durationMs',
  'statusCode',
  'error',
  'logBytes',
  'logsTruncated',
  'eventName',
  'parentExecutionId',
  'serviceId',
  'serviceVersion',
  'replayOf',
  'request',
  'cpuMs',
  'peakMemoryBytes',
] as const;
/** One execution's values in EXECUTION_COLUMNS order; each database spells times and flags its own way. */
export function executionValues(e: ExecutionEvent, time: (date: Date) => string, flag: (value: boolean) => unknown): unknown[] {
  return [
    e.id,
    e.service,
    e.scriptType,
    e.status,
    e.trigger,
    time(e.startedAt),
    e.finishedAt ? time(e.finishedAt) : null,
    e.durationMs,
    e.statusCode,
    e.error ? JSON.stringify(e.error) : null,
    e.logBytes,
    flag(e.logsTruncated),
    e.eventName,
    e.parentExecutionId,
    e.serviceId,
    e.serviceVersion,
    e.replayOf,
    e.request ? JSON.stringify(e.request) : null,
    e.cpuMs,
    e.peakMemoryBytes,
  ];
}

/** Set when the run starts and never changed: only its first write carries them. */
const FIXED_AT_START: readonly string[] = ['id', 'service', 'scriptType', 'trigger', 'startedAt', 'eventName', 'parentExecutionId', 'serviceId', 'serviceVersion', 'replayOf', 'request'];
export const UPDATED_ON_CONFLICT = EXECUTION_COLUMNS.filter((c) => !FIXED_AT_START.includes(c));
export const LINE_COLUMNS = ['executionId', 'sequence', 'stream', 'message', 'timestamp'] as const;
const iso = (date: Date) => date.toISOString();
const same = (value: boolean) => value;
/** Rows per statement: well under SQLite's and PostgreSQL's bound-parameter limits. */
const ROWS_PER_STATEMENT = 500;

/**
 * Batches on PostgreSQL as a few multi-row SQL statements through Prisma.
 * Prisma's createMany costs about 300 µs a row in its query compiler; a raw
 * multi-row upsert costs a few µs a row.
 */
export class PostgresExecutionWriter implements ExecutionWriter {
  constructor(private readonly db: Db) {}

  async write(executions: ExecutionEvent[], lines: LogLineEvent[]): Promise<void> {
    const statements = [
      ...chunks(executions).map((rows) => this.upsertExecutions(rows)),
      ...chunks(lines).map((rows) => this.insertLines(rows)),
    ];
    if (statements.length === 0) return;
    await this.db.$transaction(statements.map(([sql, params]) => this.db.$executeRawUnsafe(sql, ...params)));
  }

  private upsertExecutions(rows: ExecutionEvent[]): [string, unknown[]] {
    const params: unknown[] = [];
    const values = rows.map((e) => this.placeholders(params, executionValues(e, iso, same), { 9: 'jsonb', 5: 'timestamp', 6: 'timestamp', 17: 'jsonb' }));
    const sql =
      `INSERT INTO "Execution" (${EXECUTION_COLUMNS.map(quote).join(', ')}) VALUES ${values.join(', ')} ` +
      `ON CONFLICT ("id") DO UPDATE SET ${UPDATED_ON_CONFLICT.map((c) => `${quote(c)} = excluded.${quote(c)}`).join(', ')}`;
    return [sql, params];
  }

  private insertLines(rows: LogLineEvent[]): [string, unknown[]] {
    const params: unknown[] = [];
    const values = rows.map((l) =>
      this.placeholders(params, [l.executionId, l.sequence, l.stream, l.message, l.timestamp.toISOString()], { 4: 'timestamp' }),
    );
    return [`INSERT INTO "LogLine" (${LINE_COLUMNS.map(quote).join(', ')}) VALUES ${values.join(', ')}`, params];
  }

  /** `($1, $2::jsonb)`: PostgreSQL's untyped text parameters need casts. */
  private placeholders(params: unknown[], row: unknown[], casts: Record<number, string>): string {
    const marks = row.map((value, index) => {
      params.push(value);
      const cast = casts[index];
      return cast ? `$${params.length}::${cast}` : `$${params.length}`;
    });
    return `(${marks.join(', ')})`;
  }
}

export function quote(column: string): string {
  return `"${column}"`;
}

function chunks<T>(items: T[]): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += ROWS_PER_STATEMENT) result.push(items.slice(i, i + ROWS_PER_STATEMENT));
  return result;
}
