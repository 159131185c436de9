import type { QuickJSContext, QuickJSRuntime } from 'quickjs-emscripten';
import { error as errorDiagnostic, diagnosticOf, type Diagnostic } from '../diagnostics.ts';
import { ScriptFailure } from '../failure.ts';
import type { CappedModules } from './capped-modules.ts';
import { checkFunctionBody, wrapperPrefix } from './script-source.ts';

/** Compiling 1 MiB of ordinary code takes QuickJS about 20 MB; a larger heap only serves a hostile script. */
const CHECK_MEMORY_MB = 64;
const CHECK_STACK_BYTES = 200 * 1024;
/** Compiling runs no guest code; the deadline only bounds the compiler itself. */
const CHECK_DEADLINE_MS = 2000;

/**
 * Compiles a `javascript` script without running it: acorn on the host
 * first (a body that closes the wrapper early is refused as at run time),
 * then QuickJS itself, compile-only, so syntax QuickJS does not support
 * (which acorn accepts) is reported too. One small instance of its own,
 * made on the first check and kept: it never runs guest code, so it needs
 * no reset between scripts, and its memory is apart from the run budget.
 */
export class CompileCheck {
  private runtime: QuickJSRuntime | null = null;
  private context: QuickJSContext | null = null;
  private opening: Promise<QuickJSContext> | null = null;
  private deadline = 0;

  constructor(private readonly modules: CappedModules) {}

  async check(script: string): Promise<Diagnostic[]> {
    try {
      checkFunctionBody(script);
    } catch (failure) {
      return [diagnosticOf(failure as ScriptFailure)];
    }
    const context = this.context ?? (await (this.opening ??= this.open()));
    const prefix = wrapperPrefix(script);
    this.deadline = Date.now() + CHECK_DEADLINE_MS;
    try {
      const result = context.evalCode(`${prefix}${script}\n})`, 'script.js', {
        compileOnly: true,
      });
      if (!result.error) {
        result.value.dispose();
        return [];
      }
      // Nothing but the compiler ever ran in this runtime: its error object is QuickJS's own, safe to read.
      const thrown = context.dump(result.error) as {
        name?: string;
        message?: string;
        lineNumber?: number;
        stack?: string;
      };
      result.error.dispose();
      if (thrown?.name !== 'SyntaxError') throw new Error(`${thrown?.name}: ${thrown?.message}`);
      const where = /script\.js:(\d+)(?::(\d+))?/.exec(thrown.stack ?? '');
      const line = where ? Number(where[1]) : (thrown.lineNumber ?? 1);
      let column = where?.[2] ? Number(where[2]) : 1;
      if (line === 1) column = Math.max(1, column - prefix.length);
      return [errorDiagnostic(`SyntaxError: ${thrown.message ?? 'invalid syntax'}`, line, column)];
    } catch (failure) {
      // Out of memory, or the instance failed: it is not kept, and the script is reported as not checkable.
      this.close();
      return [errorDiagnostic(`SyntaxError: the script could not be compiled (${(failure as Error).message ?? 'unknown error'})`, 1, 1)];
    } finally {
      this.deadline = 0;
    }
  }

  close(): void {
    try {
      this.context?.dispose();
      this.runtime?.dispose();
    } catch {
      // An instance that cannot be freed cleanly is dropped with its memory.
    }
    this.context = null;
    this.runtime = null;
    this.opening = null;
  }

  private async open(): Promise<QuickJSContext> {
    const module = await this.modules.create((CHECK_MEMORY_MB + 8) * 1024 * 1024);
    const runtime = module.newRuntime();
    runtime.setMemoryLimit(CHECK_MEMORY_MB * 1024 * 1024);
    runtime.setMaxStackSize(CHECK_STACK_BYTES);
    runtime.setInterruptHandler(() => this.deadline === 0 || Date.now() > this.deadline);
    this.runtime = runtime;
    this.context = runtime.newContext();
    return this.context;
  }
}
