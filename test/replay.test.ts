import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, asAdmin, createService, restTo, startTestServer, type TestServer } from './helpers/server.ts';

/**
 * Replay against a real server: executions keep the request they ran with
 * (no credentials, body capped at 64 KiB), and replayExecution runs it again
 * against the current script or an unsaved fix, as a new execution linked
 * to the original.
 */

/** The data of a GraphQL answer that must have no errors (documents here are plain strings: loosely typed). */
function data(result: { data?: unknown; errors?: readonly unknown[] }): any {
  expect(result.errors).toBeUndefined();
  return result.data;
}

const DIVIDE = `
const { a, b } = event.request.payload;
if (b === 0) throw new Error('division by zero');
return { q: a / b, tag: event.request.parameters.tag, via: event.request.headers['x-via'] ?? null };
`;
const FIXED = `
const { a, b } = event.request.payload;
return { q: b === 0 ? null : a / b, tag: event.request.parameters.tag, fixed: true };
`;

const EXECUTION = `query($id: ID!) { execution(id: $id) { id service status serviceVersion replayOf request } }`;
const REPLAY = `mutation($id: ID!, $script: RunScriptInput) { replayExecution(id: $id, script: $script) { statusCode content executionId } }`;

describe('replay', () => {
  let t: TestServer;
  let failedId: string;

  beforeAll(async () => {
    t = await startTestServer();
    await createService(t, 'divide', 'javascript', DIVIDE);
    const failed = await t.rest('POST', '/api/v2/divide/calc?tag=t1', { a: 6, b: 0 }, { 'x-via': 'rest' });
    expect(failed.status).toBe(500);
    failedId = failed.headers.get('x-execution-id')!;
  });
  afterAll(() => t?.stop());

  it('records the request a run got', async () => {
    const { execution } = data(await t.gql(EXECUTION, { id: failedId }));
    expect(execution.status).toBe('FAILED');
    expect(execution.request).toMatchObject({
      method: 'POST',
      resource: 'calc',
      parameters: { tag: 't1' },
      contentType: 'application/json',
      payload: JSON.stringify({ a: 6, b: 0 }),
      payloadTruncated: false,
    });
    expect(execution.request.headers['x-via']).toBe('rest');
    const record = await asAdmin(t, 'GET', `/api/v2/system/execution/${failedId}`);
    expect(record.request).toEqual(execution.request);
  });

  it('replays a failed call against a fixed unsaved script, then against the saved fix', async () => {
    const fixed = data(await t.gql(REPLAY, { id: failedId, script: { type: 'javascript', content: FIXED } })).replayExecution;
    expect(fixed.statusCode).toBe(200);
    expect(fixed.content).toEqual({ q: null, tag: 't1', fixed: true });
    const rerun = data(await t.gql(EXECUTION, { id: fixed.executionId })).execution;
    expect(rerun).toMatchObject({ service: 'divide', status: 'SUCCEEDED', replayOf: failedId, serviceVersion: null });

    // Against the current (still broken) script: the script's failure is the answer, as invokeService gives it.
    const broken = data(await t.gql(REPLAY, { id: failedId })).replayExecution;
    expect(broken.statusCode).toBe(500);
    expect(broken.content.error.message).toContain('division by zero');
    expect(data(await t.gql(EXECUTION, { id: broken.executionId })).execution).toMatchObject({ replayOf: failedId, serviceVersion: 1, status: 'FAILED' });

    await asAdmin(t, 'PATCH', '/api/v2/system/service/' + (await asAdmin(t, 'GET', '/api/v2/system/service?filter=name%3Ddivide')).resource[0].id, {
      config: { content: FIXED },
      message: 'fix division by zero',
    });
    const saved = data(await t.gql(REPLAY, { id: failedId })).replayExecution;
    expect(saved).toMatchObject({ statusCode: 200, content: { q: null, tag: 't1', fixed: true } });
    expect(data(await t.gql(EXECUTION, { id: saved.executionId })).execution).toMatchObject({ replayOf: failedId, serviceVersion: 2 });
    // Replays are listed, and filterable, over REST too.
    const replays = await asAdmin(t, 'GET', `/api/v2/system/execution?filter=${encodeURIComponent(`replay_of = '${failedId}'`)}`);
    expect(replays.resource.map((e: any) => e.id).sort()).toEqual([fixed.executionId, broken.executionId, saved.executionId].sort());
  });

  it('hostile: credentials are never recorded, whatever door they came through', async () => {
    const leak = 'leaky-secret-value';
    const viaRest = await restTo(t.url, 'GET', `/api/v2/divide/x?api_key=${ADMIN_KEY}&tag=2`, undefined, {
      authorization: `Bearer ${ADMIN_KEY}`,
      cookie: `session=${leak}`,
      'x-dreamfactory-session-token': leak,
    });
    const viaGraphql = data(
      await t.gql(
        `mutation($h: JSON, $p: JSON) { invokeService(name: "divide", method: "POST", resource: "x", headers: $h, parameters: $p, payload: {a: 1, b: 1}) { executionId } }`,
        { h: { Authorization: `Bearer ${leak}`, 'X-DreamFactory-Api-Key': leak, Cookie: leak, 'Proxy-Authorization': leak, 'x-ok': 'kept' }, p: { api_key: leak, session_token: leak, tag: 'g' } },
      ),
    ).invokeService;
    for (const id of [viaRest.headers.get('x-execution-id')!, viaGraphql.executionId]) {
      const { execution } = data(await t.gql(EXECUTION, { id }));
      const text = JSON.stringify(execution.request);
      expect(text).not.toContain(leak);
      expect(text).not.toContain(ADMIN_KEY);
      expect(text.toLowerCase()).not.toMatch(/authorization|cookie|api[-_]key|session[-_]token/);
    }
    expect(data(await t.gql(EXECUTION, { id: viaGraphql.executionId })).execution.request.headers['x-ok']).toBe('kept');
  });

  it('hostile: a body over 64 KiB is recorded cut and marked, and is not replayed as if whole', async () => {
    const big = { a: 1, b: 1, filler: 'é'.repeat(40_000) }; // 80,000 bytes of UTF-8
    const response = await t.rest('POST', '/api/v2/divide/big', big);
    expect(response.status).toBe(200);
    const { execution } = data(await t.gql(EXECUTION, { id: response.headers.get('x-execution-id') }));
    expect(execution.request.payloadTruncated).toBe(true);
    expect(Buffer.byteLength(execution.request.payload)).toBeLessThanOrEqual(64 * 1024);
    expect(Buffer.byteLength(execution.request.payload)).toBeGreaterThan(64 * 1024 - 4);
    expect(execution.request.payload.endsWith('\uFFFD')).toBe(false);
    const refused = await t.gql(REPLAY, { id: execution.id });
    expect(refused.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('hostile: replaying needs the rights the call would, and only service runs are replayed', async () => {
    const role = await asAdmin(t, 'POST', '/api/v2/system/role', {
      name: 'reader',
      role_service_access_by_role_id: [{ service_id: 0, component: 'execution/*', verb_mask: 1, requestor_mask: 1 }],
    });
    const app = await asAdmin(t, 'POST', '/api/v2/system/app', { name: 'reader-app', role_id: role.id });
    const asApp = { authorization: `Bearer ${app.api_key}` };
    // It may read the execution, but not call the service, nor run scripts of its own.
    const current = await t.gql(REPLAY, { id: failedId }, asApp);
    expect(current.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    const own = await t.gql(REPLAY, { id: failedId, script: { type: 'javascript', content: 'return 1' } }, asApp);
    expect(own.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    // Unknown ids, and event scripts' runs.
    expect((await t.gql(REPLAY, { id: 'no-such-execution' })).errors?.[0]).toMatchObject({ extensions: { code: 'NOT_FOUND' } });
    await asAdmin(t, 'POST', '/api/v2/system/event_script/divide.get.pre_process', { type: 'javascript', content: 'return;' });
    const hooked = await t.rest('GET', '/api/v2/divide/e');
    const runs = await asAdmin(t, 'GET', `/api/v2/system/execution?filter=${encodeURIComponent("event_name = 'divide.get.pre_process'")}`);
    expect(hooked.headers.get('x-execution-id')).toBeTruthy();
    const refused = await t.gql(REPLAY, { id: runs.resource[0].id });
    expect(refused.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('a service with run_details: false keeps neither its requests nor its figures; a bad value is refused', async () => {
    await createService(t, 'private', 'javascript', 'return { ok: true };');
    const id = (await asAdmin(t, 'GET', '/api/v2/system/service?filter=name%3Dprivate')).resource[0].id;
    const recordOf = async () => {
      const call = await t.rest('POST', '/api/v2/private/sign-in', { password: 'hunter2' });
      expect(call.status).toBe(200);
      return asAdmin(t, 'GET', `/api/v2/system/execution/${call.headers.get('x-execution-id')}`);
    };
    expect(await recordOf()).toMatchObject({ request: { payload: JSON.stringify({ password: 'hunter2' }) }, cpu_ms: expect.any(Number) });

    await asAdmin(t, 'PATCH', `/api/v2/system/service/${id}`, { config: { run_details: false } });
    const kept = await recordOf();
    expect(kept).toMatchObject({ request: null, cpu_ms: null, peak_memory_bytes: null, status: 'succeeded' });
    const replayed = await t.gql(REPLAY, { id: kept.id });
    expect(replayed.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });

    // null removes the key: recorded again.
    await asAdmin(t, 'PATCH', `/api/v2/system/service/${id}`, { config: { run_details: null } });
    expect((await recordOf()).request).not.toBeNull();
    for (const bad of ['false', 0, {}]) {
      const refused = await t.rest('PATCH', `/api/v2/system/service/${id}`, { config: { run_details: bad } });
      expect(refused.status).toBe(400);
      expect((refused.json as { error: { message: string } }).error.message).toContain('config.run_details');
    }
  });
});
