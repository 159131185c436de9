import { ScriptFailure } from './failure.ts';
import type { ScriptEngine, ScriptTypeInfo } from './types.ts';

/** The script types this server knows, each backed by one engine. */
export class EngineRegistry {
  private readonly engines = new Map<string, ScriptEngine>();

  constructor(engines: ScriptEngine[]) {
    for (const engine of engines) this.engines.set(engine.info.name, engine);
  }

  async start(): Promise<void> {
    await Promise.all([...this.engines.values()].map((engine) => engine.start()));
  }

  async stop(deadlineMs?: number): Promise<void> {
    await Promise.all([...this.engines.values()].map((engine) => engine.stop(deadlineMs)));
  }

  list(): ScriptTypeInfo[] {
    return [...this.engines.values()].map((engine) => engine.info).sort((a, b) => a.name.localeCompare(b.name));
  }

  find(name: string): ScriptEngine | undefined {
    return this.engines.get(name);
  }

  /** The engine for a type that can run now, or a ScriptFailure('unavailable') saying why not. */
  available(name: string): ScriptEngine {
    const engine = this.engines.get(name);
    if (!engine) throw new ScriptFailure('unavailable', `Script type "${name}" is not supported.`);
    if (!engine.info.available) {
      throw new ScriptFailure('unavailable', `Script type "${name}" is unavailable: ${engine.info.unavailableReason ?? 'unknown reason'}.`);
    }
    return engine;
  }

  /** Engines that keep warm state per owner (QuickJS) drop it when a script changes. */
  forget(scriptKey: string): void {
    for (const engine of this.engines.values()) {
      engine.forget?.(scriptKey);
    }
  }
}
