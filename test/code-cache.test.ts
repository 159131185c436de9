// The code cache `npm start` runs the server bundle with (src/code-cache.ts),
// on small CommonJS bundles, each start a process of its own: used when whole
// and current, rebuilt otherwise, never in the way of the bundle running.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

// The runner bundled once: plain node starts it in a tenth of the time tsx takes.
const runnerFolder = mkdtempSync(join(tmpdir(), 'scriptgate-code-cache-runner-'));
const RUNNER = join(runnerFolder, 'code-cache-run.mjs');
beforeAll(() => {
  buildSync({ entryPoints: [resolve(import.meta.dirname, 'helpers/code-cache-run.ts')], bundle: true, platform: 'node', format: 'esm', outfile: RUNNER, logLevel: 'warning' });
});
afterAll(() => rmSync(runnerFolder, { recursive: true, force: true }));

interface Bundle {
  file: string;
  cacheDir: string;
}

/** A bundle that records its run, and what CommonJS gave it, in globalThis.codeCacheRuns; `folder` has a data folder. */
function bundle(marker: string, folder = mkdtempSync(join(tmpdir(), 'scriptgate-code-cache-')), dataFolder = true): Bundle {
  if (!folders.includes(folder)) folders.push(folder);
  const file = join(folder, 'bundle.cjs');
  writeFileSync(
    file,
    `const { basename } = require('node:path');
     (globalThis.codeCacheRuns ??= []).push({ marker: ${JSON.stringify(marker)}, file: basename(__filename), exports: typeof module.exports, square: ((n) => n * n)(7) });`,
  );
  const cacheDir = join(folder, 'data', 'code-cache');
  if (dataFolder) mkdirSync(join(folder, 'data'), { recursive: true });
  return { file, cacheDir };
}

function runner(b: Bundle, then?: 'save' | 'name'): any {
  const run = spawnSync(process.execPath, [RUNNER, b.file, b.cacheDir, ...(then ? [then] : [])], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the runner failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout);
}

/** One start: how it used the cache; the bundle ran whole either way. */
function start(b: Bundle, then?: 'save'): string {
  const { use, runs } = runner(b, then);
  expect(runs).toEqual([expect.objectContaining({ file: 'bundle.cjs', exports: 'object', square: 49 })]);
  return use;
}

const cacheFiles = (b: Bundle) => (existsSync(b.cacheDir) ? readdirSync(b.cacheDir) : []);
const cacheFileOf = (b: Bundle): string => runner(b, 'name').cacheFile;

describe('code cache', () => {
  it('is written by a start that had none, once ready; the next start uses it and writes nothing', () => {
    const b = bundle('first');
    expect(start(b, 'save')).toBe('none');
    const file = cacheFileOf(b);
    expect(cacheFiles(b)).toEqual([file.split('/').pop()]);
    const written = readFileSync(file);
    expect(written.subarray(0, 8).toString()).toBe('SGV8CC01');

    expect(start(b, 'save')).toBe('accepted');
    expect(readFileSync(file).equals(written)).toBe(true);
  });

  it('a corrupt or truncated file is never handed to V8: the bundle runs from source and the file is rewritten', () => {
    const b = bundle('corrupt');
    start(b, 'save');
    const file = cacheFileOf(b);
    const whole = readFileSync(file);

    const flipped = Buffer.from(whole);
    flipped[flipped.length - 100] ^= 0xff;
    for (const broken of [flipped, whole.subarray(0, whole.length - 1), whole.subarray(0, 10), Buffer.from('not a cache')]) {
      writeFileSync(file, broken);
      expect(start(b)).toBe('corrupt');
    }
    expect(start(b, 'save')).toBe('corrupt');
    expect(start(b)).toBe('accepted');
  });

  it('a whole file that V8 refuses (made for another source) is replaced', () => {
    const other = bundle('another, longer source');
    start(other, 'save');
    const b = bundle('mine');
    mkdirSync(b.cacheDir, { recursive: true });
    writeFileSync(cacheFileOf(b), readFileSync(cacheFileOf(other)));
    expect(start(b, 'save')).toBe('rejected');
    expect(start(b)).toBe('accepted');
  });

  it('a rebuilt bundle has a file of its own, and writing it removes the old bundle’s', () => {
    const b = bundle('version 1');
    start(b, 'save');
    const old = cacheFileOf(b);

    const rebuilt = bundle('version 2', join(b.file, '..'));
    expect(start(rebuilt, 'save')).toBe('none');
    expect(cacheFileOf(rebuilt)).not.toBe(old);
    expect(cacheFiles(rebuilt)).toEqual([cacheFileOf(rebuilt).split('/').pop()]);
    expect(start(rebuilt)).toBe('accepted');
  });

  it('a bundle that is not ASCII is read as UTF-8', () => {
    const b = bundle('naïve — not ASCII');
    expect(start(b, 'save')).toBe('none');
    expect(runner(b).runs).toEqual([expect.objectContaining({ marker: 'naïve — not ASCII' })]);
  });

  it('without the data folder nothing is written (the server creates DATA_DIR), and the bundle still runs', () => {
    const b = bundle('no data folder', undefined, false);
    expect(start(b, 'save')).toBe('none');
    expect(existsSync(join(b.cacheDir, '..'))).toBe(false);
    expect(start(b)).toBe('none');
  });
});
