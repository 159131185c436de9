import type Database from 'better-sqlite3';
import type { Db } from '../db/client.ts';
import { whenNotBusy } from '../db/sqlite-connection.ts';

/** Where the queue's SQL runs: through Prisma, or straight on SQLite's connection. */
export interface SqlExecutor {
  query<T>(sql: string, params: unknown[]): Promise<T[]>;
  /** Rows changed. */
  execute(sql: string, params: unknown[]): Promise<number>;
  /** All in one transaction. */
  executeAll(statements: [string, unknown[]][]): Promise<void>;
}

/** Through Prisma's raw SQL: works on both databases with nothing but the client. */
export class PrismaExecutor implements SqlExecutor {
  constructor(private readonly db: Db) {}

  query<T>(sql: string, params: unknown[]): Promise<T[]> {
    return this.db.$queryRawUnsafe<T[]>(sql, ...params);
  }

  execute(sql: string, params: unknown[]): Promise<number> {
    return this.db.$executeRawUnsafe(sql, ...params);
  }

  async executeAll(statements: [string, unknown[]][]): Promise<void> {
    if (statements.length === 1) await this.execute(...statements[0]!);
    else if (statements.length > 1) await this.db.$transaction(statements.map(([sql, params]) => this.db.$executeRawUnsafe(sql, ...params)));
  }
}

/** Prepared statements kept; the queue's SQL varies only with batch sizes. */
const MAX_PREPARED = 64;

/**
 * Straight on the queue's own better-sqlite3 connection (see
 * db/sqlite-connection.ts): an enqueue through Prisma's raw
 * SQL cost about ten times a prepared statement. A statement that meets the
 * write lock held by a Prisma transaction waits between tries.
 */
export class SqliteConnectionExecutor implements SqlExecutor {
  private readonly prepared = new Map<string, Database.Statement>();
  private connection: Database.Database | null = null;

  constructor(private readonly connect: () => Promise<Database.Database>) {}

  async query<T>(sql: string, params: unknown[]): Promise<T[]> {
    const statement = await this.statement(sql);
    return whenNotBusy(() => statement.all(...params) as T[]);
  }

  async execute(sql: string, params: unknown[]): Promise<number> {
    const statement = await this.statement(sql);
    return whenNotBusy(() => statement.run(...params).changes);
  }

  async executeAll(statements: [string, unknown[]][]): Promise<void> {
    const prepared: { statement: Database.Statement; params: unknown[] }[] = [];
    for (const [sql, params] of statements) prepared.push({ statement: await this.statement(sql), params });
    const all = this.connection!.transaction(() => {
      for (const { statement, params } of prepared) statement.run(...params);
    });
    await whenNotBusy(() => all());
  }

  private async statement(sql: string): Promise<Database.Statement> {
    const connection = (this.connection ??= await this.connect());
    let statement = this.prepared.get(sql);
    if (!statement) {
      if (this.prepared.size >= MAX_PREPARED) this.prepared.clear();
      statement = connection.prepare(sql);
      this.prepared.set(sql, statement);
    }
    return statement;
  }
}
