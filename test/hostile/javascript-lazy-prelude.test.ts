import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * The QuickJS prelude compiles `console`, the timers, `platform.api`, the
 * ending of a waiting run and the reading of errors on a script's first use
 * of them (see guest-prelude.ts): by then the script may have replaced any
 * built-in or planted getters and setters on prototypes. These scripts do
 * that first, then use every part, over real HTTP. One warm context and no
 * spares, so each service's context is made in the instance the previous
 * one left.
 */
let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ QUICKJS_WARM_CONTEXTS: '1', QUICKJS_SPARE_CONTEXTS: '0' });
  await createService(t, 'bystander', 'javascript', "return { ok: 'still here' }");
});
afterAll(async () => {
  await t?.stop();
});

async function logsOf(executionId: string | null): Promise<string[]> {
  const execution = await t.rest('GET', `/api/v2/system/execution/${executionId}`);
  return execution.json.logs.map((line: { message: string }) => line.message);
}

/** Replaces what the prelude's parts would use if they looked anything up (once per warm context: it breaks itself). */
const POISON = [
  'if (globalThis.poisoned === undefined) {',
  'globalThis.poisoned = true;',
  "for (const key of ['get', 'set', 'value', 'writable', 'log', 'api', 'setTimeout', 'console', 'fire', 'reset']) {",
  // A descriptor without a prototype: the getters planted so far would break an ordinary one.
  '  const trap = Object.assign(Object.create(null), { get: function () { throw new Error("read " + key); }, set: function () { throw new Error("wrote " + key); }, configurable: true });',
  '  Object.defineProperty(Object.prototype, key, trap);',
  '}',
  "globalThis.eval = function () { throw new Error('eval replaced'); };",
  "Reflect.apply = function () { throw new Error('apply replaced'); };",
  "Reflect.defineProperty = function () { throw new Error('Reflect.defineProperty replaced'); };",
  "Object.defineProperty = function () { throw new Error('defineProperty replaced'); };",
  "Object.create = function () { throw new Error('create replaced'); };",
  "Object.freeze = function () { throw new Error('freeze replaced'); };",
  "JSON.stringify = function () { return '\"owned\"'; };",
  "JSON.parse = function () { return 'owned'; };",
  "String = function () { return 'owned'; };",
  'Array.prototype.push = function () { return 0; };',
  '}',
].join('\n');

describe('prelude parts compiled after the script tampered with the realm', () => {
  it('console, timers, platform.api and the waiting run work as if nothing had been replaced', async () => {
    const script = [
      POISON,
      "console.log('hello', { a: 1 });",
      'await new Promise(function (resolve) { setTimeout(resolve, 5, 1); });',
      'const answer = await platform.api.get("bystander");',
      "const cleared = setTimeout(function () { throw new Error('should have been cleared'); }, 10);",
      'clearTimeout(cleared);',
      'return { answer: answer.content, timers: typeof clearTimeout };',
    ].join('\n');
    await createService(t, 'poisoner', 'javascript', script);
    for (let round = 0; round < 2; round++) {
      const response = await t.rest('GET', '/api/v2/poisoner');
      expect(response.status).toBe(200);
      expect(response.json).toEqual({ answer: { ok: 'still here' }, timers: 'function' });
      expect(await logsOf(response.headers.get('x-execution-id'))).toEqual(['hello {"a":1}']);
    }
  });

  it('errors are still read and located after the tampering', async () => {
    await createService(t, 'poisoned-thrower', 'javascript', `${POISON}\nthrow new TypeError('plain failure');`);
    const response = await t.rest('GET', '/api/v2/poisoned-thrower');
    expect(response.status).toBe(500);
    expect(response.json.error.message).toMatch(/TypeError: plain failure/);
    expect(response.json.error.context).toMatchObject({ line: POISON.split('\n').length + 1 });
  });

  it('a frozen global object keeps answering the same console and timers', async () => {
    const script = "Object.freeze(globalThis); console.log('frozen'); return { same: console === console, timer: typeof setTimeout, log: typeof console.log }";
    await createService(t, 'freezer', 'javascript', script);
    const response = await t.rest('GET', '/api/v2/freezer');
    expect(response.json).toEqual({ same: true, timer: 'function', log: 'function' });
    expect(await logsOf(response.headers.get('x-execution-id'))).toEqual(['frozen']);
  });

  it('globals assigned before their first read are the script’s own', async () => {
    const script = 'console = { log: function () { return 7; } }; setTimeout = 5; return { log: console.log(), setTimeout: setTimeout, clear: typeof clearTimeout }';
    await createService(t, 'assigner', 'javascript', script);
    const response = await t.rest('GET', '/api/v2/assigner');
    expect(response.json).toEqual({ log: 7, setTimeout: 5, clear: 'function' });
  });

  it('a part whose compile fails (no stack left) is compiled again on the next use', async () => {
    // At the deepest frame console's first read has no stack to compile in; after unwinding it must work.
    const script = [
      'let failedDeep = 0;',
      "function down() { try { down(); } catch (e) { try { console.log('deep'); } catch (again) { failedDeep++; } } }",
      'down();',
      "console.log('after');",
      'return { ok: true }',
    ].join('\n');
    await createService(t, 'deep-first-use', 'javascript', script);
    const response = await t.rest('GET', '/api/v2/deep-first-use');
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ ok: true });
    expect((await logsOf(response.headers.get('x-execution-id'))).at(-1)).toBe('after');
  });

  it('the next service in the same instance sees none of it', async () => {
    const clean = [
      "console.log('clean', [1, 2]);",
      'await new Promise(function (resolve) { setTimeout(resolve, 1); });',
      'const answer = await platform.api.get("bystander");',
      "return { answer: answer.content, proto: Object.getOwnPropertyNames(Object.prototype).includes('log'), json: JSON.stringify({ a: 1 }), eval: eval('1 + 1') };",
    ].join('\n');
    await createService(t, 'clean', 'javascript', clean);
    await t.rest('GET', '/api/v2/poisoner');
    const response = await t.rest('GET', '/api/v2/clean');
    expect(response.json).toEqual({ answer: { ok: 'still here' }, proto: false, json: '{"a":1}', eval: 2 });
    expect(await logsOf(response.headers.get('x-execution-id'))).toEqual(['clean [1,2]']);
  });
});
