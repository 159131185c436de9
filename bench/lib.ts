// Shared bench helpers: servers in child processes, RSS, and the report.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ADMIN_KEY = 'bench-admin-key';
export const API_KEY_HEADER = 'X-DreamFactory-API-Key';

// ---------------------------------------------------------------- servers

export interface ServerProcess {
  name: string;
  port: number;
  /** The process serving requests (reported by the child itself). */
  pid: number;
  url: string;
  child: ChildProcess;
  /** The last lines the child wrote, for error messages. */
  output(): string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
function killChildren() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killChildren();
    process.exit(130);
  });
}

/**
 * Starts `node [nodeArgs] file` and waits for its `{port, pid}` line. Output
 * is always drained (a full pipe would stall the server) and its tail kept.
 */
export async function spawnServer(
  name: string,
  file: string,
  options: { env?: Record<string, string>; nodeArgs?: string[]; onStop?: () => void; startTimeoutMs?: number; ipc?: boolean } = {},
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(ROOT, file)], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const tail: string[] = [];
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
  };
  const output = () => tail.join('\n');
  let exited: Promise<void> = new Promise((resolve) => child.once('exit', () => resolve()));
  exited = exited.finally(() => children.delete(child));

  const ready = new Promise<{ port: number; pid: number }>((resolve, reject) => {
    let buffered = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        keep(line);
        if (line.startsWith('{"port":')) {
          try {
            resolve(JSON.parse(line));
          } catch {
            /* not ours */
          }
        }
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => chunk.split('\n').filter(Boolean).forEach(keep));
    child.once('exit', (code, signal) => reject(new Error(`${name} exited before listening (code ${code}, signal ${signal}):\n${output()}`)));
    const timer = setTimeout(() => reject(new Error(`${name} did not start within ${options.startTimeoutMs ?? 30_000} ms:\n${output()}`)), options.startTimeoutMs ?? 30_000);
    timer.unref();
  });
  let info;
  try {
    info = await ready;
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  return {
    name,
    port: info.port,
    pid: info.pid,
    url: `http://127.0.0.1:${info.port}`,
    child,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      options.onStop?.();
    },
  };
}

/** Starts bench/servers/scriptgate-server.mjs (the server as `npm start` runs it) with a temp DATA_DIR, LOG_LEVEL=warn and ADMIN_KEY. */
export async function startScriptgate(
  env: Record<string, string> = {},
  options: { ipc?: boolean; nodeArgs?: string[] } = {},
): Promise<ServerProcess & { dataDir: string }> {
  const cpuProfDir = process.env.BENCH_CPU_PROF;
  // The flags `npm start` runs the server with (package.json config.node_flags), so the bench measures that server.
  const nodeArgs = [...startFlags(), ...(options.nodeArgs ?? [])];
  // BENCH_CPU_PROF=DIR: write a V8 CPU profile of each Scriptgate server to DIR.
  if (cpuProfDir) nodeArgs.unshift('--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`);
  const codeCache = await codeCacheFor(nodeArgs, env.BENCH_BUNDLE);
  const dataDir = mkdtempSync(join(tmpdir(), 'scriptgate-bench-'));
  cpSync(codeCache, join(dataDir, 'code-cache'), { recursive: true });
  try {
    const server = await spawnServer('scriptgate', 'bench/servers/scriptgate-server.mjs', {
      env: { LOG_LEVEL: 'warn', LOG_FORMAT: 'json', DATA_DIR: dataDir, ADMIN_KEY, ...env },
      nodeArgs,
      ipc: options.ipc,
      onStop: () => rmSync(dataDir, { recursive: true, force: true }),
    });
    return { ...server, dataDir };
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * A code cache made by one start of this build with these flags
 * (src/code-cache.ts), copied into each server's fresh DATA_DIR: servers
 * start as `npm start` does on every start after the first, not as a first
 * start (which compiles from source and then writes the cache, holding some
 * 13 MB more for the rest of its life). The cache is named by the flags, so
 * the start that makes it has the same ones (with BENCH_CPU_PROF, it writes
 * a profile too).
 */
const codeCaches = new Map<string, Promise<string>>();
function codeCacheFor(nodeArgs: string[], bundle?: string): Promise<string> {
  const key = `${nodeArgs.join(' ')} ${bundle ?? 'dist'}`;
  let made = codeCaches.get(key);
  if (!made) {
    made = (async () => {
      const seed = mkdtempSync(join(tmpdir(), 'scriptgate-bench-code-cache-'));
      process.on('exit', () => rmSync(seed, { recursive: true, force: true }));
      const cacheDir = join(seed, 'code-cache');
      const server = await spawnServer('scriptgate (making its code cache)', 'bench/servers/scriptgate-server.mjs', {
        env: { LOG_LEVEL: 'warn', DATA_DIR: seed, ADMIN_KEY, ...(bundle ? { BENCH_BUNDLE: bundle } : {}) },
        nodeArgs,
      });
      try {
        // Written just after the server is ready (src/main.ts), under a temporary name first.
        for (let waited = 0; !(existsSync(cacheDir) && readdirSync(cacheDir).some((file) => file.endsWith('.bin'))); waited += 20) {
          if (waited > 30_000) throw new Error('the server wrote no code cache within 30 s');
          await sleep(20);
        }
      } finally {
        await server.stop();
      }
      return cacheDir;
    })();
    codeCaches.set(key, made);
  }
  return made;
}

export function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { config?: { node_flags?: string } };
  return (pkg.config?.node_flags ?? '').split(/\s+/).filter(Boolean);
}

/** The child's process.memoryUsage() over IPC (started with `ipc: true`); `gc` first collects garbage if run with --expose-gc. */
export function memoryUsageOf(server: ServerProcess, gc = false, timeoutMs = 10_000): Promise<NodeJS.MemoryUsage & { gc: boolean }> {
  const { child } = server;
  if (!child.send) return Promise.reject(new Error(`${server.name} has no IPC channel`));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`${server.name} did not report its memory within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: unknown) => {
      const m = message as { memory?: NodeJS.MemoryUsage; gc?: boolean };
      if (!m || typeof m !== 'object' || !m.memory) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve({ ...m.memory, gc: !!m.gc });
    };
    child.on('message', onMessage);
    child.send(gc ? 'gc-memory' : 'memory');
  });
}

/** REST call with the admin key; `body` goes as JSON. */
export async function rest(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { [API_KEY_HEADER]: ADMIN_KEY, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000), // keeps the bench bounded if the server hangs
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

// ---------------------------------------------------------------- memory

export interface Rss {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size so far, bytes (null where unknown). */
  peak: number | null;
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // After "pid (comm) ", utime and stime are fields 12 and 13 (0-based), in clock ticks (100 a second here).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds a process's main thread (the event loop) has used so far, to the nanosecond (Linux schedstat). */
export function mainThreadCpuSecondsOf(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ', 1)[0]) / 1e9;
}

/** A process's RSS from /proc/PID/status (Linux), else from `ps`. */
export function rssOf(pid: number): Rss {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => {
      const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
      return match ? Number(match[1]) * 1024 : null;
    };
    const rss = kb('VmRSS');
    if (rss !== null) return { rss, peak: kb('VmHWM') };
  } catch {
    /* not Linux: fall through */
  }
  const kb = Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim());
  return { rss: kb * 1024, peak: null };
}

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

// ---------------------------------------------------------------- report

export type Status = 'PASS' | 'MISS' | 'INFO';

export interface ResultRow {
  bench: string;
  metric: string;
  value: string;
  target: string;
  status: Status;
  /** A required target (not just a goal): a MISS fails `npm run bench`. */
  required: boolean;
}

const results: ResultRow[] = [];

export function allResults(): readonly ResultRow[] {
  return results;
}

/** Records one line of the report; prints nothing (see `printTable`). */
export function record(row: Omit<ResultRow, 'status' | 'required'> & { pass?: boolean | null; required?: boolean }): ResultRow {
  const full: ResultRow = {
    bench: row.bench,
    metric: row.metric,
    value: row.value,
    target: row.target,
    status: row.pass === undefined || row.pass === null ? 'INFO' : row.pass ? 'PASS' : 'MISS',
    required: row.required ?? false,
  };
  results.push(full);
  return full;
}

export function printTable(rows: readonly ResultRow[], withBench = false): void {
  const header = [...(withBench ? ['bench'] : []), 'metric', 'value', 'target', 'status'];
  const lines = rows.map((r) => [...(withBench ? [r.bench] : []), r.metric, r.value, r.target || '-', r.status === 'INFO' ? '' : r.status]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]) =>
    '  ' + cells.map((c, i) => (i === cells.length - 1 ? c : i === (withBench ? 2 : 1) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  console.log(format(header));
  console.log('  ' + widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(format(line));
}

export function section(title: string): void {
  console.log(`\n== ${title} ${'='.repeat(Math.max(3, 70 - title.length))}`);
}

export function note(message: string): void {
  console.log(`  ${message}`);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
