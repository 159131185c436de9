// Resident memory of the Scriptgate server process holding many scripted
// services: 1,000 `javascript` services created over REST, each called once.
// RSS comes from /proc/PID/status; the heap breakdown from the child's
// process.memoryUsage() over IPC.
import {
  mb,
  memoryUsageOf,
  note,
  printTable,
  record,
  rest,
  rssOf,
  section,
  sleep,
  startScriptgate,
  type ResultRow,
  type ServerProcess,
} from './lib.ts';

const SERVICES = Number(process.env.BENCH_MEMORY_SERVICES) || 1000;
const BATCH = 100;
const CALL_CONCURRENCY = 8;
const RSS_GOAL_BYTES = 200 * 1024 * 1024;
const BENCH = 'memory';

interface Snapshot {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** C++ objects tied to JS, plus ArrayBuffers (WebAssembly memories among them). */
  external: number;
  arrayBuffers: number;
}

async function snapshot(server: ServerProcess, gc = false): Promise<Snapshot> {
  const usage = await memoryUsageOf(server, gc);
  // /proc is the number the goal is about; memoryUsage().rss is the fallback.
  let rss = usage.rss;
  try {
    rss = rssOf(server.pid).rss;
  } catch {
    /* keep the child's own figure */
  }
  return { rss, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external, arrayBuffers: usage.arrayBuffers };
}

const breakdown = (s: Snapshot) =>
  `heap ${mb(s.heapUsed)} used / ${mb(s.heapTotal)}, external ${mb(s.external)} (arrayBuffers ${mb(s.arrayBuffers)})`;

export async function benchMemory(): Promise<void> {
  section(`Memory: ${SERVICES.toLocaleString('en-US')} javascript services, each called once`);
  const server = await startScriptgate({}, { ipc: true, nodeArgs: ['--expose-gc'] });
  try {
    const atStart = await snapshot(server);

    let started = performance.now();
    for (let from = 0; from < SERVICES; from += BATCH) {
      const resource = [];
      for (let n = from; n < Math.min(from + BATCH, SERVICES); n++) {
        resource.push({ name: `svc-${n}`, type: 'javascript', config: { content: `return {n: ${n}}` } });
      }
      const created = await rest(server.url, 'POST', '/api/v2/system/service', { resource });
      if (created.status !== 201 || created.json?.resource?.length !== resource.length) {
        throw new Error(`creating services ${from}..${from + resource.length - 1} failed: ${created.status} ${created.text.slice(0, 500)}`);
      }
    }
    const createMs = performance.now() - started;
    const afterCreate = await snapshot(server);

    started = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < SERVICES) {
        const n = next++;
        const called = await rest(server.url, 'GET', `/api/v2/svc-${n}`);
        if (called.status !== 200 || called.json?.n !== n) {
          throw new Error(`GET /api/v2/svc-${n} answered ${called.status} ${called.text.slice(0, 500)}, expected 200 {"n":${n}}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CALL_CONCURRENCY }, worker));
    const callMs = performance.now() - started;
    const afterCalls = await snapshot(server);
    await sleep(1000); // the execution recorder flushes; short-lived garbage may go
    const afterGc = await snapshot(server, true);
    const peak = rssOf(server.pid).peak;

    const goal = `< ${RSS_GOAL_BYTES / 1024 / 1024} MB goal`;
    const rows: ResultRow[] = [
      record({ bench: BENCH, metric: 'RSS right after start', value: mb(atStart.rss), target: '' }),
      record({ bench: BENCH, metric: `RSS after creating ${SERVICES}`, value: mb(afterCreate.rss), target: '' }),
      record({ bench: BENCH, metric: 'RSS after calling each once', value: mb(afterCalls.rss), target: goal, pass: afterCalls.rss < RSS_GOAL_BYTES }),
      record({ bench: BENCH, metric: '  same, 1 s later + full GC', value: mb(afterGc.rss), target: '' }),
      ...(peak !== null ? [record({ bench: BENCH, metric: 'peak RSS (VmHWM)', value: mb(peak), target: '' })] : []),
      record({ bench: BENCH, metric: 'growth: start -> called', value: mb(afterCalls.rss - atStart.rss), target: '' }),
    ];
    printTable(rows);
    note(`at start:       ${breakdown(atStart)}`);
    note(`after creating: ${breakdown(afterCreate)}`);
    note(`after calling:  ${breakdown(afterCalls)}`);
    note(`after full GC:  ${breakdown(afterGc)}`);
    note(
      `created ${SERVICES} services in ${(createMs / 1000).toFixed(2)} s (batches of ${BATCH}); ` +
        `called each once in ${(callMs / 1000).toFixed(2)} s (${CALL_CONCURRENCY} at a time, ${Math.round(SERVICES / (callMs / 1000))} calls/s)`,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- server output ---\n${server.output()}`);
  } finally {
    await server.stop();
  }
}
