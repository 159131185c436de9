import { readFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../src/graphql/schema.ts';

describe('schema/schema.graphql', () => {
  it('matches the code-first schema (run `npm run schema:print` after changing it)', () => {
    const printed = readFileSync(new URL('../schema/schema.graphql', import.meta.url), 'utf8');
    expect(printed).toBe(`${printSchema(schema)}\n`);
  });

  it('has the operations the API promises', () => {
    const query = schema.getQueryType()!.getFields();
    const mutation = schema.getMutationType()!.getFields();
    const subscription = schema.getSubscriptionType()!.getFields();
    expect(Object.keys(query)).toEqual(expect.arrayContaining(['scriptTypes', 'scriptType', 'services', 'service', 'executions', 'execution']));
    expect(Object.keys(mutation)).toEqual(
      expect.arrayContaining(['createService', 'updateService', 'deleteService', 'invokeService']),
    );
    expect(Object.keys(subscription)).toEqual(expect.arrayContaining(['executionLogs', 'executionUpdated']));
  });
});
