// What recording each run's request and its CPU and memory figures costs a
// call: the same `javascript` endpoint (query parameters and a few headers,
// as a client sends them) on two servers of the same build, one with
// EXECUTIONS_RUN_DETAILS=off. Rounds alternate in one run, so the machine's
// drift hits both; the ratio of medians is the figure.
import autocannon from 'autocannon';
import { ADMIN_KEY, API_KEY_HEADER, note, printTable, record, rest, section, startScriptgate } from './lib.ts';

const BENCH = 'recording-cost';
const CONNECTIONS = 16;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TARGET_RATIO = 0.97;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function throughput(url: string): Promise<number> {
  const result = await autocannon({
    url,
    headers: { [API_KEY_HEADER]: ADMIN_KEY, accept: 'application/json', 'user-agent': 'bench-client/1.0', 'x-request-id': 'bench-123' },
    connections: CONNECTIONS,
    duration: DURATION_S,
  });
  if (result.non2xx || result.errors) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

export async function benchRecordingCost(): Promise<void> {
  section(`Recording cost: request + CPU/memory figures on vs EXECUTIONS_RUN_DETAILS=off, ${ROUNDS} alternating rounds of ${DURATION_S} s, ${CONNECTIONS} connections`);
  const servers = { on: await startScriptgate(), off: await startScriptgate({ EXECUTIONS_RUN_DETAILS: 'off' }) };
  try {
    const urls: Record<'on' | 'off', string> = { on: '', off: '' };
    for (const [which, server] of Object.entries(servers) as ['on' | 'off', (typeof servers)['on']][]) {
      const created = await rest(server.url, 'POST', '/api/v2/system/service', {
        name: 'recorded',
        type: 'javascript',
        config: { content: 'return { sum: Number(event.request.parameters.a) + Number(event.request.parameters.b) };' },
      });
      if (created.status !== 201) throw new Error(`creating the service: ${created.status} ${created.text}`);
      urls[which] = `${server.url}/api/v2/recorded/add?a=1&b=2`;
      await throughput(urls[which]); // warm-up
    }
    // The figures really are recorded on one and not on the other.
    const check = async (which: 'on' | 'off') => {
      const list = await rest(servers[which].url, 'GET', '/api/v2/system/execution?limit=1&fields=cpu_ms,request');
      return list.json.resource[0] as { cpu_ms: number | null; request: unknown };
    };
    const [on, off] = [await check('on'), await check('off')];
    if (on.cpu_ms === null || on.request === null || off.cpu_ms !== null || off.request !== null) {
      throw new Error(`recording is not what the bench compares: on ${JSON.stringify(on)}, off ${JSON.stringify(off)}`);
    }

    const rates: Record<'on' | 'off', number[]> = { on: [], off: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order: ('on' | 'off')[] = round % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
      for (const which of order) rates[which].push(await throughput(urls[which]));
    }
    note(`rounds, recording: ${rates.on.map(Math.round).join(', ')}; not recording: ${rates.off.map(Math.round).join(', ')} req/s`);
    const ratio = median(rates.on) / median(rates.off);
    // One server thread: the inverse of throughput is its time per request.
    const addedMicros = (1 / median(rates.on) - 1 / median(rates.off)) * 1e6;
    printTable([
      record({
        bench: BENCH,
        metric: 'throughput recording request + CPU/memory / not recording',
        value: `${ratio.toFixed(3)} (${Math.round(median(rates.on))} vs ${Math.round(median(rates.off))} req/s)`,
        target: `>= ${TARGET_RATIO}`,
        pass: ratio >= TARGET_RATIO,
      }),
      record({ bench: BENCH, metric: 'added time per call (from the medians)', value: `${addedMicros.toFixed(2)} µs`, target: '' }),
    ]);
  } finally {
    await Promise.all([servers.on.stop(), servers.off.stop()]);
  }
}
