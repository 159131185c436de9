// Graceful shutdown and crash recovery, against real server processes: `npm
// start` itself (what `docker stop` signals) and `node src/main.ts` via tsx.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { eventually } from './helpers/eventually.ts';
import { typeRunsHere } from './helpers/interpreters.ts';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.ts';
import { ADMIN_KEY, startTestServer, TEST_SECRETS_KEY } from './helpers/server.ts';
import { readSse, subscribeSse } from './helpers/sse.ts';

const ROOT = resolve(import.meta.dirname, '..');
const HEADERS = { 'x-dreamfactory-api-key': ADMIN_KEY, 'content-type': 'application/json' };
const UPDATES = 'subscription { executionUpdated { id service status } }';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

interface Spawned {
  child: ChildProcess;
  url: string;
  port: number;
  /** The node process serving (under `npm start`, npm's child). */
  serverPid: number;
  output(): string;
  exited: Promise<Exit>;
}

const spawned: Spawned[] = [];
const dataDirs: string[] = [];

afterEach(async () => {
  for (const server of spawned.splice(0)) {
    try {
      process.kill(server.serverPid, 'SIGKILL');
    } catch {
      // already gone
    }
    server.child.kill('SIGKILL');
    await server.exited;
  }
  for (const dir of dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function newDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'scriptgate-shutdown-'));
  dataDirs.push(dir);
  return dir;
}

/** `npm start` (the compiled server) or the sources through tsx; resolves once it serves. */
async function spawnServer(how: 'npm' | 'sources', env: Record<string, string>, options: { detached?: boolean } = {}): Promise<Spawned> {
  const [command, args] = how === 'npm' ? ['npm', ['start']] : [process.execPath, ['--import', 'tsx', 'src/main.ts']];
  const child = spawn(command, args as string[], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ADMIN_KEY, LOG_LEVEL: 'info', LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let output = '';
  const exited = new Promise<Exit>((done) => child.on('exit', (code, signal) => done({ code, signal, at: Date.now() })));
  const ready = await new Promise<{ url: string; pid: number }>((done, fail) => {
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.includes('"Scriptgate ready"'));
      if (line) {
        const parsed = JSON.parse(line) as { url: string; pid: number };
        done({ url: parsed.url, pid: parsed.pid });
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    void exited.then((exit) => fail(new Error(`server exited (${exit.code ?? exit.signal}) before it served: ${output}`)));
  });
  const server = { child, url: ready.url, port: Number(new URL(ready.url).port), serverPid: ready.pid, output: () => output, exited };
  spawned.push(server);
  return server;
}

async function createService(url: string, name: string, type: string, content: string, config: Record<string, unknown> = {}): Promise<void> {
  const response = await fetch(`${url}/api/v2/system/service`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ resource: [{ name, type, config: { ...config, content } }] }) });
  if (response.status !== 201) throw new Error(`creating ${name}: ${response.status} ${await response.text()}`);
}

async function typeAvailable(url: string, type: string): Promise<boolean> {
  const types = (await (await fetch(`${url}/api/v2/system/script_type`, { headers: HEADERS })).json()) as { resource: { name: string; available: boolean }[] };
  return types.resource.some((t) => t.name === type && t.available);
}

function call(url: string, service: string): Promise<{ status: number; body: string; headers: Headers }> {
  return fetch(`${url}/api/v2/${service}`, { headers: HEADERS }).then(async (response) => ({ status: response.status, headers: response.headers, body: await response.text() }));
}

/** Resolves with the connection's error code: ECONNREFUSED once nothing listens. */
function connectOutcome(port: number): Promise<string> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? 'error'));
  });
}

/** A raw HTTP/1.1 connection kept alive between requests; `next` reads one whole response. */
async function keptAliveConnection(port: number): Promise<{ socket: Socket; send(request: string): Promise<string>; ended: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((done) => socket.once('connect', done));
  let buffer = '';
  let waiter: (() => void) | null = null;
  socket.on('data', (chunk) => {
    buffer += chunk.toString();
    waiter?.();
  });
  const ended = new Promise<void>((done) => socket.once('close', () => done()));
  const complete = () => {
    const head = buffer.indexOf('\r\n\r\n');
    if (head < 0) return null;
    const length = Number(/content-length: (\d+)/i.exec(buffer.slice(0, head))?.[1] ?? 0);
    if (buffer.length < head + 4 + length) return null;
    const response = buffer.slice(0, head + 4 + length);
    buffer = buffer.slice(head + 4 + length);
    return response;
  };
  return {
    socket,
    ended,
    send(request) {
      socket.write(request);
      return new Promise((done, fail) => {
        const check = () => {
          const response = complete();
          if (response !== null) {
            waiter = null;
            done(response);
          }
        };
        waiter = check;
        socket.once('close', () => fail(new Error(`connection closed; read: ${buffer}`)));
        check();
      });
    },
  };
}

/** graphql-ws by hand, to see every message and the close frame. */
async function rawWebSocketSubscription(url: string, query: string) {
  const socket = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
  const messages: { type: string; id?: string; payload?: any }[] = [];
  const closed = new Promise<{ code: number; reason: string }>((done) => socket.on('close', (code, reason) => done({ code, reason: reason.toString() })));
  socket.on('message', (data) => messages.push(JSON.parse(data.toString())));
  await new Promise((done) => socket.once('open', done));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { 'X-DreamFactory-API-Key': ADMIN_KEY } }));
  await eventually(() => messages.some((m) => m.type === 'connection_ack'), 'connection_ack');
  socket.send(JSON.stringify({ type: 'subscribe', id: 'updates', payload: { query } }));
  return { messages, closed, statuses: (service: string) => messages.filter((m) => m.type === 'next' && m.payload.data?.executionUpdated.service === service).map((m) => m.payload.data.executionUpdated.status) };
}

/** An SSE subscription read event by event, to see its `event: complete` (or the stream ending without one). */
async function openSse(url: string) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { ...HEADERS, accept: 'text/event-stream' },
    body: JSON.stringify({ query: UPDATES }),
  });
  const events: { service: string; status: string }[] = [];
  let completed = false;
  const finished = (async () => {
    for await (const event of readSse(response.body!)) {
      if (event.event === 'complete') completed = true;
      else if (event.event === 'next') events.push(JSON.parse(event.data).data.executionUpdated);
    }
  })();
  return { events, finished, completed: () => completed, statuses: (service: string) => events.filter((e) => e.service === service).map((e) => e.status) };
}

function storedExecutions(dataDir: string, service: string): { status: string; error: string | null }[] {
  const db = new Database(join(dataDir, 'scriptgate.db'), { readonly: true });
  try {
    return db.prepare('SELECT status, error FROM Execution WHERE service = ? ORDER BY id').all(service) as { status: string; error: string | null }[];
  } finally {
    db.close();
  }
}

/** The newest time a `sleepyjs` line logged, as stored. */
function lastLoggedTime(dataDir: string): number {
  const db = new Database(join(dataDir, 'scriptgate.db'), { readonly: true });
  try {
    const row = db.prepare("SELECT MAX(CAST(message AS INTEGER)) AS last FROM LogLine WHERE stream = 'CONSOLE'").get() as { last: number | null };
    return row.last ?? 0;
  } finally {
    db.close();
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * `npm start` runs dist/: its files are built from the sources first (a
 * bundle, about a second), so they are never stale. Only those files: the
 * full `npm run build` empties dist/ first, and other suites read dist/console
 * meanwhile.
 */
function ensureBuilt(): void {
  const built = spawnSync(process.execPath, ['scripts/build.mjs', '--start-only', 'dist'], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) throw new Error(`building dist/ for npm start failed (${built.status})`);
}

const SLOW_JS = "await new Promise((r) => setTimeout(r, 1500)); return { done: 'javascript' };";
const SLOW_PYTHON = "import time\ntime.sleep(1.5)\nreturn {'done': 'python3'}";

describe('SIGTERM to `npm start` (what docker stop does)', () => {
  beforeAll(() => ensureBuilt(), 180_000);

  it('drains: calls in flight finish 200, subscriptions get their last message, new connections are refused, exit 0', async () => {
    const dataDir = newDataDir();
    const server = await spawnServer('npm', { DATA_DIR: dataDir, SHUTDOWN_GRACE_MS: '20000' });
    const { url } = server;
    const python = typeRunsHere('python3', await typeAvailable(url, 'python3'));
    await createService(url, 'slowjs', 'javascript', SLOW_JS);
    if (python) await createService(url, 'slowpy', 'python3', SLOW_PYTHON);
    await createService(url, 'ping', 'javascript', 'return 1');

    const ws = await rawWebSocketSubscription(url, UPDATES);
    const sse = await openSse(url);
    // Both subscriptions are registered once they see a run.
    await eventually(async () => {
      await call(url, 'ping');
      return ws.statuses('ping').length > 0 && sse.statuses('ping').length > 0;
    }, 'both subscriptions to see a run');
    const kept = await keptAliveConnection(server.port);
    expect(await kept.send('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1.1 200/);

    const calls = [call(url, 'slowjs'), ...(python ? [call(url, 'slowpy')] : [])];
    await eventually(() => ws.statuses('slowjs').includes('RUNNING') && (!python || ws.statuses('slowpy').includes('RUNNING')), 'the slow calls to run');
    const signalledAt = Date.now();
    server.child.kill('SIGTERM');

    await eventually(async () => (await connectOutcome(server.port)) === 'ECONNREFUSED', 'new connections to be refused');
    // A request on a connection kept alive from before: refused, told when to retry, and the connection ends.
    const refused = await kept.send('POST /api/v2/slowjs HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}');
    expect(refused).toMatch(/^HTTP\/1.1 503/);
    expect(refused).toMatch(/\r\nconnection: close\r\n/i);
    expect(refused).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(JSON.parse(refused.slice(refused.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 503, status_code: 503, message: expect.stringMatching(/shutting down/) } });
    await kept.ended;

    const answers = await Promise.all(calls);
    expect(answers.map((a) => [a.status, JSON.parse(a.body)])).toEqual([[200, { done: 'javascript' }], ...(python ? [[200, { done: 'python3' }]] : [])]);

    const exit = await server.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(processAlive(server.serverPid)).toBe(false);
    expect(server.output()).not.toMatch(/second signal/);

    // graphql-ws: the run's end, then `complete` for the subscription, then close 1001.
    expect(ws.statuses('slowjs')).toEqual(['RUNNING', 'SUCCEEDED']);
    expect(ws.messages.at(-1)).toEqual({ type: 'complete', id: 'updates' });
    expect(await ws.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    // SSE: the run's end, then `event: complete`.
    await sse.finished;
    expect(sse.completed()).toBe(true);
    expect(sse.statuses('slowjs')).toEqual(['RUNNING', 'SUCCEEDED']);

    expect(storedExecutions(dataDir, 'slowjs')).toEqual([{ status: 'succeeded', error: null }]);
    if (python) expect(storedExecutions(dataDir, 'slowpy')).toEqual([{ status: 'succeeded', error: null }]);
    console.log(`npm start: SIGTERM to exit 0 in ${exit.at - signalledAt} ms with 1.5 s calls in flight`);
  }, 60_000);

  it('Ctrl-C (SIGINT to the whole process group: npm forwards it, node gets it twice) is one signal: it drains and exits 0', async () => {
    const dataDir = newDataDir();
    const server = await spawnServer('npm', { DATA_DIR: dataDir }, { detached: true });
    await createService(server.url, 'slowjs', 'javascript', SLOW_JS);
    const pending = call(server.url, 'slowjs');
    await eventually(() => storedExecutions(dataDir, 'slowjs').length === 1, 'the call to run');
    process.kill(-server.child.pid!, 'SIGINT');
    expect((await pending).status).toBe(200);
    expect(await server.exited).toMatchObject({ code: 0 });
    expect(server.output()).not.toMatch(/second signal/);
  }, 60_000);
});

describe('SIGTERM with a grace shorter than the call', () => {
  it('cuts the call when the grace runs out, stores it FAILED interrupted, and exits 0', async () => {
    const dataDir = newDataDir();
    const server = await spawnServer('sources', { DATA_DIR: dataDir, SHUTDOWN_GRACE_MS: '300' });
    const { url } = server;
    const python = typeRunsHere('python3', await typeAvailable(url, 'python3'));
    await createService(url, 'sleepyjs', 'javascript', 'await new Promise((r) => setTimeout(r, 30000)); return 1;', { timeout_ms: 40000 });
    if (python) await createService(url, 'sleepypy', 'python3', 'import time\ntime.sleep(30)\nreturn 1', { timeout_ms: 40000 });
    const calls = [call(url, 'sleepyjs'), ...(python ? [call(url, 'sleepypy')] : [])];
    await eventually(
      () => storedExecutions(dataDir, 'sleepyjs').length === 1 && (!python || storedExecutions(dataDir, 'sleepypy').length === 1),
      'the calls to run',
    );
    const signalledAt = Date.now();
    server.child.kill('SIGTERM');
    const answers = await Promise.all(calls);
    for (const answer of answers) expect(answer.status).toBe(503);
    const exit = await server.exited;
    expect(exit.code).toBe(0);
    // The grace, the cut, the tail: bounded, not the 30 s the scripts wanted.
    expect(exit.at - signalledAt).toBeLessThan(10_000);
    for (const service of ['sleepyjs', ...(python ? ['sleepypy'] : [])]) {
      const [stored] = storedExecutions(dataDir, service);
      expect(stored!.status).toBe('failed');
      expect(JSON.parse(stored!.error!)).toMatchObject({ kind: 'interrupted' });
    }
    console.log(`grace 300 ms: SIGTERM to exit 0 in ${exit.at - signalledAt} ms, calls cut`);
  }, 60_000);

  it('a second signal exits at once with 1', async () => {
    const dataDir = newDataDir();
    const server = await spawnServer('sources', { DATA_DIR: dataDir, SHUTDOWN_GRACE_MS: '30000' });
    await createService(server.url, 'sleepyjs', 'javascript', 'await new Promise((r) => setTimeout(r, 30000)); return 1;', { timeout_ms: 40000 });
    const pending = call(server.url, 'sleepyjs').catch(() => null);
    await eventually(() => storedExecutions(dataDir, 'sleepyjs').length === 1, 'the call to run');
    server.child.kill('SIGTERM');
    await eventually(async () => (await connectOutcome(server.port)) === 'ECONNREFUSED', 'the drain to start');
    // Past the window in which a repeat counts as the same signal (npm's forwarded Ctrl-C).
    const firstAt = Date.now();
    await eventually(() => Date.now() - firstAt > 300, 'the same-signal window to pass');
    server.child.kill('SIGTERM');
    expect(await server.exited).toMatchObject({ code: 1 });
    await pending;
  }, 60_000);
});

describe('hostile clients cannot hold a shutdown open', () => {
  it('a body that never finishes, an SSE reader that never reads, and requests on a kept-alive connection: exit 0 within grace and tail', async () => {
    const dataDir = newDataDir();
    const server = await spawnServer('sources', { DATA_DIR: dataDir, SHUTDOWN_GRACE_MS: '500' });
    // Headers promise 1,000 bytes; 10 come.
    const trickle = connect(server.port, '127.0.0.1');
    trickle.on('error', () => undefined);
    trickle.write(`POST /api/v2/system/service HTTP/1.1\r\nHost: x\r\nX-DreamFactory-API-Key: ${ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"resource`);
    // Subscribed and never read.
    const stuck = connect(server.port, '127.0.0.1');
    stuck.on('error', () => undefined);
    const body = JSON.stringify({ query: UPDATES });
    stuck.write(`POST /graphql HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nX-DreamFactory-API-Key: ${ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    stuck.pause();
    const kept = await keptAliveConnection(server.port);
    expect(await kept.send('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1.1 200/);
    await eventually(() => server.output().includes('"url":"/healthz"'), 'the server to have served');

    const signalledAt = Date.now();
    server.child.kill('SIGTERM');
    await eventually(async () => (await connectOutcome(server.port)) === 'ECONNREFUSED', 'new connections to be refused');
    // Every further request on the kept connection is refused and ends it: it cannot extend the drain.
    expect(await kept.send('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1.1 503/);
    await kept.ended;
    const exit = await server.exited;
    expect(exit.code).toBe(0);
    // 500 ms grace, then at most 2 s for cut calls and 2 s for subscriptions to finish.
    expect(exit.at - signalledAt).toBeLessThan(8_000);
    trickle.destroy();
    stuck.destroy();
    console.log(`hostile clients: SIGTERM to exit 0 in ${exit.at - signalledAt} ms (grace 500 ms)`);
  }, 60_000);
});

describe('kill -9 during a run, then a restart', () => {
  it('marks the run left RUNNING as FAILED with error kind interrupted; finished runs stay as they were', async () => {
    const dataDir = newDataDir();
    const server = await spawnServer('sources', { DATA_DIR: dataDir });
    await createService(server.url, 'quick', 'javascript', 'return 1');
    // A line every 10 ms, each its own time: what kill -9 loses is the time after the last stored one.
    await createService(server.url, 'sleepyjs', 'javascript', 'for (;;) { console.log(String(Date.now())); await new Promise((r) => setTimeout(r, 10)); }', { timeout_ms: 40000 });
    expect((await call(server.url, 'quick')).status).toBe(200);
    // What the run produced, as a live subscriber saw it: the reference for what the kill lost.
    // (Measured from the kill's own time, a loaded machine's stall before the kill, in which
    // nothing was logged, would count as loss.)
    const live = await subscribeSse<{ executionLogs: { message: string } }>(server.url, { query: 'subscription { executionLogs(service: "sleepyjs") { message } }' }, { 'x-dreamfactory-api-key': ADMIN_KEY });
    let firstSeenLive = 0;
    let lastSeenLive = 0;
    const reading = (async () => {
      for await (const result of live.results) {
        lastSeenLive = Math.max(lastSeenLive, Number(result.data?.executionLogs.message));
        firstSeenLive ||= lastSeenLive;
      }
    })().catch(() => undefined);
    const pending = call(server.url, 'sleepyjs').catch(() => null);
    // The running row is written within one flush interval (EXECUTIONS_FLUSH_MS, 50 ms).
    await eventually(() => storedExecutions(dataDir, 'sleepyjs').some((e) => e.status === 'running'), 'the running row to be stored');
    await eventually(() => storedExecutions(dataDir, 'quick').some((e) => e.status === 'succeeded'), 'the finished row to be stored');
    await eventually(() => lastLoggedTime(dataDir) > 0, 'log lines to be stored');
    // Longer than the bound below, so a writer that stopped after its first batches fails it.
    await eventually(() => lastSeenLive - firstSeenLive > 1500, 'the run to have logged for 1.5 s');
    server.child.kill('SIGKILL');
    const seenBeforeKill = lastSeenLive;
    await server.exited;
    await Promise.all([pending, reading]);
    live.close();
    expect(storedExecutions(dataDir, 'sleepyjs')).toEqual([{ status: 'running', error: null }]);
    // Lost: at most one flush interval (EXECUTIONS_FLUSH_MS, 50 ms) plus the time a loaded machine takes to run that write.
    const lostMs = seenBeforeKill - lastLoggedTime(dataDir);
    expect(lostMs).toBeLessThan(1000);
    console.log(`kill -9: the last stored log line was written ${lostMs} ms before the last one seen live (flush interval 50 ms)`);

    const restarted = await startTestServer({ DATA_DIR: dataDir });
    try {
      const listed = await restarted.rest('GET', '/api/v2/system/execution?service=sleepyjs');
      expect(listed.json.resource).toHaveLength(1);
      expect(listed.json.resource[0]).toMatchObject({ status: 'failed', error: { kind: 'interrupted' } });
      expect(storedExecutions(dataDir, 'quick')).toEqual([{ status: 'succeeded', error: null }]);
    } finally {
      await restarted.server.stop();
    }
  }, 60_000);
});

const postgres = await postgresAvailable();

describe.skipIf(!postgres)('interrupted runs on PostgreSQL, where live instances share the database', () => {
  it("marks only runs older than any live instance's run can be (2 x SCRIPT_MAX_TIMEOUT_MS + grace + 60 s)", async () => {
    const database = await createTestDatabase();
    const env = { DATABASE_URL: database.url, SECRETS_KEY: TEST_SECRETS_KEY, SCRIPT_MAX_TIMEOUT_MS: '1000', SHUTDOWN_GRACE_MS: '0' };
    try {
      const first = await startTestServer(env);
      await first.stop();
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      const insert = (id: string, status: string, agoMs: number) =>
        client.query('INSERT INTO "Execution" (id, service, "scriptType", status, "startedAt") VALUES ($1, $2, $3, $4, $5)', [id, 'shared', 'javascript', status, new Date(Date.now() - agoMs)]);
      // Orphaned: older than 2 x 1 s + 0 + 60 s. Another live instance's: 5 s old. Finished long ago.
      await insert('01900000-0000-7000-8000-000000000001', 'running', 120_000);
      await insert('01900000-0000-7000-8000-000000000002', 'running', 5_000);
      await insert('01900000-0000-7000-8000-000000000003', 'succeeded', 120_000);
      const second = await startTestServer(env);
      await second.stop();
      const rows = (await client.query('SELECT id, status, error FROM "Execution" WHERE service = $1 ORDER BY id', ['shared'])).rows;
      await client.end();
      expect(rows).toEqual([
        { id: '01900000-0000-7000-8000-000000000001', status: 'failed', error: expect.objectContaining({ kind: 'interrupted' }) },
        { id: '01900000-0000-7000-8000-000000000002', status: 'running', error: null },
        { id: '01900000-0000-7000-8000-000000000003', status: 'succeeded', error: null },
      ]);
    } finally {
      await database.drop();
    }
  }, 60_000);
});
