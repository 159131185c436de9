import { eventually } from './helpers/eventually.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, createService, startTestServer, type TestServer } from './helpers/server.ts';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ SCRIPT_MEMORY_MB: '32' });
});
afterAll(async () => {
  await t.stop();
});

async function serviceAnswering(name: string, script: string, config: Record<string, unknown> = {}) {
  await createService(t, name, 'javascript', script, config);
}

/** A service to prove the engine is usable again after a hostile script. */
async function quickCall() {
  const found = await t.rest('GET', '/api/v2/system/service?filter=name=quick');
  if (found.json.resource.length === 0) await serviceAnswering('quick', 'return { ok: true }');
  return t.rest('GET', '/api/v2/quick');
}

describe('the event a script receives', () => {
  it('carries the request as DreamFactory describes it', async () => {
    await serviceAnswering('echo', 'return { request: event.request, resource: event.resource, response: event.response }');
    const response = await t.rest('POST', '/api/v2/echo/items/7?x=1&y=two', { hello: 'world' }, { 'X-Custom': 'Yes' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(response.headers.get('x-execution-id')).toMatch(/[0-9a-f-]{36}/);
    const { request, resource } = response.json;
    expect(resource).toBe('items/7');
    expect(request).toMatchObject({
      method: 'POST',
      uri: '/api/v2/echo/items/7?x=1&y=two',
      service: 'echo',
      resource: 'items/7',
      parameters: { x: '1', y: 'two' },
      payload: { hello: 'world' },
      content: '{"hello":"world"}',
      content_type: 'application/json',
      api_version: '2.0',
    });
    expect(request.headers['x-custom']).toBe('Yes');
    expect(request.headers['x-dreamfactory-api-key']).toBeUndefined();
    expect(JSON.stringify(request)).not.toContain(ADMIN_KEY);
    expect(response.json.response).toEqual({ status_code: 200, content: null, content_type: null, headers: {} });
  });

  it('parses form bodies and keeps other bodies raw', async () => {
    const form = await t.rest('PUT', '/api/v2/echo', 'a=1&b=x%20y', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.json.request).toMatchObject({ method: 'PUT', payload: { a: '1', b: 'x y' }, content: 'a=1&b=x%20y' });
    const text = await t.rest('PATCH', '/api/v2/echo', 'plain words', { 'content-type': 'text/plain' });
    expect(text.json.request).toMatchObject({ method: 'PATCH', payload: null, content: 'plain words', content_type: 'text/plain' });
    const deleted = await t.rest('DELETE', '/api/v2/echo/x');
    expect(deleted.json.request.method).toBe('DELETE');
  });

  it('gives platform.config the service settings and platform.session the caller', async () => {
    await serviceAnswering('cfg', 'return { config: platform.config, session: platform.session }', { greeting: 'hi' });
    const { json } = await t.rest('GET', '/api/v2/cfg');
    expect(json.config).toMatchObject({ greeting: 'hi', name: 'cfg' });
    expect(JSON.stringify(json.session)).not.toContain('test-admin-key');
  });
});

describe('what becomes the response', () => {
  it('a returned value is the content, status 200', async () => {
    await serviceAnswering('ret', 'event.response.status_code = 418; return [1, 2, 3]');
    const response = await t.rest('GET', '/api/v2/ret');
    expect(response.status).toBe(200);
    expect(response.json).toEqual([1, 2, 3]);
  });

  it('a returned object with an error key is a 500 with that message', async () => {
    await serviceAnswering('reterr', "return { error: 'Invalid thing' }");
    const response = await t.rest('GET', '/api/v2/reterr');
    expect(response.status).toBe(500);
    expect(response.json.error).toMatchObject({ message: 'Invalid thing', status_code: 500 });
  });

  it('a returned response descriptor sets status, type and headers', async () => {
    await serviceAnswering('desc', "return { content: '<b>hi</b>', status_code: 202, content_type: 'text/html', headers: { 'X-From': 'script' } }");
    const response = await t.rest('GET', '/api/v2/desc');
    expect(response.status).toBe(202);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    expect(response.headers.get('x-from')).toBe('script');
    expect(response.text).toBe('<b>hi</b>');
  });

  it('otherwise event.response as the script left it, also via event.setResponse', async () => {
    await serviceAnswering('evresp', "event.response.status_code = 201; event.response.content = { made: true }; event.response.headers['X-Made'] = '1'");
    const response = await t.rest('POST', '/api/v2/evresp', {});
    expect(response.status).toBe(201);
    expect(response.json).toEqual({ made: true });
    expect(response.headers.get('x-made')).toBe('1');
    await serviceAnswering('setresp', "event.setResponse({ ok: 1 }, 409)");
    const set = await t.rest('GET', '/api/v2/setresp');
    expect(set.status).toBe(409);
    expect(set.json).toEqual({ ok: 1 });
    expect(set.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('supports await and setTimeout in the body', async () => {
    await serviceAnswering('waits', 'await new Promise((r) => setTimeout(r, 30)); return { waited: true }');
    expect((await t.rest('GET', '/api/v2/waits')).json).toEqual({ waited: true });
  });

  it('sends a returned string as text', async () => {
    await serviceAnswering('text', "return 'just text'");
    const response = await t.rest('GET', '/api/v2/text');
    expect(response.text).toBe('just text');
    expect(response.headers.get('content-type')).toMatch(/text\/plain/);
  });

  it('rejects an invalid status code from a script', async () => {
    await serviceAnswering('badstatus', 'event.response.status_code = 42');
    const response = await t.rest('GET', '/api/v2/badstatus');
    expect(response.status).toBe(500);
    expect(response.json.error.message).toMatch(/status code/);
  });

  it('rejects header names and values that could not be sent or would inject headers', async () => {
    const cases: [string, string, RegExp][] = [
      ['hdr-name', "return { content: 'x', status_code: 200, headers: { 'bad header': 'v' } }", /invalid header name: "bad header"/],
      ['hdr-crlf', "return { content: 'x', status_code: 200, headers: { 'x-a': 'v\\r\\nSet-Cookie: evil=1' } }", /invalid value for x-a/],
      ['hdr-type', "event.setResponse('x', 200, 'text/html\\r\\nX-Evil: 1')", /invalid value for content_type/],
      ['hdr-event', "event.response.headers['x-ok'] = 'fine'; event.response.headers['x-\u00e9'] = 'v'", /invalid header name/],
    ];
    for (const [name, script, message] of cases) {
      await serviceAnswering(name, script);
      const response = await t.rest('GET', `/api/v2/${name}`);
      expect(response.status, name).toBe(500);
      expect(response.json.error.message, name).toMatch(message);
      expect(response.headers.get('set-cookie')).toBeNull();
    }
    expect((await quickCall()).status).toBe(200);
  });

  it('turns results JSON cannot carry into errors, and sends other plain values as JSON', async () => {
    const cases: [string, string, number, unknown][] = [
      ['val-bigint', 'return { n: 10n }', 500, /BigInt/],
      ['val-circular', 'const a = {}; a.self = a; return a', 500, /circular/],
      ['val-number', 'return 42', 200, 42],
      ['val-false', 'return false', 200, false],
      ['val-function', 'event.setResponse({ fallback: true }); return function () {}', 200, { fallback: true }],
    ];
    for (const [name, script, status, expected] of cases) {
      await serviceAnswering(name, script);
      const response = await t.rest('GET', `/api/v2/${name}`);
      expect(response.status, name).toBe(status);
      if (expected instanceof RegExp) expect(response.json.error.message, name).toMatch(expected);
      else expect(response.json, name).toEqual(expected);
    }
  });
});

describe('script failures', () => {
  it('a thrown Error is a 500 with its message and line', async () => {
    await serviceAnswering('throws', "const a = 1;\nconst b = 2;\nthrow new Error('went wrong')");
    const response = await t.rest('GET', '/api/v2/throws');
    expect(response.status).toBe(500);
    expect(response.json.error.message).toContain('went wrong');
    expect(response.json.error.message).toContain('line 3');
    expect(response.json.error.context).toMatchObject({ line: 3 });
    expect(response.headers.get('x-execution-id')).toBeTruthy();
  });

  it('an async script that throws after awaiting is a script error', async () => {
    await serviceAnswering('asyncthrow', "await null;\nthrow new Error('after await')");
    const response = await t.rest('GET', '/api/v2/asyncthrow');
    expect(response.status).toBe(500);
    expect(response.json.error.message).toMatch(/after await/);
    expect((await quickCall()).status).toBe(200);
  });

  it('a thrown string is an error too (DreamFactory ignored it; we do not)', async () => {
    await serviceAnswering('throwstr', "throw 'Only GET please'");
    const response = await t.rest('GET', '/api/v2/throwstr');
    expect(response.status).toBe(500);
    expect(response.json.error.message).toBe('Only GET please');
    await serviceAnswering('throwobj', 'throw { code: 7, why: "no" }');
    expect((await t.rest('GET', '/api/v2/throwobj')).json.error.message).toBe('{"code":7,"why":"no"}');
  });

  it('a syntax error names the line', async () => {
    await createService(t, 'syntax', 'javascript', 'const ok = 1;\nconst = broken;', {}, { skipSyntaxCheck: true });
    const response = await t.rest('GET', '/api/v2/syntax');
    expect(response.status).toBe(500);
    expect(response.json.error.message).toMatch(/SyntaxError/);
    expect(response.json.error.context.line).toBe(2);
  });
});

describe('limits and hostile scripts', () => {
  it('stops an infinite loop at its timeout with 504, and the next call succeeds at once', async () => {
    await serviceAnswering('spin', 'while (true) {}', { timeout_ms: 300 });
    await quickCall();
    const started = performance.now();
    const response = await t.rest('GET', '/api/v2/spin');
    const elapsed = performance.now() - started;
    expect(response.status).toBe(504);
    expect(response.json.error.message).toMatch(/time limit of 300 ms/);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(300 + 100 + 150); // 100 ms budget, plus HTTP and a busy CI machine
    const next = performance.now();
    expect((await t.rest('GET', '/api/v2/quick')).json).toEqual({ ok: true });
    expect(performance.now() - next).toBeLessThan(200);
  });

  it('stops a script awaiting forever at its timeout', async () => {
    await serviceAnswering('hang', 'await new Promise(() => {})', { timeout_ms: 200 });
    expect((await t.rest('GET', '/api/v2/hang')).status).toBe(504);
  });

  it('bounds runs in progress: past them calls wait, past the queue they get 503 with Retry-After', async () => {
    const small = await startTestServer({ QUICKJS_MAX_RUNNING: '2', QUICKJS_QUEUE_LIMIT: '1' });
    try {
      await createService(small, 'slow', 'javascript', 'await new Promise((resolve) => setTimeout(resolve, 300)); return { done: true }');
      const calls = await Promise.all([1, 2, 3, 4].map(() => small.rest('GET', '/api/v2/slow')));
      const statuses = calls.map((call) => call.status).sort();
      expect(statuses).toEqual([200, 200, 200, 503]);
      const refused = calls.find((call) => call.status === 503)!;
      expect(refused.json.error.message).toMatch(/2 JavaScript runs are in progress and 1 calls are waiting/);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // Slots are given back on every path: errors and timeouts too.
      await createService(small, 'broken', 'javascript', 'throw new Error("no")');
      await createService(small, 'stuck', 'javascript', 'await new Promise(() => {})', { timeout_ms: 100 });
      await createService(small, 'unparsable', 'javascript', 'return {', {}, { skipSyntaxCheck: true });
      const failing = await Promise.all(['broken', 'stuck', 'unparsable'].map((name) => small.rest('GET', `/api/v2/${name}`)));
      expect(failing.map((call) => call.status)).toEqual([500, 504, 500]);
      const after = await Promise.all([1, 2, 3].map(() => small.rest('GET', '/api/v2/slow')));
      expect(after.map((call) => call.status)).toEqual([200, 200, 200]);
    } finally {
      await small.stop();
    }
  });

  it('cold calls waiting for a slot wait side by side, each within its own timeout, not one after another', async () => {
    const small = await startTestServer({ QUICKJS_MAX_RUNNING: '1', QUICKJS_QUEUE_LIMIT: '8' });
    try {
      await createService(small, 'hog', 'javascript', 'await new Promise((resolve) => setTimeout(resolve, 3000)); return { done: true }');
      for (const name of ['first', 'second']) await createService(small, name, 'javascript', 'return 1', { timeout_ms: 600 });
      const hog = small.rest('GET', '/api/v2/hog');
      const quickjs = small.server.platform.engines.find('javascript') as unknown as { stats: { running: number } };
      await eventually(() => quickjs.stats.running === 1, 'the hog to hold the one slot');
      const refusedAt = async (name: string) => {
        const response = await small.rest('GET', `/api/v2/${name}`);
        expect(response.status).toBe(503);
        return performance.now();
      };
      // Both are cold: each waits at the gate with its own timer. One behind the other in the lane, the second
      // would be refused a whole timeout (600 ms) after the first.
      const [first, second] = await Promise.all([refusedAt('first'), refusedAt('second')]);
      expect(Math.abs(second - first)).toBeLessThan(400);
      expect((await hog).json).toEqual({ done: true });
    } finally {
      await small.stop();
    }
  });

  it('answers a memory bomb with 500 naming the limit; the engine stays usable', async () => {
    await serviceAnswering('bomb', 'const hoard = []; while (true) hoard.push(new Uint8Array(1024 * 1024));', { memory_limit_mb: 32 });
    const response = await t.rest('GET', '/api/v2/bomb');
    expect(response.status).toBe(500);
    expect(response.json.error.message).toMatch(/memory limit of 32 MB/);
    await serviceAnswering('objbomb', 'const a = []; while (true) a.push({ i: a.length, s: "item" + a.length });', { memory_limit_mb: 32 });
    const objects = await t.rest('GET', '/api/v2/objbomb');
    expect(objects.status).toBe(500);
    expect(objects.json.error.message).toMatch(/memory limit/);
    expect((await quickCall()).status).toBe(200);
  });

  it('bounds large strings and typed arrays too, without growing the server', async () => {
    // quickjs-emscripten's own limit misses these (upstream issue #271); our per-instance heap cap does not.
    await serviceAnswering('strbomb', "const a = []; while (true) a.push('x'.repeat(1e6) + a.length);", { memory_limit_mb: 32 });
    const before = process.memoryUsage().rss;
    const response = await t.rest('GET', '/api/v2/strbomb');
    expect(response.status).toBe(500);
    expect(response.json.error.message).toMatch(/memory limit of 32 MB/);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  it('turns runaway recursion into an error, not a crash', async () => {
    await serviceAnswering('recurse', 'function down(n) { return down(n + 1) + 1 }\nreturn down(0)');
    const response = await t.rest('GET', '/api/v2/recurse');
    expect(response.status).toBe(500);
    expect(response.json.error.message).toMatch(/stack overflow/i);
    expect((await quickCall()).status).toBe(200);
  });

  it('caps huge log output and marks the truncation', async () => {
    await serviceAnswering('chatty', "for (let i = 0; i < 100000; i++) console.log('line ' + i + ' ' + 'x'.repeat(100)); return { done: true }", {
      max_log_bytes: 50_000,
    });
    const response = await t.rest('GET', '/api/v2/chatty');
    expect(response.json).toEqual({ done: true });
    const execution = await t.rest('GET', `/api/v2/system/execution/${response.headers.get('x-execution-id')}`);
    expect(execution.json.logs_truncated).toBe(true);
    expect(execution.json.log_bytes).toBeLessThanOrEqual(50_000);
    expect(execution.json.logs.at(-1)).toMatchObject({ stream: 'SYSTEM', message: expect.stringMatching(/truncated/) });
  });

  it('gives scripts no way to reach the host', async () => {
    await serviceAnswering(
      'escape',
      `const probes = {
        require: typeof require, process: typeof process, fetch: typeof fetch, module: typeof module,
        globalProcess: typeof globalThis.process, hostFns: Object.keys(globalThis).filter((k) => k.startsWith('__')),
      };
      try { probes.viaFunction = typeof Function('return this.process')(); } catch (e) { probes.viaFunction = 'threw'; }
      try { probes.viaConstructor = typeof this?.constructor?.constructor('return process')(); } catch (e) { probes.viaConstructor = 'threw'; }
      try { await import('fs'); probes.importFs = 'loaded'; } catch (e) { probes.importFs = 'threw'; }
      try { probes.std = typeof std + typeof os; } catch (e) { probes.std = 'threw'; }
      return probes;`,
    );
    const { json } = await t.rest('GET', '/api/v2/escape');
    expect(json).toEqual({
      require: 'undefined',
      process: 'undefined',
      fetch: 'undefined',
      module: 'undefined',
      globalProcess: 'undefined',
      hostFns: [],
      viaFunction: 'undefined',
      viaConstructor: expect.stringMatching(/undefined|threw/),
      importFs: 'threw',
      std: 'undefinedundefined',
    });
  });
});

describe('isolation', () => {
  it('keeps one call’s variables from the next, and one service’s globals from another', async () => {
    await serviceAnswering('counter', 'let count = 0; count++; globalThis.mine = (globalThis.mine || 0) + 1; return { count, seenOther: typeof globalThis.theirs }');
    await serviceAnswering('other', "globalThis.theirs = 'secret'; return { set: true }");
    await t.rest('GET', '/api/v2/other');
    const first = await t.rest('GET', '/api/v2/counter');
    const second = await t.rest('GET', '/api/v2/counter');
    expect(first.json).toMatchObject({ count: 1, seenOther: 'undefined' });
    expect(second.json).toMatchObject({ count: 1, seenOther: 'undefined' });
  });

  it('drops a warm context after an error, so its state does not survive', async () => {
    await serviceAnswering('fragile', "globalThis.n = (globalThis.n || 0) + 1; if (event.request.parameters.fail) throw new Error('fail'); return { n: globalThis.n }");
    const first = await t.rest('GET', '/api/v2/fragile');
    expect((await t.rest('GET', '/api/v2/fragile?fail=1')).status).toBe(500);
    const after = await t.rest('GET', '/api/v2/fragile');
    expect(first.json.n).toBe(1);
    expect(after.json.n).toBeLessThanOrEqual(2);
  });

  it('gives a recycled instance to the next service with nothing of the last one left in it', async () => {
    // Two warm contexts and no spares: every other service's first call reuses a warm one's instance.
    const small = await startTestServer({ QUICKJS_WARM_CONTEXTS: '2', QUICKJS_SPARE_CONTEXTS: '0' });
    try {
      const planter =
        "globalThis.stolen = platform.secrets; globalThis.theirs = 'secret'; Object.prototype.leak = 'x'; " +
        "Array.prototype.push = function () { return 'owned'; }; JSON.stringify = function () { return '\"owned\"'; }; return { planted: true }";
      const victim =
        "const seen = []; seen.push(1); return { theirs: typeof globalThis.theirs, stolen: typeof globalThis.stolen, leak: ({}).leak === undefined, pushed: seen.length }";
      for (let i = 0; i < 4; i++) await createService(small, `planter${i}`, 'javascript', planter);
      for (let i = 0; i < 4; i++) await createService(small, `victim${i}`, 'javascript', victim);
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 4; i++) expect((await small.rest('GET', `/api/v2/planter${i}`)).json).toEqual({ planted: true });
        for (let i = 0; i < 4; i++) {
          expect((await small.rest('GET', `/api/v2/victim${i}`)).json).toEqual({ theirs: 'undefined', stolen: 'undefined', leak: true, pushed: 1 });
        }
      }
      const quickjs = small.server.platform.engines.find('javascript') as unknown as { stats: { instances: number; recycled: number; restored: number } };
      // Sixteen calls over eight services: three instances, and all but the calls that found their warm context reused one, by restoring its memory image.
      expect(quickjs.stats.recycled).toBeGreaterThanOrEqual(10);
      expect(quickjs.stats.restored).toBe(quickjs.stats.recycled);
      expect(quickjs.stats.instances).toBeLessThanOrEqual(3);
    } finally {
      await small.stop();
    }
  });

  it('hands a restored instance to the next service with no byte of the last one’s memory readable, and a Math.random of its own', async () => {
    // One warm context and no spares: after the first call, every call to another service restores the same instances.
    const small = await startTestServer({ QUICKJS_WARM_CONTEXTS: '1', QUICKJS_SPARE_CONTEXTS: '0' });
    try {
      const writer = "const bytes = new Uint8Array(4 << 20); bytes.fill(0xab); const text = 'secret-'.repeat(1 << 16); globalThis.kept = [bytes, text]; return { wrote: bytes.length + text.length }";
      const reader =
        'const bytes = new Uint8Array(4 << 20); let dirty = 0; for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) dirty++; ' +
        'const holes = new Array(1 << 16); let defined = 0; for (let i = 0; i < holes.length; i++) if (holes[i] !== undefined) defined++; ' +
        'return { dirty, defined, kept: typeof globalThis.kept, random: [Math.random(), Math.random()] }';
      for (let i = 0; i < 3; i++) await createService(small, `writer${i}`, 'javascript', writer);
      for (let i = 0; i < 3; i++) await createService(small, `reader${i}`, 'javascript', reader);
      const randoms: number[] = [];
      for (let i = 0; i < 3; i++) {
        expect((await small.rest('GET', `/api/v2/writer${i}`)).json).toEqual({ wrote: (4 << 20) + 7 * (1 << 16) });
        const { json } = await small.rest('GET', `/api/v2/reader${i}`);
        expect(json).toMatchObject({ dirty: 0, defined: 0, kept: 'undefined' });
        randoms.push(...json.random);
      }
      // Each restored context seeds its own: the same image would otherwise repeat the same numbers.
      expect(new Set(randoms).size).toBe(randoms.length);
      for (const value of randoms) expect(value >= 0 && value < 1).toBe(true);
      const quickjs = small.server.platform.engines.find('javascript') as unknown as { stats: { restored: number } };
      expect(quickjs.stats.restored).toBeGreaterThanOrEqual(4);
    } finally {
      await small.stop();
    }
  });

  it('restores the instance of a script that failed or timed out rather than making a new one, with nothing of it left', async () => {
    const small = await startTestServer({ QUICKJS_WARM_CONTEXTS: '2', QUICKJS_SPARE_CONTEXTS: '0', SCRIPT_TIMEOUT_MS: '300' });
    try {
      await createService(small, 'thrower', 'javascript', "globalThis.left = 'behind'; Object.prototype.planted = 1; throw new Error('always')");
      await createService(small, 'spinner', 'javascript', "globalThis.left = 'spun'; for (;;) {}");
      await createService(small, 'looker', 'javascript', "return { left: typeof globalThis.left, planted: ({}).planted === undefined }");
      const quickjs = small.server.platform.engines.find('javascript') as unknown as { stats: { made: number; restored: number } };
      for (let i = 0; i < 10; i++) {
        expect((await small.rest('GET', '/api/v2/thrower')).status).toBe(500);
        expect((await small.rest('GET', '/api/v2/looker')).json).toEqual({ left: 'undefined', planted: true });
      }
      for (let i = 0; i < 2; i++) expect((await small.rest('GET', '/api/v2/spinner')).status).toBe(504);
      expect((await small.rest('GET', '/api/v2/looker')).json).toEqual({ left: 'undefined', planted: true });
      // Twenty-three calls, twelve of them failures: a new instance each failure would have made at least twelve.
      expect(quickjs.stats.made).toBeLessThanOrEqual(3);
      expect(quickjs.stats.restored).toBeGreaterThanOrEqual(10);
    } finally {
      await small.stop();
    }
  });

  it('runs services outside a full warm set in a few scratch instances, and admits one called cold again to the warm set', async () => {
    const small = await startTestServer({ QUICKJS_WARM_CONTEXTS: '2', QUICKJS_SPARE_CONTEXTS: '0' });
    try {
      for (let i = 0; i < 12; i++) await createService(small, `spread${i}`, 'javascript', `return { n: ${i} }`);
      const quickjs = small.server.platform.engines.find('javascript') as unknown as { stats: { instances: number; idle: number; scratch: number; recycled: number } };
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 12; i++) expect((await small.rest('GET', `/api/v2/spread${i}`)).json).toEqual({ n: i });
      }
      // The warm set (2) and one scratch instance serve all twelve: calls one at a time need no more.
      expect(quickjs.stats.instances).toBeLessThanOrEqual(3);
      expect(quickjs.stats.scratch).toBeGreaterThanOrEqual(1);
      // Called cold twice within the last 1,024 cold calls: spread11 joined the warm set, so its next call is warm.
      expect(quickjs.stats.idle).toBe(2);
      const before = quickjs.stats.recycled;
      await small.rest('GET', '/api/v2/spread11');
      expect(quickjs.stats.recycled).toBe(before);
    } finally {
      await small.stop();
    }
  });

  it('uses the new script as soon as a service is updated', async () => {
    const id = await createService(t, 'versioned', 'javascript', 'return { v: 1 }');
    expect((await t.rest('GET', '/api/v2/versioned')).json).toEqual({ v: 1 });
    await t.rest('PATCH', `/api/v2/system/service/${id}`, { config: { content: 'return { v: 2 }' } });
    expect((await t.rest('GET', '/api/v2/versioned')).json).toEqual({ v: 2 });
  });
});

describe('platform.api', () => {
  it('calls another service in-process, in promise and callback styles', async () => {
    await serviceAnswering('adder', 'return { sum: Number(event.request.parameters.a) + Number(event.request.parameters.b), payload: event.request.payload }');
    await serviceAnswering(
      'caller',
      `const viaPath = await platform.api.get('adder/add?a=1&b=2');
       const viaOptions = await platform.api.post('adder', { n: 5 }, { parameters: { a: 3, b: 4 } });
       const viaCallback = await new Promise((resolve) => platform.api.get('adder', { parameters: { a: 10, b: 1 } }, (body, response) => resolve({ body, status: response.status_code })));
       const missing = await platform.api.get('nope/x');
       const external = await platform.api.get('https://example.com/');
       const badHeaders = await platform.api.get('adder', null, { headers: { a: { b: 1 } } });
       return { viaPath, viaOptions, viaCallback, missing: { status: missing.status_code, message: missing.content.error.message }, external: external.status_code, badHeaders: badHeaders.content.error.message };`,
    );
    const { status, json } = await t.rest('GET', '/api/v2/caller');
    expect(status).toBe(200);
    expect(json.viaPath).toMatchObject({ status_code: 200, content: { sum: 3 } });
    expect(json.viaOptions).toMatchObject({ status_code: 200, content: { sum: 7, payload: { n: 5 } } });
    expect(JSON.parse(json.viaCallback.body)).toMatchObject({ sum: 11 });
    expect(json.viaCallback.status).toBe(200);
    expect(json.missing).toMatchObject({ status: 404, message: expect.stringMatching(/nope/) });
    expect(json.external).toBe(400);
    expect(json.badHeaders).toMatch(/options\.headers\.a/);
  });

  it('waits for callbacks and timers like a Node process, so DreamFactory callback scripts work', async () => {
    await serviceAnswering('cbstyle', "platform.api.get('adder', { parameters: { a: 2, b: 3 } }, function (body, response) {\n  event.setResponse({ fromCallback: JSON.parse(body).sum }, 202);\n});");
    const response = await t.rest('GET', '/api/v2/cbstyle');
    expect(response.status).toBe(202);
    expect(response.json).toEqual({ fromCallback: 5 });
    await serviceAnswering('timerstyle', "setTimeout(function () { event.response.content = { late: true }; }, 20);");
    expect((await t.rest('GET', '/api/v2/timerstyle')).json).toEqual({ late: true });
  });

  it('stops a call loop at a fixed depth with 508', async () => {
    await serviceAnswering('loop', "const r = await platform.api.get('loop'); if (r.status_code !== 200) return { content: r.content, status_code: r.status_code }; return r.content");
    const response = await t.rest('GET', '/api/v2/loop');
    expect(response.status).toBe(508);
    expect(response.json.error.message).toMatch(/deeper than \d+ levels/);
  });
});

describe('executions', () => {
  it('records each run with its log lines', async () => {
    await serviceAnswering('logs', "console.log('one', { two: 2 }); console.error('bad'); return 1");
    const response = await t.rest('GET', '/api/v2/logs');
    const execution = await t.rest('GET', `/api/v2/system/execution/${response.headers.get('x-execution-id')}`);
    expect(execution.json).toMatchObject({ service: 'logs', script_type: 'javascript', status: 'succeeded', status_code: 200 });
    expect(execution.json.logs.map((l: any) => [l.sequence, l.stream, l.message])).toEqual([
      [1, 'CONSOLE', 'one {"two":2}'],
      [2, 'STDERR', 'bad'],
    ]);
  });
});
