import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { Debug } from '@prisma/client/runtime/client';
import { PrismaClient as SqliteClient } from '../generated/prisma-sqlite/client.ts';
import type { Settings } from '../config.ts';
import { PostgresExecutionWriter, type ExecutionWriter } from './execution-writer.ts';
import { migratePostgres, migrateSqlite } from './migrate.ts';
import type { PostgresServiceChanges } from './postgres-service-changes.ts';
import { openSqliteConnection } from './sqlite-connection.ts';
import { SqliteExecutionWriter } from './sqlite-execution-writer.ts';

/**
 * Both generated clients expose the same model API (one schema, two
 * providers); the rest of the code types against the SQLite one.
 */
export type Db = SqliteClient;

/** Calls of Prisma's debug module it keeps (its `Lt` ring buffer in @prisma/client/runtime/client.js). */
const PRISMA_DEBUG_HISTORY = 100;
const debugHistory = Debug('scriptgate:forget');

/**
 * Prisma's debug module keeps the arguments of its last 100 calls even with
 * debugging off, and it logs every query plan it makes: after a batch save
 * of 500 services, the batch's plans (a parameter list each) held 25 MB of
 * heap until 100 other calls pushed them out, and a server whose services
 * are all cached makes none. 100 calls with one short text push them out.
 */
export function forgetPrismaDebugHistory(): void {
  for (let i = 0; i < PRISMA_DEBUG_HISTORY; i++) debugHistory('-');
}

export interface OpenDatabase {
  db: Db;
  provider: 'sqlite' | 'postgresql';
  applied: string[];
  /** Batched execution and log writes, the fastest way this database allows. */
  executionWriter: ExecutionWriter;
  /** Service changes to and from other instances sharing this database; null on SQLite (one instance). */
  serviceChanges: PostgresServiceChanges | null;
  /** SQLite: the hot path's own connection (see sqlite-connection.ts), opened on first use; null on PostgreSQL. */
  sqliteConnection: (() => Promise<Database.Database>) | null;
  close(): Promise<void>;
}

/** `onError`: failures in the background (lost notification connection), reported, never thrown. */
export async function openDatabase(database: Settings['database'], onError: (error: unknown) => void): Promise<OpenDatabase> {
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
    let hotPath: Database.Database | null = null;
    const connection = async () => (hotPath ??= openSqliteConnection(database.file));
    const executionWriter = new SqliteExecutionWriter(database.file);
    const close = async () => {
      await executionWriter.close();
      hotPath?.close();
      hotPath = null;
      await db.$disconnect();
    };
    return { db, provider: 'sqlite', applied, executionWriter, serviceChanges: null, sqliteConnection: connection, close };
  }
  // Loaded only when used: the PostgreSQL client and driver cost tens of MB of memory.
  const [{ default: pg }, { PrismaPg }, { PrismaClient: PostgresClient }, { PostgresServiceChanges }] = await Promise.all([
    import('pg'),
    import('@prisma/adapter-pg'),
    import('../generated/prisma-postgresql/client.ts'),
    import('./postgres-service-changes.ts'),
  ]);
  const pool = new pg.Pool({ connectionString: database.url, max: 10 });
  pool.on('error', () => undefined); // an idle client dying must not crash the server
  const applied = await migratePostgres(pool);
  const client = new PostgresClient({ adapter: new PrismaPg(pool) });
  const serviceChanges = new PostgresServiceChanges(database.url, pool, onError);
  return {
    db: client as unknown as Db,
    provider: 'postgresql',
    applied,
    executionWriter: new PostgresExecutionWriter(client as unknown as Db),
    serviceChanges,
    sqliteConnection: null,
    close: async () => {
      await serviceChanges.stop();
      await client.$disconnect();
      await pool.end();
    },
  };
}
