import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_API_CALLS_IN_FLIGHT } from '../../src/scripting/types.ts';
import { expectErrorShape, HEALTHZ_BUDGET_MS, healthzLatency, loopDelayDuring } from '../helpers/hostile.ts';
import { createService, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * What a script hands back (status, headers, size) and what it asks of the
 * platform (API calls, script and config size) is bounded by the domain for
 * every engine: the answer is an error in the contract's shape, never a hung
 * client or a grown server.
 */
const SCRIPT_MAX_BYTES = 4096;
let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ SCRIPT_MAX_BYTES: String(SCRIPT_MAX_BYTES) });
  await createService(t, 'healthy', 'javascript', 'return { ok: true };');
});
afterAll(async () => {
  await t.stop();
});

/** A batch create's own error for its first record (DreamFactory's error 1000 wraps it). */
function recordMessage(response: { json: any }): string {
  return response.json.error.context?.resource?.[0]?.error?.message ?? response.json.error.message;
}

async function expectOthersStillServed(): Promise<void> {
  const response = await t.rest('GET', '/api/v2/healthy');
  expect(response.status).toBe(200);
  expect(response.json).toEqual({ ok: true });
}

/** A raw HTTP/1.1 exchange, so an interim (1xx) answer or a dropped connection is seen as it is. */
function rawGet(path: string): Promise<string> {
  const { port } = new URL(t.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      text += chunk;
      // A complete final response: its head and the body its Content-Length announces.
      const head = /^HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n/.exec(text);
      const length = head && /content-length: (\d+)/i.exec(head[0]);
      if (head && !head[1]!.startsWith('1') && length && text.length >= head[0].length + Number(length[1])) {
        socket.end();
        resolve(text);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
    socket.setTimeout(10_000, () => {
      socket.destroy();
      reject(new Error(`no complete answer within 10 s; got: ${text.slice(0, 200)}`));
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nX-DreamFactory-API-Key: test-admin-key\r\n\r\n`);
  });
}

describe('status codes a script sets', () => {
  for (const status of [100, 101, 103, 199, 600, 0, -1]) {
    it(`${status} is a 500 naming it, and the client gets a final answer`, async () => {
      const name = `status-${status < 0 ? 'neg' : status}`;
      // Set directly: setResponse reads a falsy status (0) as 200, as DreamFactory does.
      await createService(t, name, 'javascript', `event.response.status_code = ${status}; event.response.content = 'x'; event.response.content_type = 'text/plain';`);
      const raw = await rawGet(`/api/v2/${name}`);
      expect(raw).toMatch(/^HTTP\/1\.1 500 /);
      expect(raw).toContain(`invalid status code: ${status}`);
      const response = await t.rest('GET', `/api/v2/${name}`);
      expectErrorShape(response, [500, 500]);
      await expectOthersStillServed();
    });
  }

  it('200 and 599 are sent as they are', async () => {
    await createService(t, 'status-edges', 'javascript', 'event.setResponse("x", Number(event.request.parameters.s), "text/plain");');
    expect((await t.rest('GET', '/api/v2/status-edges?s=200')).status).toBe(200);
    expect((await t.rest('GET', '/api/v2/status-edges?s=599')).status).toBe(599);
  });
});

describe('response headers a script sets', () => {
  it('too many headers is a 500 naming the limit', async () => {
    await createService(t, 'many-headers', 'javascript', `
      const headers = {};
      for (let i = 0; i < 10000; i++) headers['x-h' + i] = 'v';
      return { status_code: 200, content: 'x', headers };`);
    const response = await t.rest('GET', '/api/v2/many-headers');
    expectErrorShape(response, [500, 500]);
    expect(response.json.error.message).toMatch(/10000 response headers; at most 64/);
    await expectOthersStillServed();
  });

  it('headers over the byte limit are a 500 naming it', async () => {
    await createService(t, 'big-header', 'javascript', `return { status_code: 200, content: 'x', headers: { 'x-big': 'a'.repeat(1024 * 1024) } };`);
    const response = await t.rest('GET', '/api/v2/big-header');
    expectErrorShape(response, [500, 500]);
    expect(response.json.error.message).toMatch(/over 32768 bytes/);
    await expectOthersStillServed();
  });

  it('a few ordinary headers still pass', async () => {
    await createService(t, 'some-headers', 'javascript', `return { status_code: 201, content: 'x', content_type: 'text/plain', headers: { 'x-a': '1', 'X-B': 'two' } };`);
    const response = await t.rest('GET', '/api/v2/some-headers');
    expect(response.status).toBe(201);
    expect(response.headers.get('x-a')).toBe('1');
    expect(response.headers.get('x-b')).toBe('two');
  });
});

describe('what a service may store', () => {
  it(`a script over SCRIPT_MAX_BYTES is refused on create, update and inline runs, naming it`, async () => {
    const big = `return 1; // ${'é'.repeat(SCRIPT_MAX_BYTES)}`;
    const created = await t.rest('POST', '/api/v2/system/service', { resource: [{ name: 'too-big', type: 'javascript', config: { content: big } }] });
    expectErrorShape(created, [400, 400]);
    expect(recordMessage(created)).toContain('SCRIPT_MAX_BYTES');

    const id = await createService(t, 'grows', 'javascript', 'return 1;');
    const updated = await t.rest('PATCH', `/api/v2/system/service/${id}`, { config: { content: big } });
    expectErrorShape(updated, [400, 400]);
    expect((await t.rest('GET', '/api/v2/grows')).json).toBe(1);

    const inline = await t.gql(
      'mutation($content: String!) { runScript(script: { type: "javascript", content: $content }) { statusCode } }',
      { content: big },
    );
    expect(inline.errors?.[0]?.message).toContain('SCRIPT_MAX_BYTES');
    expect(inline.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('a script just under the limit is accepted', async () => {
    const fits = `return 1; //${'x'.repeat(SCRIPT_MAX_BYTES - 20)}`;
    expect(Buffer.byteLength(fits)).toBeLessThanOrEqual(SCRIPT_MAX_BYTES);
    await createService(t, 'fits', 'javascript', fits);
    expect((await t.rest('GET', '/api/v2/fits')).json).toBe(1);
  });

  it('a config over 64 KiB is refused, naming the field', async () => {
    const response = await t.rest('POST', '/api/v2/system/service', {
      resource: [{ name: 'fat-config', type: 'javascript', config: { content: 'return 1', blob: 'x'.repeat(70 * 1024) } }],
    });
    expectErrorShape(response, [400, 400]);
    expect(recordMessage(response)).toMatch(/"config" is \d+ bytes/);
  });

  it('a config holding a "__proto__" key is refused by the domain, whichever door it came through', async () => {
    // The HTTP doors refuse such bodies already; graphql-ws variables and platform.api payloads reach the domain as parsed.
    const config = JSON.parse('{"a":{"__proto__":null}}');
    await expect(t.server.platform.services.create({ name: 'proto-config', type: 'javascript', content: 'return 1', config })).rejects.toMatchObject({
      kind: 'BAD_INPUT',
      message: expect.stringContaining('__proto__'),
    });
  });

  it('config.network must be a boolean', async () => {
    const response = await t.rest('POST', '/api/v2/system/service', {
      resource: [{ name: 'net-typo', type: 'javascript', config: { content: 'return 1', network: 'no' } }],
    });
    expectErrorShape(response, [400, 400]);
    expect(recordMessage(response)).toContain('config.network');
  });

  it('a malformed name says what is wrong with it, not that it is missing', async () => {
    const response = await t.rest('POST', '/api/v2/system/service', { resource: [{ name: 'bad name!', type: 'javascript', config: { content: 'return 1' } }] });
    expectErrorShape(response, [400, 400]);
    expect(recordMessage(response)).toMatch(/must be 1 to 40/);
    expect(recordMessage(response)).toContain('bad name!');
  });
});

describe('platform.api calls in flight', () => {
  it(`at most ${MAX_API_CALLS_IN_FLIGHT} per run; the rest fail at once and the server stays responsive`, async () => {
    await createService(t, 'slow', 'javascript', 'await new Promise((resolve) => setTimeout(resolve, 300)); return "slow";');
    await createService(t, 'fan-out', 'javascript', `
      const calls = [];
      for (let i = 0; i < ${MAX_API_CALLS_IN_FLIGHT + 36}; i++) {
        try { calls.push(platform.api.get('slow')); } catch (e) { calls.push(Promise.reject(e)); }
      }
      const settled = await Promise.allSettled(calls);
      const ok = settled.filter((s) => s.status === 'fulfilled' && s.value.status_code === 200).length;
      return { ok, refused: settled.length - ok };`);
    // 64 calls at once to a service with no warm context: 64 sandboxes made in a burst, never in one loop turn.
    const { result, maxDelayMs } = await loopDelayDuring(() => t.rest('GET', '/api/v2/fan-out'));
    expect(result.status, result.text).toBe(200);
    expect(result.json).toEqual({ ok: MAX_API_CALLS_IN_FLIGHT, refused: 36 });
    expect(maxDelayMs).toBeLessThan(HEALTHZ_BUDGET_MS);
    expect(await healthzLatency(t)).toBeLessThan(HEALTHZ_BUDGET_MS);
    await expectOthersStillServed();
  });
});
