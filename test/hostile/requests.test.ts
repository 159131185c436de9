import { connect } from 'node:net';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAPHQL_LIMITS } from '../../src/graphql/plugins/limits.ts';
import { MAX_ROWS_PER_OPERATION } from '../../src/graphql/request-scope.ts';
import { MAX_JSON_DEPTH } from '../../src/http/json-depth.ts';
import { MAX_BATCH_RECORDS } from '../../src/system/services.ts';
import { expectErrorShape, HEALTHZ_BUDGET_MS, healthzLatency, loopDelayDuring, scaled, whileProbingHealth } from '../helpers/hostile.ts';
import { ADMIN_KEY, createService, startTestServer, type RestResponse, type TestServer } from '../helpers/server.ts';

/**
 * Each request of issue #8 that once crashed, blocked or 500'd the server,
 * sent over real HTTP. The server runs in this process (startTestServer),
 * so the event-loop delay sampled here is the server's: the hostile request
 * may not hold the loop longer than LOOP_BUDGET_MS. Bodies are built before
 * sampling starts, so the client's own work is not counted.
 */
const LOOP_BUDGET_MS = HEALTHZ_BUDGET_MS;
/**
 * For a request the server serves in full over ~18,000 rows (read through
 * Prisma, completed 500 rows a turn): alone it measured 4 to 60 ms, but with
 * another test file running on the second core (as `npm test` does) single
 * turns reached 110 to 190 ms, so it is bounded at 250 ms; refusals keep 100.
 */
const SERVED_LOOP_BUDGET_MS = scaled(250);

let t: TestServer;
const MB = 1024 * 1024;

beforeAll(async () => {
  // Room for a 3 MB script, so the content budget is what refuses, whatever SCRIPT_MAX_BYTES defaults to.
  t = await startTestServer({ SCRIPT_MAX_BYTES: String(4 * MB) });
  await createService(t, 'bystander', 'javascript', "return { ok: 'still here' }");
  // Warm: the first request through each door compiles its code paths, which is not the hostile request's cost.
  for (let i = 0; i < 3; i++) {
    await post('/graphql', graphqlBody(`{ ${Array.from({ length: 60 }, (_, j) => `a${j}: scriptTypes { name }`).join(' ')} }`));
    await post('/graphql', graphqlBody(`{ ${'__typename '.repeat(6000)} }`));
    await post('/api/v2/bystander', '['.repeat(1000) + ']'.repeat(1000));
    await t.rest('GET', '/api/v2/bystander');
  }
});
afterAll(async () => {
  await t?.stop();
});

/** What every hostile case ends with: /healthz answers in budget and another service still works. */
async function serverStillServes(): Promise<void> {
  expect(await healthzLatency(t)).toBeLessThan(HEALTHZ_BUDGET_MS);
  const next = await t.rest('GET', '/api/v2/bystander');
  expect(next.status).toBe(200);
  expect(next.json).toEqual({ ok: 'still here' });
}

function post(path: string, body: string, headers: Record<string, string> = {}): Promise<RestResponse> {
  return t.rest('POST', path, body, { 'content-type': 'application/json', ...headers });
}

const graphqlBody = (query: string, variables?: Record<string, unknown>) => JSON.stringify({ query, variables });

/** A GraphQL answer with errors (and no data) whose first message matches `message`. */
function expectGraphQLError(response: RestResponse, message: RegExp): void {
  expect(response.status, response.text.slice(0, 300)).toBeLessThan(500);
  expect(response.json?.errors?.[0]?.message, response.text.slice(0, 300)).toMatch(message);
  expect(response.json?.data ?? null).toBeNull();
}

describe('GraphQL requests that once exhausted the server', () => {
  it('refuses 1,000 aliases of the services list before running any, naming the limit it hit', async () => {
    // The 32 KB request: past the token limit before the alias limit is even counted.
    const thousand = graphqlBody(`{ ${Array.from({ length: 1000 }, (_, i) => `a${i}: services { name content }`).join(' ')} }`);
    const { result, maxDelayMs } = await loopDelayDuring(() => post('/graphql', thousand));
    expectGraphQLError(result, new RegExp(`Token limit of ${GRAPHQL_LIMITS.maxTokens} exceeded`));
    expect(maxDelayMs).toBeLessThan(LOOP_BUDGET_MS);

    const hundred = graphqlBody(`{ ${Array.from({ length: 100 }, (_, i) => `a${i}: services { name content }`).join(' ')} }`);
    const { result: aliases, maxDelayMs: aliasesDelay } = await loopDelayDuring(() => post('/graphql', hundred));
    expectGraphQLError(aliases, new RegExp(`Aliases limit of ${GRAPHQL_LIMITS.maxAliases} exceeded, found 100`));
    expect(aliasesDelay).toBeLessThan(LOOP_BUDGET_MS);
    await serverStillServes();
  });

  it('refuses repeating a large script past the content budget, without building the response', async () => {
    const big = 'x'.repeat(3 * MB);
    const created = await post('/graphql', graphqlBody('mutation($c: String!) { createService(input: {name: "big", type: "javascript", content: $c}) { id } }', { c: `// ${big}` }));
    expect(created.json?.errors, created.text.slice(0, 300)).toBeUndefined();
    const body = graphqlBody(`{ ${Array.from({ length: 40 }, (_, i) => `a${i}: services { edges { node { name content } } }`).join(' ')} }`);
    const { result, maxDelayMs } = await loopDelayDuring(() => post('/graphql', body));
    expectGraphQLError(result, /bytes of script content/);
    expect(result.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(maxDelayMs).toBeLessThan(LOOP_BUDGET_MS);
    expect(result.text.length).toBeLessThan(100_000);
    await t.gql('mutation { deleteService(name: "big") }');
    await serverStillServes();
  });

  it('reads the services list once for all aliases, and refuses past the row budget without blocking', async () => {
    const count = 9_000;
    for (let start = 0; start < count; start += MAX_BATCH_RECORDS) {
      const records = Array.from({ length: MAX_BATCH_RECORDS }, (_, i) => ({ name: `many${start + i}`, type: 'javascript', config: { content: 'return 1' } }));
      expect((await t.rest('POST', '/api/v2/system/service', { resource: records })).status).toBe(201);
    }
    const within = graphqlBody('{ a: services(first: 1000) { edges { node { name } } pageInfo { hasNextPage } } b: services(first: 1000) { edges { node { id } } } }');
    const { result: allowed, maxDelayMs: allowedDelay } = await loopDelayDuring(() => post('/graphql', within));
    expect(allowed.json.errors).toBeUndefined();
    expect(allowed.json.data.a.edges).toHaveLength(1000);
    expect(allowed.json.data.a.pageInfo.hasNextPage).toBe(true);
    expect(allowedDelay).toBeLessThan(SERVED_LOOP_BUDGET_MS);

    // A page size in a variable: the cost limit only multiplies literal ones, so the row budget is what refuses it.
    const tooMany = graphqlBody(`query($n: Int) { ${Array.from({ length: 50 }, (_, i) => `a${i}: services(first: $n) { edges { node { name content } } }`).join(' ')} }`, { n: 1000 });
    const { result, maxDelayMs } = await loopDelayDuring(() => post('/graphql', tooMany));
    expectGraphQLError(result, new RegExp(`more than ${MAX_ROWS_PER_OPERATION} rows`));
    expect(maxDelayMs).toBeLessThan(LOOP_BUDGET_MS);

    const first = await t.gql(`{ services(first: 10, filter: "name LIKE 'many%'") { pageInfo { endCursor } } }`);
    const after = (first.data as { services: { pageInfo: { endCursor: string } } }).services.pageInfo.endCursor;
    const paged = await t.gql(`{ services(first: 5, after: "${after}", filter: "name LIKE 'many%'") { edges { node { name } } } }`);
    expect((paged.data as { services: { edges: { node: { name: string } }[] } }).services.edges.map((e) => e.node.name)).toEqual(['many10', 'many11', 'many12', 'many13', 'many14']);
    await serverStillServes();
  }, 60_000);

  it('refuses pages past 1,000 and aliased pages past the row budget, literal or in variables', async () => {
    const literal = `{ ${Array.from({ length: 1000 }, (_, i) => `a${i}: executions(first: 1000) { edges { node { id } } }`).join(' ')} }`;
    const { result, maxDelayMs } = await loopDelayDuring(() => post('/graphql', graphqlBody(literal)));
    expectGraphQLError(result, /limit of \d+ exceeded/);
    expect(maxDelayMs).toBeLessThan(LOOP_BUDGET_MS);

    const tooBig = await t.gql('{ executions(first: 5000) { edges { node { id } } } }');
    expect(tooBig.errors?.[0]).toMatchObject({ message: expect.stringMatching(/"first" must be from 0 to 1000/), extensions: { code: 'BAD_USER_INPUT' } });

    const variables = `query($n: Int) { ${Array.from({ length: 30 }, (_, i) => `a${i}: executions(first: $n) { edges { node { id } } }`).join(' ')} }`;
    const viaVariables = await post('/graphql', graphqlBody(variables, { n: 1000 }));
    expectGraphQLError(viaVariables, /more than \d+ rows/);
    await serverStillServes();
  });

  it('refuses depth, tokens, fragment cycles, fragment chains and fragment diamonds cheaply', async () => {
    const nested = `{ services { edges { node { ${'config { a { '.repeat(20)}b${' }'.repeat(40)} } } } }`;
    const tokens = `{ ${'__typename '.repeat(GRAPHQL_LIMITS.maxTokens + 10)} }`;
    const cycle = 'query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }';
    const chain = `query { ...F0 } ${Array.from({ length: 400 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} }`).join(' ')} fragment F400 on Query { __typename }`;
    const diamond = `query { ...D0 } ${Array.from({ length: 40 }, (_, i) => `fragment D${i} on Query { ... on Query { ...D${i + 1} } ... on Query { ...D${i + 1} } }`).join(' ')} fragment D40 on Query { a: __typename }`;
    const cases: [string, string, RegExp][] = [
      ['depth', nested, new RegExp(`depth limit of ${GRAPHQL_LIMITS.maxDepth} exceeded`)],
      ['tokens', tokens, new RegExp(`Token limit of ${GRAPHQL_LIMITS.maxTokens} exceeded`)],
      ['cycle', cycle, /Cannot spread fragment "A" within itself/],
      ['chain', chain, /depth limit|Token limit/],
      ['diamond', diamond, /limit of \d+ exceeded/],
    ];
    for (const [name, query, message] of cases) {
      const body = graphqlBody(query);
      const { result, maxDelayMs } = await loopDelayDuring(() => post('/graphql', body));
      const messages = (result.json?.errors ?? []).map((e: { message: string }) => e.message).join(' | ');
      expect(messages, name).toMatch(message);
      expect(result.status, name).toBeLessThan(500);
      expect(maxDelayMs, name).toBeLessThan(LOOP_BUDGET_MS);
    }
    // The worst GraphQL's own (quadratic) validation can get within the token limit: one field repeated.
    const repeats = Math.floor(GRAPHQL_LIMITS.maxTokens / 4) - 2;
    const repeated = graphqlBody(`{ ${'scriptTypes { name } '.repeat(repeats)} }`);
    const { result: merged, maxDelayMs: mergedDelay } = await loopDelayDuring(() => post('/graphql', repeated));
    // GraphQL's validation gives up past its own work budget; the answer says why.
    expectGraphQLError(merged, /too complex to validate/);
    // GraphQL's own validation works up to its budget before giving up: 0 to 54 ms alone, 115 once with another test file on the other core.
    expect(mergedDelay).toBeLessThan(SERVED_LOOP_BUDGET_MS);
    await serverStillServes();
  });

  it('takes a variable just under the body limit without blocking, and answers 413 in GraphQL shape past it', async () => {
    const nearLimit = JSON.stringify({ query: 'mutation($x: JSON) { runScript(script: {type: "javascript", content: "return 1"}, payload: $x) { statusCode } }', variables: { x: 'a'.repeat(3.5 * MB) } });
    const { result, maxDelayMs } = await loopDelayDuring(() => post('/graphql', nearLimit));
    expect(result.json?.errors, result.text.slice(0, 300)).toBeUndefined();
    expect(maxDelayMs).toBeLessThan(LOOP_BUDGET_MS);

    const over = JSON.stringify({ query: 'query($x: JSON) { __typename }', variables: { x: 'a'.repeat(10 * MB) } });
    const { result: refused, maxDelayMs: refusedDelay } = await loopDelayDuring(() => post('/graphql', over));
    expect(refused.status).toBe(413);
    expect(refused.json.errors[0]).toMatchObject({ message: expect.stringMatching(/larger than this route's limit of \d+ bytes/), extensions: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(refusedDelay).toBeLessThan(LOOP_BUDGET_MS);
    await serverStillServes();
  });

  it('answers malformed GET variables with 400 in GraphQL shape, naming the parameter', async () => {
    const response = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}&variables={bad`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.errors[0].message).toMatch(/"variables" or "extensions" parameter is not valid JSON/);
    await serverStillServes();
  });

  it('applies the same limits over SSE and the graphql-ws WebSocket transport', async () => {
    const aliases = `{ ${Array.from({ length: 100 }, (_, i) => `a${i}: __typename`).join(' ')} ${Array.from({ length: 100 }, (_, i) => `b${i}: scriptTypes { name }`).join(' ')} }`;
    const sse = await post('/graphql', graphqlBody(aliases), { accept: 'text/event-stream', authorization: `Bearer ${ADMIN_KEY}` });
    expect(sse.text).toMatch(new RegExp(`Aliases limit of ${GRAPHQL_LIMITS.maxAliases} exceeded`));

    const client = createClient({
      url: t.url.replace('http', 'ws') + '/graphql',
      webSocketImpl: WebSocket,
      connectionParams: { 'X-DreamFactory-API-Key': ADMIN_KEY },
      retryAttempts: 0,
    });
    try {
      const run = (query: string) =>
        new Promise<{ errors?: readonly { message: string }[]; data?: unknown }>((resolve, reject) => {
          let last: { errors?: readonly { message: string }[]; data?: unknown } = {};
          client.subscribe({ query }, { next: (value) => (last = value as typeof last), error: (error) => (Array.isArray(error) ? resolve({ errors: error }) : reject(error)), complete: () => resolve(last) });
        });
      const refused = await run(aliases);
      expect(refused.errors?.[0]?.message).toMatch(new RegExp(`Aliases limit of ${GRAPHQL_LIMITS.maxAliases} exceeded`));
      const tooManyTokens = await run(`{ ${'__typename '.repeat(GRAPHQL_LIMITS.maxTokens + 10)} }`);
      expect(tooManyTokens.errors?.[0]?.message).toMatch(/Token limit/);
      // The connection survives its refused operations.
      expect((await run('{ scriptTypes { name } }')).data).toBeTruthy();
    } finally {
      await client.dispose();
    }
    await serverStillServes();
  });
});

describe('REST requests that once blocked the server or answered 500', () => {
  it('refuses a batch past the record limit before validating any, naming it', async () => {
    const body = JSON.stringify({ resource: Array.from({ length: 10_000 }, (_, i) => ({ name: `batch${i}`, type: 'javascript', config: { content: 'return 1' } })) });
    const { result, maxDelayMs } = await loopDelayDuring(() => post('/api/v2/system/service', body));
    expectErrorShape(result, [400]);
    expect(result.json.error.message).toMatch(new RegExp(`at most ${MAX_BATCH_RECORDS} services; this one has 10000`));
    expect(maxDelayMs).toBeLessThan(LOOP_BUDGET_MS);
    await serverStillServes();
  });

  it('answers out-of-range and malformed numbers with 400 naming the parameter', async () => {
    const cases: [string, string][] = [
      ['/api/v2/system/service?offset=1e308', 'offset'],
      ['/api/v2/system/service?offset=99999999999999999999', 'offset'],
      ['/api/v2/system/service?limit=99999999999999999999', 'limit'],
      ['/api/v2/system/service?limit=-1', 'limit'],
      ['/api/v2/system/service?ids=1,2147483648', 'id'],
      ['/api/v2/system/service?filter=id%3D99999999999', 'id'],
      ['/api/v2/system/service/2147483648', 'id'],
      ['/api/v2/system/service/1e3', 'id'],
      ['/api/v2/system/execution?offset=1e308', 'offset'],
      ['/api/v2/system/execution?limit=99999999999999999999', 'limit'],
      ['/api/v2/system/service?order=constructor', 'order'],
    ];
    for (const [path, field] of cases) {
      const response = await t.rest('GET', path);
      expectErrorShape(response, [400]);
      expect(response.json.error.context, path).toMatchObject({ field });
    }
    const patch = await t.rest('PATCH', '/api/v2/system/service/99999999999', { label: 'x' });
    expectErrorShape(patch, [400]);
    // Id 0 is the built-in system service: there, but not deletable.
    const remove = await t.rest('DELETE', '/api/v2/system/service/0');
    expectErrorShape(remove, [403]);
    await serverStillServes();
  });

  it('refuses a 100,000-deep JSON body at the door, and passes a deep but sane one to the script', async () => {
    await createService(t, 'echo-depth', 'javascript', 'let d = 0, v = event.request.payload; while (Array.isArray(v)) { d++; v = v[0]; } return { depth: d }');
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const { result, maxDelayMs } = await loopDelayDuring(() => post('/api/v2/echo-depth', deep));
    expectErrorShape(result, [400]);
    expect(result.json.error.message).toMatch(new RegExp(`more than ${MAX_JSON_DEPTH} levels deep`));
    expect(maxDelayMs).toBeLessThan(LOOP_BUDGET_MS);
    const sane = await post('/api/v2/echo-depth', '['.repeat(100) + ']'.repeat(100));
    expect(sane.json).toEqual({ depth: 100 });
    await serverStillServes();
  });

  it('refuses a "__proto__" key in JSON at the door (a nested one in a config once answered 500)', async () => {
    const record = '{"resource":[{"name":"proto","type":"javascript","config":{"content":"return 1","a":{"__proto__":null}}}]}';
    const rest = await post('/api/v2/system/service', record);
    expectErrorShape(rest, [400]);
    expect(rest.json.error.message).toMatch(/"__proto__" key/);
    const graphql = await post('/graphql', '{"query":"mutation($i: CreateServiceInput!) { createService(input: $i) { id } }","variables":{"i":{"name":"proto","type":"javascript","content":"return 1","config":{"a":{"__proto__":null}}}}}');
    expect(graphql.status).toBe(400);
    expect(graphql.json.errors[0].message).toMatch(/"__proto__" key/);
    await serverStillServes();
  });

  it('answers a body over a route limit with 413 in the contract shape', async () => {
    const body = JSON.stringify({ resource: [{ name: 'huge', type: 'javascript', config: { content: 'x'.repeat(20 * MB) } }] });
    const response = await post('/api/v2/system/service', body);
    expectErrorShape(response, [413]);
    expect(response.json.error.message).toMatch(/limit of \d+ bytes/);
    await serverStillServes();
  });
});

/** Sends raw bytes and reads until the server closes; never waits forever. */
function rawExchange(bytes: string | Buffer): Promise<{ text: string; closed: 'end' | 'reset' }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(t.url).port), '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 5 s; got ${JSON.stringify(text.slice(0, 200))}`));
    }, 5000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => {
      clearTimeout(timer);
      resolve({ text, closed: 'end' });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ECONNRESET' && text) resolve({ text, closed: 'reset' });
      else reject(error);
    });
    socket.write(bytes);
  });
}

function expectRawError(text: string, status: number): void {
  expect(text.startsWith(`HTTP/1.1 ${status} `), text.slice(0, 200)).toBe(true);
  const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
  expect(body.error).toMatchObject({ code: status, status_code: status, message: expect.any(String) });
}

describe('malformed HTTP framing gets an HTTP answer, not a dropped connection', () => {
  const cases: [string, string | Buffer, number][] = [
    ['garbage request line', 'HELLO THERE\r\n\r\n', 400],
    ['bad header bytes', 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: \x01\r\n\r\n', 400],
    ['huge headers', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`, 431],
    ['invalid Content-Length', 'POST /api/v2/bystander HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 400],
    ['two Content-Lengths', 'POST /api/v2/bystander HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400],
    ['chunked garbage', `POST /api/v2/bystander HTTP/1.1\r\nHost: x\r\nX-DreamFactory-API-Key: ${ADMIN_KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nnot a chunk\r\n\r\n`, 400],
    ['CONNECT', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 405],
  ];
  for (const [name, bytes, status] of cases) {
    it(`${name}: ${status} in the contract shape, then the connection closes`, async () => {
      const { text } = await rawExchange(bytes);
      expectRawError(text, status);
      await serverStillServes();
    });
  }

  it('a WebSocket upgrade to another path: 404 in the contract shape', async () => {
    const { text } = await rawExchange('GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    expectRawError(text, 404);
    await serverStillServes();
  });
});

describe('health while under attack', () => {
  it('/healthz stays within budget while hostile requests run', async () => {
    const aliasBomb = graphqlBody(`{ ${Array.from({ length: 1000 }, (_, i) => `a${i}: services { name content }`).join(' ')} }`);
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const { slowestHealthMs } = await whileProbingHealth(t, async () => {
      for (let i = 0; i < 5; i++) await Promise.all([post('/graphql', aliasBomb), post('/api/v2/bystander', deep)]);
    });
    expect(slowestHealthMs).toBeLessThan(HEALTHZ_BUDGET_MS);
    await serverStillServes();
  });
});

describe('CORS', () => {
  it('is off by default: no Access-Control headers anywhere, and OPTIONS reaches the script', async () => {
    await createService(t, 'options-answer', 'javascript', "return { method: event.request.method }");
    const graphql = await fetch(`${t.url}/graphql`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    const rest = await fetch(`${t.url}/api/v2/bystander`, { headers: { origin: 'https://evil.example', 'x-dreamfactory-api-key': ADMIN_KEY } });
    for (const response of [graphql, rest]) {
      expect([...response.headers.keys()].filter((name) => name.startsWith('access-control-'))).toEqual([]);
    }
    const options = await t.rest('OPTIONS', '/api/v2/options-answer');
    expect(options.json).toEqual({ method: 'OPTIONS' });
  });

  it('configured: answers preflights without running the script, reflects only listed origins', async () => {
    const cors = await startTestServer({ CORS_ORIGINS: 'https://app.example, https://admin.example' });
    try {
      await createService(cors, 'counted', 'javascript', 'globalThis.n = (globalThis.n ?? 0) + 1; return { calls: globalThis.n }');
      const preflight = await fetch(`${cors.url}/api/v2/counted`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-dreamfactory-api-key' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
      expect((await cors.rest('GET', '/api/v2/counted')).json).toEqual({ calls: 1 });

      const stranger = await fetch(`${cors.url}/graphql`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` }, body: '{"query":"{ __typename }"}' });
      expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
      const friend = await fetch(`${cors.url}/graphql`, { method: 'POST', headers: { origin: 'https://admin.example', 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` }, body: '{"query":"{ __typename }"}' });
      expect(friend.headers.get('access-control-allow-origin')).toBe('https://admin.example');
      // An OPTIONS that is no preflight still reaches the script.
      expect((await cors.rest('OPTIONS', '/api/v2/counted')).json).toEqual({ calls: 2 });
    } finally {
      await cors.stop();
    }
  });

  it('`*` allows any origin without credentials', async () => {
    const open = await startTestServer({ CORS_ORIGINS: '*' });
    try {
      const response = await fetch(`${open.url}/api/v2/system/script_type`, { headers: { origin: 'https://anyone.example', 'x-dreamfactory-api-key': ADMIN_KEY } });
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    } finally {
      await open.stop();
    }
  });
});
