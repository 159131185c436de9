import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations } from '../src/db/migrate.ts';
import { CreateServiceDocument, ExecutionDocument, InvokeServiceDocument } from './generated/graphql.ts';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.ts';
import { createService, startTestServer, type TestServer } from './helpers/server.ts';
import { eventually } from './helpers/eventually.ts';

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

  it('runs as several instances on one database: a change made through one reaches the others at once', async () => {
    const other = await startTestServer({ DATABASE_URL: database.url });
    try {
      const answer = async (server: TestServer) => {
        const response = await server.rest('GET', '/api/v2/shared');
        return response.status === 200 ? response.text : response.status;
      };
      // Unknown on the other instance first, then created here.
      expect(await answer(other)).toBe(404);
      const id = await createService(t, 'shared', 'javascript', "return 'v1'");
      expect(await answer(other)).toBe('v1');
      // The other instance now has it cached: edits, deactivation and deletion must still reach it.
      await t.rest('PATCH', `/api/v2/system/service/${id}`, { config: { content: "return 'v2'" } });
      await eventually(async () => (await answer(other)) === 'v2', 'the new script on the other instance');
      await t.rest('PATCH', `/api/v2/system/service/${id}`, { is_active: false });
      await eventually(async () => (await answer(other)) === 403, 'the deactivation on the other instance');
      await other.rest('PATCH', `/api/v2/system/service/${id}`, { is_active: true });
      await eventually(async () => (await answer(t)) === 'v2', 'the reactivation back on the first instance');
      await t.rest('DELETE', `/api/v2/system/service/${id}`);
      await eventually(async () => (await answer(other)) === 404, 'the deletion on the other instance');

      // Listening connections cut: a change made meanwhile still arrives (after reconnecting, caches are dropped).
      const again = await createService(t, 'shared', 'javascript', "return 'v3'");
      expect(await answer(other)).toBe('v3');
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      const cut = await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
      );
      await admin.end();
      expect(cut.rowCount).toBe(2);
      await t.rest('PATCH', `/api/v2/system/service/${again}`, { config: { content: "return 'v4'" } });
      await eventually(async () => (await answer(other)) === 'v4', 'the change made while the connections were cut');
    } finally {
      await other.stop();
    }
  });

  it('prunes with the same SQL: the newest N finished executions per service stay, their lines with them', async () => {
    await createService(t, 'pg-prune', 'javascript', "console.log('kept?'); return 1");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await t.rest('GET', '/api/v2/pg-prune')).headers.get('x-execution-id')!);
    const removed = await t.server.platform.executions.prune(2);
    expect(removed).toBeGreaterThanOrEqual(3);
    // Newest is id order (UUIDv7): two calls within one millisecond order by their random bits.
    const [newest, second, ...older] = [...ids].sort().reverse();
    const listed = await t.rest('GET', `/api/v2/system/execution?filter=${encodeURIComponent("service = 'pg-prune'")}`);
    expect(listed.json.resource.map((e: { id: string }) => e.id)).toEqual([newest, second]);
    for (const id of older) expect(await t.server.platform.executions.logs(id!, { afterSequence: 0, limit: 10 })).toEqual([]);
    expect((await t.server.platform.executions.logs(newest!, { afterSequence: 0, limit: 10 })).map((line) => line.message)).toEqual(['kept?']);
    expect(await t.server.platform.executions.prune(2)).toBe(0);
  });
});
