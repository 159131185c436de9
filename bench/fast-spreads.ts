// What the build's rewrite of spread-first object literals (scripts/fast-spreads.mjs)
// gains: the same sources built with it and without it (SCRIPTGATE_FAST_SPREADS=off),
// two servers side by side, the same doors on each taken in turn in blocks
// (bench/interleaved.ts), so each ratio compares the same moments of the machine.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { interleavedLatencies, middleMean, type InterleavedTarget } from './interleaved.ts';
import { ADMIN_KEY, API_KEY_HEADER, note, printTable, record, rest, ROOT, section, startScriptgate } from './lib.ts';

const BENCH = 'fast-spreads';
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 6);
const SCRIPT = "return { city: event.request.parameters.city ?? event.request.payload.city, tempC: 21.5, sky: 'CLEAR' }";

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** `npm start`'s files built into a folder under the package root (the bundle finds the root by walking up). */
function buildInto(dir: string, fastSpreads: boolean): string {
  const built = spawnSync(process.execPath, ['scripts/build.mjs', '--start-only', dir], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, SCRIPTGATE_FAST_SPREADS: fastSpreads ? 'on' : 'off' },
  });
  if (built.status !== 0) throw new Error(`building into ${dir}: ${built.stderr}`);
  return join(dir, 'scriptgate.mjs');
}

export async function benchFastSpreads(): Promise<void> {
  section(`fast-spreads: the same sources built with and without the rewrite, side by side, ${ROUNDS} rounds of ${DURATION_S} s after ${WARMUP_S} s`);
  const cache = join(ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'bench-fast-spreads-'));
  const servers: Awaited<ReturnType<typeof startScriptgate>>[] = [];
  try {
    const builds = { rewritten: buildInto(join(dir, 'on'), true), 'as written': buildInto(join(dir, 'off'), false) };
    const headers = { [API_KEY_HEADER]: ADMIN_KEY, 'content-type': 'application/json' };
    const query = '{ weather(city: "Oslo") { city tempC sky } }';
    const doors = (port: number, build: string): InterleavedTarget[] => [
      { name: `${build}: REST GET`, port, method: 'GET', path: '/api/v2/weather/weather?city=Oslo', headers },
      { name: `${build}: REST POST`, port, method: 'POST', path: '/api/v2/weather/weather', headers, body: JSON.stringify({ city: 'Oslo' }) },
      { name: `${build}: typed field GET`, port, method: 'GET', path: `/graphql?${new URLSearchParams({ query })}`, headers },
      { name: `${build}: typed field POST`, port, method: 'POST', path: '/graphql', headers, body: JSON.stringify({ query }) },
    ];
    const targets: InterleavedTarget[] = [];
    for (const [build, launcher] of Object.entries(builds)) {
      const server = await startScriptgate({ BENCH_BUNDLE: launcher });
      servers.push(server);
      const created = await rest(server.url, 'POST', '/api/v2/system/service', {
        name: 'weather',
        type: 'javascript',
        config: { content: SCRIPT },
        graphql: 'extend type Query { weather(city: String!): Weather } type Weather { city: String! tempC: Float! sky: String }',
      });
      if (created.status !== 201) throw new Error(`creating the service (${build}): ${created.status} ${created.text}`);
      targets.push(...doors(Number(new URL(server.url).port), build));
    }
    const port = targets[0]!.port!;
    await interleavedLatencies(port, targets, WARMUP_S, 0);
    const rounds: Map<string, number>[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const latencies = await interleavedLatencies(port, targets, DURATION_S, 0);
      rounds.push(new Map([...latencies].map(([name, values]) => [name, middleMean(values)])));
    }
    note(`rounds (middle-half mean latency, ms): ${targets.map((t) => `${t.name} ${rounds.map((r) => r.get(t.name)!.toFixed(3)).join('/')}`).join('; ')}`);
    const of = (name: string) => median(rounds.map((round) => round.get(name)!));
    const ratio = (a: string, b: string) => median(rounds.map((round) => round.get(a)! / round.get(b)!));
    printTable(
      ['REST GET', 'REST POST', 'typed field GET', 'typed field POST'].map((door) =>
        record({
          bench: BENCH,
          metric: `${door} latency, rewritten / as written (same run)`,
          value: `${ratio(`rewritten: ${door}`, `as written: ${door}`).toFixed(3)} (${of(`rewritten: ${door}`).toFixed(3)} vs ${of(`as written: ${door}`).toFixed(3)} ms)`,
          target: '',
        }),
      ),
    );
  } finally {
    for (const server of servers) await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
