import { ScriptFailure } from '../failure.ts';
import type { ScriptEngine, ScriptJob, ScriptOutcome, ScriptTypeInfo } from '../types.ts';
import { CappedModules } from './capped-modules.ts';
import { ContextPool } from './context-pool.ts';

/**
 * `javascript`: QuickJS compiled to WebAssembly, inside the server process.
 * No host access at all: the guest sees only what the prelude gives it.
 */
export class QuickJsEngine implements ScriptEngine {
  readonly info: ScriptTypeInfo;
  private pool: ContextPool | null = null;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly options: { disabled: boolean; maxWarmContexts: number }) {
    this.info = {
      name: 'javascript',
      label: 'JavaScript',
      description: 'JavaScript in a QuickJS WebAssembly sandbox, inside the server.',
      sandboxed: true,
      supportsInlineExecution: true,
      engine: 'quickjs-wasm',
      available: false,
      version: null,
      unavailableReason: options.disabled ? 'disabled by configuration' : 'not started',
    };
  }

  async start(): Promise<void> {
    if (this.options.disabled) return;
    try {
      this.pool = new ContextPool(await CappedModules.load(), this.options.maxWarmContexts);
      this.info.available = true;
      this.info.version = `quickjs-emscripten ${await packageVersion()}`;
      this.info.unavailableReason = null;
    } catch (error) {
      this.info.unavailableReason = `QuickJS failed to load: ${(error as Error).message}`;
    }
  }

  async run(job: ScriptJob): Promise<ScriptOutcome> {
    if (!this.pool) throw new ScriptFailure('unavailable', `Script type "javascript" is unavailable: ${this.info.unavailableReason}.`);
    const { context, key } = await this.pool.acquire(job);
    const running = context.run(job);
    this.inFlight.add(running);
    try {
      return await running;
    } finally {
      this.inFlight.delete(running);
      this.pool?.release(key, context);
    }
  }

  /** The owner's script changed or it is gone: its warm contexts must not serve again. */
  forget(scriptKey: string): void {
    this.pool?.forget(scriptKey);
  }

  get warmContexts(): number {
    return this.pool?.size ?? 0;
  }

  async stop(deadlineMs = 5000): Promise<void> {
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => setTimeout(r, deadlineMs).unref())]);
    this.pool?.clear();
    this.pool = null;
    this.info.available = false;
    this.info.unavailableReason = 'stopped';
  }
}

async function packageVersion(): Promise<string> {
  const { createRequire } = await import('node:module');
  return (createRequire(import.meta.url)('quickjs-emscripten/package.json') as { version: string }).version;
}
