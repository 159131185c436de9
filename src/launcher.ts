// `npm start` (dist/scriptgate.mjs): runs the server bundle with V8's code
// cache (src/code-cache.ts). Built by scripts/build.mjs; from the sources,
// src/main.ts runs directly.
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWithCodeCache } from './code-cache.ts';

// DATA_DIR as src/config.ts reads it; a bad value is reported by the server, not here.
const dataDir = resolve(process.env.DATA_DIR || './data');
runWithCodeCache(fileURLToPath(new URL('./scriptgate.cjs', import.meta.url)), join(dataDir, 'code-cache'));
