import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAdmin, createService, restAs, startTestServer, type TestServer } from './helpers/server.ts';

/**
 * Service versions against a real server: saves that change script, type or
 * config make versions (a label-only save does not), a rollback makes a new
 * version equal to an old one and the next call runs it, executions record
 * the version they ran, and who saved each version.
 */

/** The data of a GraphQL answer that must have no errors (documents here are plain strings: loosely typed). */
function data(result: { data?: unknown; errors?: readonly unknown[] }): any {
  expect(result.errors).toBeUndefined();
  return result.data;
}

const VERSIONS = `query Versions($name: String!, $first: Int, $after: String) {
  service(name: $name) { version versions(first: $first, after: $after) { edges { cursor node { version type content config message savedBy savedAt } } pageInfo { hasNextPage endCursor } } }
}`;

describe('service versions', () => {
  let t: TestServer;
  let id: number;

  beforeAll(async () => {
    t = await startTestServer();
    id = await createService(t, 'greet', 'javascript', "return { v: 'one' };", { timeout_ms: 5000 });
  });
  afterAll(() => t?.stop());

  it('version 1 on create; each save that changes script, type or config makes the next; a label-only save does not', async () => {
    expect((await asAdmin(t, 'GET', `/api/v2/system/service/${id}`)).version).toBe(1);
    await asAdmin(t, 'PATCH', `/api/v2/system/service/${id}`, { config: { content: "return { v: 'two' };" }, message: 'second script' });
    await asAdmin(t, 'PATCH', `/api/v2/system/service/${id}`, { label: 'Greeter', message: 'only a label' });
    await asAdmin(t, 'PATCH', `/api/v2/system/service/${id}`, { config: { timeout_ms: 6000 } });
    // The same script again is not a change either.
    await asAdmin(t, 'PATCH', `/api/v2/system/service/${id}`, { config: { content: "return { v: 'two' };", timeout_ms: 6000 } });
    const updated = data(
      await t.gql(`mutation { updateService(name: "greet", input: { content: "return { v: 'three' };", message: "third" }) { version } }`),
    );
    expect(updated.updateService.version).toBe(4);

    const { service } = data(await t.gql(VERSIONS, { name: 'greet' }));
    expect(service.version).toBe(4);
    const versions = service.versions.edges.map((e: any) => e.node);
    expect(versions.map((v: any) => v.version)).toEqual([4, 3, 2, 1]);
    expect(versions.map((v: any) => v.message)).toEqual(['third', null, 'second script', null]);
    expect(versions[0].content).toBe("return { v: 'three' };");
    expect(versions[1].config).toEqual({ timeout_ms: 6000 });
    expect(versions[3]).toMatchObject({ content: "return { v: 'one' };", config: { timeout_ms: 5000 }, savedBy: 'admin' });

    // Pages: newest first, cursors move to older versions.
    const first = data(await t.gql(VERSIONS, { name: 'greet', first: 2 })).service.versions;
    expect(first.edges.map((e: any) => e.node.version)).toEqual([4, 3]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const next = data(await t.gql(VERSIONS, { name: 'greet', first: 2, after: first.pageInfo.endCursor })).service.versions;
    expect(next.edges.map((e: any) => e.node.version)).toEqual([2, 1]);

    // REST read routes, DreamFactory-style records.
    const list = await asAdmin(t, 'GET', `/api/v2/system/service/${id}/version?include_count=true&limit=2`);
    expect(list.resource.map((v: any) => v.version)).toEqual([4, 3]);
    expect(list.meta.count).toBe(4);
    const two = await asAdmin(t, 'GET', `/api/v2/system/service/${id}/version/2`);
    expect(two).toMatchObject({ version: 2, type: 'javascript', message: 'second script', saved_by: 'admin', config: { content: "return { v: 'two' };" } });
    expect((await t.rest('GET', `/api/v2/system/service/${id}/version/9`)).status).toBe(404);
    expect(data(await t.gql(`{ serviceVersion(name: "greet", version: 2) { version content } }`)).serviceVersion).toEqual({
      version: 2,
      content: "return { v: 'two' };",
    });
    expect(data(await t.gql(`{ serviceVersion(name: "greet", version: 99) { version } }`)).serviceVersion).toBeNull();
  });

  it('a rollback makes a new version equal to the old one, runs at once, and executions record the version that ran', async () => {
    const before = await t.rest('GET', '/api/v2/greet');
    expect(before.json).toEqual({ v: 'three' });
    const rolled = data(await t.gql(`mutation { rollbackService(name: "greet", version: 1, message: "back to one") { version content config } }`));
    expect(rolled.rollbackService).toEqual({ version: 5, content: "return { v: 'one' };", config: { timeout_ms: 5000 } });
    // The config is replaced, not merged: version 1 had no other keys.
    const after = await t.rest('GET', '/api/v2/greet');
    expect(after.json).toEqual({ v: 'one' });
    // History is never rewritten: versions 1 to 4 are as they were.
    const { service } = data(await t.gql(VERSIONS, { name: 'greet' }));
    expect(service.versions.edges.map((e: any) => [e.node.version, e.node.message])).toEqual([
      [5, 'back to one'],
      [4, 'third'],
      [3, null],
      [2, 'second script'],
      [1, null],
    ]);
    const ran = async (response: { headers: Headers }) =>
      data(await t.gql(`query($id: ID!) { execution(id: $id) { serviceId serviceVersion } }`, { id: response.headers.get('x-execution-id') })).execution;
    expect(await ran(before)).toEqual({ serviceId: id, serviceVersion: 4 });
    expect(await ran(after)).toEqual({ serviceId: id, serviceVersion: 5 });
    const record = await asAdmin(t, 'GET', `/api/v2/system/execution/${after.headers.get('x-execution-id')}`);
    expect(record).toMatchObject({ service_id: id, service_version: 5 });
    // Over REST too: PATCH with rollback_to_version.
    const rest = await asAdmin(t, 'PATCH', `/api/v2/system/service/${id}`, { rollback_to_version: 2 });
    expect(rest.version).toBe(6);
    expect((await t.rest('GET', '/api/v2/greet')).json).toEqual({ v: 'two' });
  });

  it('records who saved: an app by its name', async () => {
    const role = await asAdmin(t, 'POST', '/api/v2/system/role', {
      name: 'editor',
      role_service_access_by_role_id: [{ service_id: 0, component: '*', verb_mask: 31, requestor_mask: 1 }],
    });
    const app = await asAdmin(t, 'POST', '/api/v2/system/app', { name: 'deployer', role_id: role.id });
    const saved = await restAs(t, app.api_key, 'PATCH', `/api/v2/system/service/${id}`, { config: { content: 'return 7;' }, message: 'by the app' });
    expect(saved.status).toBe(200);
    const newest = (await asAdmin(t, 'GET', `/api/v2/system/service/${id}/version?limit=1`)).resource[0];
    expect(newest).toMatchObject({ version: 7, saved_by: 'deployer', message: 'by the app' });
  });

  it('hostile: a record cannot claim who saved it, rollbacks take nothing else, bad versions and messages are refused, deleting keeps nothing', async () => {
    // savedBy comes from the caller, never from the record.
    await asAdmin(t, 'PATCH', `/api/v2/system/service/${id}`, { config: { content: 'return 8;' }, saved_by: 'someone-else', savedBy: 'someone-else' });
    expect((await asAdmin(t, 'GET', `/api/v2/system/service/${id}/version?limit=1`)).resource[0].saved_by).toBe('admin');
    // A rollback smuggling other fields is refused whole.
    const smuggled = await t.rest('PATCH', `/api/v2/system/service/${id}`, { rollback_to_version: 1, config: { content: 'return "evil";' } });
    expect(smuggled.status).toBe(400);
    for (const version of [0, -1, 1.5, '1', 2 ** 40]) {
      const refused = await t.rest('PATCH', `/api/v2/system/service/${id}`, { rollback_to_version: version });
      expect(refused.status, `rollback_to_version ${String(version)}`).toBe(400);
    }
    expect((await t.rest('PATCH', `/api/v2/system/service/${id}`, { rollback_to_version: 999 })).status).toBe(404);
    // Over GraphQL, in its own words: the argument is `version`.
    const badVersion = (await t.gql('mutation { rollbackService(name: "greet", version: 0) { version } }')) as any;
    expect(badVersion.errors[0]).toMatchObject({ message: expect.stringContaining('Argument "version"'), extensions: { code: 'BAD_USER_INPUT', context: { field: 'version' } } });
    expect((await t.rest('GET', `/api/v2/system/service/${id}/version/abc`)).status).toBe(400);
    expect((await t.rest('DELETE', `/api/v2/system/service/${id}/version/1`)).status).toBe(405);
    const long = await t.rest('PATCH', `/api/v2/system/service/${id}`, { config: { content: 'return 9;' }, message: 'x'.repeat(501) });
    expect(long.status).toBe(400);
    expect((await asAdmin(t, 'GET', `/api/v2/system/service/${id}`)).config.content).toBe('return 8;');
    const count = (await asAdmin(t, 'GET', `/api/v2/system/service/${id}/version?include_count=true`)).meta.count;

    // Deleting the service deletes its history; a new service of the same name starts again at 1.
    await asAdmin(t, 'DELETE', `/api/v2/system/service/${id}`);
    expect((await t.rest('GET', `/api/v2/system/service/${id}/version`)).status).toBe(404);
    const again = await createService(t, 'greet', 'javascript', 'return 1;');
    const fresh = await asAdmin(t, 'GET', `/api/v2/system/service/${again}/version?include_count=true`);
    expect(fresh.meta.count).toBe(1);
    expect(count).toBeGreaterThan(1);
    const rows = await t.server.platform.versions.list(id, { limit: 100, offset: 0 });
    expect(rows.count).toBe(0);
  });
});
