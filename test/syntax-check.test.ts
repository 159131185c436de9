import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubprocessEngine } from '../src/scripting/subprocess/engine.ts';
import { typesRunningOn } from './helpers/interpreters.ts';
import { createService, startTestServer, type TestServer } from './helpers/server.ts';

/** checkScript and the check on save, in every script type, against the real engines and interpreters. */
let t: TestServer;
let available: Record<string, boolean> = {};
beforeAll(async () => {
  t = await startTestServer();
  available = await typesRunningOn(t);
});
afterAll(async () => {
  await t.stop();
});

const CHECK = `query ($script: CheckScriptInput!) { checkScript(script: $script) { severity message line column } }`;

async function check(type: string, content: string) {
  const result = await t.gql<any, any>(CHECK, { script: { type, content } });
  if (result.errors) throw new Error(JSON.stringify(result.errors));
  return result.data.checkScript as Array<{ severity: string; message: string; line: number; column: number }>;
}

/** Per type: a script that compiles, and one whose first error is on line 3 (at `column` where the language says). */
const cases: Record<string, { good: string; bad: string; column?: number; message: RegExp }> = {
  javascript: { good: "const a = 1;\nreturn { a };", bad: 'const a = 1;\nconst b = 2;\nconst c = ;\nreturn a;', column: 11, message: /SyntaxError/ },
  typescript: {
    good: 'const a: number = 1;\nreturn { a };',
    bad: 'const a: number = 1;\nconst b: string = "x";\nconst c: number = ;\nreturn a;',
    column: 19,
    message: /SyntaxError/,
  },
  nodejs: { good: 'const a = 1;\nreturn { a };', bad: 'const a = 1;\nconst b = 2;\nconst c = ;\nreturn a;', column: 11, message: /SyntaxError: Unexpected token/ },
  python3: { good: 'a = 1\nreturn {"a": a}', bad: 'a = 1\nb = 2\nc = (\nreturn a', message: /SyntaxError/ },
  python: { good: 'a = 1\nreturn {"a": a}', bad: 'a = 1\nb = 2\nif a\n  return a', column: 5, message: /SyntaxError/ },
  php: { good: "<?php\n$a = 1;\nreturn ['a' => $a];", bad: '$a = 1;\n$b = 2;\n$c = ;\nreturn $a;', message: /PHP Parse error/ },
};

describe('checkScript', () => {
  for (const [type, { good, bad, column, message }] of Object.entries(cases)) {
    it(`${type}: nothing for a script that compiles, the error with its line for one that does not`, async ({ skip }) => {
      if (!available[type]) skip();
      expect(await check(type, good)).toEqual([]);
      const found = await check(type, bad);
      const first = found[0]!;
      expect(first.severity).toBe('ERROR');
      expect(first.message).toMatch(message);
      // Python's parser may place an unclosed bracket's error where the bracket opened: line 3 either way here.
      expect(first.line).toBe(3);
      if (column !== undefined) expect(first.column).toBe(column);
    });
  }

  it('javascript: syntax QuickJS lacks is an error even where acorn accepts it', async () => {
    const found = await check('javascript', 'const x = 1;\nawait using y = x;\nreturn x;');
    expect(found[0]).toMatchObject({ severity: 'ERROR', line: 2 });
  });

  it('python: a SyntaxWarning is a warning, and does not refuse a save', async ({ skip }) => {
    if (!available.python3) skip();
    const script = 'x = "\\d"\nreturn {"x": x}';
    const found = await check('python3', script);
    expect(found).toEqual([expect.objectContaining({ severity: 'WARNING', line: 1, message: expect.stringMatching(/(SyntaxWarning|DeprecationWarning): invalid escape sequence/) })]);
    await createService(t, 'warned-py', 'python3', script);
  });

  it('php: compile errors PHP reports only as fatal come back, and the checker lives on', async ({ skip }) => {
    if (!available.php) skip();
    const found = await check('php', "$a = 1;\n\nbreak;\nreturn $a;");
    expect(found[0]).toMatchObject({ severity: 'ERROR', line: 3, message: expect.stringMatching(/'break' not in the 'loop' or 'switch' context/) });
    expect(await check('php', 'return 1;')).toEqual([]);
  });

  it('refuses an unknown type and a script over SCRIPT_MAX_BYTES, as a save would', async () => {
    const unknown = await t.gql<any, any>(CHECK, { script: { type: 'cobol', content: 'x' } });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const huge = await t.gql<any, any>(CHECK, { script: { type: 'javascript', content: '//'.padEnd(1024 * 1024 + 10, 'x') } });
    expect(huge.errors?.[0]?.message).toMatch(/SCRIPT_MAX_BYTES/);
  });
});

describe('saving a script that does not compile', () => {
  it('is refused over REST with the first error, its line and column in the context; the batch names the record', async () => {
    const single = await t.rest('POST', '/api/v2/system/service', { resource: [{ name: 'broken-js', type: 'javascript', config: { content: 'return 1;\nlet = ;' } }] });
    expect(single.status).toBe(400);
    expect(single.json.error.code).toBe(1000);
    expect(single.json.error.context.error).toEqual([0]);
    const recordError = single.json.error.context.resource[0].error;
    expect(recordError).toMatchObject({ code: 400, status_code: 400, context: { field: 'content', line: 2, column: 7 } });
    expect(recordError.message).toMatch(/does not compile: SyntaxError/);
    expect((await t.rest('GET', '/api/v2/system/service?filter=name=broken-js')).json.resource).toEqual([]);

    const batch = await t.rest('POST', '/api/v2/system/service', {
      resource: [
        { name: 'fine-one', type: 'javascript', config: { content: 'return 1' } },
        { name: 'broken-two', type: 'typescript', config: { content: 'const a: = 1;' } },
      ],
    });
    expect(batch.status).toBe(400);
    expect(batch.json.error.context.error).toEqual([1]);
    expect(batch.json.error.context.resource[0]).toBeNull();
    expect(batch.json.error.context.resource[1].error.context).toMatchObject({ line: 1, column: 10 });
  });

  it('is stored with skip_syntax_check (REST) or skipSyntaxCheck (GraphQL), and then fails when run as before', async () => {
    const stored = await t.rest('POST', '/api/v2/system/service', {
      resource: [{ name: 'wip-js', type: 'javascript', skip_syntax_check: true, config: { content: 'return 1;\nlet = ;' } }],
    });
    expect(stored.status, stored.text).toBe(201);
    const run = await t.rest('GET', '/api/v2/wip-js');
    expect(run.status).toBe(500);
    expect(run.json.error.message).toMatch(/SyntaxError/);
    expect(run.json.error.message).toMatch(/line 2/);

    const created = await t.gql<any, any>(
      `mutation ($input: CreateServiceInput!) { createService(input: $input) { name } }`,
      { input: { name: 'wip-gql', type: 'javascript', content: 'if (', skipSyntaxCheck: true } },
    );
    expect(created.errors).toBeUndefined();
    const refused = await t.gql<any, any>(`mutation ($input: CreateServiceInput!) { createService(input: $input) { name } }`, {
      input: { name: 'refused-gql', type: 'javascript', content: 'return 1;\n\nif (' },
    });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', context: { field: 'content', line: 3 } });
  });

  it('is refused on update, unless skipped; an update that leaves the script alone is not checked', async () => {
    const id = await createService(t, 'editable', 'javascript', 'return 1');
    const broken = await t.rest('PATCH', `/api/v2/system/service/${id}`, { config: { content: 'return (' } });
    expect(broken.status).toBe(400);
    expect(broken.json.error.context).toMatchObject({ field: 'content', line: 1 });
    const skipped = await t.rest('PATCH', `/api/v2/system/service/${id}`, { skip_syntax_check: true, config: { content: 'return (' } });
    expect(skipped.status, skipped.text).toBe(200);
    // The stored script does not compile; changing only the label leaves it as it is.
    const relabelled = await t.rest('PATCH', `/api/v2/system/service/${id}`, { label: 'still broken' });
    expect(relabelled.status, relabelled.text).toBe(200);
    // Changing the type re-checks the stored script.
    const retyped = await t.rest('PATCH', `/api/v2/system/service/${id}`, { type: 'typescript' });
    expect(retyped.status).toBe(400);
    const badFlag = await t.rest('PATCH', `/api/v2/system/service/${id}`, { skip_syntax_check: 'yes', config: { content: 'return 2' } });
    expect(badFlag.status).toBe(400);
    expect(badFlag.json.error.context).toMatchObject({ field: 'skip_syntax_check' });
  });

  it('applies to event scripts too', async () => {
    await createService(t, 'hooked', 'javascript', 'return { ok: true }');
    const refused = await t.rest('POST', '/api/v2/system/event_script/hooked.get.pre_process', { type: 'javascript', content: 'event.x = ;' });
    expect(refused.status).toBe(400);
    expect(refused.json.error.context).toMatchObject({ field: 'content', line: 1, column: 11 });
    const stored = await t.rest('POST', '/api/v2/system/event_script/hooked.get.pre_process', { type: 'javascript', content: 'event.x = ;', skip_syntax_check: true });
    expect(stored.status, stored.text).toBe(201);
    const patched = await t.rest('PATCH', '/api/v2/system/event_script/hooked.get.pre_process', { content: 'let x = ;' });
    expect(patched.status).toBe(400);
    const viaGraphql = await t.gql<any, any>(
      `mutation ($input: EventScriptInput!) { upsertEventScript(name: "hooked.get.post_process", input: $input) { name } }`,
      { input: { type: 'javascript', content: 'return (' } },
    );
    expect(viaGraphql.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', context: { line: 1 } });
  });

  for (const type of ['nodejs', 'python3', 'php'] as const) {
    it(`${type}: a save is refused with the runner's line`, async ({ skip }) => {
      if (!available[type]) skip();
      const response = await t.rest('POST', '/api/v2/system/service', { resource: [{ name: `broken-${type}`, type, config: { content: cases[type]!.bad } }] });
      expect(response.status).toBe(400);
      expect(response.json.error.context.resource[0].error.context).toMatchObject({ field: 'content', line: 3 });
    });
  }
});

describe('hostile scripts', () => {
  it('a check runs none of the script: a body that escapes its wrapper to loop forever is answered at once', async ({ skip }) => {
    // JavaScript refuses the escape outright; the subprocess types compile it and run nothing of it.
    const escapes: Record<string, string> = {
      javascript: '}); for (;;) {} (function () {',
      typescript: '}); for (;;) {} (function () {',
      nodejs: '}); for (;;) {} (async function () {',
      php: '}; while (true) {} $f = function () {',
      python3: 'while True:\n    pass',
    };
    for (const [type, script] of Object.entries(escapes)) {
      if (!available[type]) continue;
      const started = performance.now();
      await check(type, script);
      expect(performance.now() - started, type).toBeLessThan(3000);
      expect(await check(type, cases[type]!.good), type).toEqual([]);
    }
    if (!available.php) skip();
  });

  it('a check never reaches a worker that ran a service script, and leaves service workers alone', async ({ skip }) => {
    if (!available.python3) skip();
    const engine = t.server.platform.engines.find('python3') as SubprocessEngine;
    // A service that patches compile() in its worker: if a check went there, the patch would see the script.
    await createService(t, 'patcher', 'python3', "import builtins\nbuiltins.compile = None\nreturn {'patched': True}");
    expect((await t.rest('GET', '/api/v2/patcher')).status).toBe(200);
    const bound = engine.workers().filter((worker) => worker.scriptKey === 'patcher');
    expect(bound.length).toBeGreaterThan(0);
    expect(await check('python3', 'x = (')).toEqual([expect.objectContaining({ severity: 'ERROR', line: 1 })]);
    expect(engine.checkWorkerPid).toBeDefined();
    expect(engine.workers().map((worker) => worker.pid)).not.toContain(engine.checkWorkerPid);
    expect(engine.workers().filter((worker) => worker.scriptKey === 'patcher').map((w) => w.pid)).toEqual(bound.map((w) => w.pid));
  });

  it('deep nesting and junk are diagnostics, not crashes; the server and checkers stay up', async () => {
    const deep = '('.repeat(100_000);
    for (const type of Object.keys(cases)) {
      if (!available[type]) continue;
      const found = await check(type, deep);
      expect(found[0]?.severity, type).toBe('ERROR');
      const junk = await check(type, '\u0000\u0001<<<>>>"\'`');
      expect(junk[0]?.severity, type).toBe('ERROR');
      expect(await check(type, cases[type]!.good), type).toEqual([]);
    }
  });

  it('a flood of checks is answered or refused as overloaded, never left hanging', async ({ skip }) => {
    if (!available.python3) skip();
    const results = await Promise.allSettled(Array.from({ length: 150 }, () => t.gql<any, any>(CHECK, { script: { type: 'python3', content: 'x = 1' } })));
    const codes = results.map((r) => (r.status === 'fulfilled' ? (r.value.errors?.[0]?.extensions?.code ?? 'OK') : 'REJECTED'));
    expect(codes.filter((code) => code !== 'OK' && code !== 'SERVICE_UNAVAILABLE')).toEqual([]);
    expect(codes).toContain('OK');
  });
});
