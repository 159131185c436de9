import { parse } from 'acorn';
import { ScriptFailure } from '../failure.ts';

/**
 * A script becomes the body of `(function (event, platform) {...})`. QuickJS
 * has no way to compile a function body on its own (its `Function`
 * constructor pastes text too), so the text is pasted, after acorn has
 * checked on the host that it parses on its own as a function body: a body
 * that closes the wrapper early (`}); for (;;) {} (function () {`) does not,
 * so it is refused before any guest code could run at compile time.
 */
export interface WrappedScript {
  source: string;
  /** Characters before the body on line 1: QuickJS's columns there are off by this much. */
  prefixLength: number;
}

const SYNC_PREFIX = '(function (event, platform) {';
const ASYNC_PREFIX = '(async function (event, platform) {';

/**
 * The last script checked per owner, and why it failed if it did: a
 * service's later contexts, and calls of a script that does not parse, skip
 * parsing it again (acorn takes 50 to 130 ms on 1 MiB of ordinary code).
 */
const checked = new Map<string, { script: string; failure: ScriptFailure | null }>();

export function wrapScript(scriptKey: string, script: string): WrappedScript {
  let known = checked.get(scriptKey);
  if (known?.script !== script) {
    known = { script, failure: null };
    try {
      checkFunctionBody(script);
    } catch (error) {
      known.failure = error as ScriptFailure;
    }
    checked.set(scriptKey, known);
  }
  if (known.failure) throw known.failure;
  const prefix = wrapperPrefix(script);
  // The body starts on line 1, so error line numbers match the user's script.
  return { source: `${prefix}${script}\n})`, prefixLength: prefix.length };
}

/** Scripts without await stay plain functions: their result comes back at once, with no promise jobs to run. */
export function wrapperPrefix(script: string): string {
  return /\bawait\b/.test(script) ? ASYNC_PREFIX : SYNC_PREFIX;
}

/** Throws a ScriptFailure naming the line and column when `script` is not a function body on its own. */
export function checkFunctionBody(script: string): void {
  try {
    parse(script, { ecmaVersion: 'latest', sourceType: 'script', allowReturnOutsideFunction: true, allowAwaitOutsideFunction: true });
  } catch (error) {
    const where = (error as { loc?: { line: number; column: number } }).loc;
    if (error instanceof SyntaxError && where) {
      const message = error.message.replace(/\s*\(\d+:\d+\)$/, '');
      return void throwSyntax(message, where.line, where.column + 1);
    }
    // Acorn recurses per nesting level: a pathologically nested script overflows the host stack.
    throw new ScriptFailure('error', 'SyntaxError: the script is nested too deeply to compile');
  }
}

function throwSyntax(message: string, line: number, column: number): never {
  throw new ScriptFailure('error', `SyntaxError: ${message}`, { line, column });
}
