// Writes schema/schema.graphql from the code-first schema (test/schema.test.ts keeps it current).
import { writeFileSync, mkdirSync } from 'node:fs';
import { printSchema } from 'graphql';
import { schema } from '../src/graphql/schema.ts';

mkdirSync(new URL('../schema/', import.meta.url), { recursive: true });
writeFileSync(new URL('../schema/schema.graphql', import.meta.url), `${printSchema(schema)}\n`);
console.log('schema/schema.graphql written');
