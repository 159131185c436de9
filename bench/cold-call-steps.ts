// Where a cold javascript call's time goes inside the engine, step by step,
// in this process with the server's own QuickJS code: a context made in the
// instance of the one before it, as the pool does once the warm set is full.
// What the client sees beyond the sum is HTTP, routing, the service lookup
// and recording the execution.
import { CappedModules } from '../src/scripting/quickjs/capped-modules.ts';
import { RUNTIME_SLACK_BYTES } from '../src/scripting/quickjs/memory-budget.ts';
import { checkFunctionBody } from '../src/scripting/quickjs/script-source.ts';
import { WarmContext } from '../src/scripting/quickjs/warm-context.ts';
import type { ScriptJob } from '../src/scripting/types.ts';

const MEMORY_LIMIT_MB = 64;

export interface ColdCallSteps {
  /** Median microseconds per step. */
  freePrevious: number;
  runtimeAndContext: number;
  prelude: number;
  scriptCompile: number;
  run: number;
  /** The host's parse of a script it has not seen (once per service and script, then remembered): not in the total. */
  firstCheck: number;
  total: number;
}

function jobFor(script: string, index: number): ScriptJob {
  return {
    executionId: `steps-${index}`,
    // One owner: its script's host-side check is remembered, as for a service called before.
    scriptKey: 'steps',
    script,
    version: 1,
    event: { resource: 'x', request: { method: 'GET', parameters: {}, headers: {}, content: null, payload: null } as unknown as ScriptJob['event']['request'], response: { status_code: 200, content: null, content_type: null, headers: {} } },
    platform: { config: {}, session: {} },
    limits: { timeoutMs: 5000, memoryLimitMb: MEMORY_LIMIT_MB, maxLogBytes: 1 << 20, maxResponseBytes: 10 << 20, network: false },
    api: () => Promise.reject(new Error('no platform.api in this measurement')),
    log: () => undefined,
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function measureColdCallSteps(script: string, iterations = 400): Promise<ColdCallSteps> {
  const modules = await CappedModules.load();
  const module = await modules.create(MEMORY_LIMIT_MB * 1024 * 1024 + RUNTIME_SLACK_BYTES);
  const steps: Record<Exclude<keyof ColdCallSteps, 'total' | 'firstCheck'> | 'warmContext' | 'check', number[]> = {
    check: [],
    freePrevious: [],
    runtimeAndContext: [],
    warmContext: [],
    prelude: [],
    scriptCompile: [],
    run: [],
  };
  let previous: WarmContext | null = null;
  for (let i = 0; i < iterations; i++) {
    let at = performance.now();
    const lap = (step: keyof typeof steps) => {
      const now = performance.now();
      steps[step].push((now - at) * 1000);
      at = now;
    };
    previous?.dispose();
    lap('freePrevious');
    // A bare runtime and context, for the prelude's share of the context below.
    const runtime = module.newRuntime();
    runtime.newContext().dispose();
    lap('runtimeAndContext');
    runtime.dispose();
    at = performance.now();
    const context = new WarmContext(module, MEMORY_LIMIT_MB);
    lap('warmContext');
    const job = jobFor(script, i);
    context.load(job);
    lap('scriptCompile');
    await context.run(job);
    lap('run');
    previous = context;
    checkFunctionBody(script);
    lap('check');
  }
  previous?.dispose();
  const runtimeAndContext = median(steps.runtimeAndContext);
  const result = {
    freePrevious: median(steps.freePrevious),
    runtimeAndContext,
    prelude: Math.max(0, median(steps.warmContext) - runtimeAndContext),
    scriptCompile: median(steps.scriptCompile),
    run: median(steps.run),
  };
  return { ...result, total: Object.values(result).reduce((sum, value) => sum + value, 0), firstCheck: median(steps.check) };
}

export function describeSteps(steps: ColdCallSteps): string {
  const us = (value: number) => `${value.toFixed(0)} µs`;
  return (
    `engine steps of a cold call (medians, in this process): free the previous runtime ${us(steps.freePrevious)}, ` +
    `runtime + context ${us(steps.runtimeAndContext)}, prelude ${us(steps.prelude)}, script compile ${us(steps.scriptCompile)}, ` +
    `run ${us(steps.run)}; sum ${us(steps.total)} (and once per service, the host's check of its script ${us(steps.firstCheck)})`
  );
}
