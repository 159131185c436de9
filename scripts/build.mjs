// `npm run build` (run by `npm install`): the server as one ES module bundle
// in dist/, so `npm start` loads a few files instead of some 1,500 modules
// (import time 450 ms -> 200 ms here). Types are checked by `npm run
// typecheck` and the tests, not here: an install never fails on a type error.
// Left out of the bundle: native and WebAssembly packages and those that load
// files by path at run time (pino's transport workers, Prisma's query compiler).
import { rmSync } from 'node:fs';
import { build } from 'esbuild';
import { build as buildConsole } from 'vite';

const external = ['better-sqlite3', 'pino', 'pino-pretty', 'thread-stream', '@prisma/*', 'pg', 'ioredis'];

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: { scriptgate: 'src/main.ts', server: 'src/index.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  external,
  // Bundled CommonJS packages call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __scriptgateRequire } from 'node:module'; const require = __scriptgateRequire(import.meta.url);" },
  logLevel: 'warning',
});

// The web console (console/, served at /console): static files into dist/console.
await buildConsole({ configFile: 'console/vite.config.ts' });
