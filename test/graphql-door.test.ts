// The lean door for JSON operations (src/graphql/json-operations.ts) answers
// exactly as Yoga does: every request here is sent as `application/json`
// (the lean door, when it takes it) and as `application/graphql+json`, which
// Yoga alone parses, and the two answers must be the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answersJson } from '../src/graphql/json-operations.ts';
import { plannedOperationsOf } from '../src/graphql/yoga.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from './helpers/server.ts';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
  const created = await t.rest('POST', '/api/v2/system/service', {
    name: 'weather',
    type: 'javascript',
    config: { content: "if (event.request.parameters.city === 'Nowhere') throw new Error('no such city'); return { city: event.request.parameters.city, tempC: 21.5 }" },
    graphql: 'extend type Query { weather(city: String!): Weather } type Weather { city: String! tempC: Float! }',
  });
  expect(created.status).toBe(201);
});
afterAll(async () => {
  await t.stop();
});

interface Answer {
  status: number;
  contentType: string | null;
  body: unknown;
}

async function send(body: string, contentType: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': contentType, 'x-dreamfactory-api-key': ADMIN_KEY, ...headers },
    body,
  });
  return answerOf(response);
}

/**
 * A GET of these parameters (variables and extensions as JSON, unless given
 * as text). With `viaYoga` it carries a parameter Yoga ignores and the lean
 * door leaves to Yoga.
 */
async function sendGet(params: Record<string, unknown>, options: { viaYoga?: boolean; headers?: Record<string, string> } = {}): Promise<Answer> {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) search.set(name, typeof value === 'string' ? value : JSON.stringify(value));
  if (options.viaYoga) search.set('door', 'yoga');
  const response = await fetch(`${t.url}/graphql?${search}`, { headers: { 'x-dreamfactory-api-key': ADMIN_KEY, ...options.headers } });
  return answerOf(response);
}

async function answerOf(response: Response): Promise<Answer> {
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text, (key, value) => (key === 'executionId' ? '(an execution)' : value));
  } catch {
    // Not JSON: compared as text.
  }
  return { status: response.status, contentType: response.headers.get('content-type'), body: parsed };
}

const deep = `{ services { edges { node { versions { edges { node { service { versions { edges { node { service { name } } } } } } } } } } } }`;

const cases: [string, string, Record<string, string>?][] = [
  ['a plain query', JSON.stringify({ query: '{ __typename scriptTypes { name } }' })],
  ['a typed field', JSON.stringify({ query: '{ weather(city: "Oslo") { city tempC } }' })],
  ['a typed field whose script fails', JSON.stringify({ query: '{ weather(city: "Nowhere") { city } }' })],
  ['variables and an operation name', JSON.stringify({ query: 'query A($n: String!) { service(name: $n) { name } } query B { __typename }', variables: { n: 'weather' }, operationName: 'A' })],
  ['a domain error', JSON.stringify({ query: '{ service(name: "missing") { name } }' })],
  ['a mutation with a domain error', JSON.stringify({ query: 'mutation { invokeService(name: "missing") { statusCode } }' })],
  ['a syntax error', JSON.stringify({ query: '{ services {' })],
  ['a validation error', JSON.stringify({ query: '{ nope }' })],
  ['a document over the depth limit', JSON.stringify({ query: deep })],
  ['an unknown operation name', JSON.stringify({ query: 'query A { __typename }', operationName: 'B' })],
  ['two operations and no name', JSON.stringify({ query: 'query A { __typename } query B { __typename }' })],
  ['an operation name that is not a string', JSON.stringify({ query: '{ __typename }', operationName: 7 })],
  ['a variable of the wrong type', JSON.stringify({ query: 'query($n: String!) { service(name: $n) { name } }', variables: { n: 5 } })],
  ['a missing variable', JSON.stringify({ query: 'query($n: String!) { service(name: $n) { name } }' })],
  ['variables that are a list', JSON.stringify({ query: '{ __typename }', variables: [1] })],
  ['extensions that are a string', JSON.stringify({ query: '{ __typename }', extensions: 'x' })],
  ['an unexpected parameter', JSON.stringify({ query: '{ __typename }', extra: 1 })],
  ['a null parameter', JSON.stringify({ query: '{ __typename }', extra: null, variables: null })],
  ['no query', JSON.stringify({ variables: {} })],
  ['a query that is not a string', JSON.stringify({ query: 5 })],
  ['a body that is a list', JSON.stringify([{ query: '{ __typename }' }])],
  ['a body that is not JSON', '{ "query": '],
  // Without an Accept a subscription is an event stream; asking for JSON, Yoga refuses it (406).
  ['a subscription asking for JSON', JSON.stringify({ query: 'subscription { executionUpdated { id } }' }), { accept: 'application/json' }],
  ['asking for graphql-response+json', JSON.stringify({ query: '{ nope }' }), { accept: 'application/graphql-response+json' }],
  ['asking for JSON among others', JSON.stringify({ query: '{ __typename }' }), { accept: 'application/json, text/plain, */*' }],
  ['asking for anything', JSON.stringify({ query: '{ __typename }' }), { accept: '*/*' }],
  ['asking for HTML only', JSON.stringify({ query: '{ __typename }' }), { accept: 'text/html' }],
];

const getCases: [string, Record<string, unknown>, Record<string, string>?][] = [
  ['a plain query', { query: '{ __typename scriptTypes { name } }' }],
  ['a typed field', { query: '{ weather(city: "Oslo") { city tempC } }' }],
  ['a typed field whose script fails', { query: '{ weather(city: "Nowhere") { city } }' }],
  ['variables and an operation name', { query: 'query A($n: String!) { service(name: $n) { name } } query B { __typename }', variables: { n: 'weather' }, operationName: 'A' }],
  ['a mutation (refused over GET)', { query: 'mutation { invokeService(name: "missing") { statusCode } }' }],
  ['a syntax error', { query: '{ services {' }],
  ['a validation error', { query: '{ nope }' }],
  ['an unknown operation name', { query: 'query A { __typename }', operationName: 'B' }],
  ['variables that are not JSON', { query: '{ __typename }', variables: '{"n":' }],
  ['variables that are a list', { query: '{ __typename }', variables: [1] }],
  ['extensions that are a string', { query: '{ __typename }', extensions: '"x"' }],
  ['a variable of the wrong type', { query: 'query($n: String!) { service(name: $n) { name } }', variables: { n: 5 } }],
  ['no query', { variables: {} }],
  ['an empty query', { query: '' }],
  ['a subscription asking for JSON', { query: 'subscription { executionUpdated { id } }' }, { accept: 'application/json' }],
  ['asking for graphql-response+json', { query: '{ nope }' }, { accept: 'application/graphql-response+json' }],
];

describe('GraphQL over HTTP: JSON operations', () => {
  it.each(cases)('%s: answered as Yoga answers it', async (_what, body, headers) => {
    const lean = await send(body, 'application/json', headers);
    const yoga = await send(body, 'application/graphql+json', headers);
    expect(lean).toEqual(yoga);
  });

  it.each(getCases)('over GET, %s: answered as Yoga answers it', async (_what, params, headers) => {
    const lean = await sendGet(params, { headers });
    expect(lean).toEqual(await sendGet(params, { headers, viaYoga: true }));
  });

  it('a typed field answers its data with 200 and JSON', async () => {
    const answer = await send(JSON.stringify({ query: '{ weather(city: "Oslo") { city tempC } }' }), 'application/json; charset=utf-8');
    expect(answer).toEqual({ status: 200, contentType: 'application/json; charset=utf-8', body: { data: { weather: { city: 'Oslo', tempC: 21.5 } } } });
  });

  it('reads Accept as Yoga negotiates it', () => {
    expect(answersJson(undefined)).toBe(true);
    expect(answersJson('*/*')).toBe(true);
    expect(answersJson('application/json')).toBe(true);
    expect(answersJson('application/json, text/plain, */*')).toBe(true);
    expect(answersJson('Application/JSON; charset=UTF-8')).toBe(true);
    expect(answersJson('application/graphql-response+json')).toBe(false);
    expect(answersJson('application/json, application/graphql-response+json')).toBe(true);
    expect(answersJson('application/graphql-response+json, application/json')).toBe(false);
    expect(answersJson('application/json; charset=latin1')).toBe(false);
    expect(answersJson('text/event-stream')).toBe(false);
    expect(answersJson('text/html')).toBe(false);
    expect(answersJson(['application/json', 'text/html'])).toBe(false);
  });
});

// Typed-field plans (src/graphql/typed-field-plans.ts): a document of typed
// fields that Yoga has run once on the current schema is run again on Yoga's
// executor without its pipeline. Each case is sent once to plan it, then
// through the plan and to Yoga alone; the answers must be the same, and the
// plan must have been used exactly when the document is one it may take.
describe('GraphQL over HTTP: typed-field plans', () => {
  const SHAPES = `const p = event.request.parameters || {};
const body = event.request.payload;
if (body && body.input) return { city: body.input.city, tempC: body.input.tempC ?? 0 };
if (p.mode === 'null-city') return { city: null, tempC: 1 };
if (p.mode === 'bad-temp') return { city: 'x', tempC: 'warm' };
if (p.mode === 'fail') throw new Error('asked to fail');
if (event.resource === 'shapes') return [{ city: 'a', tempC: 1 }, { city: 'b', tempC: 2, tags: ['t'] }];
return { city: 'x', tempC: 2, tags: ['a'] };`;
  const SDL = `extend type Query { shape(mode: String): Shape shapes(mode: String): [Shape!]! }
extend type Mutation { saveShape(input: ShapeInput!): Shape }
type Shape { city: String! tempC: Float! tags: [String!] }
input ShapeInput { city: String! tempC: Float }`;

  const plans = () => plannedOperationsOf(t.server.graphql)!.plans;
  /** Saves the service's definition; the answer comes once the schema serving it is in place. */
  const define = async (sdl: string) => {
    const saved = await t.gql('mutation($sdl: String) { updateService(name: "shapes", input: { graphql: $sdl }) { name } }', { sdl });
    expect(saved.errors).toBeUndefined();
  };

  beforeAll(async () => {
    const created = await t.rest('POST', '/api/v2/system/service', { name: 'shapes', type: 'javascript', config: { content: SHAPES }, graphql: SDL });
    expect(created.status).toBe(201);
  });

  const planned: [string, Record<string, unknown>][] = [
    ['a typed field', { query: '{ shape { city tempC tags } }' }],
    ['aliases, __typename and a null where the schema allows none', { query: '{ a: shape(mode: "null-city") { city } b: shape { __typename city } }' }],
    ['a result that does not fit its type', { query: '{ shape(mode: "bad-temp") { tempC } }' }],
    ['a script that fails', { query: '{ shape(mode: "fail") { city } }' }],
    ['a list, a fragment and a variable', { query: 'query Q($m: String) { shapes(mode: $m) { ...F } } fragment F on Shape { city tags }', variables: { m: null } }],
    ['a mutation with an input object', { query: 'mutation { saveShape(input: { city: "Oslo", tempC: 3 }) { city tempC } }' }],
    ['the named operation of two', { query: 'query A { shape { city } } query B { __typename }', operationName: 'A' }],
    ['__typename beside a typed field', { query: '{ __typename shape { city } }' }],
  ];
  const notPlanned: [string, Record<string, unknown>][] = [
    ['a variable of the wrong type (Yoga answers)', { query: 'query Q($m: String) { shapes(mode: $m) { ...F } } fragment F on Shape { city tags }', variables: { m: 5 } }],
    ['the other named operation, without typed fields', { query: 'query A { shape { city } } query B { __typename }', operationName: 'B' }],
    ['a typed field beside a platform field', { query: '{ shape { city } scriptTypes { name } }' }],
    ['a directive on a root field', { query: '{ shape @include(if: true) { city } }' }],
    ['extensions', { query: '{ shape { city } }', extensions: { any: 1 } }],
  ];

  it.each(planned)('%s: from its plan, answered as Yoga answers it', async (_what, params) => {
    const body = JSON.stringify(params);
    await send(body, 'application/json');
    const before = plans().runs;
    const lean = await send(body, 'application/json');
    expect(plans().runs).toBe(before + 1);
    expect(lean).toEqual(await send(body, 'application/graphql+json'));
  });

  it.each(notPlanned)('%s: not from a plan, answered as Yoga answers it', async (_what, params) => {
    const body = JSON.stringify(params);
    // The planned document of the same text, where there is one, is planned first.
    await send(JSON.stringify({ ...params, variables: { m: null }, extensions: undefined }), 'application/json');
    await send(body, 'application/json');
    const before = plans().runs;
    const lean = await send(body, 'application/json');
    expect(plans().runs).toBe(before);
    expect(lean).toEqual(await send(body, 'application/graphql+json'));
  });

  it.each(planned.filter(([, params]) => !String(params.query).startsWith('mutation')))(
    'over GET, %s: from its plan, answered as Yoga answers it',
    async (_what, params) => {
      await sendGet(params);
      const before = plans().runs;
      const lean = await sendGet(params);
      expect(plans().runs).toBe(before + 1);
      expect(lean).toEqual(await sendGet(params, { viaYoga: true }));
    },
  );

  it('hostile: a mutation planned over POST is refused over GET (405) before it runs, as Yoga refuses it', async () => {
    const params = { query: 'mutation { saveShape(input: { city: "Get", tempC: 9 }) { city } }' };
    expect((await send(JSON.stringify(params), 'application/json')).status).toBe(200);
    const before = plans().runs;
    const lean = await sendGet(params);
    expect(lean.status).toBe(405);
    expect(plans().runs).toBe(before);
    expect(lean).toEqual(await sendGet(params, { viaYoga: true }));
  });

  it("hostile: a caller whose role grants nothing gets the pipeline's refusal from a plan made by the administrator", async () => {
    const role = await t.rest('POST', '/api/v2/system/role', { name: 'plans-nothing' });
    const app = await t.rest('POST', '/api/v2/system/app', { name: 'plans-nothing-app', role_id: role.json.id });
    const key = app.json.api_key as string;
    const body = JSON.stringify({ query: '{ shape { city } }' });
    await send(body, 'application/json');
    const before = plans().runs;
    const lean = await send(body, 'application/json', { 'x-dreamfactory-api-key': key });
    expect(plans().runs).toBe(before + 1);
    expect(JSON.stringify(lean.body)).toContain('FORBIDDEN');
    expect(lean).toEqual(await send(body, 'application/graphql+json', { 'x-dreamfactory-api-key': key }));
  });

  it("a changed definition is a new schema: its first call goes through Yoga again, and a removed field's plan is never used", async () => {
    const body = JSON.stringify({ query: '{ shapes { city } }' });
    await send(body, 'application/json');
    await define(`${SDL}\nextend type Query { extraShape: Shape }`);
    let before = plans().runs;
    await send(body, 'application/json');
    expect(plans().runs).toBe(before);
    await send(body, 'application/json');
    expect(plans().runs).toBe(before + 1);
    // Without the field, the document is invalid: Yoga says so, whatever was planned before.
    await define(SDL.replace(' shapes(mode: String): [Shape!]!', ''));
    before = plans().runs;
    const lean = await send(body, 'application/json');
    expect(plans().runs).toBe(before);
    expect(JSON.stringify(lean.body)).toContain('Cannot query field \\"shapes\\"');
    expect(lean).toEqual(await send(body, 'application/graphql+json'));
    await define(SDL);
  });

  it('hostile: endless distinct texts stop being planned (500 a schema) and are still answered', async () => {
    const texts = Array.from({ length: 520 }, (_, i) => JSON.stringify({ query: `{ shape { city } } # ${i}` }));
    for (const text of texts) expect((await send(text, 'application/json')).status).toBe(200);
    const before = plans().runs;
    const last = await send(texts.at(-1)!, 'application/json');
    expect(last.body).toEqual({ data: { shape: { city: 'x' } } });
    expect(plans().runs).toBe(before);
  });
});
