import type { Settings } from '../config.ts';
import { QuickJsEngine } from './quickjs/engine.ts';
import { EngineRegistry } from './registry.ts';
import { createSubprocessEngines } from './subprocess/index.ts';
import { TypeScriptEngine } from './typescript/engine.ts';

/** Every script type this server offers: QuickJS in-process, the rest as subprocess engines. */
export function createEngines(settings: Settings): EngineRegistry {
  const { scripting } = settings;
  const javascript = new QuickJsEngine({
    disabled: scripting.disabled.has('javascript'),
    maxWarmContexts: scripting.maxWarmContexts,
    maxRunning: scripting.maxJavascriptRuns,
    queueLimit: scripting.javascriptQueueLimit,
    spareContexts: scripting.spareJavascriptContexts,
    defaultMemoryLimitMb: scripting.defaultMemoryLimitMb,
    totalMemoryMb: scripting.javascriptTotalMemoryMb,
  });
  return new EngineRegistry([
    javascript,
    new TypeScriptEngine(javascript, scripting.disabled.has('typescript')),
    ...createSubprocessEngines({
      interpreterPaths: scripting.interpreterPaths,
      disabled: scripting.disabled,
      defaultMemoryLimitMb: scripting.defaultMemoryLimitMb,
      sandbox: scripting.sandbox,
      workersPerService: scripting.workersPerService ?? undefined,
    }),
  ]);
}
