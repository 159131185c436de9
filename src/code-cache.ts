// Runs the built server (a CommonJS bundle, dist/scriptgate.cjs) through a
// vm.Script fed with V8's code cache, as v8-compile-cache does: Node 20 has
// no module.enableCompileCache, and compiling the bundle and the functions a
// start runs was about 30% of the process's CPU time until it listened.
// The cache lives in DATA_DIR/code-cache, one file per bundle and per Node
// version and V8 flags; a start without a usable one (none, stale, corrupt,
// refused by V8) runs the bundle from its source and writes a new one once
// the server is ready (saveCodeCache).
import { isAscii } from 'node:buffer';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch } from 'node:os';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { crc32 } from 'node:zlib';

/** File header: magic, payload length, payload CRC-32. V8 checks only a source's length, never a payload's checksum. */
const MAGIC = 'SGV8CC01';
const HEADER_BYTES = MAGIC.length + 8;
const SAVE = Symbol.for('scriptgate.saveCodeCache');

/** What a start found; the launcher ignores it, the tests read it. */
export type CacheUse = 'accepted' | 'none' | 'corrupt' | 'rejected';

/**
 * Evaluates `bundleFile` as CommonJS with the cache in `cacheDir` (created
 * inside an existing parent only: the server creates DATA_DIR itself). Never
 * fails because of the cache: any problem with it means compiling from source.
 */
export function runWithCodeCache(bundleFile: string, cacheDir: string): CacheUse {
  const bundle = readFileSync(bundleFile);
  const { prefix, cacheFile } = cacheFileFor(bundle, cacheDir);
  const cached = readCache(cacheFile);
  // ASCII (as scripts/build.mjs writes it) read as Latin-1 is the same text, in a string of one byte a character.
  const source = bundle.toString(isAscii(bundle) ? 'latin1' : 'utf8');
  // The wrapper CommonJS gives a module; the bundle has no import() left (scripts/build.mjs), vm.Script could not run one.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundleFile,
    cachedData: cached ?? undefined,
  });
  const use: CacheUse = cached === undefined ? 'none' : cached === null ? 'corrupt' : script.cachedDataRejected ? 'rejected' : 'accepted';
  const hooks = globalThis as Record<symbol, unknown>;
  if (use === 'accepted') delete hooks[SAVE];
  else hooks[SAVE] = () => writeCache(script, cacheDir, cacheFile, prefix);
  const module = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(bundleFile), module, bundleFile, dirname(bundleFile));
  return use;
}

/**
 * Called by the server once it is ready (src/main.ts): the functions a start
 * compiles are in the cache from then on. Does nothing when running from the
 * sources or when the cache was used; never throws.
 */
export function saveCodeCache(): void {
  const save = (globalThis as Record<symbol, unknown>)[SAVE] as (() => void) | undefined;
  delete (globalThis as Record<symbol, unknown>)[SAVE];
  // After the requests waiting for readiness: serializing takes tens of milliseconds.
  if (save) setImmediate(save);
}

/**
 * Named by the bundle's CRC-32 (`prefix`), then by Node's version, the
 * machine and the flags (command line and NODE_OPTIONS): V8 refuses a cache
 * made under other V8 flags, and starts with different ones keep a file each.
 */
export function cacheFileFor(bundle: Buffer, cacheDir: string): { prefix: string; cacheFile: string } {
  const prefix = `scriptgate-${hex(crc32(bundle))}-`;
  const runtime = [process.version, arch(), ...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  return { prefix, cacheFile: join(cacheDir, `${prefix}${hex(crc32(runtime))}.bin`) };
}

/** The payload, or undefined when there is no file, or null when it is not one this code wrote whole. */
function readCache(file: string): Buffer | null | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return undefined;
  }
  if (data.length < HEADER_BYTES || data.toString('latin1', 0, MAGIC.length) !== MAGIC) return null;
  const payload = data.subarray(HEADER_BYTES);
  if (data.readUInt32LE(MAGIC.length) !== payload.length || data.readUInt32LE(MAGIC.length + 4) !== crc32(payload)) return null;
  return payload;
}

/** Written whole or not at all (a temporary file, then a rename); caches of other bundles removed. */
function writeCache(script: Script, cacheDir: string, cacheFile: string, prefix: string): void {
  try {
    if (!statSync(dirname(cacheDir)).isDirectory()) return;
    mkdirSync(cacheDir, { recursive: true });
    const payload = script.createCachedData();
    const header = Buffer.alloc(HEADER_BYTES);
    header.write(MAGIC, 0, 'latin1');
    header.writeUInt32LE(payload.length, MAGIC.length);
    header.writeUInt32LE(crc32(payload), MAGIC.length + 4);
    const temporary = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(temporary, Buffer.concat([header, payload]));
    renameSync(temporary, cacheFile);
    for (const name of readdirSync(cacheDir)) {
      if (name.startsWith('scriptgate-') && !name.startsWith(prefix) && !name.endsWith('.tmp')) rmSync(join(cacheDir, name), { force: true });
    }
  } catch {
    // A read-only or full data folder: the next start compiles from source again, as without a cache.
  }
}

function hex(value: number): string {
  return value.toString(16).padStart(8, '0');
}
