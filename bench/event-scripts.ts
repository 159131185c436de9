// What event scripts cost. Two questions, each answered inside one run:
// - a call to a service no event script names, while event scripts exist for
//   other services, against the same call with no event script anywhere
//   (rounds alternate, attaching and removing the others' scripts between);
// - the latency a `javascript` pre_process adds to a call, at the median.
import autocannon from 'autocannon';
import { ADMIN_KEY, API_KEY_HEADER, note, printTable, record, rest, section, startScriptgate } from './lib.ts';

const BENCH = 'event-scripts';
const CONNECTIONS = 16;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const LATENCY_CALLS = 600;
const HEADERS = { [API_KEY_HEADER]: ADMIN_KEY };

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function throughput(url: string): Promise<number> {
  const result = await autocannon({ url, headers: HEADERS, connections: CONNECTIONS, duration: DURATION_S });
  if (result.non2xx || result.errors) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

async function timedCall(url: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { headers: HEADERS });
  await response.text();
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  return performance.now() - started;
}

/** Sequential calls over keep-alive, the two URLs interleaved (the same moments for both): the latency one client sees. */
async function latencies(first: string, second: string): Promise<[number[], number[]]> {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < LATENCY_CALLS; i++) {
    a.push(await timedCall(first));
    b.push(await timedCall(second));
  }
  const warm = LATENCY_CALLS / 6;
  return [a.slice(warm), b.slice(warm)];
}

async function put(base: string, method: string, path: string, body?: unknown): Promise<void> {
  const response = await rest(base, method, path, body);
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${response.text}`);
}

const OTHERS = ['others.get.pre_process', 'others.get.post_process', 'others.items.get.pre_process'];

export async function benchEventScripts(): Promise<void> {
  section(`Event scripts: ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${DURATION_S} s; ${LATENCY_CALLS} sequential calls for latency`);
  const server = await startScriptgate();
  try {
    const service = (name: string) => ({ name, type: 'javascript', config: { content: "return {hello: 'world'}" } });
    await put(server.url, 'POST', '/api/v2/system/service', { resource: [service('plain'), service('hooked'), service('others')] });
    const script = { type: 'javascript', content: 'event.request.parameters.seen = "1";', allow_event_modification: true };
    await put(server.url, 'POST', '/api/v2/system/event_script/hooked.get.pre_process', script);
    await throughput(`${server.url}/api/v2/plain`); // warm-up

    const alone: number[] = [];
    const beside: number[] = [];
    const attach = async () => {
      for (const name of OTHERS) await put(server.url, 'POST', `/api/v2/system/event_script/${name}`, script);
    };
    const detach = async () => {
      for (const name of OTHERS) await put(server.url, 'DELETE', `/api/v2/system/event_script/${name}`);
    };
    // The order alternates: whichever runs second in a round meets the first one's garbage.
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        alone.push(await throughput(`${server.url}/api/v2/plain`));
        await attach();
        beside.push(await throughput(`${server.url}/api/v2/plain`));
        await detach();
      } else {
        await attach();
        beside.push(await throughput(`${server.url}/api/v2/plain`));
        await detach();
        alone.push(await throughput(`${server.url}/api/v2/plain`));
      }
    }

    const [plainCalls, hookedCalls] = await latencies(`${server.url}/api/v2/plain`, `${server.url}/api/v2/hooked`);
    const plain = median(plainCalls);
    const hooked = median(hookedCalls);
    const ratio = median(beside) / median(alone);
    note('req/s are medians of the rounds; the added latency is the difference of medians over one keep-alive connection');
    printTable([
      record({
        bench: BENCH,
        metric: 'call with no event script attached (scripts on other services) / none anywhere',
        value: `${ratio.toFixed(3)} (${Math.round(median(beside))} vs ${Math.round(median(alone))} req/s)`,
        target: '>= 0.95',
        pass: ratio >= 0.95,
      }),
      record({
        bench: BENCH,
        metric: 'latency a javascript pre_process adds (median)',
        value: `${(hooked - plain).toFixed(3)} ms (${hooked.toFixed(3)} vs ${plain.toFixed(3)} ms)`,
        target: '< 0.5 ms',
        pass: hooked - plain < 0.5,
      }),
    ]);
  } finally {
    await server.stop();
  }
}
