import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TypeScriptEngine } from '../src/scripting/typescript/engine.ts';
import { createService, startTestServer, type TestServer } from './helpers/server.ts';

/** The `typescript` script type end to end: saved, transpiled once, run in QuickJS, errors on TypeScript lines. */
let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.stop();
});

const typed = `interface Item<T> {
  id: number;
  value: T;
}
type Pair<A, B> = [A, B];
enum Color { Red, Green }
function first<T>(items: Item<T>[]): T | undefined {
  return items[0]?.value;
}
const items: Item<string>[] = [{ id: 1, value: String(event.request.parameters.v ?? 'none') }];
const pair: Pair<string, number> = [first<string>(items)!, Color.Green];
const wait = async <T,>(value: T): Promise<T> => value;
return { pair, awaited: await wait<number>(42), method: event.request.method as string };`;

describe('typescript services', () => {
  it('is listed as a script type, sandboxed in QuickJS', async () => {
    const type = (await t.rest('GET', '/api/v2/system/script_type/typescript')).json;
    expect(type).toMatchObject({ name: 'typescript', label: 'TypeScript', sandboxed: true, engine: 'quickjs-wasm', available: true });
    expect(type.version).toMatch(/sucrase/);
  });

  it('runs a script with interfaces, generics, enums and await, transpiled once per saved version', async () => {
    const engine = t.server.platform.engines.find('typescript') as TypeScriptEngine;
    await createService(t, 'typed', 'typescript', typed);
    const before = engine.stats.transpiles;
    for (let i = 0; i < 5; i++) {
      const response = await t.rest('GET', `/api/v2/typed?v=x${i}`);
      expect(response.status, response.text).toBe(200);
      expect(response.json).toEqual({ pair: [`x${i}`, 1], awaited: 42, method: 'GET' });
    }
    // Saving checked it (a transpile of its own); the five calls transpiled the saved version once.
    expect(engine.stats.transpiles - before).toBe(1);
    const id = (await t.rest('GET', '/api/v2/system/service?filter=name=typed')).json.resource[0].id;
    await t.rest('PATCH', `/api/v2/system/service/${id}`, { config: { content: typed.replace('42', '43') } });
    expect((await t.rest('GET', '/api/v2/typed')).json.awaited).toBe(43);
    expect(engine.stats.transpiles - before).toBe(2);
  });

  it('fails on the TypeScript line and column where the script threw', async () => {
    const script = `interface Order { total: number }
const order: Order = { total: 3 };
function check<T extends Order>(o: T): void {
  if (o.total > 2) throw new Error('too many: ' + o.total);
}
const unused: Array<Map<string, number>> = []; const checked: void = check<Order>(order);
return order;`;
    await createService(t, 'typed-throws', 'typescript', script);
    const response = await t.rest('GET', '/api/v2/typed-throws');
    expect(response.status).toBe(500);
    expect(response.json.error.message).toMatch(/too many: 3/);
    expect(response.json.error.context).toMatchObject({ line: 4 });

    // A failure after stripped types on its line: the column is the TypeScript's, that is the
    // JavaScript's (the same script without types) moved by the types' length.
    await createService(t, 'typed-column', 'typescript', `const a: Array<number> = [1];\nconst b: Record<string, number> = {}; throw new TypeError('here');\nreturn a;`);
    await createService(t, 'untyped-column', 'javascript', `const a = [1];\nconst b = {}; throw new TypeError('here');\nreturn a;`);
    const typedError = (await t.rest('GET', '/api/v2/typed-column')).json.error;
    const plainError = (await t.rest('GET', '/api/v2/untyped-column')).json.error;
    expect(plainError.context).toMatchObject({ line: 2, column: expect.any(Number) });
    expect(typedError.context).toMatchObject({ line: 2, column: plainError.context.column + ': Record<string, number>'.length });
  });

  it('reports TypeScript syntax errors in checkScript and refuses to save them, on the right line', async () => {
    const found = await t.gql<any, any>(`query ($s: CheckScriptInput!) { checkScript(script: $s) { severity message line column } }`, {
      s: { type: 'typescript', content: 'interface A { a: number }\n\nconst x: A = ;\nreturn x;' },
    });
    expect(found.data.checkScript).toEqual([{ severity: 'ERROR', message: expect.stringMatching(/SyntaxError/), line: 3, column: 14 }]);
    // An error only the JavaScript shows (after types were stripped), mapped back to the TypeScript column.
    const duplicate = await t.gql<any, any>(`query ($s: CheckScriptInput!) { checkScript(script: $s) { line column } }`, {
      s: { type: 'typescript', content: 'const a: number = 1;\nconst b: Array<string> = []; const a: number = 2;\nreturn a;' },
    });
    expect(duplicate.data.checkScript).toEqual([{ line: 2, column: 36 }]);
    const saved = await t.rest('POST', '/api/v2/system/service', { resource: [{ name: 'typed-broken', type: 'typescript', config: { content: 'let x: = 1;' } }] });
    expect(saved.status).toBe(400);
  });

  it('hostile: types are never checked, a wrapper escape is refused, imports and modules are syntax errors', async () => {
    await createService(t, 'typed-wrong', 'typescript', `const n: number = 'not a number' as any as number;\nreturn { n };`);
    expect((await t.rest('GET', '/api/v2/typed-wrong')).json).toEqual({ n: 'not a number' });
    for (const content of ['}); for (;;) {} (function () {', "import fs from 'fs';\nreturn 1;", 'export const a = 1;']) {
      const found = await t.gql<any, any>(`query ($s: CheckScriptInput!) { checkScript(script: $s) { severity } }`, { s: { type: 'typescript', content } });
      expect(found.data.checkScript[0]?.severity, content).toBe('ERROR');
    }
    // Pathological generics nesting: answered quickly, as an error or not, never a hang.
    const started = performance.now();
    await t.gql<any, any>(`query ($s: CheckScriptInput!) { checkScript(script: $s) { severity } }`, {
      s: { type: 'typescript', content: `f${'<a'.repeat(3000)}(x)` },
    });
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('type declarations', () => {
  it('are served at system/script_type/typescript/types and type a script that uses event and platform', async () => {
    const response = await t.rest('GET', '/api/v2/system/script_type/typescript/types');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/typescript/);
    const declarations = response.text;
    expect(declarations).toMatch(/declare const event: ScriptEvent/);
    // The real TypeScript compiler (a dev dependency) type-checks a script against them.
    const script = `export {};\nasync function body() {\nconst r = await platform.api.get('svc/x', { parameters: { a: 1 } });\nconst n: number = r.status_code;\nevent.setResponse({ n, m: event.request.method }, 201);\nreturn platform.config;\n}`;
    const wrong = `export {};\nconst s: string = event.response.status_code;`;
    expect(typeErrors(declarations, script)).toEqual([]);
    expect(typeErrors(declarations, wrong).join('\n')).toMatch(/not assignable to type 'string'/);
    expect((await t.rest('GET', '/api/v2/system/script_type/javascript/types')).status).toBe(404);
    expect((await t.rest('POST', '/api/v2/system/script_type/typescript/types', {})).status).toBe(405);
  });
});

function typeErrors(declarations: string, script: string): string[] {
  const files: Record<string, string> = { '/platform.d.ts': declarations, '/script.ts': script };
  const options: ts.CompilerOptions = { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, lib: ['lib.es2022.d.ts'], types: [] };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => files[name] ?? readFile(name);
  host.fileExists = (name) => name in files || ts.sys.fileExists(name);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version) => (name in files ? ts.createSourceFile(name, files[name]!, version) : getSourceFile(name, version));
  const program = ts.createProgram(['/platform.d.ts', '/script.ts'], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}
