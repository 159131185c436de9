/**
 * Builds parser.ts from filter.peggy (`npm run filter:generate`). The parser
 * is committed so the server needs no build step, and a test checks it is
 * what the grammar generates. It is TypeScript (the generated JavaScript
 * unchecked), bundled into dist/ like every other module.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import peggy from 'peggy';

export const GRAMMAR_FILE = fileURLToPath(new URL('./filter.peggy', import.meta.url));
export const PARSER_FILE = fileURLToPath(new URL('./parser.ts', import.meta.url));

const HEADER = `// @ts-nocheck
// Generated from filter.peggy by \`npm run filter:generate\` (peggy ${peggy.VERSION}). Do not edit.
`;

export function parserSource(): string {
  const grammar = readFileSync(GRAMMAR_FILE, 'utf8');
  return HEADER + peggy.generate(grammar, { output: 'source', format: 'es', grammarSource: 'filter.peggy' });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(PARSER_FILE, parserSource());
  console.log(`Wrote ${PARSER_FILE}`);
}
