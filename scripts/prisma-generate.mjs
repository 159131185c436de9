// Generates both Prisma clients (SQLite default, PostgreSQL scale-out) from the
// one schema, offline. `prisma generate` needs no schema engine, but the CLI
// insists on finding one, so we point it at a file that exists; the CLI would
// otherwise try to download a native engine from a host we cannot reach.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sqliteSchema = join(root, 'prisma', 'schema.prisma');
const generatedDir = join(root, 'src', 'generated');
const postgresSchema = join(generatedDir, 'postgresql.prisma');

mkdirSync(generatedDir, { recursive: true });
const source = readFileSync(sqliteSchema, 'utf8');
const postgres = source
  .replace(/generator pothos \{[^}]*\}\n/, '')
  .replace('provider = "sqlite"', 'provider = "postgresql"')
  .replace('output               = "../src/generated/prisma-sqlite"', 'output               = "./prisma-postgresql"');
if (postgres === source || !postgres.includes('"postgresql"') || !postgres.includes('./prisma-postgresql')) {
  throw new Error('prisma-generate: could not derive the PostgreSQL schema; update the replacements');
}
writeFileSync(postgresSchema, `// Generated from prisma/schema.prisma by scripts/prisma-generate.mjs: do not edit.\n${postgres}`);

const prismaCli = join(root, 'node_modules', 'prisma', 'build', 'index.js');
const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
  CHECKPOINT_DISABLE: '1',
  PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
};
for (const schema of [sqliteSchema, postgresSchema]) {
  execFileSync(process.execPath, [prismaCli, 'generate', '--schema', schema], { stdio: 'inherit', env, cwd: root });
}

// The client loads its query compiler by importing a module whose one export
// is the WebAssembly as a 2.2 MB base64 string, decoded on the event loop at
// the first query (10 to 15 ms of a start; and a module is never unloaded, so
// the string stayed in the heap for good). It is decoded here once, into
// query-compiler.wasm beside each client, which src/db/query-compiler-wasm.ts
// reads as it is.
const IMPORTED_WASM = /const \{ wasm \} = await import\("(@prisma\/client\/runtime\/[\w.]+\.wasm-base64\.mjs)"\)\n\s*return await decodeBase64AsWasm\(wasm\)/;
for (const [client, provider] of [['prisma-sqlite', 'sqlite'], ['prisma-postgresql', 'postgresql']]) {
  const file = join(generatedDir, client, 'internal', 'class.ts');
  const text = readFileSync(file, 'utf8');
  const found = IMPORTED_WASM.exec(text);
  if (!found) throw new Error(`prisma-generate: ${file} no longer imports its query compiler as base64; update the replacement`);
  const base64Module = readFileSync(join(root, 'node_modules', found[1]), 'latin1');
  const wasm = Buffer.from(base64Module.slice(base64Module.indexOf('"') + 1, base64Module.lastIndexOf('"')), 'base64');
  if (!WebAssembly.validate(wasm)) throw new Error(`prisma-generate: ${found[1]} did not decode to WebAssembly; update the decoding`);
  writeFileSync(join(generatedDir, client, 'query-compiler.wasm'), wasm);
  const patched = text
    .replace(IMPORTED_WASM, `return await queryCompilerModule('${provider}')`)
    .replace('import * as runtime from "@prisma/client/runtime/client"', (line) => `${line}\nimport { queryCompilerModule } from '../../../db/query-compiler-wasm.ts'`);
  if (!patched.includes('queryCompilerModule } from')) throw new Error(`prisma-generate: ${file} no longer imports the runtime as expected; update the replacement`);
  writeFileSync(file, patched);
}
