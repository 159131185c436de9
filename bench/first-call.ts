// How long a new `javascript` service's first calls take, beside a warm call
// of the same service: each service is created over REST, the server is left
// idle for a moment (as between a deploy and its first request), then called
// a few times in a row over one keep-alive connection.
import { ADMIN_KEY, API_KEY_HEADER, note, printTable, record, rest, section, sleep, startScriptgate } from './lib.ts';

const SERVICES = 40;
/** The first services pay for JIT warm-up of the server itself: left out of the medians. */
const SKIPPED = 10;
const CALLS = 4;
const IDLE_MS = 50;
const BENCH = 'first-call';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Per service, the latencies of its calls in order. */
async function measure(spareContexts: number): Promise<number[][]> {
  const server = await startScriptgate({ QUICKJS_SPARE_CONTEXTS: String(spareContexts) });
  const timings: number[][] = [];
  try {
    for (let i = 0; i < SERVICES; i++) {
      const name = `first-${i}`;
      const created = await rest(server.url, 'POST', '/api/v2/system/service', {
        resource: [{ name, type: 'javascript', config: { content: "return {hello: 'world'}" } }],
      });
      if (created.status !== 201) throw new Error(`creating ${name} failed: ${created.status} ${created.text}`);
      await sleep(IDLE_MS);
      const calls: number[] = [];
      for (let k = 0; k < CALLS; k++) {
        const started = performance.now();
        const response = await fetch(`${server.url}/api/v2/${name}`, { headers: { [API_KEY_HEADER]: ADMIN_KEY } });
        await response.text();
        if (response.status !== 200) throw new Error(`GET /api/v2/${name} answered ${response.status}`);
        calls.push(performance.now() - started);
      }
      timings.push(calls);
    }
  } finally {
    await server.stop();
  }
  return timings.slice(SKIPPED);
}

export async function benchFirstCall(): Promise<void> {
  section(`First calls: ${SERVICES} new javascript services, each created, ${IDLE_MS} ms idle, then called ${CALLS} times`);
  const without = await measure(0);
  const withSpares = await measure(2);
  const at = (timings: number[][], k: number) => median(timings.map((calls) => calls[k]!));
  const row = (metric: string, k: number) =>
    record({
      bench: BENCH,
      metric,
      value: `${at(withSpares, k).toFixed(2)} ms (${at(without, k).toFixed(2)} ms without spares)`,
      target: '',
    });
  note('latency seen by the client (fetch over keep-alive), median over services; spares: contexts prepared ahead of need (QUICKJS_SPARE_CONTEXTS)');
  printTable([row('first call of a new service', 0), row('second call', 1), row(`call ${CALLS} (warm)`, CALLS - 1)]);
}
