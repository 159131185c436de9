// Start-up (issue #12): from spawning `npm start` (and `node dist/scriptgate.mjs`,
// the server process alone) until /healthz answers, with 10 and with 10,000
// services in the database, the first call of a javascript service after it, and
// the slowest request in the 2.5 s after it (the work started once listening).
// Then where the server process's time goes: node's own start, loading the
// code (V8's code cache, src/code-cache.ts), starting until it listens.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices } from './many-services.ts';
import { ADMIN_KEY, API_KEY_HEADER, note, printTable, record, ROOT, section, spawnServer, startFlags } from './lib.ts';

const ROUNDS = Number(process.env.BENCH_STARTUP_ROUNDS) || 5;
/** How long after ready requests are timed for the stalls of the work started once listening (engines take about 2 s here). */
const AFTER_READY_MS = 2500;
const BENCH = 'startup';
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path, headers: { [API_KEY_HEADER]: ADMIN_KEY } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', () => resolve(0));
  });
}

/** A data folder holding `count` javascript services, made by a server that is then stopped. */
async function dataDirWith(count: number): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'scriptgate-startup-'));
  const server = await spawnServer('scriptgate', 'bench/servers/scriptgate-server.mjs', { env: { LOG_LEVEL: 'warn', DATA_DIR: dataDir, ADMIN_KEY } });
  try {
    await createServices(server.url, count);
  } finally {
    await server.stop();
  }
  return dataDir;
}

/** Starts `command` on `dataDir`, waits until /healthz answers 200, runs `ready` with the port and the ms that took, then stops it. */
async function whenStarted<T>(command: 'npm' | 'node', dataDir: string, ready: (port: number, readyMs: number) => Promise<T>): Promise<T> {
  const port = await freePort();
  const args = command === 'npm' ? ['start', '--silent'] : [...startFlags(), 'dist/scriptgate.mjs'];
  const started = performance.now();
  const child = spawn(command === 'npm' ? 'npm' : process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, ADMIN_KEY, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    while ((await get(port, '/healthz')) !== 200) {
      if (child.exitCode !== null) throw new Error(`${command} exited with ${child.exitCode} before answering /healthz`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return await ready(port, performance.now() - started);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** Milliseconds until /healthz answers 200, then the first call's. */
function startOnce(command: 'npm' | 'node', dataDir: string): Promise<{ readyMs: number; firstCallMs: number }> {
  return whenStarted(command, dataDir, async (port, readyMs) => {
    const callStarted = performance.now();
    const status = await get(port, '/api/v2/svc5/x');
    if (status !== 200) throw new Error(`the first call answered ${status}`);
    return { readyMs, firstCallMs: performance.now() - callStarted };
  });
}

/**
 * The slowest of back-to-back /healthz requests in the `windowMs` after the
 * server first answered: what start-up work done once listening (engines,
 * warm workers, the first QuickJS instance) costs the requests meanwhile.
 */
function worstAfterReady(dataDir: string, windowMs: number): Promise<number> {
  return whenStarted('node', dataDir, async (port) => {
    let worst = 0;
    for (const until = performance.now() + windowMs; performance.now() < until; ) {
      const started = performance.now();
      await get(port, '/healthz');
      worst = Math.max(worst, performance.now() - started);
    }
    return worst;
  });
}

/** node's own start and exit, nothing loaded: the floor under every start. */
async function bareNodeMs(): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [...startFlags(), '-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return performance.now() - started;
}

/** One start's own account (src/main.ts's ready line): code loaded at `loadedMs`, listening at `readyMs`, from the process's start. */
async function startupAccount(dataDir: string): Promise<{ loadedMs: number; readyMs: number }> {
  const child = spawn(process.execPath, [...startFlags(), 'dist/scriptgate.mjs'], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, ADMIN_KEY, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    return await new Promise((resolve, reject) => {
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const line = output.split('\n').find((l) => l.includes('"Scriptgate ready"'));
        if (line) resolve((JSON.parse(line) as { startup: { loadedMs: number; readyMs: number } }).startup);
      });
      void exited.then(() => reject(new Error(`the server exited before it was ready: ${output.slice(-500)}`)));
    });
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

export async function benchStartup(): Promise<void> {
  section('Start-up: spawn until /healthz answers, then a first call');
  const firstStarts: string[] = [];
  const rows = [];
  const breakdown = [];
  for (const count of [10, 10_000]) {
    const dataDir = await dataDirWith(count);
    try {
      for (const command of ['node', 'npm'] as const) {
        const runs = [];
        // The first start in a data folder has no code cache yet (each command's V8 flags have their own).
        for (let i = 0; i < ROUNDS; i++) runs.push(await startOnce(command, dataDir));
        firstStarts.push(`${command} ${count}: ${runs[0]!.readyMs.toFixed(0)} ms`);
        const ready = median(runs.map((run) => run.readyMs));
        const first = median(runs.map((run) => run.firstCallMs));
        const limit = command === 'npm' ? 1000 : 300;
        const label = command === 'npm' ? '`npm start`' : 'server process (node dist/scriptgate.mjs)';
        rows.push(record({ bench: BENCH, metric: `${label} ready, ${count} services`, value: `${ready.toFixed(0)} ms (first call ${first.toFixed(1)} ms)`, target: `< ${limit} ms`, pass: ready < limit }));
      }
      const accounts = [];
      const bare = [];
      for (let i = 0; i < ROUNDS; i++) {
        accounts.push(await startupAccount(dataDir));
        bare.push(await bareNodeMs());
      }
      const worst = [];
      for (let i = 0; i < ROUNDS; i++) worst.push(await worstAfterReady(dataDir, AFTER_READY_MS));
      rows.push(
        record({
          bench: BENCH,
          metric: `slowest /healthz in the ${AFTER_READY_MS / 1000} s after ready, ${count} services`,
          value: `${median(worst).toFixed(1)} ms (worst start ${Math.max(...worst).toFixed(1)} ms)`,
          target: '',
        }),
      );
      const loaded = median(accounts.map((a) => a.loadedMs));
      const listening = median(accounts.map((a) => a.readyMs - a.loadedMs));
      breakdown.push(
        record({
          bench: BENCH,
          metric: `server process, ${count} services: node alone / code loaded / then listening`,
          value: `${median(bare).toFixed(0)} / ${loaded.toFixed(0)} / +${listening.toFixed(0)} ms`,
          target: '',
        }),
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  note(`median of ${ROUNDS} starts each: spawn until /healthz answers 200; then one call of a javascript service (its engine may still be starting)`);
  note(`first start in a data folder, before its code cache existed: ${firstStarts.join(', ')}`);
  printTable(rows);
  section('Start-up breakdown: where the server process\'s time goes');
  note(`median of ${ROUNDS}: \`node -e 0\` spawn to exit; from the process's start (its own clock, src/main.ts's ready line) until the code is loaded, then until it listens`);
  printTable(breakdown);
}
