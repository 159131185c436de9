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
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ADMIN_KEY, cpuSecondsOf, note, printTable, record, startScriptgate, type ResultRow } from './lib.ts';
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

export async function benchLiveLogs(): Promise<void> {
  const wsSubscribers = envNumber('LIVE_WS', 500);
  const wsSockets = Math.max(1, Math.min(envNumber('LIVE_WS_SOCKETS', wsSubscribers), wsSubscribers));
  const sseSubscribers = envNumber('LIVE_SSE', 500);
  const clientProcesses = envNumber('LIVE_CLIENT_PROCESSES', 2);
  const rate = Math.max(1, envNumber('LIVE_RATE', 10));
  const seconds = Math.max(1, envNumber('LIVE_SECONDS', 10));
  const lines = Math.round(rate * seconds);
  const warmLines = Math.max(10, Math.round(rate));
  const every = 1000 / rate;
  const total = wsSubscribers + sseSubscribers;

  const key = ADMIN_KEY;
  const server = await startScriptgate({ LOG_LEVEL: 'silent', SCRIPT_MAX_TIMEOUT_MS: '120000', METRICS_PUBLIC: 'true' });
  /** Live `executionLogs` subscribers on the server, from its /metrics. */
  let subscriberCount = 0;
  const countSubscribers = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    subscriberCount = Number(/^scriptgate_subscribers\{topic="logs"\} (\d+)/m.exec(text)?.[1] ?? 0);
  };
  const subscribers: ChildProcess[] = [];
  const deadline = Date.now() + HARD_LIMIT_MS;
  try {
    const created = await fetch(`${server.url}/api/v2/system/service`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-dreamfactory-api-key': key },
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

    // The subscribers, split over LIVE_CLIENT_PROCESSES child processes (each with its share of both transports).
    const processes = Math.max(1, Math.min(clientProcesses, total));
    const share = (count: number, index: number) => Math.floor(count / processes) + (index < count % processes ? 1 : 0);
    const received: number[] = Array(processes).fill(0);
    const reports: (Extract<FromClients, { type: 'report' }> | null)[] = Array(processes).fill(null);
    let failure: string | null = null;
    for (let index = 0; index < processes; index++) {
      const ws = share(wsSubscribers, index);
      const options: ClientOptions = {
        url: server.url,
        key,
        service: 'ticker',
        wsSubscribers: ws,
        wsSockets: Math.max(1, Math.min(share(wsSockets, index), ws)),
        sseSubscribers: share(sseSubscribers, index),
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
      fetch(`${server.url}/api/v2/ticker?n=${n}&every=${every}&label=${label}`, { headers: { 'x-dreamfactory-api-key': key } }).then(async (r) => {
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
    const ws = reports.flatMap((report) => report!.ws);
    const sse = reports.flatMap((report) => report!.sse);
    const errors = reports.flatMap((report) => report!.errors);
    const cpuMs = reports.reduce((sum, report) => sum + report!.cpuMs, 0);

    const all = ws.concat(sse);
    const overall = stats(all);
    const rows: ResultRow[] = [];
    const latency = (label: string, values: number[]) => {
      if (values.length === 0) return;
      const { median, p99, max } = stats(values);
      rows.push(record({ bench: BENCH, metric: `${label} median / p99 / max`, value: `${median} / ${p99} / ${max} ms`, target: '' }));
    };
    latency(`WebSocket (${wsSubscribers} subs, ${wsSockets} sockets)`, ws);
    latency(`SSE (${sseSubscribers} subs)`, sse);
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
        metric: 'lines delivered',
        value: `${all.length.toLocaleString('en-US')} / ${(lines * total).toLocaleString('en-US')}`,
        target: 'all',
        pass: all.length === lines * total && errors.length === 0,
      }),
    );
    note(
      `${total} subscribers connected in ${Math.round(connectMs)} ms; ${lines} lines at ${rate}/s = ` +
        `${Math.round((lines * total) / (runMs / 1000)).toLocaleString('en-US')} deliveries/s; subscribers in ${processes} process(es)`,
    );
    printTable(rows);
    note(
      `CPU while measuring: server ${Math.round((serverCpuMs / runMs) * 100)}% of a core, ` +
        `subscribers (other processes) ${Math.round((cpuMs / runMs) * 100)}%; latencies have 1 ms resolution (Date.now())`,
    );
    if (errors.length) note(`subscriber errors: ${errors.join('; ')}`);
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
    await server.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchLiveLogs();
}
