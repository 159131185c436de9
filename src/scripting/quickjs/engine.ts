import { ScriptFailure } from '../failure.ts';
import type { ScriptEngine, ScriptJob, ScriptOutcome, ScriptTypeInfo } from '../types.ts';
import { CappedModules } from './capped-modules.ts';
import { ContextPool, type Lease } from './context-pool.ts';
import { RunGate } from './run-gate.ts';

export interface QuickJsOptions {
  disabled: boolean;
  maxWarmContexts: number;
  /** Runs holding a context at once (see RunGate). */
  maxRunning: number;
  /** Calls waiting for a run slot; past it, 503. */
  queueLimit: number;
  /** Contexts prepared ahead of need, for the platform's default memory limit. */
  spareContexts: number;
  defaultMemoryLimitMb: number;
  /** Linear memory all instances together may hold (QUICKJS_TOTAL_MEMORY_MB). */
  totalMemoryMb?: number;
}

/**
 * `javascript`: QuickJS compiled to WebAssembly, inside the server process.
 * No host access at all: the guest sees only what the prelude gives it.
 */
export class QuickJsEngine implements ScriptEngine {
  readonly info: ScriptTypeInfo;
  private pool: ContextPool | null = null;
  private readonly gate: RunGate;
  private drained: (() => void) | null = null;

  constructor(private readonly options: QuickJsOptions) {
    this.gate = new RunGate(options.maxRunning, options.queueLimit);
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
      this.pool = new ContextPool(await CappedModules.load(), this.options.maxWarmContexts, {
        count: this.options.spareContexts,
        memoryLimitMb: this.options.defaultMemoryLimitMb,
      });
      this.info.available = true;
      this.info.version = `quickjs-emscripten ${await packageVersion()}`;
      this.info.unavailableReason = null;
    } catch (error) {
      this.info.unavailableReason = `QuickJS failed to load: ${(error as Error).message}`;
    }
  }

  run(job: ScriptJob): Promise<ScriptOutcome> {
    if (!this.pool) return Promise.reject(this.unavailable());
    // Slot and warm context are taken without an await: most runs then finish in the same tick.
    if (this.gate.tryEnter()) return this.admitted(job);
    return this.gate.enter(job.limits.timeoutMs).then(() => this.admitted(job));
  }

  /** Holds a run slot: every path out of here gives it back. */
  private admitted(job: ScriptJob): Promise<ScriptOutcome> {
    const started = performance.now();
    const pool = this.pool;
    if (!pool) {
      this.leave(started);
      return Promise.reject(this.unavailable());
    }
    const lease = pool.takeIdle(job);
    if (lease) return this.runOn(pool, lease, job, started);
    return pool.create(job).then(
      (created) => this.runOn(pool, created, job, started),
      (error: unknown) => {
        this.leave(started);
        throw error;
      },
    );
  }

  private async runOn(pool: ContextPool, { context, key }: Lease, job: ScriptJob, started: number): Promise<ScriptOutcome> {
    try {
      return await context.run(job);
    } finally {
      pool.release(key, context);
      this.leave(started);
    }
  }

  private leave(started: number): void {
    this.gate.leave(performance.now() - started);
    if (this.gate.inProgress === 0) this.drained?.();
  }

  private unavailable(): ScriptFailure {
    return new ScriptFailure('unavailable', `Script type "javascript" is unavailable: ${this.info.unavailableReason}.`);
  }

  /** The owner's script changed or it is gone: its warm contexts must not serve again. */
  forget(scriptKey: string): void {
    this.pool?.forget(scriptKey);
  }

  get warmContexts(): number {
    return this.pool?.size ?? 0;
  }

  async stop(deadlineMs = 5000): Promise<void> {
    this.gate.refuseWaiting(new ScriptFailure('unavailable', 'The javascript engine is shutting down.'));
    if (this.gate.inProgress > 0) {
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
