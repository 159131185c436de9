/**
 * Subprocess engines, at the engine level: a small script returning a small
 * JSON object, run through the warm engine and run as DreamFactory runs it (a
 * wrapper file written per call and a new interpreter process started on it),
 * in the same run, one client at a time and with one client per CPU. Then
 * the same warm calls and a worker's start, with the sandbox (bubblewrap)
 * and without it (SCRIPT_SANDBOX=off), alternating, side by side.
 *
 *   npx tsx bench/subprocess.ts
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { QuickJsEngine } from '../src/scripting/quickjs/engine.ts';
import { scrubbedEnvironment } from '../src/scripting/subprocess/environment.ts';
import { createSubprocessEngines, type SubprocessEngine, type SubprocessType } from '../src/scripting/subprocess/index.ts';
import type { ScriptEvent, ScriptJob } from '../src/scripting/types.ts';

const SCRIPTS: Record<SubprocessType, string> = {
  nodejs: 'return { ok: true, n: event.request.parameters.n };',
  python: "return {'ok': True, 'n': event['request']['parameters']['n']}",
  python3: "return {'ok': True, 'n': event['request']['parameters']['n']}",
  php: "return ['ok' => true, 'n' => $event['request']['parameters']['n']];",
};

const WARM_SEQUENTIAL_CALLS = 400;
const WARM_CONCURRENT_MS = 2000;
const COLD_MAX_CALLS = 60;
const COLD_MAX_MS = 4000;

function makeEvent(n: number): ScriptEvent {
  return {
    request: {
      method: 'GET',
      uri: '/api/v2/bench',
      service: 'bench',
      resource: '',
      parameters: { n },
      headers: {},
      payload: null,
      content: '',
      content_type: null,
      api_version: '2.0',
    },
    resource: '',
    response: { status_code: 200, content: null, content_type: null, headers: {} },
  };
}

function job(type: SubprocessType, n: number): ScriptJob {
  return {
    executionId: `bench-${n}`,
    scriptKey: 'bench',
    script: SCRIPTS[type],
    event: makeEvent(n),
    platform: { config: {}, session: {} },
    limits: { timeoutMs: 10_000, memoryLimitMb: 128, maxLogBytes: 65_536, maxResponseBytes: 10 * 1024 * 1024, network: true },
    api: async () => ({ status_code: 200, content: null, content_type: null, headers: {} }),
    log: () => {},
  };
}

/** DreamFactory's wrappers, reduced to what runs the script and prints the event with script_result. */
function dreamFactoryWrapper(type: SubprocessType, n: number): { file: string; source: string } {
  const event = JSON.stringify(makeEvent(n));
  const platform = JSON.stringify({ config: {}, session: {} });
  const script = SCRIPTS[type];
  if (type === 'nodejs') {
    return {
      file: 'js',
      source: `var _event = ${event};\nvar _platform = ${platform};\ntry {\n  _event.script_result = (function (event, platform) {\n${script}\n  })(_event, _platform);\n} catch (e) {\n  _event.script_result = { error: e.message };\n}\nconsole.log(JSON.stringify(_event));\n`,
    };
  }
  if (type === 'php') {
    return {
      file: 'php',
      source: `<?php\n$event = json_decode(${phpString(event)}, true);\n$platform = json_decode(${phpString(platform)}, true);\n$closure = function () use (&$event, $platform) {\n${script}\n};\n$event['script_result'] = $closure();\necho json_encode($event);\n`,
    };
  }
  const body = script
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
  return {
    file: 'py',
    source: `import json\n_event = json.loads(${JSON.stringify(event)})\n_platform = json.loads(${JSON.stringify(platform)})\ndef my_closure(event, platform):\n${body}\ntry:\n    _event['script_result'] = my_closure(_event, _platform)\nexcept Exception as e:\n    _event['script_result'] = {'error': str(e)}\nprint(json.dumps(_event))\n`,
  };
}

function phpString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** One DreamFactory-style call: write the wrapper file, start the interpreter on it, read the last JSON line. */
function runLikeDreamFactory(executable: string, dir: string, type: SubprocessType, n: number, env: Record<string, string>): Promise<void> {
  const { file, source } = dreamFactoryWrapper(type, n);
  const scriptFile = path.join(dir, `bench_${process.pid}_${n}.${file}`);
  writeFileSync(scriptFile, source);
  return new Promise((resolve, reject) => {
    execFile(executable, [scriptFile], { env, maxBuffer: 1 << 20 }, (error, stdout) => {
      rmSync(scriptFile, { force: true });
      if (error) return reject(error);
      const last = stdout.trim().split('\n').pop() ?? '';
      const parsed = JSON.parse(last) as { script_result?: { n?: number } };
      if (parsed.script_result?.n !== n) return reject(new Error(`unexpected output: ${last.slice(0, 200)}`));
      resolve();
    });
  });
}

/** Calls per second with `clients` concurrent callers, until `maxCalls` calls or `maxMs` have passed. */
async function throughput(call: (n: number) => Promise<void>, clients: number, maxCalls: number, maxMs: number): Promise<number> {
  let started = 0;
  let finished = 0;
  const begin = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (started < maxCalls && performance.now() - begin < maxMs) {
        await call(++started);
        finished++;
      }
    }),
  );
  return finished / ((performance.now() - begin) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

export async function benchSubprocessEngines(): Promise<void> {
  const clients = Math.max(1, cpus().length);
  const workDir = mkdtempSync(path.join(tmpdir(), 'scriptgate-bench-'));
  const env = scrubbedEnvironment(process.env);
  const rows: string[][] = [];
  const engines = createSubprocessEngines({
    interpreterPaths: {},
    disabled: new Set(),
    poolSize: clients,
    maxPoolSize: clients * 2,
    defaultMemoryLimitMb: 128,
  });
  console.log(`subprocess engines: warm engine vs DreamFactory-style (wrapper file + new interpreter per call), ${clients} CPUs`);
  const javascriptMedian = await quickJsMedian();
  try {
    for (const engine of engines) {
      const type = engine.info.name as SubprocessType;
      await engine.start();
      if (!engine.info.available) {
        console.log(`  ${type}: skipped (${engine.info.unavailableReason})`);
        continue;
      }
      const executable = engine.info.interpreter!;
      const warmCall = async (n: number): Promise<void> => {
        const outcome = await engine.run(job(type, n));
        if ((outcome.returned as { n?: number }).n !== n) throw new Error(`${type}: wrong result`);
      };
      for (let i = 0; i < 50; i++) await warmCall(-1 - i); // warm-up
      const latencies: number[] = [];
      const sequentialStart = performance.now();
      for (let i = 0; i < WARM_SEQUENTIAL_CALLS; i++) {
        const t = performance.now();
        await warmCall(i + 1);
        latencies.push(performance.now() - t);
      }
      const warmSequential = WARM_SEQUENTIAL_CALLS / ((performance.now() - sequentialStart) / 1000);
      const warmConcurrent = await throughput(warmCall, clients, Number.POSITIVE_INFINITY, WARM_CONCURRENT_MS);
      const cold = (n: number): Promise<void> => runLikeDreamFactory(executable, workDir, type, n, env);
      await cold(0);
      const coldSequential = await throughput(cold, 1, COLD_MAX_CALLS, COLD_MAX_MS);
      const coldConcurrent = await throughput(cold, clients, COLD_MAX_CALLS, COLD_MAX_MS);
      await engine.stop(2000);
      rows.push([
        type,
        `${engine.info.version}`,
        warmSequential.toFixed(0),
        coldSequential.toFixed(1),
        `${(warmSequential / coldSequential).toFixed(1)}x`,
        warmConcurrent.toFixed(0),
        coldConcurrent.toFixed(1),
        `${(warmConcurrent / coldConcurrent).toFixed(1)}x`,
        median(latencies).toFixed(3),
        `${(median(latencies) - javascriptMedian).toFixed(3)}${median(latencies) - javascriptMedian < 1 ? '' : ' MISS'}`,
      ]);
    }
  } finally {
    await Promise.all(engines.map((engine) => engine.stop(1000)));
    rmSync(workDir, { recursive: true, force: true });
  }
  const types = rows.map((row) => row[0] as SubprocessType);
  const header = [
    'type',
    'version',
    'warm 1 client/s',
    'DF-style 1 client/s',
    'ratio',
    `warm ${clients} clients/s`,
    `DF-style ${clients} clients/s`,
    'ratio',
    'warm median ms',
    'added vs javascript ms (< 1)',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((cell, i) => cell.padStart(widths[i]!)).join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  console.log(`javascript (QuickJS) engine, same script and harness: median ${javascriptMedian.toFixed(3)} ms; targets: ratio >= 20x for python3 and php (goal 50x), added latency < 1 ms`);
  await benchSandboxCost(types);
}

const SANDBOX_ROUNDS = 3;
const SANDBOX_CALLS_PER_ROUND = 300;
const START_SAMPLES = 5;

/** Warm median latency and worker start, sandbox on and off, alternating rounds in the same run. */
async function benchSandboxCost(types: SubprocessType[]): Promise<void> {
  console.log(`\nsandbox cost: warm median of ${SANDBOX_ROUNDS} alternating rounds of ${SANDBOX_CALLS_PER_ROUND} sequential calls, and a worker's start (median of ${START_SAMPLES})`);
  const rows: string[][] = [];
  for (const type of types) {
    const medians: Record<'bwrap' | 'off', number[]> = { bwrap: [], off: [] };
    const starts: Record<'bwrap' | 'off', number[]> = { bwrap: [], off: [] };
    for (let round = 0; round < SANDBOX_ROUNDS; round++) {
      for (const sandbox of ['bwrap', 'off'] as const) {
        const engine = await startOne(type, sandbox, 1);
        try {
          for (let i = 0; i < 50; i++) await engine.run(job(type, -1 - i));
          const latencies: number[] = [];
          for (let i = 0; i < SANDBOX_CALLS_PER_ROUND; i++) {
            const t = performance.now();
            await engine.run(job(type, i + 1));
            latencies.push(performance.now() - t);
          }
          medians[sandbox].push(median(latencies));
        } finally {
          await engine.stop(1000);
        }
      }
    }
    for (let sample = 0; sample < START_SAMPLES; sample++) {
      for (const sandbox of ['bwrap', 'off'] as const) {
        const engine = await startOne(type, sandbox, 1);
        starts[sandbox].push(engine.workers()[0]?.startMs ?? NaN);
        await engine.stop(1000);
      }
    }
    const on = median(medians.bwrap);
    const off = median(medians.off);
    rows.push([
      type,
      on.toFixed(3),
      off.toFixed(3),
      (on - off).toFixed(3),
      median(starts.bwrap).toFixed(1),
      median(starts.off).toFixed(1),
      (median(starts.bwrap) - median(starts.off)).toFixed(1),
    ]);
  }
  const header = ['type', 'warm median, sandbox ms', 'warm median, off ms', 'added ms', 'worker start, sandbox ms', 'worker start, off ms', 'added ms'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((cell, i) => cell.padStart(widths[i]!)).join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

async function startOne(type: SubprocessType, sandbox: 'bwrap' | 'off', poolSize: number): Promise<SubprocessEngine> {
  const engines = createSubprocessEngines({
    interpreterPaths: {},
    disabled: new Set(['nodejs', 'python', 'python3', 'php'].filter((t) => t !== type)),
    poolSize,
    maxPoolSize: poolSize,
    defaultMemoryLimitMb: 128,
    sandbox,
  });
  const engine = engines.find((e) => e.info.name === type)!;
  await engine.start();
  if (!engine.info.available) throw new Error(`${type} (sandbox ${sandbox}) did not start: ${engine.info.unavailableReason}`);
  return engine;
}

/** The in-process engine's median for the same script shape, measured the same way. */
async function quickJsMedian(): Promise<number> {
  const engine = new QuickJsEngine({ disabled: false, maxWarmContexts: 4, maxRunning: 16, queueLimit: 16, spareContexts: 0, defaultMemoryLimitMb: 64 });
  await engine.start();
  try {
    const script = 'return { ok: true, n: event.request.parameters.n }';
    const call = async (n: number) => {
      const outcome = await engine.run({ ...job('nodejs', n), script });
      if ((outcome.returned as { n?: number }).n !== n) throw new Error('javascript: wrong result');
    };
    for (let i = 0; i < 50; i++) await call(-1 - i);
    const latencies: number[] = [];
    for (let i = 0; i < WARM_SEQUENTIAL_CALLS; i++) {
      const t = performance.now();
      await call(i + 1);
      latencies.push(performance.now() - t);
    }
    return median(latencies);
  } finally {
    await engine.stop(1000);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  benchSubprocessEngines().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
