import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.ts';
import { startServer } from '../src/server.ts';
import { ADMIN_KEY, createService, startTestServer } from './helpers/server.ts';

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
    const rows = stored.prepare('SELECT key, value FROM Setting').all() as { key: string; value: string }[];
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
  });

  it('accepts DreamFactory variable names', () => {
    const settings = loadSettings({ DF_SCRIPTING_DISABLE: 'php', DF_PYTHON3_PATH: '/usr/bin/python3' });
    expect([...settings.scripting.disabled]).toEqual(['php']);
    expect(settings.scripting.interpreterPaths.python3).toBe('/usr/bin/python3');
    expect(loadSettings({ DF_SCRIPTING_DISABLE: 'all' }).scripting.disabled.size).toBe(5);
    expect(ADMIN_KEY).toBeTruthy();
  });
});
