// `npm run build` (run by `npm install`): the server as bundles in dist/, so
// `npm start` loads a few files instead of some 1,500 modules (import time
// 450 ms -> 200 ms here). Types are checked by `npm run typecheck` and the
// tests, not here: an install never fails on a type error.
// Left out of the bundles: native and WebAssembly packages and those that load
// files by path at run time (pino's transport workers, Prisma's query compiler).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { build as buildConsole } from 'vite';
import { fastSpreads } from './fast-spreads.mjs';

/** Object.prototype as the bundle's first line reads it (scripts/fast-spreads.mjs). */
const OBJECT_PROTOTYPE = '__scriptgateObjectPrototype';
const external = ['better-sqlite3', 'pino', 'pino-pretty', 'thread-stream', '@prisma/*', 'pg', 'ioredis'];
// graphql-js checks every instanceof the long way unless NODE_ENV is production (it looks for a second copy of itself).
const production = { 'process.env.NODE_ENV': '"production"' };
// ES module builds first (for packages without an `exports` map): graphql's CommonJS build, bundled, reached every
// export through two getters (esbuild's namespace object, then graphql's own), 5 µs of a typed field's call.
const common = { bundle: true, platform: 'node', mainFields: ['module', 'main'], target: 'node20', sourcemap: 'linked', external, logLevel: 'warning', define: production };

// `--start-only DIR`: the `npm start` files alone, into DIR, nothing else removed (test/startup.test.ts builds its own
// copy; test/shutdown.test.ts refreshes dist/'s while other suites read dist/console).
const startOnly = process.argv[2] === '--start-only';
const outdir = startOnly ? process.argv[3] : 'dist';
if (!outdir) throw new Error('usage: node scripts/build.mjs [--start-only OUTDIR]');
if (!startOnly) rmSync('dist', { recursive: true, force: true });

// `npm start` (dist/scriptgate.mjs, src/launcher.ts) runs src/main.ts as one
// CommonJS file through a vm.Script with V8's code cache (src/code-cache.ts):
// Node 20 caches no ES module's code. A vm.Script cannot run import(), so
// esbuild turns each into a require(); import.meta.url is the bundle's URL.
// Without comments (licences go to scriptgate.cjs.LEGAL.txt) the file is
// ASCII, which V8 keeps in half the memory and reads faster.
// Object literals that start with a spread are rewritten (scripts/fast-spreads.mjs) before the files are written.
const main = await build({
  ...common,
  entryPoints: ['src/main.ts'],
  outfile: join(outdir, 'scriptgate.cjs'),
  format: 'cjs',
  minifyWhitespace: true,
  legalComments: 'linked',
  supported: { 'dynamic-import': false },
  define: { ...production, 'import.meta.url': '__scriptgateBundleUrl' },
  banner: {
    js: `const __scriptgateBundleUrl = require('node:url').pathToFileURL(__filename).href; const ${OBJECT_PROTOTYPE} = Object.prototype;`,
  },
  write: false,
});
const bundle = main.outputFiles.find((file) => file.path.endsWith('.cjs'));
const bundleMap = main.outputFiles.find((file) => file.path.endsWith('.cjs.map'));
// SCRIPTGATE_FAST_SPREADS=off: the literals as esbuild wrote them (bench/fast-spreads.ts measures the difference).
const fast =
  process.env.SCRIPTGATE_FAST_SPREADS === 'off' ? { code: bundle.text, map: bundleMap.text } : fastSpreads(bundle.text, OBJECT_PROTOTYPE, JSON.parse(bundleMap.text));
mkdirSync(outdir, { recursive: true });
for (const file of main.outputFiles) writeFileSync(file.path, file === bundle ? fast.code : file === bundleMap ? fast.map : file.contents);
await build({ ...common, entryPoints: ['src/launcher.ts'], outfile: join(outdir, 'scriptgate.mjs'), format: 'esm' });
if (startOnly) process.exit(0);

// The web console (console/, served at /console): static files into dist/console.
await buildConsole({ configFile: 'console/vite.config.ts' });
