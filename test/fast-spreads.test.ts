// The build's rewrite of object literals that start with a spread
// (scripts/fast-spreads.mjs): the same objects as before, and applied to the
// bundle `npm start` runs, with its source map still pointing at the sources.
import { TraceMap, originalPositionFor } from '@jridgewell/trace-mapping';
import { parse } from 'acorn';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a build script in plain JavaScript, without types.
import { fastSpreads } from '../scripts/fast-spreads.mjs';

const rewrite = (code: string): { code: string; count: number } => {
  const { code: rewritten, count } = fastSpreads(code, 'PROTO');
  return { code: rewritten, count };
};

/** Runs `expression` as written and rewritten; both results, with their prototypes, own keys (symbols too) and the getters' calls. */
function bothWays(expression: string) {
  const run = (code: string) => {
    const calls: string[] = [];
    const [value, isPlain] = runInNewContext(`const PROTO = Object.prototype; const value = (${code}); [value, Object.getPrototypeOf(value) === Object.prototype]`, { calls }) as [object, boolean];
    return { value, isPlain, keys: Reflect.ownKeys(value), calls };
  };
  const rewritten = rewrite(expression);
  return { before: run(expression), after: run(rewritten.code), rewritten };
}

describe('the rewrite of literals that start with a spread', () => {
  const cases = [
    ['a property after the spread', '(() => { const base = { a: 1, b: 2 }; return { ...base, c: 3 }; })()'],
    ['later properties win', '(() => { const base = { a: 1, b: 2 }; return { ...base, a: 9, ...{ b: 8 }, c: 3 }; })()'],
    ['two spreads around a property', '(() => { const a = { x: 1 }, b = { y: 2, x: 0 }; return { ...a, p: 1, ...b }; })()'],
    ['getters read once, in order', '(() => { const base = { get g() { calls.push("g"); return 1; }, h: 2 }; return { ...base, i: 3, ...{ get j() { calls.push("j"); return 4; } } }; })()'],
    ['symbols and non-enumerable keys', '(() => { const s = Symbol.for("s"); const base = Object.defineProperty({ [s]: 1 }, "hidden", { value: 2, enumerable: false }); return { ...base, v: 3 }; })()'],
    ['null, undefined, a string and an array spread', '({ ...null, ...undefined, ...\'ab\', ...[7, 8], z: 1 })'],
    // An own "__proto__" key (as JSON.parse makes from a client's body) stays a key; it never sets the prototype.
    ['hostile: an own __proto__ key in the spread object', '(() => { const body = JSON.parse(\'{"__proto__": {"polluted": true}, "a": 1}\'); return { ...body, b: 2 }; })()'],
    ['a shorthand __proto__ (an own key, not the prototype)', '(() => { const __proto__ = 5; const base = { a: 1 }; return { ...base, __proto__ }; })()'],
    ['a computed ["__proto__"] key', '(() => { const base = { a: 1 }; return { ...base, ["__proto__"]: 3 }; })()'],
  ] as const;
  for (const [name, expression] of cases) {
    it(`${name}: the same object`, () => {
      const { before, after, rewritten } = bothWays(expression);
      expect(rewritten.count).toBeGreaterThan(0);
      expect(after.isPlain).toBe(true);
      expect(after).toEqual(before);
      expect(Object.getOwnPropertyDescriptors(after.value)).toEqual(Object.getOwnPropertyDescriptors(before.value));
    });
  }

  it('leaves alone a literal that sets its own prototype, a spread alone, spreads that come later, and destructuring', () => {
    const untouched = [
      '({ ...base, __proto__: null })',
      '({ ...base, "__proto__": other })',
      '({ ...base })',
      '({ a: 1, ...base, b: 2 })',
      'const { ...rest } = base; ({ ...rest } = base);',
      'function f({ a, ...rest }) { return [a, rest]; }',
    ];
    for (const code of untouched) expect(rewrite(code), code).toEqual({ code, count: 0 });
    // The literal's own __proto__ is kept as written: a second one would be a syntax error.
    expect(() => parse(rewrite('({ ...base, __proto__: null, x: 1 })').code, { ecmaVersion: 'latest' })).not.toThrow();
  });

  it('rewrites nested literals and those in every position of a statement', () => {
    const { code, count } = rewrite('f({ ...a, b: { ...c, d }, e: [{ ...g, h }] }); class K { m() { return { ...this, n: 1 }; } }');
    expect(count).toBe(4);
    expect(code).toBe('f({ __proto__:PROTO,...a, b: { __proto__:PROTO,...c, d }, e: [{ __proto__:PROTO,...g, h }] }); class K { m() { return { __proto__:PROTO,...this, n: 1 }; } }');
  });
});

describe('the bundle npm start runs', () => {
  const root = resolve(import.meta.dirname, '..');
  let buildDir: string | null = null;
  afterEach(() => {
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });

  it('has no literal left that starts with a spread and goes on, and its source map still points into the sources', () => {
    // Its own build, beside node_modules (the bundle finds the package root by walking up): dist/ is rebuilt by other suites meanwhile.
    const cache = join(root, 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    buildDir = mkdtempSync(join(cache, 'scriptgate-fast-spreads-'));
    const built = spawnSync(process.execPath, ['scripts/build.mjs', '--start-only', buildDir], { cwd: root, encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);
    const code = readFileSync(join(buildDir, 'scriptgate.cjs'), 'utf8');
    // Rewriting it again finds nothing: every such literal already starts with __proto__.
    const again = fastSpreads(code, '__scriptgateObjectPrototype') as { count: number };
    expect(again.count).toBe(0);
    expect(code.split('__proto__:__scriptgateObjectPrototype,').length - 1).toBeGreaterThan(100);

    // A line of the sources found after the bundle's rewritten literals maps back to that line.
    const map = new TraceMap(readFileSync(join(buildDir, 'scriptgate.cjs.map'), 'utf8'));
    const sourceFile = join(root, 'src', 'graphql', 'json-operations.ts');
    const sourceLines = readFileSync(sourceFile, 'utf8').split('\n');
    const needle = 'answersJson(request.headers.accept)';
    const at = code.indexOf(needle);
    expect(code.slice(0, at)).toContain('__proto__:__scriptgateObjectPrototype,');
    const before = code.slice(0, at);
    const original = originalPositionFor(map, { line: before.split('\n').length, column: at - before.lastIndexOf('\n') - 1 });
    expect(resolve(buildDir, original.source!)).toBe(sourceFile);
    expect(sourceLines[original.line! - 1]).toContain(needle);
  }, 120_000);
});
