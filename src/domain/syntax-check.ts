import type { Diagnostic } from '../scripting/diagnostics.ts';
import { ScriptFailure } from '../scripting/failure.ts';
import type { EngineRegistry } from '../scripting/registry.ts';
import { badInput, DomainError } from './errors.ts';
import { validateType } from './script-fields.ts';

/** What `checkScript` and a save check: a script of a type, never run. */
export interface ScriptToCheck {
  type: unknown;
  content: unknown;
}

/**
 * Syntax checks for every script type: each engine compiles without running
 * (QuickJS compile-only, Python's compile(), PHP's parser and compiler, V8's
 * vm.Script), so checking never runs a line of the script.
 */
export class SyntaxChecker {
  constructor(private readonly engines: EngineRegistry) {}

  /** The script's diagnostics (empty: it compiles). An unknown or unavailable type is refused as on save. */
  async check(script: ScriptToCheck, maxScriptBytes: number): Promise<Diagnostic[]> {
    const type = validateType(this.engines, script.type);
    if (typeof script.content !== 'string') throw badInput('Field "content" (the script) must be a string.', 'content');
    if (script.content.length * 3 > maxScriptBytes && Buffer.byteLength(script.content) > maxScriptBytes) {
      throw badInput(`Field "content": the script is over the limit of ${maxScriptBytes} bytes (SCRIPT_MAX_BYTES).`, 'content');
    }
    const engine = this.engines.available(type);
    if (!engine.check) return [];
    try {
      return await engine.check(script.content);
    } catch (error) {
      throw checkFailure(error, type);
    }
  }

  /**
   * Refuses a save whose script does not compile: BAD_INPUT with the first
   * error's message, its `line` and `column` in the context. Warnings never
   * refuse. `skip` (the save's `skipSyntaxCheck`) stores work in progress.
   */
  async assertCompiles(type: string, content: string, skip: unknown): Promise<void> {
    if (skip !== undefined && skip !== null && typeof skip !== 'boolean') {
      throw badInput('Field "skip_syntax_check" must be true or false.', 'skip_syntax_check');
    }
    if (skip === true) return;
    if (!this.engines.find(type)?.check) return;
    let diagnostics: Diagnostic[];
    try {
      // available(): while the engine is still starting, its check waits for the start.
      diagnostics = await this.engines.available(type).check!(content);
    } catch (error) {
      throw checkFailure(error, type);
    }
    const first = diagnostics.find((diagnostic) => diagnostic.severity === 'ERROR');
    if (!first) return;
    throw new DomainError(
      'BAD_INPUT',
      `Field "content": the ${type} script does not compile: ${first.message} (line ${first.line}, column ${first.column}). Save with skip_syntax_check (GraphQL: skipSyntaxCheck) to store it anyway.`,
      { field: 'content', line: first.line, column: first.column, diagnostics },
    );
  }
}

/** The checker itself could not answer (overloaded, timed out, died): not the script's fault, so not BAD_INPUT, except a compiler that died on it. */
function checkFailure(error: unknown, type: string): Error {
  if (!(error instanceof ScriptFailure)) return error as Error;
  switch (error.kind) {
    case 'crashed':
      return new DomainError('BAD_INPUT', `Field "content": the ${type} compiler failed on this script: ${error.message}`, {
        field: 'content',
        line: 1,
        column: 1,
      });
    case 'timeout':
      return new DomainError('TIMEOUT', error.message, { field: 'content' });
    case 'overloaded':
      return new DomainError('SERVICE_UNAVAILABLE', error.message, null, {
        headers: { 'Retry-After': String(error.details.retryAfterSeconds ?? 1) },
      });
    default:
      return new DomainError('SERVICE_UNAVAILABLE', error.message, { field: 'type' });
  }
}
