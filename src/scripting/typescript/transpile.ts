import { decodedMappings, TraceMap, type EncodedSourceMap } from '@jridgewell/trace-mapping';
import { transform, type Options } from 'sucrase';
import { ScriptFailure } from '../failure.ts';

/**
 * TypeScript to JavaScript by stripping types (sucrase): never type-checked,
 * and every line stays on its line, so an error's line in the JavaScript is
 * its line in the TypeScript. Columns move where types were removed before
 * them; `originalColumn` maps them back through sucrase's source map, which
 * is only made when an error needs it.
 *
 * Why sucrase (measured on this machine, a 12-line script with interfaces
 * and generics / 50 of them): sucrase 0.1 ms / 6.5 ms, 1.7 MB installed, loads
 * in 40 ms, lines kept; TypeScript's transpileModule 1.5 to 2 ms / 17 to 25
 * ms, 23 MB, loads in 140 ms; esbuild-wasm 7.7 ms a call (async only), 14 MB;
 * native esbuild 0.6 ms / 2.6 ms but reformats lines (a source map on every
 * run) and is a binary we would only have through tsx.
 */
// Imports are kept (not elided as unused): one is then the syntax error it is in a function body, instead of vanishing.
const OPTIONS: Options = { transforms: ['typescript'], disableESTransforms: true, keepUnusedImports: true };

export interface Transpiled {
  /** The TypeScript as written. */
  source: string;
  /** JavaScript with the same lines. */
  code: string;
  /** Made on the first error that needs a column mapped. */
  map?: TraceMap;
}

/** JavaScript for a TypeScript body, or a ScriptFailure naming the TypeScript syntax error's line and column. */
export function transpile(source: string): Transpiled {
  try {
    return { source, code: transform(source, OPTIONS).code };
  } catch (error) {
    throw transpileFailure(error);
  }
}

/**
 * The column in the TypeScript source of a 1-based `line`/`column` of its
 * JavaScript (lines are the same): the nearest token at or before it, plus
 * how far past that token's start the position is.
 */
export function originalColumn(transpiled: Transpiled, line: number, column: number): number {
  transpiled.map ??= new TraceMap(
    transform(transpiled.source, {
      ...OPTIONS,
      filePath: 'script.ts',
      sourceMapOptions: { compiledFilename: 'script.js' },
    }).sourceMap as unknown as EncodedSourceMap,
  );
  const segments = decodedMappings(transpiled.map)[line - 1];
  if (!segments) return column;
  const wanted = column - 1;
  let found: (typeof segments)[number] | undefined;
  for (const segment of segments) {
    if (segment[0] > wanted) break;
    found = segment;
  }
  if (!found || found.length < 4 || found[2] !== line - 1) return column;
  return found[3]! + (wanted - found[0]) + 1;
}

/** A failure from the JavaScript, its column moved back into the TypeScript. */
export function inTypeScript(failure: ScriptFailure, transpiled: Transpiled): ScriptFailure {
  const { line, column } = failure.details;
  if (line === undefined || column === undefined) return failure;
  const mapped = originalColumn(transpiled, line, column);
  if (mapped === column) return failure;
  return new ScriptFailure(failure.kind, failure.message, {
    ...failure.details,
    column: mapped,
  });
}

function transpileFailure(error: unknown): ScriptFailure {
  const where = (error as { loc?: { line?: number; column?: number } }).loc;
  if (error instanceof SyntaxError && where?.line !== undefined) {
    const message = error.message.replace(/\s*\(\d+:\d+\)$/, '');
    // sucrase's columns are 1-based already.
    return new ScriptFailure('error', `SyntaxError: ${message}`, {
      line: where.line,
      column: Math.max(1, where.column ?? 1),
    });
  }
  if (error instanceof RangeError) return new ScriptFailure('error', 'SyntaxError: the script is nested too deeply to compile');
  return new ScriptFailure('error', `SyntaxError: ${(error as Error).message ?? String(error)}`);
}
