import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, createService, startTestServer, type TestServer } from './helpers/server.ts';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.stop();
});

/** The contract's error shape: exactly code, context, message, status_code. */
const errorShape = (status: number) => ({
  error: expect.objectContaining({ code: expect.any(Number), message: expect.any(String), status_code: status }),
});
const hasErrorKeys = (body: any) => expect(Object.keys(body.error).sort()).toEqual(['code', 'context', 'message', 'status_code']);

describe('authentication', () => {
  it('refuses /api/v2 without a key, with the contract error shape', async () => {
    const response = await fetch(`${t.url}/api/v2/system/service`);
    expect(response.status).toBe(401);
    const body = await response.json();
    expect(body.error).toMatchObject({ code: 401, status_code: 401 });
    expect(body.error.message).toMatch(/key/i);
  });

  it('refuses a wrong key and accepts Authorization: Bearer', async () => {
    expect((await t.rest('GET', '/api/v2/system/service', undefined, { 'x-dreamfactory-api-key': 'nope' })).status).toBe(401);
    const bearer = await fetch(`${t.url}/api/v2/system/service`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(bearer.status).toBe(200);
  });

  it('reads query strings as DreamFactory does: y[] and repeated keys are arrays, api_key never reaches the script', async () => {
    await createService(t, 'query-echo', 'javascript', 'return event.request.parameters');
    const response = await t.rest('GET', `/api/v2/query-echo?y[]=3&y[]=4&x=1&x=2&z=5&__proto__=bad&api_key=${ADMIN_KEY}`, undefined, { 'x-dreamfactory-api-key': '' });
    expect(response.status, response.text).toBe(200);
    expect(response.json).toEqual({ y: ['3', '4'], x: ['1', '2'], z: '5' });
  });

  it('filters executions by service= and picks fields=, as DreamFactory clients send them', async () => {
    await createService(t, 'exec-filter', 'javascript', 'return 1');
    await t.rest('GET', '/api/v2/exec-filter');
    const listed = await t.rest('GET', '/api/v2/system/execution?service=exec-filter&fields=id,service');
    expect(listed.json.resource.length).toBeGreaterThan(0);
    for (const record of listed.json.resource) expect(Object.keys(record).sort()).toEqual(['id', 'service']);
    expect(listed.json.resource.every((record: any) => record.service === 'exec-filter')).toBe(true);
  });

  it('lists the built-in system service first, as DreamFactory does, and never changes or deletes it', async () => {
    const listed = await t.rest('GET', '/api/v2/system/service');
    expect(listed.json.resource[0]).toMatchObject({ id: 0, name: 'system', type: 'system', mutable: false, deletable: false });
    expect((await t.rest('GET', '/api/v2/system/service/0')).json).toMatchObject({ id: 0, name: 'system' });
    expect((await t.rest('PATCH', '/api/v2/system/service/0', { label: 'mine' })).status).toBe(403);
    expect((await t.rest('DELETE', '/api/v2/system/service/0')).status).toBe(403);
    expect((await t.rest('GET', '/api/v2/system/service?filter=name=system')).json.resource).toEqual([]);
  });

  it('sends a browser at / to the console', async () => {
    const response = await fetch(`${t.url}/`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/console');
  });

  it('answers /healthz without a key', async () => {
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });
});

describe('system/script_type', () => {
  it('lists every type with DreamFactory fields plus ours', async () => {
    const { status, json } = await t.rest('GET', '/api/v2/system/script_type');
    expect(status).toBe(200);
    const byName = Object.fromEntries(json.resource.map((r: any) => [r.name, r]));
    expect(Object.keys(byName).sort()).toEqual(['javascript', 'nodejs', 'php', 'python', 'python3', 'typescript']);
    expect(byName.nodejs).toMatchObject({
      label: 'Node.js',
      description: 'Server-side JavaScript handler using the Node.js engine.',
      sandboxed: true,
      engine: 'subprocess',
    });
    expect(byName.php).toMatchObject({ label: 'PHP', description: 'Script handler using native PHP.' });
    expect(byName.python).toMatchObject({ label: 'Python', description: 'Script handler using native Python.' });
    expect(byName.python3).toMatchObject({ label: 'Python3', description: 'Script handler using native Python3.' });
    expect(byName.javascript).toMatchObject({ label: 'JavaScript', sandboxed: true, available: true, engine: 'quickjs-wasm' });
    for (const type of json.resource) {
      expect(type).toHaveProperty('supports_inline_execution');
      expect(typeof type.available).toBe('boolean');
      if (!type.available) expect(type.unavailable_reason).toEqual(expect.any(String));
    }
  });

  it('returns one type unwrapped, and 404 for an unknown one', async () => {
    const one = await t.rest('GET', '/api/v2/system/script_type/javascript');
    expect(one.json).toMatchObject({ name: 'javascript', sandboxed: true });
    expect(one.json.resource).toBeUndefined();
    const missing = await t.rest('GET', '/api/v2/system/script_type/cobol');
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject(errorShape(404));
    hasErrorKeys(missing.json);
  });
});

describe('system/service', () => {
  it('creates, reads, updates and deletes, in DreamFactory shapes', async () => {
    const created = await t.rest('POST', '/api/v2/system/service', {
      resource: [{ name: 'Crud_One', label: 'Crud', description: 'd', type: 'javascript', config: { content: 'return 1', cache_ttl: 5, extra: { a: 1 } } }],
    });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({ resource: [{ id: expect.any(Number) }] });
    const id = created.json.resource[0].id;

    const got = await t.rest('GET', `/api/v2/system/service/${id}`);
    expect(got.json).toMatchObject({
      id,
      name: 'crud_one',
      label: 'Crud',
      description: 'd',
      is_active: true,
      type: 'javascript',
      config: { content: 'return 1', cache_ttl: 5, extra: { a: 1 } },
    });

    const patched = await t.rest('PATCH', `/api/v2/system/service/${id}`, { label: 'New', config: { content: 'return 2' } });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ label: 'New', config: { content: 'return 2', cache_ttl: 5 } });
    const put = await t.rest('PUT', `/api/v2/system/service/${id}`, { description: 'via put' });
    expect(put.json).toMatchObject({ label: 'New', description: 'via put' });

    const deleted = await t.rest('DELETE', `/api/v2/system/service/${id}`);
    expect(deleted.json).toEqual({ id });
    expect((await t.rest('GET', `/api/v2/system/service/${id}`)).status).toBe(404);
    expect((await t.rest('DELETE', `/api/v2/system/service/${id}`)).status).toBe(404);
    expect((await t.rest('PATCH', `/api/v2/system/service/${id}`, { label: 'x' })).status).toBe(404);
  });

  it('returns full records with ?fields=*', async () => {
    const created = await t.rest('POST', '/api/v2/system/service?fields=*', { resource: [{ name: 'full', type: 'javascript', config: { content: '' } }] });
    expect(created.json.resource[0]).toMatchObject({ name: 'full', type: 'javascript', is_active: true, config: { content: '' } });
  });

  it('creates nothing when one record of a batch fails, naming the failed indexes', async () => {
    const response = await t.rest('POST', '/api/v2/system/service', {
      resource: [
        { name: 'batch-ok', type: 'javascript', config: { content: 'return 1' } },
        { name: 'bad name!', type: 'javascript', config: { content: 'return 1' } },
        { name: 'batch-ok2', type: 'cobol', config: { content: 'x' } },
      ],
    });
    expect(response.status).toBe(400);
    expect(response.json.error).toMatchObject({
      code: 1000,
      message: 'Batch Error: Not all requested records could be created.',
      status_code: 400,
      context: { error: [1, 2] },
    });
    expect(response.json.error.context.resource[1].error.message).toMatch(/name/);
    expect(response.json.error.context.resource[2].error.message).toMatch(/cobol/);
    const list = await t.rest('GET', '/api/v2/system/service?filter=name=batch-ok');
    expect(list.json.resource).toEqual([]);
  });

  it('rejects duplicates, reserved names and bad fields with a clear message', async () => {
    await createService(t, 'dupe', 'javascript', 'return 1');
    const duplicate = await t.rest('POST', '/api/v2/system/service', { resource: [{ name: 'DUPE', type: 'javascript', config: { content: '' } }] });
    expect(duplicate.status).toBe(400);
    expect(duplicate.json.error.context.resource[0].error.message).toMatch(/already exists/);
    for (const [record, pattern] of [
      [{ name: 'system', type: 'javascript' }, /reserved/],
      [{ name: 'api_docs', type: 'javascript' }, /reserved/],
      [{ name: 'x'.repeat(41), type: 'javascript' }, /40/],
      [{ name: 'ok-label', type: 'javascript', label: 'l'.repeat(81) }, /label/],
      [{ name: 'ok-desc', type: 'javascript', description: 'd'.repeat(256) }, /description/],
      [{ name: 'ok-type' }, /type/],
      [{ name: 'ok-config', type: 'javascript', config: [] }, /config/],
      [{ name: 'ok-timeout', type: 'javascript', config: { timeout_ms: 10_000_000 } }, /timeout_ms/],
      [{ name: 'ok-active', type: 'javascript', is_active: 'yes' }, /is_active/],
    ] as const) {
      const response = await t.rest('POST', '/api/v2/system/service', { resource: [record] });
      expect(response.status, JSON.stringify(record)).toBe(400);
      expect(response.json.error.context.resource[0].error.message).toMatch(pattern);
    }
  });

  it('answers invalid JSON with 400 in the contract shape', async () => {
    const response = await t.rest('POST', '/api/v2/system/service', '{"resource": [', { 'content-type': 'application/json' });
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject(errorShape(400));
  });

  it('lists with fields, ids, filter, limit, offset, order and include_count', async () => {
    const ids = [];
    for (const name of ['list-c', 'list-a', 'list-b']) ids.push(await createService(t, name, 'javascript', `return '${name}'`));
    const all = await t.rest('GET', '/api/v2/system/service?include_count=true');
    expect(all.json.meta.count).toBe(all.json.resource.length);

    // Only a record's own fields can be picked: inherited names give nothing.
    const odd = await t.rest('GET', `/api/v2/system/service?ids=${ids[0]}&fields=__proto__,constructor,name`);
    expect(odd.json.resource).toEqual([{ name: 'list-c' }]);
    expect(Object.keys(odd.json.resource[0])).toEqual(['name']);
    const picked = await t.rest('GET', `/api/v2/system/service?ids=${ids.join(',')}&fields=id,name&order=name desc`);
    expect(picked.json.resource).toEqual([
      { id: ids[0], name: 'list-c' },
      { id: ids[2], name: 'list-b' },
      { id: ids[1], name: 'list-a' },
    ]);
    const page = await t.rest('GET', `/api/v2/system/service?ids=${ids.join(',')}&order=name&limit=1&offset=1&fields=name&include_count=1`);
    expect(page.json).toEqual({ resource: [{ name: 'list-b' }], meta: { count: 3 } });
    const filtered = await t.rest('GET', "/api/v2/system/service?filter=(name = 'list-a')&fields=name");
    expect(filtered.json.resource).toEqual([{ name: 'list-a' }]);
    const badOrder = await t.rest('GET', '/api/v2/system/service?order=secret');
    expect(badOrder.status).toBe(400);
    const badFilter = await t.rest('GET', '/api/v2/system/service?filter=content like x');
    expect(badFilter.status).toBe(400);
    expect((await t.rest('GET', '/api/v2/system/service/abc')).status).toBe(400);
  });
});

describe('calling a service', () => {
  it('404s an unknown service and 403s a deactivated one', async () => {
    const unknown = await t.rest('GET', '/api/v2/nosuch/thing');
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject(errorShape(404));
    const id = await createService(t, 'sleepy', 'javascript', 'return 1');
    await t.rest('PATCH', `/api/v2/system/service/${id}`, { is_active: false });
    const inactive = await t.rest('GET', '/api/v2/sleepy');
    expect(inactive.status).toBe(403);
    expect(inactive.json.error.message).toBe('Service sleepy is deactivated.');
  });

  it('answers 404 for unknown system resources', async () => {
    expect((await t.rest('GET', '/api/v2/system/nothing')).status).toBe(404);
  });

  it('answers a malformed URL, an unknown path or verb in the contract error shape', async () => {
    const malformed = await t.rest('GET', '/api/v2/%E0%A4%A');
    expect(malformed.status).toBe(400);
    expect(malformed.json).toMatchObject(errorShape(400));
    hasErrorKeys(malformed.json);
    for (const [method, path] of [['GET', '/nowhere'], ['PROPFIND', '/api/v2/anything']] as const) {
      const missing = await t.rest(method, path);
      expect(missing.status).toBe(404);
      expect(missing.json).toMatchObject(errorShape(404));
    }
  });

  it('answers pipelined requests on one connection in order, a slow one holding back the fast ones behind it', async () => {
    await createService(t, 'slow-echo', 'javascript', 'await new Promise((resolve) => setTimeout(resolve, 50)); return { slow: event.resource }');
    await createService(t, 'fast-echo', 'javascript', 'return { fast: event.resource }');
    const paths = ['slow-echo/1', 'fast-echo/2', 'nosuch/3', 'fast-echo/4'];
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(t.url).port), '127.0.0.1');
      let received = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        received += chunk;
        if ((received.match(/HTTP\/1\.1 /g) ?? []).length === paths.length && received.endsWith('}')) {
          socket.end();
          resolve(received);
        }
      });
      socket.on('error', reject);
      socket.write(paths.map((path) => `GET /api/v2/${path} HTTP/1.1\r\nHost: test\r\nX-DreamFactory-API-Key: ${ADMIN_KEY}\r\n\r\n`).join(''));
    });
    const bodies = raw.split(/HTTP\/1\.1 /).slice(1).map((response) => response.slice(response.indexOf('\r\n\r\n') + 4));
    expect(bodies.slice(0, 2).map((body) => JSON.parse(body))).toEqual([{ slow: '1' }, { fast: '2' }]);
    expect(JSON.parse(bodies[2]!).error.status_code).toBe(404);
    expect(JSON.parse(bodies[3]!)).toEqual({ fast: '4' });
  });
});
