/**
 * Malformed requests for the REST and GraphQL doors, from a seeded PRNG so a
 * failure reproduces from its seed and index. Each request is raw HTTP/1.1
 * bytes, so paths, headers and framing can be anything a socket can send.
 */

export interface FuzzRequest {
  /** Which door it aims at: decides the error shape expected back. */
  door: 'rest' | 'graphql';
  /** One line saying what was sent, for failure reports. */
  summary: string;
  bytes: Buffer;
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const chance = (random: Random, p: number) => random() < p;
const int = (random: Random, max: number) => Math.floor(random() * max);

const WEIRD_NUMBERS = ['1e308', '-1', '99999999999999999999', '2147483648', '0', '', 'NaN', '0x10', ' 7', '1.5', '-0', 'Infinity', '9'.repeat(400), '007', '1,2,3'];
const WEIRD_TEXT = ['%00', '%ff', '%', '%zz', '..', '../..', '%2e%2e', '\u00e9', '\u{1f600}', "'", '"', '<script>', 'a'.repeat(300), '__proto__', 'constructor', 'null', '[]', '{}', ' ', '\t'];
const QUERY_KEYS = ['limit', 'offset', 'ids', 'fields', 'filter', 'order', 'include_count', 'log_after', 'log_limit', 'service', 'status', '__proto__', 'a[b]', ''];

/** Valid documents to mutate: every root field, with fragments and variables. */
const GRAPHQL_DOCUMENTS = [
  '{ services { edges { node { id name type content config } } } }',
  '{ services(first: 3) { edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }',
  'query($n: String!) { service(name: $n) { id name isActive createdAt } }',
  'query($f: Int, $a: String) { executions(first: $f, after: $a) { edges { cursor node { id status logs(first: 2) { edges { node { message } } } } } pageInfo { hasNextPage endCursor } } }',
  'query($id: ID!) { execution(id: $id) { ...E } } fragment E on Execution { id status error { message kind line } }',
  '{ scriptTypes { name available version } scriptType(name: "javascript") { engine } }',
  'mutation($i: CreateServiceInput!) { createService(input: $i) { id name } }',
  'mutation($n: String!, $i: UpdateServiceInput!) { updateService(name: $n, input: $i) { id } }',
  'mutation($n: String!) { deleteService(name: $n) }',
  'mutation($n: String!, $p: JSON, $h: JSON) { invokeService(name: $n, method: "POST", payload: $p, headers: $h) { statusCode content headers } }',
  'mutation($s: RunScriptInput!) { runScript(script: $s, parameters: {a: 1}) { statusCode content executionId } }',
  'query Q { __typename ... on Query { scriptTypes { name } } }',
];
const GRAPHQL_NOISE = ['{', '}', '(', ')', '...', '$x', '@skip(if: true)', '@include', '"', '"""', '#', '\u0000', ':', 'first: 99999999999', 'first: -1', 'fragment F on Query { ...F }', 'query', 'mutation', 'subscription', ',', '!', '[', ']', '\\u', '1e999'];

function weirdValue(random: Random, depth = 0): unknown {
  switch (int(random, depth > 3 ? 7 : 10)) {
    case 0:
      return null;
    case 1:
      return pick(random, [true, false]);
    case 2:
      return pick(random, [0, -1, 1.5, 2 ** 31, 2 ** 53 + 2, 1e308, -1e308]);
    case 3:
      return pick(random, WEIRD_TEXT);
    case 4:
      return 'x'.repeat(int(random, 5000));
    case 5:
      return pick(random, ['echo', 'fuzz-ok', 'javascript', 'python3', 'cobol', '(inline)', 'system']);
    case 6:
      return '';
    case 7:
      return Array.from({ length: int(random, 4) }, () => weirdValue(random, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: int(random, 4) }, () => [pick(random, ['name', 'type', 'content', 'config', 'is_active', 'label', 'timeout_ms', 'resource', '__proto__', 'a']), weirdValue(random, depth + 1)]),
      );
  }
}

function body(random: Random): string | Buffer | null {
  switch (int(random, 12)) {
    case 0:
      return null;
    case 1:
      return '';
    case 2:
      return JSON.stringify(weirdValue(random));
    case 3:
      return JSON.stringify({ resource: Array.from({ length: int(random, 5) }, () => weirdValue(random)) });
    case 4:
      return '{"resource": [' + '{"name": "x"},'.repeat(int(random, 3)) + (chance(random, 0.5) ? ']}' : '');
    case 5: {
      const opener = pick(random, ['[', '{"a":']);
      const depth = pick(random, [10, 200, 600, 5000, 100_000]);
      const closer = opener === '[' ? ']' : '}';
      return opener.repeat(depth) + '1' + (chance(random, 0.8) ? closer.repeat(depth) : '');
    }
    case 6:
      return Buffer.from(Array.from({ length: int(random, 200) }, () => int(random, 256)));
    case 7:
      return 'a=1&b=%zz&c[]=' + 'x'.repeat(int(random, 100));
    case 8:
      return JSON.stringify({ name: `fuzz${int(random, 50)}`, type: pick(random, ['javascript', 'cobol', 1]), config: { content: pick(random, ['return 1', 1, null, {}]), timeout_ms: weirdValue(random) } });
    case 9:
      return String(weirdValue(random));
    case 10:
      return 'x'.repeat(pick(random, [1000, 100_000, 1_000_000]));
    default:
      return JSON.stringify([1, 'two', { three: [3] }]);
  }
}

function mutateDocument(random: Random, document: string): string {
  let text = document;
  const edits = int(random, 4);
  for (let i = 0; i < edits; i++) {
    const at = int(random, text.length + 1);
    switch (int(random, 5)) {
      case 0:
        text = text.slice(0, at) + text.slice(at + int(random, 10));
        break;
      case 1:
        text = text.slice(0, at) + pick(random, GRAPHQL_NOISE) + text.slice(at);
        break;
      case 2:
        text = text.replace(/\d+/, pick(random, WEIRD_NUMBERS.filter((n) => /^-?[\d.e]+$/.test(n))));
        break;
      case 3: {
        const length = int(random, 30);
        text = text.slice(0, at) + text.slice(at, at + length).repeat(int(random, 20)) + text.slice(at);
        break;
      }
      default:
        text = text.replace(/\b(services|executions|name|id)\b/, pick(random, ['servicez', '__schema', '__type(name: "Query") { name }', 'a: services', 'b: executions(first: 1000)']));
    }
  }
  return text;
}

function graphqlVariables(random: Random): unknown {
  if (chance(random, 0.15)) return pick(random, ['not an object', 5, [1, 2], null, '{bad']);
  const values: Record<string, unknown> = {};
  for (const name of ['n', 'f', 'a', 'id', 'i', 'p', 'h', 's']) if (chance(random, 0.5)) values[name] = weirdValue(random);
  if (chance(random, 0.3)) values.i = { name: `fuzz${int(random, 50)}`, type: 'javascript', content: pick(random, ['return 1', 'throw new Error("x")', '']), config: weirdValue(random) };
  if (chance(random, 0.3)) values.s = { type: pick(random, ['javascript', 'cobol']), content: pick(random, ['return event', 'return {', 'return 1']), config: weirdValue(random) };
  return values;
}

function queryString(random: Random): string {
  if (chance(random, 0.4)) return '';
  const parts = Array.from({ length: 1 + int(random, 4) }, () => {
    const key = pick(random, QUERY_KEYS);
    const value = chance(random, 0.5) ? pick(random, WEIRD_NUMBERS) : pick(random, WEIRD_TEXT);
    return `${encodeURIComponent(key)}=${chance(random, 0.7) ? encodeURIComponent(value) : value.replace(/[\s#]/g, '')}`;
  });
  return '?' + parts.join('&');
}

function restPath(random: Random): string {
  const segment = () => (chance(random, 0.5) ? encodeURIComponent(pick(random, WEIRD_TEXT)) : pick(random, WEIRD_TEXT).replace(/[\s#?]/g, ''));
  switch (int(random, 8)) {
    case 0:
      return '/api/v2/system/service';
    case 1:
      return `/api/v2/system/service/${pick(random, WEIRD_NUMBERS).replace(/\s/g, '') || '1'}`;
    case 2:
      return '/api/v2/system/execution' + (chance(random, 0.5) ? `/${segment()}` : '');
    case 3:
      return `/api/v2/system/script_type/${segment()}`;
    case 4:
      return `/api/v2/${pick(random, ['echo', 'fuzz-ok', 'ECHO', 'nosuch'])}/${segment()}/${segment()}`;
    case 5:
      return `/api/v2/${segment()}`;
    case 6:
      return pick(random, ['/', '/healthz', '/api', '/api/v2', '/api/v2/', '//api/v2/echo', '/api/v2/echo?', '/api/v2/system', '*', '/api/v2/echo/%']);
    default:
      return '/api/v2/echo';
  }
}

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x', 'application/vnd.api+json', 'garbage', 'application/graphql', 'application/json; charset=latin1'];

function rawRequest(method: string, path: string, headers: [string, string][], payload: string | Buffer | null): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...headers.map(([name, value]) => `${name}: ${value}`)];
  const data = payload === null ? null : Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  if (data !== null) lines.push(`Content-Length: ${data.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), data ?? Buffer.alloc(0)]);
}

function authHeaders(random: Random, key: string): [string, string][] {
  const roll = random();
  if (roll < 0.45) return [['X-DreamFactory-API-Key', key]];
  if (roll < 0.85) return [['Authorization', `Bearer ${key}`]];
  if (roll < 0.93) return [['Authorization', pick(random, ['Bearer', 'Basic abc', `Bearer ${key}x`])]];
  return [];
}

function restRequest(random: Random, key: string): FuzzRequest {
  const method = pick(random, ['GET', 'GET', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD']);
  const path = restPath(random) + queryString(random);
  const payload = method === 'GET' && chance(random, 0.7) ? null : body(random);
  const headers: [string, string][] = [...authHeaders(random, key)];
  if (payload !== null && chance(random, 0.9)) headers.push(['Content-Type', pick(random, CONTENT_TYPES)]);
  if (chance(random, 0.1)) headers.push(['Origin', 'https://evil.example'], ['Access-Control-Request-Method', 'POST']);
  if (chance(random, 0.1)) headers.push([pick(random, ['X-Weird', 'Accept', 'Cookie', 'If-None-Match']), pick(random, WEIRD_TEXT).replace(/[\r\n\u0000]/g, '')]);
  const summary = `${method} ${path.slice(0, 200)} body=${payload === null ? 'none' : JSON.stringify(payload.toString().slice(0, 120))}`;
  return { door: 'rest', summary, bytes: rawRequest(method, path, headers, payload) };
}

function graphqlRequest(random: Random, key: string): FuzzRequest {
  const document = chance(random, 0.8) ? mutateDocument(random, pick(random, GRAPHQL_DOCUMENTS)) : pick(random, GRAPHQL_DOCUMENTS);
  const variables = graphqlVariables(random);
  const headers: [string, string][] = [...authHeaders(random, key)];
  if (chance(random, 0.1)) headers.push(['Accept', pick(random, ['text/event-stream', 'application/graphql-response+json', 'multipart/mixed', '*/*'])]);
  let method = 'POST';
  let path = '/graphql';
  let payload: string | Buffer | null;
  switch (int(random, 6)) {
    case 0:
      method = 'GET';
      path += `?query=${encodeURIComponent(document)}${chance(random, 0.7) ? `&variables=${chance(random, 0.8) ? encodeURIComponent(JSON.stringify(variables)) : '{bad'}` : ''}`;
      payload = null;
      break;
    case 1:
      payload = JSON.stringify(pick(random, [{ query: 5 }, { query: null }, [{ query: document }], { variables }, 'query', { query: document, variables: '{"n": 1}' }, { query: document, operationName: 7 }, { query: document, extensions: 'x' }]));
      headers.push(['Content-Type', 'application/json']);
      break;
    case 2:
      payload = body(random);
      if (payload !== null) headers.push(['Content-Type', pick(random, CONTENT_TYPES)]);
      break;
    default:
      payload = JSON.stringify({ query: document, variables });
      headers.push(['Content-Type', pick(random, ['application/json', 'application/json', 'application/graphql+json', 'text/plain'])]);
  }
  const summary = `${method} ${path.slice(0, 200)} body=${payload === null ? 'none' : JSON.stringify(payload.toString().slice(0, 200))}`;
  return { door: 'graphql', summary, bytes: rawRequest(method, path, headers, payload) };
}

/** `count` requests from `seed`: about half REST, half GraphQL. Index i is always the same request for the same seed. */
export function* fuzzRequests(seed: number, count: number, key: string): Generator<FuzzRequest> {
  for (let i = 0; i < count; i++) {
    const random = prng(seed * 1_000_003 + i);
    yield chance(random, 0.5) ? restRequest(random, key) : graphqlRequest(random, key);
  }
}
