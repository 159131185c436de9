// The committed SQL migrations (one tree per database, written by hand: no
// schema engine here) against Prisma's data model, so the two trees cannot
// drift from the model or from each other.
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratePostgres, migrateSqlite } from '../src/db/migrate.ts';
import { getDatamodel } from '../src/generated/pothos-types.ts';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.ts';

interface Column {
  type: string;
  required: boolean;
}
type Tables = Record<string, Record<string, Column>>;

const SQLITE_TYPES: Record<string, string> = { Int: 'INTEGER', BigInt: 'BIGINT', String: 'TEXT', Boolean: 'BOOLEAN', DateTime: 'DATETIME', Float: 'REAL', Json: 'TEXT' };
const POSTGRES_TYPES: Record<string, string> = {
  Int: 'integer',
  BigInt: 'bigint',
  String: 'text',
  Boolean: 'boolean',
  DateTime: 'timestamp without time zone',
  Float: 'double precision',
  Json: 'jsonb',
};

/** Every model's scalar fields as the given database should hold them (SQLite's autoincrement key is INTEGER whatever its width). */
function expected(types: Record<string, string>): Tables {
  const { models } = getDatamodel().datamodel;
  const typeOf = (field: { type: string; isId: boolean }) => (types === SQLITE_TYPES && field.isId && field.type === 'BigInt' ? 'INTEGER' : types[field.type]!);
  return Object.fromEntries(
    Object.entries(models).map(([model, { fields }]) => [
      model,
      Object.fromEntries(fields.filter((f) => f.kind === 'scalar').map((f) => [f.name, { type: typeOf(f), required: f.isRequired }])),
    ]),
  );
}

/** Unique column sets per model (primary keys aside), sorted. */
function expectedUniques(): Record<string, string[]> {
  const { models } = getDatamodel().datamodel;
  return Object.fromEntries(
    Object.entries(models).map(([model, m]) => [
      model,
      [...m.fields.filter((f) => f.isUnique).map((f) => f.name), ...m.uniqueIndexes.map((u) => u.fields.join(','))].sort(),
    ]),
  );
}

describe('SQLite migrations', () => {
  const db = new Database(':memory:');
  beforeAll(() => migrateSqlite(db));
  afterAll(() => db.close());

  it('make exactly the tables and columns of the data model, with its types and nullability', () => {
    const actual: Tables = {};
    for (const model of Object.keys(expected(SQLITE_TYPES))) {
      const columns = db.prepare(`PRAGMA table_info("${model}")`).all() as { name: string; type: string; notnull: number; pk: number }[];
      actual[model] = Object.fromEntries(columns.map((c) => [c.name, { type: c.type, required: c.notnull === 1 || c.pk === 1 }]));
    }
    expect(actual).toEqual(expected(SQLITE_TYPES));
  });

  it('make its unique constraints', () => {
    const actual: Record<string, string[]> = {};
    for (const model of Object.keys(expectedUniques())) {
      const indexes = db.prepare(`PRAGMA index_list("${model}")`).all() as { name: string; unique: number; origin: string }[];
      actual[model] = indexes
        .filter((i) => i.unique === 1 && i.origin !== 'pk')
        .map((i) => (db.prepare(`PRAGMA index_info("${i.name}")`).all() as { name: string }[]).map((c) => c.name).join(','))
        .sort();
    }
    expect(actual).toEqual(expectedUniques());
  });
});

const postgres = await postgresAvailable();

describe.skipIf(!postgres)('PostgreSQL migrations', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: pg.Pool;
  beforeAll(async () => {
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url });
    await migratePostgres(pool);
  });
  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  it('make exactly the tables and columns of the data model, with its types and nullability', async () => {
    const { rows } = await pool.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>(
      "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'",
    );
    const actual: Tables = {};
    for (const row of rows) (actual[row.table_name] ??= {})[row.column_name] = { type: row.data_type, required: row.is_nullable === 'NO' };
    expect(actual).toEqual(expected(POSTGRES_TYPES));
  });

  it('make its unique constraints', async () => {
    const { rows } = await pool.query<{ tablename: string; indexdef: string; indexname: string }>(
      "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'",
    );
    const actual: Record<string, string[]> = Object.fromEntries(Object.keys(expectedUniques()).map((model) => [model, [] as string[]]));
    for (const row of rows) {
      if (!row.indexdef.startsWith('CREATE UNIQUE') || row.indexname.endsWith('_pkey')) continue;
      const columns = /\(([^)]*)\)/.exec(row.indexdef)![1]!.split(',').map((c) => c.trim().replace(/"/g, ''));
      actual[row.tablename]!.push(columns.join(','));
    }
    for (const model of Object.keys(actual)) actual[model]!.sort();
    expect(actual).toEqual(expectedUniques());
  });
});
