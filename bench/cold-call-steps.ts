// Where a cold javascript call's time goes inside the engine, step by step,
// in this process with the server's own QuickJS code: a scratch instance
// restored from its memory image for each call, as the pool does for a
// service outside the warm set (context-pool.ts), and beside it what the
// restore replaced: a runtime, context and prelude made anew in the instance.
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
  restore: number;
  scriptCompile: number;
  run: number;
  total: number;
  /** A new runtime, context and prelude in a used instance instead of the restore (what a cold call did before images). */
  rebuild: number;
  /** The host's parse of a script it has not seen (once per service and script, then remembered): not in the total. */
  firstCheck: number;
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
  const newInstance = () => modules.create(MEMORY_LIMIT_MB * 1024 * 1024 + RUNTIME_SLACK_BYTES);
  const steps = { restore: [] as number[], scriptCompile: [] as number[], run: [] as number[], rebuild: [] as number[], check: [] as number[] };
  // A fresh instance, as the pool makes one: its image is taken once the prelude is installed.
  let context = new WarmContext(await newInstance(), MEMORY_LIMIT_MB, true);
  if (!context.restorable) throw new Error('the instance took no memory image: the cold-call steps would not be those of a server');
  for (let i = 0; i < iterations; i++) {
    let at = performance.now();
    const lap = (step: keyof typeof steps) => {
      const now = performance.now();
      steps[step].push((now - at) * 1000);
      at = now;
    };
    context = context.recycled()!;
    lap('restore');
    const job = jobFor(script, i);
    context.load(job);
    lap('scriptCompile');
    await context.run(job);
    lap('run');
    checkFunctionBody(script);
    lap('check');
  }
  context.dispose();
  // The path the restore replaced, in an instance without an image.
  let rebuilt = new WarmContext(await newInstance(), MEMORY_LIMIT_MB);
  for (let i = 0; i < iterations / 4; i++) {
    const at = performance.now();
    rebuilt = rebuilt.recycled()!;
    steps.rebuild.push((performance.now() - at) * 1000);
  }
  rebuilt.dispose();
  const result = { restore: median(steps.restore), scriptCompile: median(steps.scriptCompile), run: median(steps.run) };
  return { ...result, total: result.restore + result.scriptCompile + result.run, rebuild: median(steps.rebuild), firstCheck: median(steps.check) };
}

export function describeSteps(steps: ColdCallSteps): string {
  const us = (value: number) => `${value.toFixed(0)} µs`;
  return (
    `engine steps of a cold call (medians, in this process): restore the instance's image ${us(steps.restore)}, ` +
    `script compile ${us(steps.scriptCompile)}, run ${us(steps.run)}; sum ${us(steps.total)} ` +
    `(a runtime, context and prelude made anew instead of the restore: ${us(steps.rebuild)}; ` +
    `once per service, the host's check of its script ${us(steps.firstCheck)})`
  );
}
