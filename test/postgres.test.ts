import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations } from '../src/db/migrate.ts';
import { CreateServiceDocument, ExecutionDocument, InvokeServiceDocument } from './generated/graphql.ts';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.ts';
import { createService, startTestServer, type TestServer } from './helpers/server.ts';

const available = await postgresAvailable();

describe.skipIf(!available)('PostgreSQL', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestServer;

  beforeAll(async () => {
    database = await createTestDatabase();
    t = await startTestServer({ DATABASE_URL: database.url });
  });
  afterAll(async () => {
    await t?.stop();
    await database?.drop();
  });

  it('creates its schema on start, recorded as Prisma migrations', async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query('SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name');
    const tables = await client.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name");
    await client.end();
    expect(rows.map((r) => r.migration_name)).toEqual(loadMigrations('postgresql').map((m) => m.name));
    expect(tables.rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['Service', 'Execution', 'LogLine', 'Setting']));
  });

  it('serves the same REST and GraphQL API', async () => {
    await createService(t, 'pg-math', 'javascript', "console.log('adding'); return { sum: Number(event.request.parameters.a) + 1 }", { flavour: 'pg' });
    const called = await t.rest('GET', '/api/v2/pg-math?a=41');
    expect(called.json).toEqual({ sum: 42 });
    const listed = await t.rest('GET', '/api/v2/system/service?filter=name=pg-math');
    expect(listed.json.resource[0].config).toEqual({ flavour: 'pg', content: expect.any(String) });

    const created = await t.gql(CreateServiceDocument, { input: { name: 'pg-gql', type: 'javascript', content: 'return [1]' } });
    expect(created.data!.createService.name).toBe('pg-gql');
    const invoked = await t.gql(InvokeServiceDocument, { name: 'pg-gql' });
    const execution = await t.gql(ExecutionDocument, { id: invoked.data!.invokeService.executionId! });
    expect(execution.data!.execution).toMatchObject({ service: 'pg-gql', status: 'SUCCEEDED', statusCode: 200 });

    const duplicate = await t.rest('POST', '/api/v2/system/service', { resource: [{ name: 'pg-math', type: 'javascript', config: { content: '' } }] });
    expect(duplicate.status).toBe(400);
  });

  it('keeps everything across a restart and does not migrate twice', async () => {
    await t.stop();
    t = await startTestServer({ DATABASE_URL: database.url });
    expect((await t.rest('GET', '/api/v2/pg-math?a=1')).json).toEqual({ sum: 2 });
    const executions = await t.rest('GET', '/api/v2/system/execution?filter=service=pg-math');
    expect(executions.json.resource.length).toBe(2);
  });
});
