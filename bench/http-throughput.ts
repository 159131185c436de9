// Requests per second of a scripted `javascript` endpoint over REST, beside a
// bare node:http server returning the same JSON. The load generator
// (autocannon) runs here; each server runs in its own child process, so on a
// 2-core machine one core serves and one generates load.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon, { type Result } from 'autocannon';
import { ADMIN_KEY, API_KEY_HEADER, cpuSecondsOf, note, printTable, record, rest, section, spawnServer, startScriptgate, type ResultRow, type ServerProcess } from './lib.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS) || 32;
const WARMUP_S = Number(process.env.BENCH_WARMUP_S) || 2;
const DURATION_S = Number(process.env.BENCH_DURATION_S) || 3;
/** Bare and Scriptgate are measured in alternating rounds; the ratio is the median of the rounds' ratios. */
const ROUNDS = Number(process.env.BENCH_ROUNDS) || 5;
const EXPECTED_BODY = JSON.stringify({ hello: 'world' });
const RATIO_REQUIRED = 0.2;
/** The same endpoint in the subprocess languages: measured once each, for comparison only. */
const SUBPROCESS_HELLOS = [
  { type: 'nodejs', content: "return {hello: 'world'}" },
  { type: 'python3', content: "return {'hello': 'world'}" },
  { type: 'php', content: "<?php return ['hello' => 'world'];" },
];
const RATIO_GOAL = 0.5;
/**
 * The subprocess endpoints are also measured on two fresh servers, one with
 * the sandbox and one with SCRIPT_SANDBOX=off, in this many pairs of adjacent
 * rounds (0 skips it): the sandbox and its per-job checks may cost at most 5%
 * of throughput. The ratio is the median of the pairs' ratios: a pair's two
 * rounds are seconds apart, so other load on the machine touches both alike,
 * and both servers have the same history (the main server has recorded the
 * javascript rounds' executions by then).
 */
const SANDBOX_ROUNDS = Number(process.env.BENCH_SANDBOX_ROUNDS ?? 6);
const SANDBOX_RATIO_GOAL = 0.95;
const BENCH = 'http-throughput';

interface Load {
  rps: number;
  /** Server CPU per request, µs: steadier than req/s when other tenants share the machine. */
  cpuUs: number;
  p50: number;
  p99: number;
  total: number;
  problems: string[];
}

interface Target {
  url: string;
  headers: Record<string, string>;
  pid: number;
}

function optionsFor(target: Target) {
  return { url: target.url, headers: target.headers, connections: CONNECTIONS, pipelining: 1, expectBody: EXPECTED_BODY, timeout: 10 };
}

/**
 * CPU seconds of a process and every process below it (the subprocess
 * workers: bwrap, its init and the runner). Summing /proc over the tree once
 * went negative for a php round: a sandbox killed before it reaped its runner
 * leaves the runner to init, outside the tree, and its time goes with it.
 * Where cgroup v1's cpuacct is writable (as root here), the tree is moved at
 * its first reading into a group of its own, which counts every process the
 * tree starts from then on, wherever it is reparented; elsewhere the /proc sum.
 */
function treeCpuSecondsOf(root: number): number {
  const group = cpuGroupOf(root);
  if (group) return Number(readFileSync(join(group, 'cpuacct.usage'), 'utf8')) / 1e9;
  let total = 0;
  for (const [, fields] of treeOf(root)) total += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  return total / 100;
}

/** The processes at and below `root`, each with its /proc stat fields after "pid (comm) ". */
function treeOf(root: number): Map<number, string[]> {
  const stats = new Map<number, string[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      stats.set(Number(entry), readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' '));
    } catch {
      // gone meanwhile
    }
  }
  const tree = new Map<number, string[]>();
  for (const [pid, fields] of stats) {
    for (let at: number | undefined = pid, depth = 0; at !== undefined && at > 1 && depth < 16; at = Number(stats.get(at)?.[1]), depth++) {
      if (at === root) {
        tree.set(pid, fields);
        break;
      }
    }
  }
  return tree;
}

const CPUACCT = '/sys/fs/cgroup/cpuacct';
const cpuGroups = new Map<number, string | null>();

/** The cpuacct group holding `root`'s tree, made at the first call; null where cgroups cannot be written. */
function cpuGroupOf(root: number): string | null {
  let group = cpuGroups.get(root);
  if (group !== undefined) return group;
  group = join(CPUACCT, `scriptgate-bench-${process.pid}-${root}`);
  try {
    mkdirSync(group);
    for (const pid of treeOf(root).keys()) writeFileSync(join(group, 'cgroup.procs'), String(pid));
    const made = group;
    // Removable once its processes have ended: at the bench's exit, after every server stopped.
    process.on('exit', () => rmdirQuietly(made));
  } catch {
    if (existsSync(group)) rmdirQuietly(group);
    group = null;
  }
  cpuGroups.set(root, group);
  return group;
}

function rmdirQuietly(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // still holds a process: left for the system
  }
}

async function load(target: Target, wholeTree = false): Promise<Load> {
  const cpuOf = wholeTree ? treeCpuSecondsOf : cpuSecondsOf;
  const cpuBefore = cpuOf(target.pid);
  const result: Result = await autocannon({ ...optionsFor(target), duration: DURATION_S });
  const cpuUs = ((cpuOf(target.pid) - cpuBefore) * 1e6) / Math.max(1, result.requests.total);
  const problems: string[] = [];
  if (result.errors) problems.push(`${result.errors} errors (${result.timeouts} timeouts)`);
  if (result.non2xx) problems.push(`${result.non2xx} non-2xx (${JSON.stringify(result.statusCodeStats)})`);
  if (result.mismatches) problems.push(`${result.mismatches} bodies differing from ${EXPECTED_BODY}`);
  return {
    rps: result.requests.average,
    cpuUs,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    problems,
  };
}

async function startScriptgateWithHello(env: Record<string, string> = {}): Promise<ServerProcess> {
  const server: ServerProcess = await startScriptgate(env);
  try {
    const created = await rest(server.url, 'POST', '/api/v2/system/service', {
      resource: [
        { name: 'hello', type: 'javascript', config: { content: "return {hello: 'world'}" } },
        ...SUBPROCESS_HELLOS.map(({ type, content }) => ({ name: `hello-${type}`, type, config: { content } })),
      ],
    });
    if (created.status !== 201) throw new Error(`creating service "hello" failed: ${created.status} ${created.text}`);
    const check = await rest(server.url, 'GET', '/api/v2/hello');
    if (check.status !== 200 || check.text !== EXPECTED_BODY) {
      throw new Error(`GET /api/v2/hello answered ${check.status} ${check.text}, expected 200 ${EXPECTED_BODY}`);
    }
    return server;
  } catch (error) {
    await server.stop();
    throw new Error(`${(error as Error).message}\n--- server output ---\n${server.output()}`);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** The round whose ratio is the median, so its numbers are the ones the ratio came from. */
function medianRound(rounds: { bare: Load; scriptgate: Load }[]) {
  const ratios = rounds.map((r) => r.scriptgate.rps / r.bare.rps);
  return rounds[ratios.indexOf(median(ratios))]!;
}

const fmtRps = (n: number) => `${Math.round(n).toLocaleString('en-US')} req/s`;
const fmtMs = (n: number) => `${Number.isInteger(n) ? n : n.toFixed(1)} ms`;

export async function benchHttpThroughput(): Promise<void> {
  section(
    `HTTP throughput: GET /api/v2/hello, ${CONNECTIONS} connections keep-alive, ${WARMUP_S} s warm-up, ${ROUNDS} alternating rounds of ${DURATION_S} s`,
  );
  const bareServer = await spawnServer('bare node:http', 'bench/servers/bare-server.mjs');
  const scriptgateServer = await startScriptgateWithHello().catch(async (error: unknown) => {
    await bareServer.stop();
    throw error;
  });
  const rounds: { bare: Load; scriptgate: Load }[] = [];
  const subprocess: { type: string; load: Load }[] = [];
  const sandboxCost: { type: string; sandboxed: Load[]; unsandboxed: Load[] }[] = [];
  try {
    const bareTarget = { url: `${bareServer.url}/api/v2/hello`, headers: {}, pid: bareServer.pid };
    const scriptgateTarget = { url: `${scriptgateServer.url}/api/v2/hello`, headers: { [API_KEY_HEADER]: ADMIN_KEY }, pid: scriptgateServer.pid };
    // Warm-up: JIT, warm script contexts, pools.
    await autocannon({ ...optionsFor(bareTarget), duration: WARMUP_S });
    await autocannon({ ...optionsFor(scriptgateTarget), duration: WARMUP_S });
    for (let round = 0; round < ROUNDS; round++) rounds.push({ bare: await load(bareTarget), scriptgate: await load(scriptgateTarget) });
    for (const { type } of SUBPROCESS_HELLOS) {
      const target = { ...scriptgateTarget, url: `${scriptgateServer.url}/api/v2/hello-${type}` };
      if ((await rest(scriptgateServer.url, 'GET', `/api/v2/hello-${type}`)).status !== 200) continue; // interpreter missing
      await autocannon({ ...optionsFor(target), duration: WARMUP_S });
      subprocess.push({ type, load: await load(target, true) });
    }
  } finally {
    await bareServer.stop();
  }
  await scriptgateServer.stop();
  if (SANDBOX_ROUNDS > 0 && subprocess.length > 0) await measureSandboxCost(subprocess.map((s) => s.type), sandboxCost);
  const { bare, scriptgate } = medianRound(rounds);
  const ratio = scriptgate.rps / bare.rps;
  const cpuRatio = median(rounds.map((r) => r.bare.cpuUs / r.scriptgate.cpuUs));
  note(
    `server CPU per request (median round): bare ${median(rounds.map((r) => r.bare.cpuUs)).toFixed(0)} µs, scriptgate ${median(rounds.map((r) => r.scriptgate.cpuUs)).toFixed(0)} µs; CPU-cost ratio bare/scriptgate ${cpuRatio.toFixed(3)}`,
  );
  note(`rounds (scriptgate/bare): ${rounds.map((r) => `${fmtRps(r.scriptgate.rps)} / ${fmtRps(r.bare.rps)} = ${(r.scriptgate.rps / r.bare.rps).toFixed(3)}`).join('; ')}`);
  const clean = (l: Load) => l.problems.length === 0;
  const rows: ResultRow[] = [
    record({ bench: BENCH, metric: 'bare node:http', value: fmtRps(bare.rps), target: 'baseline', pass: clean(bare) ? null : false }),
    record({ bench: BENCH, metric: '  p50 / p99 latency', value: `${fmtMs(bare.p50)} / ${fmtMs(bare.p99)}`, target: '' }),
    record({ bench: BENCH, metric: 'scriptgate javascript', value: fmtRps(scriptgate.rps), target: 'no errors', pass: clean(scriptgate) }),
    record({ bench: BENCH, metric: '  p50 / p99 latency', value: `${fmtMs(scriptgate.p50)} / ${fmtMs(scriptgate.p99)}`, target: '' }),
    record({ bench: BENCH, metric: 'ratio scriptgate/bare', value: ratio.toFixed(3), target: `>= ${RATIO_REQUIRED} required`, pass: ratio >= RATIO_REQUIRED, required: true }),
    record({ bench: BENCH, metric: 'ratio scriptgate/bare', value: ratio.toFixed(3), target: `>= ${RATIO_GOAL} goal`, pass: ratio >= RATIO_GOAL }),
  ];
  for (const { type, load: l } of subprocess) {
    rows.push(
      record({
        bench: BENCH,
        metric: `scriptgate ${type} (one round)`,
        value: fmtRps(l.rps),
        target: `ratio ${(l.rps / bare.rps).toFixed(3)}, p99 ${fmtMs(l.p99)}, ${l.cpuUs.toFixed(0)} µs CPU/req with workers`,
        pass: l.problems.length ? false : null,
      }),
    );
  }
  for (const { type, sandboxed, unsandboxed } of sandboxCost) {
    const pairRatios = sandboxed.map((on, i) => on.rps / unsandboxed[i]!.rps);
    const sandboxRatio = median(pairRatios);
    const on = sandboxed[pairRatios.indexOf(sandboxRatio)]!;
    const off = unsandboxed[pairRatios.indexOf(sandboxRatio)]!;
    const clean = [...sandboxed, ...unsandboxed].every((l) => l.problems.length === 0);
    rows.push(
      record({
        bench: BENCH,
        metric: `${type} sandboxed / unsandboxed`,
        value: `${Math.round(on.rps).toLocaleString('en-US')} / ${fmtRps(off.rps)} = ${sandboxRatio.toFixed(3)}`,
        target: `>= ${SANDBOX_RATIO_GOAL} goal (within 5% of the unsandboxed run)`,
        pass: clean && sandboxRatio >= SANDBOX_RATIO_GOAL,
      }),
    );
  }
  printTable(rows);
  if (sandboxCost.length) {
    const fmtRounds = (loads: Load[]) => loads.map((l) => `${Math.round(l.rps).toLocaleString('en-US')} (${l.cpuUs.toFixed(0)} µs)`).join(', ');
    note(`sandbox cost, req/s (CPU per request, server and workers) per round; the median pair's ratio counts; SCRIPT_SANDBOX=off, same build and history otherwise:`);
    for (const { type, sandboxed, unsandboxed } of sandboxCost) note(`  ${type}: sandboxed ${fmtRounds(sandboxed)}; unsandboxed ${fmtRounds(unsandboxed)}`);
  }
  for (const { type, load: l } of subprocess) if (l.problems.length) note(`${type}: PROBLEMS: ${l.problems.join('; ')}`);
  for (const { type, sandboxed, unsandboxed } of sandboxCost) {
    for (const l of [...sandboxed, ...unsandboxed]) if (l.problems.length) note(`${type} (sandbox comparison): PROBLEMS: ${l.problems.join('; ')}`);
  }
  for (const round of rounds) {
    for (const [name, l] of [['bare', round.bare], ['scriptgate', round.scriptgate]] as const) {
      if (l.problems.length) note(`${name}: PROBLEMS: ${l.problems.join('; ')}`);
    }
  }
}

/**
 * The subprocess endpoints on two fresh servers, sandboxed and with
 * SCRIPT_SANDBOX=off, in adjacent pairs of rounds, so the sandbox's cost is
 * measured in one run under the same conditions.
 */
async function measureSandboxCost(types: string[], into: { type: string; sandboxed: Load[]; unsandboxed: Load[] }[]): Promise<void> {
  const servers = { on: await startScriptgateWithHello(), off: await startScriptgateWithHello({ SCRIPT_SANDBOX: 'off' }) };
  try {
    for (const type of types) {
      const target = (server: ServerProcess) => ({ url: `${server.url}/api/v2/hello-${type}`, headers: { [API_KEY_HEADER]: ADMIN_KEY }, pid: server.pid });
      const targets = { on: target(servers.on), off: target(servers.off) };
      for (const side of ['on', 'off'] as const) await autocannon({ ...optionsFor(targets[side]), duration: WARMUP_S });
      const entry = { type, sandboxed: [] as Load[], unsandboxed: [] as Load[] };
      for (let round = 0; round < SANDBOX_ROUNDS; round++) {
        // Off first in one pair, on first in the next: neither side always follows the other.
        const order = round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
        for (const side of order) (side === 'on' ? entry.sandboxed : entry.unsandboxed).push(await load(targets[side], true));
      }
      into.push(entry);
    }
  } finally {
    await Promise.all([servers.on.stop(), servers.off.stop()]);
  }
}
