import { createRequire } from 'node:module';
import { diagnosticOf, type Diagnostic } from '../diagnostics.ts';
import { ScriptFailure } from '../failure.ts';
import type { QuickJsEngine } from '../quickjs/engine.ts';
import type { ScriptEngine, ScriptJob, ScriptOutcome, ScriptTypeInfo } from '../types.ts';
import { TranspileCache } from './transpile-cache.ts';
import { inTypeScript, transpile } from './transpile.ts';

/**
 * `typescript`: the script's types are stripped (never checked) and the
 * JavaScript runs in the `javascript` engine's QuickJS sandbox exactly as a
 * `javascript` script would, under the same limits and pools. Each saved
 * version is transpiled once; errors name lines and columns of the
 * TypeScript source.
 */
export class TypeScriptEngine implements ScriptEngine {
  private readonly transpiled = new TranspileCache();
  private readonly staticInfo: Pick<ScriptTypeInfo, 'name' | 'label' | 'description' | 'supportsInlineExecution'> = {
    name: 'typescript',
    label: 'TypeScript',
    description: 'TypeScript, types stripped (not checked), run as JavaScript in the QuickJS WebAssembly sandbox.',
    supportsInlineExecution: true,
  };

  constructor(
    private readonly javascript: QuickJsEngine,
    private readonly disabled: boolean,
  ) {}

  /** The JavaScript engine's state, read at each use: it is available exactly when that one is. */
  get info(): ScriptTypeInfo {
    const base = this.javascript.info;
    const unavailableReason = this.disabled
      ? 'disabled by configuration'
      : base.available
        ? null
        : `the javascript engine is unavailable (${base.unavailableReason})`;
    return {
      ...this.staticInfo,
      sandboxed: true,
      engine: 'quickjs-wasm',
      available: !this.disabled && base.available,
      version: base.version && `${base.version}, sucrase ${sucraseVersion()}`,
      unavailableReason,
    };
  }

  /** The JavaScript engine starts and stops itself (the registry holds it too): this one is started when that one is. */
  start(): Promise<void> {
    return this.javascript.started;
  }

  async stop(): Promise<void> {}

  async run(job: ScriptJob): Promise<ScriptOutcome> {
    if (this.disabled) throw new ScriptFailure('unavailable', `Script type "typescript" is unavailable: disabled by configuration.`);
    const transpiled = this.transpiled.get(job.scriptKey, job.script);
    try {
      return await this.javascript.run({ ...job, script: transpiled.code });
    } catch (error) {
      throw error instanceof ScriptFailure ? inTypeScript(error, transpiled) : error;
    }
  }

  async check(script: string): Promise<Diagnostic[]> {
    let transpiled;
    try {
      transpiled = transpile(script);
    } catch (failure) {
      return [diagnosticOf(failure as ScriptFailure)];
    }
    const found = await this.javascript.check(transpiled.code);
    return found.map((diagnostic) => ({
      ...diagnostic,
      column: inTypeScript(
        new ScriptFailure('error', '', {
          line: diagnostic.line,
          column: diagnostic.column,
        }),
        transpiled,
      ).details.column!,
    }));
  }

  /** Transpiles done since start, and owners whose transpiled script is kept. */
  get stats(): { transpiles: number; cached: number } {
    return { transpiles: this.transpiled.transpiles, cached: this.transpiled.size };
  }

  forget(scriptKey: string): void {
    this.transpiled.forget(scriptKey);
  }
}

let version: string | undefined;
function sucraseVersion(): string {
  if (version === undefined) {
    try {
      version = (
        createRequire(import.meta.url)('sucrase/package.json') as {
          version: string;
        }
      ).version;
    } catch {
      version = 'unknown';
    }
  }
  return version;
}
