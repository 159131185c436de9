import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaClient as SqliteClient } from '../generated/prisma-sqlite/client.ts';
import type { Settings } from '../config.ts';
import { migratePostgres, migrateSqlite } from './migrate.ts';

/**
 * Both generated clients expose the same model API (one schema, two
 * providers); the rest of the code types against the SQLite one.
 */
export type Db = SqliteClient;

export interface OpenDatabase {
  db: Db;
  provider: 'sqlite' | 'postgresql';
  applied: string[];
  close(): Promise<void>;
}

export async function openDatabase(database: Settings['database']): Promise<OpenDatabase> {
  if (database.provider === 'sqlite') {
    mkdirSync(dirname(database.file), { recursive: true });
    const raw = new Database(database.file);
    let applied: string[];
    try {
      applied = migrateSqlite(raw);
    } finally {
      raw.close();
    }
    const db = new SqliteClient({ adapter: new PrismaBetterSqlite3({ url: database.file, timeout: 5000 }) });
    return { db, provider: 'sqlite', applied, close: () => db.$disconnect() };
  }
  // Loaded only when used: the PostgreSQL client and driver cost tens of MB of memory.
  const [{ default: pg }, { PrismaPg }, { PrismaClient: PostgresClient }] = await Promise.all([
    import('pg'),
    import('@prisma/adapter-pg'),
    import('../generated/prisma-postgresql/client.ts'),
  ]);
  const pool = new pg.Pool({ connectionString: database.url, max: 10 });
  pool.on('error', () => undefined); // an idle client dying must not crash the server
  const applied = await migratePostgres(pool);
  const client = new PostgresClient({ adapter: new PrismaPg(pool) });
  return {
    db: client as unknown as Db,
    provider: 'postgresql',
    applied,
    close: async () => {
      await client.$disconnect();
      await pool.end();
    },
  };
}
