import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { PACKAGE_ROOT } from '../package-root.ts';
import type pg from 'pg';

/**
 * Applies the committed SQL migrations (prisma/migrations/<provider>/) at
 * start-up, offline: Prisma's own migrate needs a native engine we cannot
 * download. Rows go into `_prisma_migrations` the way Prisma writes them, so
 * `prisma migrate status` still reads the history.
 */
export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

const migrationsRoot = join(PACKAGE_ROOT, 'prisma', 'migrations');

export function loadMigrations(provider: 'sqlite' | 'postgresql'): Migration[] {
  const dir = join(migrationsRoot, provider);
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

const historyTable = (timestamp: string) => `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" ${timestamp},
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" ${timestamp},
  "started_at" ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

function pending(all: Migration[], applied: Map<string, string>): Migration[] {
  for (const [name, checksum] of applied) {
    const known = all.find((m) => m.name === name);
    if (known && known.checksum !== checksum) {
      throw new Error(`migration ${name} was changed after it was applied; add a new migration instead`);
    }
  }
  return all.filter((m) => !applied.has(m.name));
}

export function migrateSqlite(db: Database.Database): string[] {
  db.pragma('journal_mode = WAL');
  db.exec(historyTable('DATETIME'));
  const rows = db.prepare('SELECT migration_name, checksum FROM "_prisma_migrations" WHERE rolled_back_at IS NULL').all() as {
    migration_name: string;
    checksum: string;
  }[];
  const todo = pending(loadMigrations('sqlite'), new Map(rows.map((r) => [r.migration_name, r.checksum])));
  const record = db.prepare(
    'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count) VALUES (?, ?, CURRENT_TIMESTAMP, ?, 1)',
  );
  for (const migration of todo) {
    db.transaction(() => {
      db.exec(migration.sql);
      record.run(crypto.randomUUID(), migration.checksum, migration.name);
    })();
  }
  return todo.map((m) => m.name);
}

export async function migratePostgres(pool: pg.Pool): Promise<string[]> {
  const client = await pool.connect();
  try {
    // Instances starting together must not apply the same migration twice.
    await client.query('SELECT pg_advisory_lock(72707369)');
    await client.query(historyTable('TIMESTAMPTZ'));
    const { rows } = await client.query<{ migration_name: string; checksum: string }>(
      'SELECT migration_name, checksum FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
    );
    const todo = pending(loadMigrations('postgresql'), new Map(rows.map((r) => [r.migration_name, r.checksum])));
    for (const migration of todo) {
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query(
          'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count) VALUES ($1, $2, now(), $3, 1)',
          [crypto.randomUUID(), migration.checksum, migration.name],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    }
    return todo.map((m) => m.name);
  } finally {
    await client.query('SELECT pg_advisory_unlock(72707369)').catch(() => undefined);
    client.release();
  }
}
