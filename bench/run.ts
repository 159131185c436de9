// `npm run bench`: every benchmark module in sequence, then a summary.
// A module that throws is reported and the rest still run; the exit code is 1
// when a module failed or a required target was missed.
import { allResults, printTable, section } from './lib.ts';

interface Bench {
  name: string;
  run: () => Promise<void>;
}

const benches: Bench[] = [
  { name: 'http-throughput', run: async () => (await import('./http-throughput.ts')).benchHttpThroughput() },
  { name: 'memory', run: async () => (await import('./memory.ts')).benchMemory() },
  { name: 'event-scripts', run: async () => (await import('./event-scripts.ts')).benchEventScripts() },
  { name: 'access', run: async () => (await import('./access.ts')).benchAccess() },
  { name: 'recording-cost', run: async () => (await import('./recording-cost.ts')).benchRecordingCost() },
  { name: 'first-call', run: async () => (await import('./first-call.ts')).benchFirstCall() },
  { name: 'many-services', run: async () => (await import('./many-services.ts')).benchManyServices() },
  { name: 'startup', run: async () => (await import('./startup.ts')).benchStartup() },
  { name: 'check-script', run: async () => (await import('./check-script.ts')).benchCheckScript() },
  { name: 'console', run: async () => (await import('./console.ts')).benchConsole() },
  { name: 'typed-fields', run: async () => (await import('./typed-fields.ts')).benchTypedFields() },
  { name: 'fast-spreads', run: async () => (await import('./fast-spreads.ts')).benchFastSpreads() },
  {
    name: 'subprocess',
    run: async () => {
      section('subprocess (bench/subprocess.ts)');
      await (await import('./subprocess.ts')).benchSubprocessEngines();
    },
  },
  {
    name: 'live-logs',
    run: async () => {
      section('live-logs (bench/live-logs.ts)');
      await (await import('./live-logs.ts')).benchLiveLogs();
    },
  },
];

const only = process.argv.slice(2);
const unknown = only.filter((name) => !benches.some((b) => b.name === name));
if (unknown.length) {
  console.error(`unknown bench ${unknown.join(', ')}; known: ${benches.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
const selected = only.length ? benches.filter((b) => only.includes(b.name)) : benches;

const os = await import('node:os');
const cores = os.availableParallelism();
const load = os.loadavg()[0]!;
console.log(`Scriptgate benchmarks: node ${process.version}, ${cores} cores, load average ${load.toFixed(2)}`);
if (load > cores * 0.5) console.log(`note: the machine is busy (load ${load.toFixed(2)} on ${cores} cores); throughput figures will be low and noisy`);
if (only.length) console.log(`only: ${only.join(', ')}`);

const started = performance.now();
const timings: { name: string; seconds: number; error: Error | null }[] = [];
for (const bench of selected) {
  const t0 = performance.now();
  let error: Error | null = null;
  try {
    await bench.run();
  } catch (caught) {
    error = caught instanceof Error ? caught : new Error(String(caught));
    console.log(`\n!! ${bench.name} FAILED: ${error.stack ?? error.message}`);
  }
  timings.push({ name: bench.name, seconds: (performance.now() - t0) / 1000, error });
}

console.log(`\n== Summary ${'='.repeat(62)}`);
const results = allResults().filter((r) => r.status !== 'INFO');
if (results.length) printTable(results, true);
for (const t of timings) console.log(`  ${t.name.padEnd(16)} ${t.seconds.toFixed(1).padStart(6)} s  ${t.error ? 'FAILED' : 'ok'}`);
console.log(`  total ${((performance.now() - started) / 1000).toFixed(1)} s`);

const failed = timings.some((t) => t.error) || allResults().some((r) => r.required && r.status === 'MISS');
process.exitCode = failed ? 1 : 0;
