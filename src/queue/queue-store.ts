import type { SqlExecutor } from './sql-executor.ts';

/** A run as stored: the payload already JSON text. */
export interface StoredRun {
  eventName: string;
  payload: string;
  retries: number;
}

/** A row this instance now holds under `token`. */
export interface ClaimedRun extends StoredRun {
  id: string;
  token: string;
  failures: number;
  claims: number;
}

/**
 * The QueuedRun table, on either database. Every change to a claimed row
 * names its claim token, so an instance whose lease ran out (and whose row
 * another instance took) can no longer finish, retry or renew it.
 */
export interface QueueStore {
  insert(runs: StoredRun[]): Promise<void>;
  /** Claims up to `limit` due rows whose lease is free or expired, oldest first. */
  claim(limit: number, token: string, leaseMs: number): Promise<ClaimedRun[]>;
  /** Extends the leases of these claims. */
  renew(tokens: string[], leaseMs: number): Promise<void>;
  /** Removes the row (ran, or retries spent); false when the claim was lost meanwhile. */
  remove(id: string, token: string): Promise<boolean>;
  /** Frees the row to run again after `delayMs`, one more failure counted; false when the claim was lost. */
  retryLater(id: string, token: string, delayMs: number): Promise<boolean>;
  /** Frees rows claimed but never started (claimed while stopping), as if never claimed. */
  release(tokens: string[]): Promise<void>;
  /** Rows by state now, over every instance sharing the table. */
  depth(): Promise<QueueDepth>;
}

/** Stored runs by state: due (waiting for a slot), delayed (a retry not yet due), claimed (running somewhere, under a live lease). */
export interface QueueDepth {
  due: number;
  delayed: number;
  claimed: number;
}

interface Dialect {
  /** The database's clock in epoch milliseconds: one clock for every instance sharing it. */
  now: string;
  placeholder(index: number): string;
  /** Added to the claim's row selection: lets concurrent claimers pass each other's rows. */
  lockClause: string;
}

const RETURNED = `"id", "eventName", "payload", "retries", "failures", "claims"`;
/** Rows per INSERT: well under both databases' bound-parameter limits. */
const ROWS_PER_INSERT = 300;

/** The SQL both databases share; the dialect supplies clock, placeholders and locking. */
export abstract class SqlQueueStore implements QueueStore {
  protected constructor(
    private readonly db: SqlExecutor,
    private readonly dialect: Dialect,
  ) {}

  async insert(runs: StoredRun[]): Promise<void> {
    const statements: [string, unknown[]][] = [];
    for (let start = 0; start < runs.length; start += ROWS_PER_INSERT) {
      const sql = this.sql();
      const rows = runs
        .slice(start, start + ROWS_PER_INSERT)
        .map((run) => `(${sql.param(run.eventName)}, ${sql.param(run.payload)}, ${sql.param(run.retries)}, ${this.dialect.now})`);
      statements.push([`INSERT INTO "QueuedRun" ("eventName", "payload", "retries", "runAfter") VALUES ${rows.join(', ')}`, sql.params]);
    }
    // One transaction: all of a request's runs are stored, or none.
    await this.db.executeAll(statements);
  }

  async claim(limit: number, token: string, leaseMs: number): Promise<ClaimedRun[]> {
    const { now, lockClause } = this.dialect;
    const sql = this.sql();
    const rows = await this.db.query<RawRow>(
      `UPDATE "QueuedRun" SET "leaseToken" = ${sql.param(token)}, "leaseUntil" = ${now} + ${sql.param(leaseMs)}, "claims" = "claims" + 1 ` +
        `WHERE "id" IN (SELECT "id" FROM "QueuedRun" WHERE "runAfter" <= ${now} AND ("leaseUntil" IS NULL OR "leaseUntil" < ${now}) ` +
        `ORDER BY "id" LIMIT ${sql.param(limit)}${lockClause}) RETURNING ${RETURNED}`,
      sql.params,
    );
    // RETURNING promises no order.
    return rows
      .map((row) => ({
        id: String(row.id),
        token,
        eventName: row.eventName,
        payload: row.payload,
        retries: Number(row.retries),
        failures: Number(row.failures),
        claims: Number(row.claims),
      }))
      .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  }

  async renew(tokens: string[], leaseMs: number): Promise<void> {
    if (tokens.length === 0) return;
    const sql = this.sql();
    await this.db.execute(
      `UPDATE "QueuedRun" SET "leaseUntil" = ${this.dialect.now} + ${sql.param(leaseMs)} WHERE "leaseToken" IN (${tokens.map((t) => sql.param(t)).join(', ')})`,
      sql.params,
    );
  }

  async remove(id: string, token: string): Promise<boolean> {
    const sql = this.sql();
    const count = await this.db.execute(
      `DELETE FROM "QueuedRun" WHERE "id" = ${sql.param(BigInt(id))} AND "leaseToken" = ${sql.param(token)}`,
      sql.params,
    );
    return count === 1;
  }

  async retryLater(id: string, token: string, delayMs: number): Promise<boolean> {
    const sql = this.sql();
    const count = await this.db.execute(
      `UPDATE "QueuedRun" SET "leaseToken" = NULL, "leaseUntil" = NULL, "failures" = "failures" + 1, "runAfter" = ${this.dialect.now} + ${sql.param(delayMs)} ` +
        `WHERE "id" = ${sql.param(BigInt(id))} AND "leaseToken" = ${sql.param(token)}`,
      sql.params,
    );
    return count === 1;
  }

  async release(tokens: string[]): Promise<void> {
    if (tokens.length === 0) return;
    const sql = this.sql();
    await this.db.execute(
      `UPDATE "QueuedRun" SET "leaseToken" = NULL, "leaseUntil" = NULL, "claims" = "claims" - 1 WHERE "leaseToken" IN (${tokens.map((t) => sql.param(t)).join(', ')})`,
      sql.params,
    );
  }

  async depth(): Promise<QueueDepth> {
    const { now } = this.dialect;
    const free = `("leaseUntil" IS NULL OR "leaseUntil" < ${now})`;
    const [row] = await this.db.query<Record<keyof QueueDepth, number | bigint | string | null>>(
      `SELECT SUM(CASE WHEN ${free} AND "runAfter" <= ${now} THEN 1 ELSE 0 END) AS "due", ` +
        `SUM(CASE WHEN ${free} AND "runAfter" > ${now} THEN 1 ELSE 0 END) AS "delayed", ` +
        `SUM(CASE WHEN ${free} THEN 0 ELSE 1 END) AS "claimed" FROM "QueuedRun"`,
      [],
    );
    // SUM over no rows is NULL; PostgreSQL's sums come back as bigint or text.
    return { due: Number(row?.due ?? 0), delayed: Number(row?.delayed ?? 0), claimed: Number(row?.claimed ?? 0) };
  }

  /** Collects parameters in order, answering each with its placeholder. */
  private sql() {
    const params: unknown[] = [];
    return {
      params,
      param: (value: unknown) => {
        params.push(value);
        return this.dialect.placeholder(params.length);
      },
    };
  }
}

interface RawRow {
  id: bigint | number | string;
  eventName: string;
  payload: string;
  retries: number | bigint;
  failures: number | bigint;
  claims: number | bigint;
}
