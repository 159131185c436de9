/**
 * Live log latency: the time from a script writing a line to a subscriber
 * receiving it, with 1,000 subscribers connected at once (500 over WebSocket
 * with graphql-ws, one socket each by default, and 500 over server-sent
 * events). The server is the compiled one (`npm start`'s, started by
 * bench/lib.ts, so BENCH_CPU_PROF=DIR profiles it) in a child process; the
 * subscribers run in another (bench/live-logs-clients.ts), so each side has
 * a core. The script
 * stamps each line with its own `Date.now()`; subscribers subtract it from
 * theirs (same machine clock, millisecond resolution).
 *
 * Knobs (environment): LIVE_WS (500), LIVE_WS_SOCKETS (= LIVE_WS), LIVE_SSE (500),
 * LIVE_RATE lines per second (10), LIVE_SECONDS measured (10), LIVE_CLIENT_PROCESSES
 * the subscribers are spread over (2). One subscriber process reads 1,000
 * sockets one after another on one thread (about 13 µs a message here), so
 * the last line it reads waits for the 999 before it: that queue is the
 * instrument's, not the server's (real subscribers are 1,000 machines).
 *
 * Then the floor, same clients and schedule: a bare node:http server
 * (bench/servers/bare-fanout.mjs) writing the same frames to as many plain
 * event streams. On loopback each socket write also runs the receiver's TCP
 * path, 10 to 100 µs here depending on the machine's load, so 1,000 of them
 * per line is what no server on this machine can go below; the row "p99
 * above the floor" is Scriptgate's own share.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ADMIN_KEY, cpuSecondsOf, note, printTable, record, spawnServer, startScriptgate, type ResultRow, type ServerProcess } from './lib.ts';
import type { ClientOptions, FromClients, ToClients } from './live-logs-clients.ts';

const BENCH = 'live-logs';
const GOAL_P99_MS = 20;
/** Everything (connect, warm up, measure, drain) must end within this. */
const HARD_LIMIT_MS = 55_000;

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = Number(raw);
  return raw !== undefined && raw !== '' && Number.isFinite(value) && value >= 0 ? value : fallback;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN };
}

interface Plan {
  wsSubscribers: number;
  wsSockets: number;
  sseSubscribers: number;
  clientProcesses: number;
  rate: number;
  seconds: number;
}

interface Measured {
  ws: number[];
  sse: number[];
  errors: string[];
  lines: number;
  connectMs: number;
  runMs: number;
  serverCpuMs: number;
  subscribersCpuMs: number;
  processes: number;
}

/**
 * Connects the plan's subscribers to `server` (which must serve a `ticker`
 * endpoint), warms up, then has the ticker write the measured lines and
 * collects each subscriber's latencies.
 */
async function measure(server: ServerProcess, plan: Plan, deadline: number): Promise<Measured> {
  const total = plan.wsSubscribers + plan.sseSubscribers;
  const lines = Math.round(plan.rate * plan.seconds);
  const warmLines = Math.max(10, Math.round(plan.rate));
  const every = 1000 / plan.rate;
  /** Live `executionLogs` subscribers on the server, from its /metrics. */
  let subscriberCount = 0;
  const countSubscribers = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    subscriberCount = Number(/^scriptgate_subscribers\{topic="logs"\} (\d+)/m.exec(text)?.[1] ?? 0);
  };
  const subscribers: ChildProcess[] = [];
  try {
    // The subscribers, split over child processes (each with its share of both transports).
    const processes = Math.max(1, Math.min(plan.clientProcesses, total));
    const share = (count: number, index: number) => Math.floor(count / processes) + (index < count % processes ? 1 : 0);
    const received: number[] = Array(processes).fill(0);
    const reports: (Extract<FromClients, { type: 'report' }> | null)[] = Array(processes).fill(null);
    let failure: string | null = null;
    for (let index = 0; index < processes; index++) {
      const ws = share(plan.wsSubscribers, index);
      const options: ClientOptions = {
        url: server.url,
        key: ADMIN_KEY,
        service: 'ticker',
        wsSubscribers: ws,
        wsSockets: Math.max(1, Math.min(share(plan.wsSockets, index), ws)),
        sseSubscribers: share(plan.sseSubscribers, index),
      };
      // Same loader flags as this process (tsx), so the child runs TypeScript too.
      const child = fork(fileURLToPath(new URL('./live-logs-clients.ts', import.meta.url)), [], {
        execArgv: process.execArgv,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      subscribers.push(child);
      child.on('message', (message: FromClients) => {
        if (message.type === 'progress') received[index] = message.received;
        else if (message.type === 'report') reports[index] = message;
        else if (message.type === 'failed') failure = message.error;
      });
      child.on('error', (error) => (failure = String(error)));
      child.on('exit', (code) => (failure ??= code ? `subscriber process exited with ${code}` : null));
      child.send({ type: 'start', options } satisfies ToClients);
    }
    const send = (message: ToClients) => subscribers.forEach((child) => child.send(message));
    const receivedAll = () => received.reduce((sum, count) => sum + count, 0);
    const waitFor = async (condition: () => boolean, what: string, until = deadline) => {
      while (!condition()) {
        if (failure) throw new Error(`subscribers failed: ${failure}`);
        if (Date.now() > until) throw new Error(`live-logs bench: timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };

    const connectStart = performance.now();
    const counting = setInterval(() => void countSubscribers().catch(() => undefined), 100);
    try {
      await waitFor(() => subscriberCount >= total, `${total} subscribers (have ${subscriberCount})`);
    } finally {
      clearInterval(counting);
    }
    const connectMs = performance.now() - connectStart;

    const run = (label: string, n: number) =>
      fetch(`${server.url}/api/v2/ticker?n=${n}&every=${every}&label=${label}`, { headers: { 'x-dreamfactory-api-key': ADMIN_KEY } }).then(async (r) => {
        if (r.status !== 200) throw new Error(`ticker failed: ${r.status} ${await r.text()}`);
      });
    // Warm-up: JIT, QuickJS context, first sends; not measured.
    await run('warm', warmLines);
    await waitFor(() => receivedAll() >= warmLines * total, 'the warm-up lines', Math.min(deadline, Date.now() + 10_000)).catch(() => undefined);
    const base = receivedAll();
    send({ type: 'mark' });
    const cpuBefore = cpuSecondsOf(server.pid);
    const started = performance.now();
    await run('tick', lines);
    const runMs = performance.now() - started;
    const serverCpuMs = (cpuSecondsOf(server.pid) - cpuBefore) * 1000;
    await waitFor(() => receivedAll() - base >= lines * total, 'the last lines', Math.min(deadline, Date.now() + 5_000)).catch(() => undefined);
    send({ type: 'report' });
    await waitFor(() => reports.every((report) => report !== null), 'the reports');
    return {
      ws: reports.flatMap((report) => report!.ws),
      sse: reports.flatMap((report) => report!.sse),
      errors: reports.flatMap((report) => report!.errors),
      lines,
      connectMs,
      runMs,
      serverCpuMs,
      subscribersCpuMs: reports.reduce((sum, report) => sum + report!.cpuMs, 0),
      processes,
    };
  } finally {
    await Promise.all(
      subscribers.map(async (child) => {
        if (child.exitCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        if (child.connected) child.send({ type: 'close' } satisfies ToClients);
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
        if (child.exitCode === null) child.kill();
      }),
    );
  }
}

async function createTicker(server: ServerProcess): Promise<void> {
  const created = await fetch(`${server.url}/api/v2/system/service`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-dreamfactory-api-key': ADMIN_KEY },
    body: JSON.stringify({
      resource: [
        {
          name: 'ticker',
          type: 'javascript',
          config: {
            timeout_ms: 60_000,
            // Each line is written at its own slot of a fixed schedule (no drift).
            content: `
              const n = Number(event.request.parameters.n);
              const every = Number(event.request.parameters.every);
              const label = event.request.parameters.label;
              const start = Date.now();
              for (let i = 1; i <= n; i++) {
                const wait = start + i * every - Date.now();
                if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
                console.log(label + ' ' + i + ' ' + Date.now());
              }
              return { lines: n };`,
          },
        },
      ],
    }),
  });
  if (created.status !== 201) throw new Error(`creating the ticker service failed: ${created.status} ${await created.text()}`);
}

export async function benchLiveLogs(): Promise<void> {
  const wsSubscribers = envNumber('LIVE_WS', 500);
  const sseSubscribers = envNumber('LIVE_SSE', 500);
  const plan: Plan = {
    wsSubscribers,
    wsSockets: Math.max(1, Math.min(envNumber('LIVE_WS_SOCKETS', wsSubscribers), wsSubscribers)),
    sseSubscribers,
    clientProcesses: envNumber('LIVE_CLIENT_PROCESSES', 2),
    rate: Math.max(1, envNumber('LIVE_RATE', 10)),
    seconds: Math.max(1, envNumber('LIVE_SECONDS', 10)),
  };
  const total = wsSubscribers + sseSubscribers;
  const deadline = Date.now() + HARD_LIMIT_MS;

  const server = await startScriptgate({ LOG_LEVEL: 'silent', SCRIPT_MAX_TIMEOUT_MS: '120000', METRICS_PUBLIC: 'true' });
  let measured: Measured;
  try {
    await createTicker(server);
    measured = await measure(server, plan, deadline);
  } finally {
    await server.stop();
  }
  // The floor: the same subscribers' count over plain event streams, written by a bare node:http server.
  const bare = await spawnServer('bare fan-out', 'bench/servers/bare-fanout.mjs');
  let floor: Measured;
  try {
    floor = await measure(bare, { ...plan, wsSubscribers: 0, wsSockets: 0, sseSubscribers: total }, Date.now() + HARD_LIMIT_MS);
  } finally {
    await bare.stop();
  }

  const all = measured.ws.concat(measured.sse);
  const overall = stats(all);
  const floorStats = stats(floor.sse);
  const rows: ResultRow[] = [];
  const latency = (label: string, values: number[]) => {
    if (values.length === 0) return;
    const { median, p99, max } = stats(values);
    rows.push(record({ bench: BENCH, metric: `${label} median / p99 / max`, value: `${median} / ${p99} / ${max} ms`, target: '' }));
  };
  latency(`WebSocket (${wsSubscribers} subs, ${plan.wsSockets} sockets)`, measured.ws);
  latency(`SSE (${sseSubscribers} subs)`, measured.sse);
  rows.push(
    record({
      bench: BENCH,
      metric: `line to subscriber p99, ${total} subscribers`,
      value: `${overall.p99} ms (median ${overall.median})`,
      target: `< ${GOAL_P99_MS} ms goal`,
      pass: overall.p99 < GOAL_P99_MS,
    }),
    record({
      bench: BENCH,
      metric: `  floor: bare node:http, ${total} SSE streams`,
      value: `${floorStats.p99} ms (median ${floorStats.median})`,
      target: 'same run, same clients',
    }),
    record({
      bench: BENCH,
      metric: '  p99 above the floor',
      value: `${overall.p99 - floorStats.p99} ms`,
      target: `< ${GOAL_P99_MS} ms goal`,
      pass: overall.p99 - floorStats.p99 < GOAL_P99_MS,
    }),
    record({
      bench: BENCH,
      metric: 'lines delivered',
      value: `${all.length.toLocaleString('en-US')} / ${(measured.lines * total).toLocaleString('en-US')}`,
      target: 'all',
      pass: all.length === measured.lines * total && measured.errors.length === 0,
    }),
  );
  note(
    `${total} subscribers connected in ${Math.round(measured.connectMs)} ms; ${measured.lines} lines at ${plan.rate}/s = ` +
      `${Math.round((measured.lines * total) / (measured.runMs / 1000)).toLocaleString('en-US')} deliveries/s; subscribers in ${measured.processes} process(es)`,
  );
  printTable(rows);
  const cpu = (m: Measured) => `server ${Math.round((m.serverCpuMs / m.runMs) * 100)}% of a core, subscribers ${Math.round((m.subscribersCpuMs / m.runMs) * 100)}%`;
  note(`CPU while measuring: Scriptgate ${cpu(measured)}; floor ${cpu(floor)}; latencies have 1 ms resolution (Date.now())`);
  for (const [name, m] of [['Scriptgate', measured], ['floor', floor]] as const) if (m.errors.length) note(`${name} subscriber errors: ${m.errors.join('; ')}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchLiveLogs();
}
