import type { ExecutionEvent, LogLineEvent } from '../logs/bus.ts';
import type { Db } from './client.ts';

/** Where the recorder's batches go: executions upserted by id, log lines appended. */
export interface ExecutionWriter {
  write(executions: ExecutionEvent[], lines: LogLineEvent[]): Promise<void>;
  /** Keeps the newest `keep` finished executions of each service (and never a running one); their log lines go with them. */
  prune(keep: number): Promise<number>;
  /** Shutdown, after the last write. */
  close?(): Promise<void>;
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
/**
 * One execution's values in EXECUTION_COLUMNS order, as the run holds them
 * (dates, flags, JSON objects): each database's writer spells them its own way.
 */
export function executionValues(e: ExecutionEvent): unknown[] {
  return [
    e.id,
    e.service,
    e.scriptType,
    e.status,
    e.trigger,
    e.startedAt,
    e.finishedAt,
    e.durationMs,
    e.statusCode,
    e.error,
    e.logBytes,
    e.logsTruncated,
    e.eventName,
    e.parentExecutionId,
    e.serviceId,
    e.serviceVersion,
    e.replayOf,
    e.request,
    e.cpuMs,
    e.peakMemoryBytes,
  ];
}

/** One log line's values in LINE_COLUMNS order. */
export function lineValues(l: LogLineEvent): unknown[] {
  return [l.executionId, l.sequence, l.stream, l.message, l.timestamp];
}

/** Set when the run starts and never changed: only its first write carries them. */
const FIXED_AT_START: readonly string[] = ['id', 'service', 'scriptType', 'trigger', 'startedAt', 'eventName', 'parentExecutionId', 'serviceId', 'serviceVersion', 'replayOf', 'request'];
export const UPDATED_ON_CONFLICT = EXECUTION_COLUMNS.filter((c) => !FIXED_AT_START.includes(c));
export const LINE_COLUMNS = ['executionId', 'sequence', 'stream', 'message', 'timestamp'] as const;
/** Dates as ISO text and objects as JSON text (cast to timestamp and jsonb in the statement). */
function postgresValue(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return value;
}
/**
 * Pruning, in statements both databases run: the services over the limit
 * (counting running executions too, as the limit counts what is stored), then
 * one slice of a service's oldest finished executions (`$1`/`?`: service,
 * slice size, how many to keep). Log lines go with them (ON DELETE CASCADE).
 */
export const PRUNE_SQL = {
  servicesOver: (mark: (n: number) => string) => `SELECT "service" FROM "Execution" GROUP BY "service" HAVING COUNT(*) > ${mark(1)}`,
  slice: (mark: (n: number) => string) =>
    `DELETE FROM "Execution" WHERE "id" IN (SELECT "id" FROM "Execution" WHERE "service" = ${mark(1)} AND "status" <> 'running' ` +
    `ORDER BY "id" DESC LIMIT ${mark(2)} OFFSET ${mark(3)})`,
};
/**
 * Executions deleted per statement: a busy service piles up hundreds of
 * thousands a minute, and one statement for all of them would hold the write
 * lock (and once, loaded through Prisma, the event loop) for seconds.
 */
const PRUNE_SLICE = 2_000;

/** Runs PRUNE_SQL slice by slice; other writes go on between slices. */
export async function pruneInSlices(
  keep: number,
  run: { servicesOver(keep: number): Promise<string[]>; slice(service: string, size: number, keep: number): Promise<number> },
): Promise<number> {
  let removed = 0;
  for (const service of await run.servicesOver(keep)) {
    for (let deleted = PRUNE_SLICE; deleted === PRUNE_SLICE; removed += deleted) deleted = await run.slice(service, PRUNE_SLICE, keep);
  }
  return removed;
}

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

  prune(keep: number): Promise<number> {
    const dollar = (n: number) => `$${n}`;
    return pruneInSlices(keep, {
      servicesOver: async (over) =>
        (await this.db.$queryRawUnsafe<{ service: string }[]>(PRUNE_SQL.servicesOver(dollar), over)).map((row) => row.service),
      slice: (service, size, kept) => this.db.$executeRawUnsafe(PRUNE_SQL.slice(dollar), service, size, kept),
    });
  }

  private upsertExecutions(rows: ExecutionEvent[]): [string, unknown[]] {
    const params: unknown[] = [];
    const values = rows.map((e) => this.placeholders(params, executionValues(e).map(postgresValue), { 9: 'jsonb', 5: 'timestamp', 6: 'timestamp', 17: 'jsonb' }));
    const sql =
      `INSERT INTO "Execution" (${EXECUTION_COLUMNS.map(quote).join(', ')}) VALUES ${values.join(', ')} ` +
      `ON CONFLICT ("id") DO UPDATE SET ${UPDATED_ON_CONFLICT.map((c) => `${quote(c)} = excluded.${quote(c)}`).join(', ')}`;
    return [sql, params];
  }

  private insertLines(rows: LogLineEvent[]): [string, unknown[]] {
    const params: unknown[] = [];
    const values = rows.map((l) =>
      this.placeholders(params, lineValues(l).map(postgresValue), { 4: 'timestamp' }),
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
