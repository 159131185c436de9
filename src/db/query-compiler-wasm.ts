// Prisma's query compiler is WebAssembly that Prisma ships as base64 text in
// a module, decoded on the event loop at the first query (10 to 15 ms of a
// start, and the module's string then stayed in the heap for good).
// scripts/prisma-generate.mjs writes it decoded beside each generated client
// (query-compiler.wasm) and points the client here. Compiled synchronously:
// WebAssembly.compile's background compile made the queries after the first
// one 30 to 100 ms slower while the server started.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../package-root.ts';

/** What the generated client's getQueryCompilerWasmModule returns. */
export async function queryCompilerModule(provider: 'sqlite' | 'postgresql'): Promise<WebAssembly.Module> {
  return new WebAssembly.Module(await readFile(join(PACKAGE_ROOT, 'src', 'generated', `prisma-${provider}`, 'query-compiler.wasm')));
}
