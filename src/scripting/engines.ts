import type { Settings } from '../config.ts';
import { QuickJsEngine } from './quickjs/engine.ts';
import { EngineRegistry } from './registry.ts';
import { createSubprocessEngines } from './subprocess/index.ts';

/** Every script type this server offers: QuickJS in-process, the rest as subprocess engines. */
export function createEngines(settings: Settings): EngineRegistry {
  const { scripting } = settings;
  return new EngineRegistry([
    new QuickJsEngine({
      disabled: scripting.disabled.has('javascript'),
      maxWarmContexts: scripting.maxWarmContexts,
      maxRunning: scripting.maxJavascriptRuns,
      queueLimit: scripting.javascriptQueueLimit,
      spareContexts: scripting.spareJavascriptContexts,
      defaultMemoryLimitMb: scripting.defaultMemoryLimitMb,
      totalMemoryMb: scripting.javascriptTotalMemoryMb,
    }),
    ...createSubprocessEngines({
      interpreterPaths: scripting.interpreterPaths,
      disabled: scripting.disabled,
      defaultMemoryLimitMb: scripting.defaultMemoryLimitMb,
      sandbox: scripting.sandbox,
      workersPerService: scripting.workersPerService ?? undefined,
    }),
  ]);
}
