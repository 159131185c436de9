// `npm start` (dist/scriptgate.mjs): runs the server bundle with V8's code
// cache (src/code-cache.ts). Built by scripts/build.mjs; from the sources,
// src/main.ts runs directly.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWithCodeCache } from './code-cache.ts';
import { dataDirOf } from './config.ts';

// A bad DATA_DIR is reported by the server, not here.
runWithCodeCache(fileURLToPath(new URL('./scriptgate.cjs', import.meta.url)), join(dataDirOf(process.env), 'code-cache'));
