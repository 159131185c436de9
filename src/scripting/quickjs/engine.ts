import { ScriptFailure } from '../failure.ts';
import type { ScriptEngine, ScriptJob, ScriptOutcome, ScriptTypeInfo } from '../types.ts';
import { CappedModules } from './capped-modules.ts';
import { ContextPool, type Lease } from './context-pool.ts';

/**
 * `javascript`: QuickJS compiled to WebAssembly, inside the server process.
 * No host access at all: the guest sees only what the prelude gives it.
 */
export class QuickJsEngine implements ScriptEngine {
  readonly info: ScriptTypeInfo;
  private pool: ContextPool | null = null;
  private running = 0;
  private drained: (() => void) | null = null;

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

  run(job: ScriptJob): Promise<ScriptOutcome> {
    const pool = this.pool;
    if (!pool) return Promise.reject(new ScriptFailure('unavailable', `Script type "javascript" is unavailable: ${this.info.unavailableReason}.`));
    // A warm context is taken without an await: most runs then finish in the same tick.
    const lease = pool.takeIdle(job);
    return lease ? this.runOn(pool, lease, job) : pool.create(job).then((created) => this.runOn(pool, created, job));
  }

  private async runOn(pool: ContextPool, { context, key }: Lease, job: ScriptJob): Promise<ScriptOutcome> {
    this.running++;
    try {
      return await context.run(job);
    } finally {
      this.running--;
      pool.release(key, context);
      if (this.running === 0) this.drained?.();
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
    if (this.running > 0) {
      const drained = new Promise<void>((resolve) => {
        this.drained = resolve;
      });
      await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, deadlineMs).unref())]);
    }
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
