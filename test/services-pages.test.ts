/**
 * `services(first, after, last, before, filter)`: a connection whose pages
 * cost the same whatever the total, through the system API (so access and
 * event scripts apply as to the REST list).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.ts';

let t: TestServer;
const COUNT = 250;

interface Page {
  edges: { cursor: string; node: { name: string; type: string } }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string | null; startCursor: string | null };
  totalCount?: number;
}

async function page(args: string, extra = ''): Promise<Page> {
  const result = await t.gql(`{ services${args ? `(${args})` : ''} { edges { cursor node { name type } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } ${extra} } }`);
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return (result.data as { services: Page }).services;
}

async function errorOf(query: string) {
  const result = await t.gql(query);
  return result.errors?.[0];
}

beforeAll(async () => {
  t = await startTestServer();
  const resource = Array.from({ length: COUNT }, (_, i) => ({ name: `p${String(i).padStart(3, '0')}`, type: 'javascript', config: { content: 'return 1' } }));
  expect((await t.rest('POST', '/api/v2/system/service', { resource })).status).toBe(201);
});
afterAll(() => t?.stop());

describe('services as a connection', () => {
  it('pages forward through every service once, in id order, 20 by default', async () => {
    expect((await page('')).edges).toHaveLength(20);
    const names: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const current: Page = await page(after ? `first: 100, after: "${after}"` : 'first: 100');
      names.push(...current.edges.map((edge) => edge.node.name));
      if (!current.pageInfo.hasNextPage) break;
      after = current.pageInfo.endCursor;
    }
    expect(names).toEqual(Array.from({ length: COUNT }, (_, i) => `p${String(i).padStart(3, '0')}`));
  });

  it('pages backward with last and before', async () => {
    const tail = await page('last: 3');
    expect(tail.edges.map((edge) => edge.node.name)).toEqual(['p247', 'p248', 'p249']);
    expect(tail.pageInfo.hasPreviousPage).toBe(true);
    const before = await page(`last: 2, before: "${tail.pageInfo.startCursor}"`);
    expect(before.edges.map((edge) => edge.node.name)).toEqual(['p245', 'p246']);
  });

  it('filters with the REST grammar, and counts only when asked', async () => {
    const filtered = await page(`first: 5, filter: "name LIKE 'p1%' AND name != 'p100'"`, 'totalCount');
    expect(filtered.edges.map((edge) => edge.node.name)).toEqual(['p101', 'p102', 'p103', 'p104', 'p105']);
    expect(filtered.totalCount).toBe(99);
    const next = await page(`first: 100, after: "${filtered.pageInfo.endCursor}", filter: "name LIKE 'p1%' AND name != 'p100'"`);
    expect(next.edges).toHaveLength(94);
    expect(next.pageInfo.hasNextPage).toBe(false);
  });

  it('refuses a page past 1,000, a forged cursor, and a bad filter, naming each', async () => {
    expect(await errorOf('{ services(first: 5000) { edges { cursor } } }')).toMatchObject({ message: expect.stringMatching(/"first"/), extensions: { code: 'BAD_USER_INPUT' } });
    for (const forged of ['bm9wZQ', Buffer.from('service:1 OR 1=1').toString('base64url'), Buffer.from('service:99999999999').toString('base64url'), '']) {
      expect(await errorOf(`{ services(after: "${forged}") { edges { cursor } } }`)).toMatchObject({ message: expect.stringMatching(/"after" is not a cursor/), extensions: { code: 'BAD_USER_INPUT' } });
    }
    expect(await errorOf(`{ services(filter: "nope = 1") { edges { cursor } } }`)).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('keeps a filter inside its parentheses: one that only parses when wrapped is refused, so the cursor always applies', async () => {
    const first = await page('first: 1');
    const escape = `name = 'p000') OR (id > 0`;
    const error = await errorOf(`{ services(first: 5, after: "${first.pageInfo.endCursor}", filter: "${escape}") { edges { node { name } } } }`);
    expect(error).toMatchObject({ message: expect.stringMatching(/filter/), extensions: { code: 'BAD_USER_INPUT' } });
  });
});
