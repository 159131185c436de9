import { ScriptFailure } from '../failure.ts';
import type { ScriptEngine, ScriptJob, ScriptOutcome, ScriptTypeInfo } from '../types.ts';
import type { Diagnostic } from '../diagnostics.ts';
import { CappedModules } from './capped-modules.ts';
import { CompileCheck } from './compile-check.ts';
import { ContextPool, type Lease } from './context-pool.ts';
import { asScriptFailure } from './failures.ts';
import { instanceMaxBytes, MemoryBudget } from './memory-budget.ts';
import { RunGate } from './run-gate.ts';
import { ColdLane } from './cold-lane.ts';
import type { WarmContext } from './warm-context.ts';

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

const DEFAULT_TOTAL_MEMORY_MB = 2048;

/** What the engine holds now, for tests and operators: its own accounting, not the process's RSS. */
export interface QuickJsStats {
  /** WebAssembly instances alive: idle, spare and running. */
  instances: number;
  idle: number;
  spares: number;
  /** Contexts kept for calls to services outside the warm set (context-pool.ts). */
  scratch: number;
  /** Contexts made by reusing an idle instance, since start; `restored` of them by copying back its memory image. */
  recycled: number;
  restored: number;
  /** New instances made since start (cold calls served by recycling an idle one's instance do not count). */
  made: number;
  /** Contexts dropped to make room in the memory budget (QUICKJS_TOTAL_MEMORY_MB), since start. */
  evicted: number;
  running: number;
  waiting: number;
  /** Calls refused as overloaded (503) since start. */
  refused: number;
  totalBytes: number;
  /** Worst case of the runs in progress (each its instance's maximum). */
  reservedBytes: number;
  /** Linear memory of idle and spare instances. */
  idleBytes: number;
  /** The most reserved plus idle bytes seen since start. */
  peakBytes: number;
  /** Instances that could not be disposed cleanly and were dropped. */
  abandoned: number;
}

/**
 * `javascript`: QuickJS compiled to WebAssembly, inside the server process.
 * No host access at all: the guest sees only what the prelude gives it.
 */
export class QuickJsEngine implements ScriptEngine {
  readonly info: ScriptTypeInfo;
  private pool: ContextPool | null = null;
  /** The pool as it was last, also after stop: what its stats count. */
  private contexts: ContextPool | null = null;
  private readonly budget: MemoryBudget;
  private readonly gate: RunGate;
  private readonly coldLane: ColdLane;
  private readonly running = new Set<WarmContext>();
  private drained: (() => void) | null = null;
  private compileCheck: CompileCheck | null = null;
  /** Settles when `start` has (engines built on this one, `typescript`, wait for it). */
  readonly started: Promise<void>;
  private startSettled!: () => void;

  constructor(private readonly options: QuickJsOptions) {
    this.budget = new MemoryBudget((options.totalMemoryMb ?? DEFAULT_TOTAL_MEMORY_MB) * 1024 * 1024);
    this.gate = new RunGate(options.maxRunning, options.queueLimit, this.budget);
    this.coldLane = new ColdLane();
    this.started = new Promise((resolve) => (this.startSettled = resolve));
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
    try {
      await this.load();
    } finally {
      this.startSettled();
    }
  }

  private async load(): Promise<void> {
    if (this.options.disabled) return;
    try {
      const modules = await CappedModules.load();
      this.compileCheck = new CompileCheck(modules);
      const pool = new ContextPool(
        modules,
        this.options.maxWarmContexts,
        { count: this.options.spareContexts, memoryLimitMb: this.options.defaultMemoryLimitMb },
        this.budget,
      );
      this.pool = this.contexts = pool;
      this.info.available = true;
      this.info.version = `quickjs-emscripten ${await packageVersion()}`;
      this.info.unavailableReason = null;
      // Calls wait for the start: one of them would make this first instance otherwise, slowly.
      await pool.warmUp().catch(() => undefined);
    } catch (error) {
      this.info.unavailableReason = `QuickJS failed to load: ${(error as Error).message}`;
    }
  }

  run(job: ScriptJob): Promise<ScriptOutcome> {
    const pool = this.pool;
    if (!pool) return Promise.reject(this.unavailable());
    // A run reserves its worst case before it starts: its instance may grow to its maximum.
    const bytes = instanceMaxBytes(job.limits.memoryLimitMb);
    if (bytes > this.budget.totalBytes) return Promise.reject(this.neverFits(job, bytes));
    if (!pool.hasIdle(job)) {
      // Cold: the context first, in the lane, holding no reservation while it is made (cold-lane.ts).
      const admitted = this.coldLane.enter((passOn) => this.admitCold(pool, job, bytes, passOn), (waiting) => this.gate.refuseWhenFull(waiting));
      return admitted.then((lease) => this.runOn(pool, lease, job, performance.now(), bytes));
    }
    // Slot and warm context are taken without an await: most runs then finish in the same tick.
    if (this.gate.tryEnter(bytes)) return this.admitted(job, bytes);
    return this.gate.enter(bytes, job.limits.timeoutMs).then(() => this.admitted(job, bytes));
  }

  /**
   * A context with the job's script, then a slot and the reservation (the
   * context counts as idle while it takes them). A call that would have to
   * wait for a slot or for room passes its turn on and takes them first, as a
   * warm call does, holding no context while it waits (cold-lane.ts).
   */
  private async admitCold(pool: ContextPool, job: ScriptJob, bytes: number, passOn: () => void): Promise<Lease> {
    // Stopped while this call waited for its turn.
    if (this.pool !== pool) throw this.unavailable();
    if (this.gate.wouldWait(bytes)) {
      passOn();
      await this.gate.enter(bytes, job.limits.timeoutMs);
      try {
        return await pool.create(job);
      } catch (error) {
        this.leave(performance.now(), bytes);
        throw asScriptFailure(error);
      }
    }
    const lease = await pool.create(job).catch((error: unknown) => {
      throw asScriptFailure(error);
    });
    const held = lease.context.memoryBytes;
    this.budget.addIdle(held);
    try {
      // Rarely waits: only when another call took the slot or the room while this context was made. The calls
      // behind it then find the gate busy and wait without a context.
      if (!this.gate.tryEnter(bytes, held)) {
        passOn();
        await this.gate.enter(bytes, job.limits.timeoutMs, held);
      }
    } catch (error) {
      this.budget.removeIdle(held);
      pool.release(lease);
      throw error;
    }
    return lease;
  }

  /** Holds a run slot and its reservation: every path out of here gives them back. */
  private admitted(job: ScriptJob, bytes: number): Promise<ScriptOutcome> {
    const started = performance.now();
    const pool = this.pool;
    if (!pool) {
      this.leave(started, bytes);
      return Promise.reject(this.unavailable());
    }
    const lease = pool.takeIdle(job);
    if (lease) return this.runOn(pool, lease, job, started, bytes);
    return pool.create(job).then(
      (created) => this.runOn(pool, created, job, started, bytes),
      (error: unknown) => {
        this.leave(started, bytes);
        throw asScriptFailure(error);
      },
    );
  }

  private async runOn(pool: ContextPool, lease: Lease, job: ScriptJob, started: number, bytes: number): Promise<ScriptOutcome> {
    const { context } = lease;
    this.running.add(context);
    try {
      return await context.run(job);
    } finally {
      this.running.delete(context);
      this.leave(started, bytes, () => pool.release(lease));
    }
  }

  private leave(started: number, bytes: number, handBack?: () => void): void {
    this.gate.leave(performance.now() - started, bytes, handBack);
    if (this.gate.inProgress === 0) this.drained?.();
  }

  private unavailable(): ScriptFailure {
    return new ScriptFailure('unavailable', `Script type "javascript" is unavailable: ${this.info.unavailableReason}.`);
  }

  private neverFits(job: ScriptJob, bytes: number): ScriptFailure {
    const mb = (value: number) => Math.round(value / (1024 * 1024));
    return new ScriptFailure(
      'memory',
      `The script's memory limit of ${job.limits.memoryLimitMb} MB needs ${mb(bytes)} MB of sandbox memory, more than the ${mb(this.budget.totalBytes)} MB all JavaScript runs may use together (QUICKJS_TOTAL_MEMORY_MB).`,
    );
  }

  /** Compiles without running (see CompileCheck): what a save or an editor is told. */
  check(script: string): Promise<Diagnostic[]> {
    if (!this.compileCheck || !this.pool) return Promise.reject(this.unavailable());
    return this.compileCheck.check(script);
  }

  /** The owner's script changed or it is gone: its warm contexts must not serve again. */
  forget(scriptKey: string): void {
    this.pool?.forget(scriptKey);
  }

  get warmContexts(): number {
    return this.pool?.size ?? 0;
  }

  get stats(): QuickJsStats {
    const pool = this.contexts?.stats ?? { instances: 0, idle: 0, spares: 0, scratch: 0, abandoned: 0, recycled: 0, restored: 0, made: 0, evicted: 0 };
    return {
      ...pool,
      ...this.budget.stats,
      running: this.gate.inProgress,
      waiting: this.gate.waitingCount + this.coldLane.waiting,
      refused: this.gate.refusedCount,
    };
  }

  async stop(deadlineMs = 5000): Promise<void> {
    this.gate.refuseWaiting(new ScriptFailure('unavailable', 'The javascript engine is shutting down.'));
    if (this.gate.inProgress > 0) await this.whenDrained(deadlineMs);
    this.pool?.clear();
    // Runs still in progress past the deadline are ended; their contexts are disposed as they are released.
    if (this.running.size > 0) {
      for (const context of this.running) context.abort(new ScriptFailure('unavailable', 'The javascript engine is shutting down.'));
      await this.whenDrained(1000);
    }
    this.pool = null;
    this.compileCheck?.close();
    this.info.available = false;
    this.info.unavailableReason = 'stopped';
  }

  private async whenDrained(deadlineMs: number): Promise<void> {
    if (this.gate.inProgress === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        this.drained = resolve;
      }),
      new Promise((resolve) => {
        timer = setTimeout(resolve, deadlineMs);
      }),
    ]);
    clearTimeout(timer);
    this.drained = null;
  }
}

async function packageVersion(): Promise<string> {
  const { createRequire } = await import('node:module');
  return (createRequire(import.meta.url)('quickjs-emscripten/package.json') as { version: string }).version;
}
