// What recording each run's request and its CPU and memory figures costs a
// call: two copies of the same `javascript` endpoint (query parameters and a
// few headers, as a client sends them) on one server, one of them with
// `run_details: false` in its config, measured back to back in each round.
// One server, not two (one with EXECUTIONS_RUN_DETAILS=off): two servers of
// the same build and settings differed by up to 10% between them here, which
// hid a 3% target; within one server they differ by 1 to 3%.
import autocannon from 'autocannon';
import { ADMIN_KEY, API_KEY_HEADER, cpuSecondsOf, mainThreadCpuSecondsOf, note, printTable, record, rest, section, startScriptgate } from './lib.ts';

const BENCH = 'recording-cost';
const CONNECTIONS = 16;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const TARGET_RATIO = 0.97;
/** BENCH_RECORDING_SAME=1: both endpoints record, so the ratio shows what the bench's own noise reads as. */
const SAME = Boolean(process.env.BENCH_RECORDING_SAME);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

interface Round {
  rps: number;
  /** Server CPU per request (every thread of the process), µs. */
  cpuUs: number;
  /** The server's main thread's CPU per request, µs: the bottleneck. */
  mainUs: number;
}

async function measure(url: string, pid: number): Promise<Round> {
  const cpuBefore = cpuSecondsOf(pid);
  const mainBefore = mainThreadCpuSecondsOf(pid);
  const result = await autocannon({
    url,
    headers: { [API_KEY_HEADER]: ADMIN_KEY, accept: 'application/json', 'user-agent': 'bench-client/1.0', 'x-request-id': 'bench-123' },
    connections: CONNECTIONS,
    duration: DURATION_S,
  });
  if (result.non2xx || result.errors) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  const perRequest = (seconds: number) => (seconds * 1e6) / result.requests.total;
  return { rps: result.requests.average, cpuUs: perRequest(cpuSecondsOf(pid) - cpuBefore), mainUs: perRequest(mainThreadCpuSecondsOf(pid) - mainBefore) };
}

export async function benchRecordingCost(): Promise<void> {
  section(
    `Recording cost: request + CPU/memory figures recorded vs run_details: false${SAME ? ' (BENCH_RECORDING_SAME: both recorded)' : ''}, ` +
      `one server, ${ROUNDS} rounds of ${DURATION_S} s each, ${CONNECTIONS} connections`,
  );
  const server = await startScriptgate();
  const both = ['on', 'off'] as const;
  try {
    const urls: Record<'on' | 'off', string> = { on: '', off: '' };
    for (const which of both) {
      const name = which === 'on' ? 'recorded' : 'unrecorded';
      const created = await rest(server.url, 'POST', '/api/v2/system/service', {
        name,
        type: 'javascript',
        config: {
          content: 'return { sum: Number(event.request.parameters.a) + Number(event.request.parameters.b) };',
          run_details: which === 'on' || SAME,
        },
      });
      if (created.status !== 201) throw new Error(`creating the service: ${created.status} ${created.text}`);
      urls[which] = `${server.url}/api/v2/${name}/add?a=1&b=2`;
    }
    for (const which of both) await measure(urls[which], server.pid); // warm-up
    // The figures really are recorded for one and not for the other.
    const check = async (which: 'on' | 'off') => {
      const list = await rest(server.url, 'GET', `/api/v2/system/execution?limit=1&fields=cpu_ms,request&filter=${encodeURIComponent(`service = '${which === 'on' ? 'recorded' : 'unrecorded'}'`)}`);
      return list.json.resource[0] as { cpu_ms: number | null; request: unknown };
    };
    const [on, off] = [await check('on'), await check('off')];
    if (on.cpu_ms === null || on.request === null || (!SAME && (off.cpu_ms !== null || off.request !== null))) {
      throw new Error(`recording is not what the bench compares: on ${JSON.stringify(on)}, off ${JSON.stringify(off)}`);
    }

    // This machine's speed drifts by tens of percent over seconds: each round
    // measures both endpoints back to back (in alternating order), and the
    // figure is the median of the rounds' own ratios.
    const rounds: Record<'on' | 'off', Round>[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const measured = {} as Record<'on' | 'off', Round>;
      for (const which of round % 2 === 0 ? both : ([...both].reverse() as ('on' | 'off')[])) measured[which] = await measure(urls[which], server.pid);
      rounds.push(measured);
    }
    const list = (which: 'on' | 'off', key: keyof Round, digits: number) => rounds.map((r) => r[which][key].toFixed(digits)).join(', ');
    note(`rounds, recording: ${list('on', 'rps', 0)}; not recording: ${list('off', 'rps', 0)} req/s`);
    note(`server CPU per request, recording: ${list('on', 'cpuUs', 1)}; not recording: ${list('off', 'cpuUs', 1)} µs`);
    note(`main thread CPU per request, recording: ${list('on', 'mainUs', 1)}; not recording: ${list('off', 'mainUs', 1)} µs`);
    const ratio = median(rounds.map((r) => r.on.rps / r.off.rps));
    const cpuRatio = median(rounds.map((r) => r.off.cpuUs / r.on.cpuUs));
    const mainRatio = median(rounds.map((r) => r.off.mainUs / r.on.mainUs));
    // The server's main thread is the bottleneck: the inverse of throughput is its time per request.
    const addedMicros = median(rounds.map((r) => (1 / r.on.rps - 1 / r.off.rps) * 1e6));
    printTable([
      record({
        bench: BENCH,
        metric: 'throughput recording request + CPU/memory / not recording (median of the rounds)',
        value: `${ratio.toFixed(3)} (${Math.round(median(rounds.map((r) => r.on.rps)))} vs ${Math.round(median(rounds.map((r) => r.off.rps)))} req/s)`,
        target: `>= ${TARGET_RATIO}`,
        pass: ratio >= TARGET_RATIO,
      }),
      record({ bench: BENCH, metric: 'added time per call (median of the rounds)', value: `${addedMicros.toFixed(2)} µs`, target: '' }),
      record({
        bench: BENCH,
        metric: 'server CPU per call, not recording / recording (all threads, median of the rounds)',
        value: `${cpuRatio.toFixed(3)} (${median(rounds.map((r) => r.on.cpuUs)).toFixed(1)} vs ${median(rounds.map((r) => r.off.cpuUs)).toFixed(1)} µs)`,
        target: '',
      }),
      record({
        bench: BENCH,
        metric: 'main thread CPU per call, not recording / recording (median of the rounds)',
        value: `${mainRatio.toFixed(3)} (${median(rounds.map((r) => r.on.mainUs)).toFixed(1)} vs ${median(rounds.map((r) => r.off.mainUs)).toFixed(1)} µs)`,
        target: '',
      }),
    ]);
  } finally {
    await server.stop();
  }
}
