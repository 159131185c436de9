import { ScriptFailure } from './failure.ts';
import type { ScriptEngine, ScriptTypeInfo } from './types.ts';

/** The script types this server knows, each backed by one engine. */
export class EngineRegistry {
  private readonly engines = new Map<string, ScriptEngine>();
  /** Engines whose start has not settled yet (or not begun: see start), with that start. */
  private readonly starting = new Map<string, Promise<void>>();
  private begin!: () => void;
  /** Set by stop: engines whose start has not begun never start. */
  private stopping = false;

  /**
   * `engines` start one after another in this order (see start): the
   * in-process ones first.
   */
  constructor(engines: ScriptEngine[]) {
    const begun = new Promise<void>((resolve) => (this.begin = resolve));
    let previous: Promise<unknown> = begun;
    for (const engine of engines) {
      this.engines.set(engine.info.name, engine);
      // Starting from the moment the registry exists: a call before `start` waits for it like one during it.
      const started = previous.then(() => (this.stopping ? undefined : engine.start()));
      previous = started.catch(() => undefined);
      this.starting.set(
        engine.info.name,
        started.finally(() => this.starting.delete(engine.info.name)),
      );
    }
  }

  /**
   * Starts every engine, one at a time; settles when all have. The server
   * does not wait for it before serving: a call meanwhile waits for its own
   * engine only (see available). One at a time because a start is mostly
   * processes being spawned and booting (probes, warm workers): all at once,
   * they took both cores for 1.5 s, and each synchronous spawn held the event
   * loop, so the first calls after a start waited 180 to 600 ms.
   */
  start(): Promise<void> {
    const all = Promise.all(this.starting.values()).then(() => undefined);
    this.begin();
    return all;
  }

  /** Every type as it is once the engines still starting have settled: what listings show. */
  async settledList(): Promise<ScriptTypeInfo[]> {
    if (this.starting.size) await Promise.all(this.starting.values());
    return this.list();
  }

  /** Names of the engines still starting. */
  get startingNames(): string[] {
    return [...this.starting.keys()];
  }

  /** Stops every engine once the start in progress (if any) has settled; those not begun never start. */
  async stop(deadlineMs?: number): Promise<void> {
    this.stopping = true;
    this.begin();
    await Promise.all([...this.starting.values()].map((started) => started.catch(() => undefined)));
    await Promise.all([...this.engines.values()].map((engine) => engine.stop(deadlineMs)));
  }

  list(): ScriptTypeInfo[] {
    return [...this.engines.values()].map((engine) => engine.info).sort((a, b) => a.name.localeCompare(b.name));
  }

  find(name: string): ScriptEngine | undefined {
    return this.engines.get(name);
  }

  /**
   * The engine for a type that can run now, or a ScriptFailure('unavailable')
   * saying why not. While the engine is still starting: one whose calls wait
   * for that start, then go on (or fail) as they would have after it.
   */
  available(name: string): ScriptEngine {
    const engine = this.engines.get(name);
    if (!engine) throw new ScriptFailure('unavailable', `Script type "${name}" is not supported.`);
    const starting = this.starting.get(name);
    if (starting) return this.afterStart(engine, starting);
    if (!engine.info.available) {
      throw new ScriptFailure('unavailable', `Script type "${name}" is unavailable: ${engine.info.unavailableReason ?? 'unknown reason'}.`);
    }
    return engine;
  }

  private afterStart(engine: ScriptEngine, starting: Promise<void>): ScriptEngine {
    const later = <T>(use: (started: ScriptEngine) => Promise<T>): Promise<T> => starting.then(() => use(this.available(engine.info.name)));
    return {
      info: engine.info,
      start: () => starting,
      run: (job) => later((started) => started.run(job)),
      ...(engine.check ? { check: (script: string) => later((started) => started.check!(script)) } : {}),
      forget: (scriptKey) => engine.forget?.(scriptKey),
      stop: (deadlineMs) => engine.stop(deadlineMs),
    };
  }

  /** Engines that keep warm state per owner (QuickJS) drop it when a script changes. */
  forget(scriptKey: string): void {
    for (const engine of this.engines.values()) {
      engine.forget?.(scriptKey);
    }
  }
}
