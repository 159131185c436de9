// The lean door for JSON operations (src/graphql/json-operations.ts) answers
// exactly as Yoga does: every request here is sent as `application/json`
// (the lean door, when it takes it) and as `application/graphql+json`, which
// Yoga alone parses, and the two answers must be the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answersJson } from '../src/graphql/json-operations.ts';
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

describe('GraphQL over HTTP: JSON operations', () => {
  it.each(cases)('%s: answered as Yoga answers it', async (_what, body, headers) => {
    const lean = await send(body, 'application/json', headers);
    const yoga = await send(body, 'application/graphql+json', headers);
    expect(lean).toEqual(yoga);
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
