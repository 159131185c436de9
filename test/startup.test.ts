import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.ts';
import { createEngines } from '../src/scripting/engines.ts';
import { loadMigrations } from '../src/db/migrate.ts';
import { startServer } from '../src/server.ts';
import { eventually } from './helpers/eventually.ts';
import { ADMIN_KEY, createService, restTo, startTestServer } from './helpers/server.ts';
import { typeRunsHere } from './helpers/interpreters.ts';

describe('first start without ADMIN_KEY', () => {
  it('generates a key once, keeps only its hash, and accepts it after a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'scriptgate-key-'));
    const settings = loadSettings({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
    const first = await startServer(settings);
    const key = first.generatedAdminKey!;
    expect(key).toMatch(/^sg_/);
    const ok = await fetch(`${first.url}/api/v2/system/service`, { headers: { 'x-dreamfactory-api-key': key } });
    expect(ok.status).toBe(200);
    await first.stop();

    const stored = new Database(join(dataDir, 'scriptgate.db'), { readonly: true });
    const rows = stored.prepare("SELECT key, value FROM Setting WHERE key = 'admin_key_sha256'").all() as { key: string; value: string }[];
    stored.close();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.value).not.toContain(key);
    for (const file of readdirSync(dataDir, { recursive: true, withFileTypes: true })) {
      if (file.isFile()) expect(readFileSync(join(file.parentPath, file.name)).includes(key)).toBe(false);
    }

    const second = await startServer(settings);
    expect(second.generatedAdminKey).toBeNull();
    const again = await fetch(`${second.url}/api/v2/system/service`, { headers: { authorization: `Bearer ${key}` } });
    expect(again.status).toBe(200);
    await second.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
});

describe('a first start that fails before it listens', () => {
  it('stores no key nobody saw, and the next start generates and shows one', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'scriptgate-key-'));
    const blocker = await startTestServer();
    const shown: string[] = [];
    try {
      const taken = loadSettings({ PORT: String(blocker.server.port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
      await expect(startServer(taken, { showGeneratedAdminKey: (key) => shown.push(key) })).rejects.toMatchObject({ code: 'EADDRINUSE' });
      expect(shown).toEqual([]);
      const stored = new Database(join(dataDir, 'scriptgate.db'), { readonly: true });
      expect(stored.prepare("SELECT COUNT(*) AS n FROM Setting WHERE key = 'admin_key_sha256'").get()).toEqual({ n: 0 });
      stored.close();

      const settings = loadSettings({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
      const next = await startServer(settings, { showGeneratedAdminKey: (key) => shown.push(key) });
      expect(shown).toEqual([next.generatedAdminKey]);
      const ok = await fetch(`${next.url}/api/v2/system/service`, { headers: { 'x-dreamfactory-api-key': shown[0]! } });
      expect(ok.status).toBe(200);
      await next.stop();
    } finally {
      await blocker.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a database made by an earlier version', () => {
  it('is upgraded on start, keeping its data', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'scriptgate-upgrade-'));
    const [first, ...later] = loadMigrations('sqlite');
    expect(later.length).toBeGreaterThan(0);
    const old = new Database(join(dataDir, 'scriptgate.db'));
    old.exec(first!.sql);
    old.exec('CREATE TABLE "_prisma_migrations" (id TEXT PRIMARY KEY, checksum TEXT NOT NULL, finished_at DATETIME, migration_name TEXT NOT NULL, logs TEXT, rolled_back_at DATETIME, started_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, applied_steps_count INTEGER NOT NULL DEFAULT 0)');
    old.prepare('INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count) VALUES (?, ?, CURRENT_TIMESTAMP, ?, 1)').run('m1', first!.checksum, first!.name);
    old.prepare('INSERT INTO "Execution" (id, service, scriptType, status, startedAt) VALUES (?, ?, ?, ?, ?)').run(
      '01900000-0000-7000-8000-000000000000', 'old-service', 'javascript', 'succeeded', '2024-06-01T00:00:00.000+00:00',
    );
    old.close();

    const t = await startTestServer({ DATA_DIR: dataDir });
    try {
      await createService(t, 'new-service', 'javascript', 'return 1');
      expect((await t.rest('GET', '/api/v2/new-service')).status).toBe(200);
      const listed = (await t.rest('GET', '/api/v2/system/execution')).json.resource;
      expect(listed.map((e: any) => e.service)).toEqual(['new-service', 'old-service']);
    } finally {
      await t.stop();
    }
    const upgraded = new Database(join(dataDir, 'scriptgate.db'), { readonly: true });
    const names = upgraded.prepare('SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name').all() as { migration_name: string }[];
    upgraded.close();
    expect(names.map((r) => r.migration_name)).toEqual([first!.name, ...later.map((m) => m.name)]);
    rmSync(dataDir, { recursive: true, force: true });
  });
});

describe('disabled script types', () => {
  it('shows them unavailable with a reason and answers 503 for saving or running them', async () => {
    const enabled = await startTestServer();
    await createService(enabled, 'was-js', 'javascript', 'return 1');
    const dataDir = enabled.dataDir;
    await enabled.server.stop();

    const disabled = await startTestServer({ DATA_DIR: dataDir, SCRIPTING_DISABLE: 'javascript,python' });
    try {
      const types = (await disabled.rest('GET', '/api/v2/system/script_type')).json.resource;
      const byName = Object.fromEntries(types.map((t: any) => [t.name, t]));
      expect(byName.javascript).toMatchObject({ available: false, unavailable_reason: 'disabled by configuration' });
      expect(byName.python).toMatchObject({ available: false, unavailable_reason: expect.stringMatching(/disabled/) });
      // Exact names: disabling "python" leaves "python3" alone (DreamFactory matched substrings).
      expect(byName.python3.unavailable_reason ?? '').not.toMatch(/disabled/);

      const run = await disabled.rest('GET', '/api/v2/was-js');
      expect(run.status).toBe(503);
      expect(run.json.error.message).toMatch(/javascript.*disabled by configuration/);
      const save = await disabled.rest('POST', '/api/v2/system/service', { resource: [{ name: 'new-js', type: 'javascript', config: { content: '' } }] });
      expect(save.status).toBe(400);
      expect(save.json.error.context.resource[0].error).toMatchObject({ status_code: 503 });
      const single = await disabled.rest('PATCH', '/api/v2/system/service/1', { type: 'javascript' });
      expect(single.status).toBe(503);
    } finally {
      await disabled.stop();
    }
  });
});

describe('settings', () => {
  it('rejects bad configuration clearly', () => {
    expect(() => loadSettings({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadSettings({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    expect(() => loadSettings({ LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT/);
    expect(() => loadSettings({ REDIS_URL: 'http://127.0.0.1:6379' })).toThrow(/REDIS_URL/);
  });

  it('accepts DreamFactory variable names', () => {
    const settings = loadSettings({ DF_SCRIPTING_DISABLE: 'php', DF_PYTHON3_PATH: '/usr/bin/python3' });
    expect([...settings.scripting.disabled]).toEqual(['php']);
    expect(settings.scripting.interpreterPaths.python3).toBe('/usr/bin/python3');
    expect(loadSettings({ DF_SCRIPTING_DISABLE: 'all' }).scripting.disabled.size).toBe(6);
  });
});

describe('script engines start after the server listens', () => {
  it('answers /healthz naming the engines still starting, and a call made then waits for its engine', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'scriptgate-engines-'));
    const env = { DATA_DIR: dataDir };
    const first = await startTestServer(env);
    const python = typeRunsHere('python3', (await first.rest('GET', '/api/v2/system/script_type/python3')).json?.available === true);
    await createService(first, 'early-js', 'javascript', 'return { early: "javascript" }');
    if (python) await createService(first, 'early-py', 'python3', "return {'early': 'python3'}");
    // Stopped without removing its data: the second start reads it (the helper's own folder was never used).
    await first.server.stop();
    rmSync(first.dataDir, { recursive: true, force: true });

    const settings = loadSettings({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_KEY, LOG_LEVEL: 'silent' });
    const second = await startServer(settings);
    try {
      const health = await (await fetch(`${second.url}/healthz`)).json();
      expect(health.status).toBe('ok');
      // The subprocess engines probe interpreters and start warm workers: still going when the server first answers.
      expect(health.starting).toEqual(expect.arrayContaining(python ? ['python3'] : ['nodejs']));
      const calls = [fetch(`${second.url}/api/v2/early-js`, { headers: { 'x-dreamfactory-api-key': ADMIN_KEY } })];
      if (python) calls.push(fetch(`${second.url}/api/v2/early-py`, { headers: { 'x-dreamfactory-api-key': ADMIN_KEY } }));
      const answers = await Promise.all(calls.map(async (call) => (await call).json()));
      expect(answers).toEqual(python ? [{ early: 'javascript' }, { early: 'python3' }] : [{ early: 'javascript' }]);
      await second.platform.engines.settledList();
      expect(await (await fetch(`${second.url}/healthz`)).json()).toEqual({ status: 'ok' });
    } finally {
      await second.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('script engines start one at a time', () => {
  const settings = () => loadSettings({ DATA_DIR: mkdtempSync(join(tmpdir(), 'scriptgate-engine-order-')), LOG_LEVEL: 'silent' });

  it('in the order made, in-process ones first: all at once, their spawns and boots held the event loop for the first calls', async () => {
    const engines = createEngines(settings());
    const expected = engines.startingNames;
    expect(expected.slice(0, 2)).toEqual(['javascript', 'typescript']);
    const finished: string[] = [];
    let running = 0;
    let mostAtOnce = 0;
    const watch = setInterval(() => {
      const starting = engines.startingNames;
      for (const name of expected) if (!starting.includes(name) && !finished.includes(name)) finished.push(name);
    }, 1);
    // Which engines are past their start's first step and not done: never more than one.
    for (const name of expected) {
      const engine = engines.find(name)!;
      const start = engine.start.bind(engine);
      engine.start = async () => {
        mostAtOnce = Math.max(mostAtOnce, ++running);
        try {
          await start();
        } finally {
          running--;
        }
      };
    }
    try {
      await engines.start();
    } finally {
      clearInterval(watch);
      await engines.stop(0);
    }
    for (const name of expected) if (!finished.includes(name)) finished.push(name);
    expect(mostAtOnce).toBe(1);
    expect(finished.filter((name) => expected.includes(name))).toEqual(expected);
  });

  it('and a stop made during the start leaves the engines not yet begun unstarted, without waiting for their warm workers', async () => {
    const engines = createEngines(settings());
    // The stop comes as soon as the first engine has started.
    const javascript = engines.find('javascript')!;
    const startJavascript = javascript.start.bind(javascript);
    let stopped: Promise<void> | null = null;
    let javascriptAvailable = false;
    javascript.start = async () => {
      await startJavascript();
      javascriptAvailable = javascript.info.available;
      stopped = engines.stop(0);
    };
    await engines.start();
    await stopped;
    expect(javascriptAvailable).toBe(true);
    // Never begun: no interpreter was even probed for its version.
    for (const name of ['nodejs', 'python', 'python3', 'php']) expect(engines.find(name)!.info).toMatchObject({ available: false, version: null, interpreter: null });
    expect(engines.startingNames).toEqual([]);
  });
});

describe('`npm start` with V8\'s code cache (src/launcher.ts)', () => {
  const root = resolve(import.meta.dirname, '..');
  // Its own build, beside node_modules (the bundle finds the package root by walking up): dist/ is shared with other suites.
  const cache = join(root, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const buildDir = mkdtempSync(join(cache, 'scriptgate-startup-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'scriptgate-code-cache-'));
  afterAll(() => {
    rmSync(buildDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Starts the built launcher; resolves with its URL and a stop() once it logged that it is ready. */
  async function startBuilt(): Promise<{ url: string; stop(): Promise<number | null> }> {
    const child = spawn(process.execPath, [join(buildDir, 'scriptgate.mjs')], {
      cwd: root,
      env: { ...process.env, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', ADMIN_KEY, LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    let output = '';
    const url = await new Promise<string>((done, fail) => {
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        const line = output.split('\n').find((l) => l.includes('"Scriptgate ready"'));
        if (line) done((JSON.parse(line) as { url: string }).url);
      };
      child.stdout!.on('data', read);
      child.stderr!.on('data', read);
      void exited.then((code) => fail(new Error(`the built server exited (${code}) before it was ready: ${output}`)));
    });
    return { url, stop: () => (child.kill('SIGTERM'), exited) };
  }

  const rest = (url: string, method: string, path: string, body?: unknown) => restTo(url, method, path, body, { 'x-dreamfactory-api-key': ADMIN_KEY });
  const cacheDir = join(dataDir, 'code-cache');
  const cacheFiles = () => readdirSync(cacheDir).filter((name) => name.endsWith('.bin'));

  it('writes the cache on the first start, starts from it, and starts from source (rewriting it) when it is corrupt', { timeout: 120_000 }, async () => {
    const built = spawnSync(process.execPath, ['scripts/build.mjs', '--start-only', buildDir], { cwd: root, encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);

    const first = await startBuilt();
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    expect((await rest(first.url, 'POST', '/api/v2/system/service', { resource: [{ name: 'cached', type: 'javascript', config: { content: 'return { cached: true }' } }] })).status).toBe(201);
    await eventually(() => cacheFiles().length === 1, 'the code cache written after the first start');
    expect(await first.stop()).toBe(0);
    const file = join(cacheDir, cacheFiles()[0]!);
    const written = readFileSync(file);

    const second = await startBuilt();
    expect((await fetch(`${second.url}/healthz`)).status).toBe(200);
    expect((await rest(second.url, 'GET', '/api/v2/cached')).json).toEqual({ cached: true });
    expect(await second.stop()).toBe(0);
    // Used, not rewritten.
    expect(readFileSync(file).equals(written)).toBe(true);

    const corrupt = Buffer.from(written);
    corrupt[corrupt.length >> 1] ^= 0xff;
    writeFileSync(file, corrupt);
    const third = await startBuilt();
    expect((await rest(third.url, 'GET', '/api/v2/cached')).json).toEqual({ cached: true });
    await eventually(() => !readFileSync(file).equals(corrupt), 'the corrupt code cache rewritten');
    expect(await third.stop()).toBe(0);
    expect(readFileSync(file).subarray(0, 8).toString()).toBe('SGV8CC01');
  });
});

