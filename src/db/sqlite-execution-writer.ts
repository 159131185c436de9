import type Database from 'better-sqlite3';
import type { ExecutionEvent, LogLineEvent } from '../logs/bus.ts';
import { whenNotBusy } from './sqlite-connection.ts';
import { executionValues, EXECUTION_COLUMNS, LINE_COLUMNS, quote, UPDATED_ON_CONFLICT, type ExecutionWriter } from './execution-writer.ts';

/**
 * Batches on SQLite: prepared statements in one synchronous transaction on
 * the hot path's own connection (sqlite-connection.ts). Through Prisma even
 * raw SQL cost about 35 µs a request in argument handling; this costs a few
 * µs a row. While a Prisma transaction left open across an await holds the
 * write lock, the batch waits between tries, never inside SQLite.
 */
export class SqliteExecutionWriter implements ExecutionWriter {
  private statements: { write: (executions: ExecutionEvent[], lines: LogLineEvent[]) => void; connection: Database.Database } | null =
    null;

  constructor(private readonly connection: () => Promise<Database.Database>) {}

  async write(executions: ExecutionEvent[], lines: LogLineEvent[]): Promise<void> {
    const { write } = this.statements ?? (this.statements = this.prepare(await this.connection()));
    await whenNotBusy(() => write(executions, lines));
  }

  private prepare(connection: Database.Database) {
    const upsert = connection.prepare(
      `INSERT INTO "Execution" (${EXECUTION_COLUMNS.map(quote).join(', ')}) VALUES (${EXECUTION_COLUMNS.map(() => '?').join(', ')}) ` +
        `ON CONFLICT ("id") DO UPDATE SET ${UPDATED_ON_CONFLICT.map((c) => `${quote(c)} = excluded.${quote(c)}`).join(', ')}`,
    );
    const append = connection.prepare(
      `INSERT INTO "LogLine" (${LINE_COLUMNS.map(quote).join(', ')}) VALUES (${LINE_COLUMNS.map(() => '?').join(', ')})`,
    );
    const write = connection.transaction((executions: ExecutionEvent[], lines: LogLineEvent[]) => {
      for (const e of executions) upsert.run(...executionValues(e, sqliteTime, asInteger));
      for (const l of lines) append.run(l.executionId, l.sequence, l.stream, l.message, sqliteTime(l.timestamp));
    });
    return { write, connection };
  }
}

/** SQLite has no booleans: Prisma reads 1 and 0. */
const asInteger = (value: boolean) => (value ? 1 : 0);

/**
 * The text Prisma's SQLite adapter writes for DateTime, so both read alike.
 * Date#toISOString formats through snprintf; every row needs two of these,
 * so the text up to the second is kept and only milliseconds are appended.
 */
let cachedSecond = NaN;
let cachedPrefix = '';
function sqliteTime(date: Date): string {
  const ms = date.getTime();
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = date.toISOString().slice(0, 20); // 2026-11-25T16:04:39.
  }
  return `${cachedPrefix}${String(ms - second * 1000).padStart(3, '0')}+00:00`;
}
