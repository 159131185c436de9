// What the build's rewrite of spread-first object literals (scripts/fast-spreads.mjs)
// gains: the same sources built with it and without it (SCRIPTGATE_FAST_SPREADS=off),
// two servers side by side, the same doors on each taken in turn in blocks
// (bench/interleaved.ts), so each ratio compares the same moments of the machine.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { interleavedRounds, type InterleavedTarget } from './interleaved.ts';
import { note, printTable, record, ROOT, section, startScriptgate } from './lib.ts';
import { createWeatherService, weatherDoors } from './weather-service.ts';

const BENCH = 'fast-spreads';
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 6);

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
    const targets: InterleavedTarget[] = [];
    for (const [build, launcher] of Object.entries(builds)) {
      const server = await startScriptgate({ BENCH_BUNDLE: launcher });
      servers.push(server);
      await createWeatherService(server.url);
      const port = Number(new URL(server.url).port);
      targets.push(...weatherDoors().map((door) => ({ ...door, name: `${build}: ${door.name}`, port })));
    }
    const rounds = await interleavedRounds(targets[0]!.port!, targets, { warmupSeconds: WARMUP_S, seconds: DURATION_S, rounds: ROUNDS });
    note(`rounds (middle-half mean latency, ms): ${targets.map((t) => `${t.name} ${rounds.map((r) => r.get(t.name)!.toFixed(3)).join('/')}`).join('; ')}`);
    const of = (name: string) => median(rounds.map((round) => round.get(name)!));
    const ratio = (a: string, b: string) => median(rounds.map((round) => round.get(a)! / round.get(b)!));
    printTable(
      weatherDoors().map(({ name: door }) =>
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
