// What recording each run's request and its CPU and memory figures costs a
// call: one `javascript` endpoint (query parameters and a few headers, as a
// client sends them) on one server, measured with `run_details` on and then
// off in its config (each save a new version, warmed up before it is
// measured), back to back in each round. Two servers, one with
// EXECUTIONS_RUN_DETAILS=off, differed by up to 10% when both recorded; two
// services on one server by about 2%; one service differs only in what the
// bench compares.
import autocannon from 'autocannon';
import { ADMIN_KEY, API_KEY_HEADER, cpuSecondsOf, mainThreadCpuSecondsOf, note, printTable, record, rest, section, startScriptgate } from './lib.ts';

const BENCH = 'recording-cost';
const CONNECTIONS = 16;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const TARGET_RATIO = 0.97;
/** Seconds of load on each new version before it is measured. */
const WARMUP_S = 0.5;
/**
 * Seconds of load before the first round: a fresh server served 500 to 2,000
 * req/s in its first seconds here (against some 8,000 once warm), so the
 * first round, unwarmed, compared a cold side with a warm one.
 */
const START_WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 5);
/** BENCH_RECORDING_SAME=1: recorded both ways, so the ratio shows what the bench's own noise reads as. */
const SAME = Boolean(process.env.BENCH_RECORDING_SAME);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

interface Round {
  rps: number;
  /** Server CPU per request (every thread of the process), µs. */
  cpuUs: number;
  /** The server's main thread's CPU per request, µs: the bottleneck. */
  mainUs: number;
}

async function measure(url: string, pid: number, seconds = DURATION_S): Promise<Round> {
  const cpuBefore = cpuSecondsOf(pid);
  const mainBefore = mainThreadCpuSecondsOf(pid);
  const result = await autocannon({
    url,
    headers: { [API_KEY_HEADER]: ADMIN_KEY, accept: 'application/json', 'user-agent': 'bench-client/1.0', 'x-request-id': 'bench-123' },
    connections: CONNECTIONS,
    duration: seconds,
  });
  if (result.non2xx || result.errors) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  const perRequest = (seconds: number) => (seconds * 1e6) / result.requests.total;
  return { rps: result.requests.average, cpuUs: perRequest(cpuSecondsOf(pid) - cpuBefore), mainUs: perRequest(mainThreadCpuSecondsOf(pid) - mainBefore) };
}

export async function benchRecordingCost(): Promise<void> {
  section(
    `Recording cost: request + CPU/memory figures recorded vs run_details: false${SAME ? ' (BENCH_RECORDING_SAME: recorded both times)' : ''}, ` +
      `one service, ${ROUNDS} rounds of ${DURATION_S} s each way, ${CONNECTIONS} connections`,
  );
  const server = await startScriptgate();
  const both = ['on', 'off'] as const;
  try {
    const created = await rest(server.url, 'POST', '/api/v2/system/service', {
      name: 'recorded',
      type: 'javascript',
      config: { content: 'return { sum: Number(event.request.parameters.a) + Number(event.request.parameters.b) };' },
    });
    if (created.status !== 201) throw new Error(`creating the service: ${created.status} ${created.text}`);
    const url = `${server.url}/api/v2/recorded/add?a=1&b=2`;
    /** Switches recording and warms the new version up; checks the last call was recorded, or not, as asked. */
    const recording = async (which: 'on' | 'off') => {
      const saved = await rest(server.url, 'PATCH', `/api/v2/system/service/${created.json.id}`, { config: { run_details: which === 'on' || SAME } });
      if (saved.status !== 200) throw new Error(`switching recording: ${saved.status} ${saved.text}`);
      await measure(url, server.pid, WARMUP_S);
      const last = (await rest(server.url, 'GET', '/api/v2/system/execution?limit=1&fields=cpu_ms,request')).json.resource[0] as { cpu_ms: number | null; request: unknown };
      const recorded = last.cpu_ms !== null && last.request !== null;
      if (recorded !== (which === 'on' || SAME)) throw new Error(`recording is not what the bench compares (${which}): ${JSON.stringify(last)}`);
    };

    // This machine's speed drifts by tens of percent over seconds: each round
    // measures both ways back to back (in alternating order), and the figure
    // is the median of the rounds' own ratios.
    await measure(url, server.pid, START_WARMUP_S);
    const rounds: Record<'on' | 'off', Round>[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const measured = {} as Record<'on' | 'off', Round>;
      for (const which of round % 2 === 0 ? both : ([...both].reverse() as ('on' | 'off')[])) {
        await recording(which);
        measured[which] = await measure(url, server.pid);
      }
      rounds.push(measured);
    }
    const list = (which: 'on' | 'off', key: keyof Round, digits: number) => rounds.map((r) => r[which][key].toFixed(digits)).join(', ');
    note(`rounds, recording: ${list('on', 'rps', 0)}; not recording: ${list('off', 'rps', 0)} req/s`);
    note(`server CPU per request, recording: ${list('on', 'cpuUs', 1)}; not recording: ${list('off', 'cpuUs', 1)} µs`);
    note(`main thread CPU per request, recording: ${list('on', 'mainUs', 1)}; not recording: ${list('off', 'mainUs', 1)} µs`);
    const ratio = median(rounds.map((r) => r.on.rps / r.off.rps));
    const cpuRow = (metric: string, key: 'cpuUs' | 'mainUs') =>
      record({
        bench: BENCH,
        metric: `${metric}, not recording / recording (median of the rounds)`,
        value: `${median(rounds.map((r) => r.off[key] / r.on[key])).toFixed(3)} (${median(rounds.map((r) => r.on[key])).toFixed(1)} vs ${median(rounds.map((r) => r.off[key])).toFixed(1)} µs)`,
        target: '',
      });
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
      cpuRow('server CPU per call (all threads)', 'cpuUs'),
      cpuRow('main thread CPU per call', 'mainUs'),
    ]);
  } finally {
    await server.stop();
  }
}
