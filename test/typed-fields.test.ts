// Typed service fields (docs/GRAPHQL-FIELDS.md): a service's `graphql`
// definition puts typed Query/Mutation fields in the live schema, each a call
// of the service through the invocation pipeline. Real servers, real HTTP,
// WebSocket and server-sent events, real SQLite and PostgreSQL.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './helpers/eventually.ts';
import { typeRunsHere } from './helpers/interpreters.ts';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.ts';
import { ADMIN_KEY, asAdmin, startTestServer, type TestServer } from './helpers/server.ts';
import { subscribeSse } from './helpers/sse.ts';

interface GqlAnswer {
  status: number;
  data?: any;
  errors?: { message: string; path?: string[]; extensions?: Record<string, any> }[];
}

async function gql(t: TestServer, query: string, variables: Record<string, unknown> = {}, key: string | null = ADMIN_KEY): Promise<GqlAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) headers['x-dreamfactory-api-key'] = key;
  const response = await fetch(`${t.url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return { status: response.status, ...((await response.json()) as object) };
}

const CREATE = `mutation Create($input: CreateServiceInput!) { createService(input: $input) { id name graphql } }`;
const UPDATE = `mutation Update($name: String!, $input: UpdateServiceInput!) { updateService(name: $name, input: $input) { name graphql } }`;

/** Creates a service with a definition over GraphQL; the answer (errors included). */
function define(t: TestServer, name: string, graphql: string | null, content = 'return null', type = 'javascript', extra: Record<string, unknown> = {}) {
  return gql(t, CREATE, { input: { name, type, content, graphql, ...extra } });
}

async function defineOk(t: TestServer, name: string, graphql: string, content?: string, type?: string, extra?: Record<string, unknown>) {
  const answer = await define(t, name, graphql, content, type, extra);
  if (answer.errors) throw new Error(`defining ${name}: ${JSON.stringify(answer.errors)}`);
  return answer.data.createService as { id: number; name: string; graphql: string };
}

async function rootFieldNames(t: TestServer): Promise<string[]> {
  const answer = await gql(t, '{ __schema { queryType { fields { name } } mutationType { fields { name } } } }');
  expect(answer.errors).toBeUndefined();
  const { queryType, mutationType } = answer.data.__schema;
  return [...queryType.fields, ...mutationType.fields].map((f: { name: string }) => f.name);
}

/** The script every language runs below: echoes what it was given, as the declared types. */
const ECHO_JS = `
console.log('typed call', event.resource);
const g = event.graphql;
if (g.field === 'forecast') return [{ city: 'Oslo', tempC: -2.5, sky: 'SNOW' }, { city: 'Rome', tempC: 18, sky: 'CLEAR' }];
if (g.field === 'saveReading') return { city: event.request.payload.reading.city, tempC: event.request.payload.reading.tempC, sky: event.request.payload.reading.sky };
return {
  city: event.request.parameters.city,
  tempC: 21.5,
  sky: 'CLOUDY',
  method: event.request.method,
  resource: event.resource,
  operation: g.operation,
  argsSeen: JSON.stringify(g.args),
};`;

const ECHO_PY = `
print('typed call', event.resource)
g = event['graphql']
if g['field'] == 'forecast':
    return [{'city': 'Oslo', 'tempC': -2.5, 'sky': 'SNOW'}, {'city': 'Rome', 'tempC': 18, 'sky': 'CLEAR'}]
if g['field'] == 'saveReading':
    r = event['request']['payload']['reading']
    return {'city': r['city'], 'tempC': r['tempC'], 'sky': r['sky']}
import json
return {
    'city': event['request']['parameters']['city'],
    'tempC': 21.5,
    'sky': 'CLOUDY',
    'method': event['request']['method'],
    'resource': event['resource'],
    'operation': g['operation'],
    'argsSeen': json.dumps(g['args'], separators=(',', ':')),
}`;

/** Every kind of argument and result: scalar, object, list, enum, input; a Query and a Mutation field. */
const weatherSdl = (suffix: string) => `
extend type Query {
  "Current weather for a city"
  weather${suffix}(city: String!, days: Int = 1, units: Units${suffix}): Weather${suffix}
  forecast${suffix}: [Weather${suffix}!]!
}
extend type Mutation {
  saveReading${suffix}(reading: ReadingInput${suffix}!): Weather${suffix}
}
"Sky as the script reports it"
enum Sky${suffix} { CLEAR CLOUDY SNOW }
enum Units${suffix} { METRIC IMPERIAL }
input ReadingInput${suffix} { city: String! tempC: Float! sky: Sky${suffix}! }
type Weather${suffix} {
  city: String!
  tempC: Float!
  sky: Sky${suffix}!
  method: String
  resource: String
  operation: String
  argsSeen: String
}`;

describe('typed service fields', () => {
  let t: TestServer;
  let available: Record<string, boolean> = {};

  beforeAll(async () => {
    t = await startTestServer();
    // Listing script types waits for the engines to start.
    const types = (await t.rest('GET', '/api/v2/system/script_type')).json.resource;
    available = Object.fromEntries(types.map((type: { name: string; available: boolean }) => [type.name, type.available]));
  });
  afterAll(async () => {
    await t?.stop();
  });

  for (const [type, script] of [
    ['javascript', ECHO_JS],
    ['python3', ECHO_PY],
  ] as const) {
    it(`${type}: scalar, object, list, enum and input arguments, Query and Mutation, each call an execution with trigger graphql-field`, async (context) => {
      if (!typeRunsHere(type, available[type] ?? false)) return context.skip();
      // The script answers by the field's base name; each language's fields carry its own suffix.
      const suffix = type === 'javascript' ? 'Js' : 'Py';
      const body = script.replaceAll("'forecast'", `'forecast${suffix}'`).replaceAll("'saveReading'", `'saveReading${suffix}'`);
      const created = await defineOk(t, `weather-${type}`, weatherSdl(suffix), body, type);
      expect(created.graphql).toContain(`weather${suffix}`);

      const query = await gql(t, `query($city: String!) { weather${suffix}(city: $city, units: IMPERIAL) { city tempC sky method resource operation argsSeen } forecast${suffix} { city sky } }`, { city: 'Oslo' });
      expect(query.errors).toBeUndefined();
      expect(query.data[`weather${suffix}`]).toEqual({
        city: 'Oslo',
        tempC: 21.5,
        sky: 'CLOUDY',
        method: 'GET',
        resource: `weather${suffix}`,
        operation: 'query',
        // Typed values, the default filled in by GraphQL, the enum as its name.
        argsSeen: JSON.stringify({ city: 'Oslo', days: 1, units: 'IMPERIAL' }),
      });
      expect(query.data[`forecast${suffix}`]).toEqual([{ city: 'Oslo', sky: 'SNOW' }, { city: 'Rome', sky: 'CLEAR' }]);

      const mutation = await gql(t, `mutation { saveReading${suffix}(reading: { city: "Lima", tempC: 19.25, sky: CLEAR }) { city tempC sky } }`);
      expect(mutation.errors).toBeUndefined();
      expect(mutation.data[`saveReading${suffix}`]).toEqual({ city: 'Lima', tempC: 19.25, sky: 'CLEAR' });

      const history = await asAdmin(t, 'GET', `/api/v2/system/execution?filter=${encodeURIComponent(`service = 'weather-${type}'`)}`);
      const runs = history.resource as { trigger: string; status: string; status_code?: number }[];
      expect(runs.length).toBe(3);
      expect(runs.every((run) => run.trigger === 'graphql-field' && run.status === 'succeeded')).toBe(true);
    }, 60_000);
  }

  it('javascript: event.graphql is there for a typed call only, in the event\'s JSON too, and a script may replace it', async () => {
    const script = `
const seen = event.graphql;
const keys = Object.keys(JSON.parse(JSON.stringify(event))).sort().join();
const inJson = JSON.stringify(JSON.parse(JSON.stringify(event)).graphql);
const has = 'graphql' in event;
event.graphql = 'replaced';
return { seen: JSON.stringify(seen), keys, inJson: String(inJson), has, replaced: event.graphql };`;
    await defineOk(t, 'graphql-seen', 'extend type Query { graphqlSeen(n: Int): Seen } type Seen { seen: String keys: String inJson: String has: Boolean replaced: String }', script);
    const typed = await gql(t, '{ graphqlSeen(n: 2) { seen keys inJson has replaced } }');
    expect(typed.errors).toBeUndefined();
    const args = JSON.stringify({ field: 'graphqlSeen', operation: 'query', args: { n: 2 } });
    expect(typed.data.graphqlSeen).toEqual({ seen: args, keys: 'graphql,request,resource,response', inJson: args, has: true, replaced: 'replaced' });
    // The same endpoint over REST: no graphql at all.
    const viaRest = await t.rest('GET', '/api/v2/graphql-seen/graphqlSeen');
    expect(viaRest.json).toEqual({ keys: 'request,resource,response', inJson: 'undefined', has: false, replaced: 'replaced' });
  });

  it('hostile: a script that replaces JSON.parse still reads its own call in event.graphql, and cannot redefine the getter', async () => {
    const script = `
JSON.parse = () => ({ field: 'forged' });
const first = event.graphql.field;
let redefined = 'no';
try {
  Object.defineProperty(Object.getPrototypeOf(event), 'graphql', { get: () => ({ field: 'planted' }) });
  redefined = 'yes';
} catch (error) {
  redefined = error.constructor.name;
}
return { first, redefined, later: event.graphql.field };`;
    await defineOk(t, 'graphql-hostile', 'extend type Query { graphqlHostile: Fields } type Fields { first: String redefined: String later: String }', script);
    const answer = await gql(t, '{ graphqlHostile { first redefined later } }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data.graphqlHostile).toEqual({ first: 'graphqlHostile', redefined: 'TypeError', later: 'graphqlHostile' });
  });

  it('checks the script\'s result against the declared type (GraphQL\'s own errors, on that field only)', async () => {
    await defineOk(
      t,
      'shapes',
      `extend type Query { badShape: Shape  goodShape: Shape  inherited: Shape  missing: Shape  notList: [Int!]  nullItem: [Int!]  rootLeaf: Int }
       type Shape { name: String! constructor: String toString: String }`,
      `if (event.resource === 'badShape') return { name: { not: 'a string' } };
       if (event.resource === 'inherited') return { name: 'plain' };
       if (event.resource === 'missing') return { other: 1 };
       if (event.resource === 'notList') return 5;
       if (event.resource === 'nullItem') return [1, null];
       if (event.resource === 'rootLeaf') return 'five';
       return { name: 'ok' };`,
    );
    const answer = await gql(t, '{ badShape { name } goodShape { name } inherited { name constructor toString } missing { name } notList nullItem rootLeaf }');
    expect(answer.data).toMatchObject({ goodShape: { name: 'ok' }, badShape: null, missing: null, notList: null, nullItem: null, rootLeaf: null });
    const byPath = Object.fromEntries(answer.errors!.map((error) => [error.path!.join('.'), error]));
    expect(Object.keys(byPath).sort()).toEqual(['badShape.name', 'missing.name', 'notList', 'nullItem', 'rootLeaf']);
    // The script's mistakes, said as such (not masked as the server's), with the run to look at.
    for (const error of Object.values(byPath)) expect(error.extensions).toMatchObject({ code: 'SCRIPT_ERROR', status: 500, executionId: expect.any(String) });
    expect(byPath['badShape.name']!.message).toMatch(/does not match the schema at Shape\.name: String cannot represent/);
    expect(byPath['missing.name']!.message).toMatch(/null where String! is required/);
    expect(byPath.notList!.message).toMatch(/expected a list/);
    expect(byPath.rootLeaf!.message).toMatch(/Int cannot represent/);
    // Hostile: fields named like Object.prototype's are the script's own properties, never inherited functions.
    expect(answer.data.inherited).toEqual({ name: 'plain', constructor: null, toString: null });
  });

  it('records a run whose result its field refused as failed: the reason as its error and a SYSTEM line, counted in stats', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const service = await defineOk(
      t,
      'mismatching',
      `extend type Query { refusedLeaf: Int  refusedDeep: [RefusedBox]  refusedFine: Int }
       type RefusedBox { size: Int! label: String }`,
      `if (event.resource === 'refusedLeaf') return 'five';
       if (event.resource === 'refusedDeep') return [{ size: 1 }, { size: platform.secrets.token }];
       return 7;`,
    );
    await asAdmin(t, 'PUT', `/api/v2/system/service/${service.id}/secret/token`, { value: 'sekrit-value-123' });
    const answer = await gql(t, '{ refusedLeaf refusedDeep { size label } refusedFine }');
    expect(answer.data).toEqual({ refusedLeaf: null, refusedDeep: [{ size: 1, label: null }, null], refusedFine: 7 });
    const byPath = Object.fromEntries(answer.errors!.map((error) => [error.path!.join('.'), error]));
    expect(Object.keys(byPath).sort()).toEqual(['refusedDeep.1.size', 'refusedLeaf']);

    const EXECUTION = 'query($id: ID!) { execution(id: $id) { status statusCode error { message kind } logs { edges { node { stream message } } } } }';
    for (const [path, error] of Object.entries(byPath)) {
      const run = (await gql(t, EXECUTION, { id: error.extensions!.executionId })).data.execution;
      // What the caller got, not what the script's run alone would say (the service's secrets hidden, as in every record).
      const recorded = error.message.replaceAll('sekrit-value-123', '[secret]');
      expect(run, path).toMatchObject({ status: 'FAILED', statusCode: 500, error: { message: recorded, kind: 'SCRIPT_ERROR' } });
      const system = run.logs.edges.map((edge: any) => edge.node).filter((line: any) => line.stream === 'SYSTEM');
      expect(system.map((line: any) => line.message)).toEqual([recorded]);
    }
    // Hostile: a secret the script put in a refused value reaches the caller (it is the script's answer), never the record.
    expect(byPath['refusedDeep.1.size']!.message).toContain('sekrit-value-123');
    const deepRun = (await gql(t, EXECUTION, { id: byPath['refusedDeep.1.size']!.extensions!.executionId })).data.execution;
    expect(JSON.stringify(deepRun)).not.toContain('sekrit-value-123');
    expect(deepRun.error.message).toContain('[secret]');

    const stats = await gql(t, 'query($since: DateTime!) { service(name: "mismatching") { stats(since: $since) { calls failures } } }', { since });
    expect(stats.data.service.stats).toEqual({ calls: 3, failures: 2 });

    // Hostile: a refused value of a megabyte is quoted in the caller's error, but the record keeps a clipped reason.
    await defineOk(t, 'mismatchingbig', 'extend type Query { refusedBig: Int }', "return 'x'.repeat(1024 * 1024);");
    const big = await gql(t, '{ refusedBig }');
    expect(big.errors![0]!.message.length).toBeGreaterThan(1024 * 1024);
    const bigRun = (await gql(t, EXECUTION, { id: big.errors![0]!.extensions!.executionId })).data.execution;
    expect(bigRun.status).toBe('FAILED');
    expect(bigRun.error.message.length).toBeLessThan(5000);
    expect(bigRun.logs.edges.map((edge: any) => edge.node.message)).toEqual([bigRun.error.message]);
  });

  it('turns every kind of failure into an error on that field, with status, code and execution id; other fields answer', async () => {
    const statuses = [400, 401, 403, 404, 409, 418, 503, 504];
    await defineOk(
      t,
      'failing',
      `extend type Query { ok: String  status(code: Int!): String  thrown: String  slow: String  textError: String }`,
      `if (event.resource === 'ok') return 'fine';
       if (event.resource === 'status') { event.setResponse({ error: { message: 'no: ' + event.request.parameters.code } }, event.request.parameters.code); return; }
       if (event.resource === 'thrown') throw new Error('script broke');
       if (event.resource === 'textError') { event.setResponse('plain text refusal', 422, 'text/plain'); return; }
       while (true) {}`,
      'javascript',
      { config: { timeout_ms: 300 } },
    );
    const aliases = statuses.map((code) => `s${code}: status(code: ${code})`).join(' ');
    const answer = await gql(t, `{ ok ${aliases} thrown slow textError }`);
    expect(answer.status).toBe(200);
    expect(answer.data.ok).toBe('fine');
    const byField = Object.fromEntries(answer.errors!.map((error) => [error.path![0], error]));
    const expectedCodes: Record<number, string> = {
      400: 'BAD_USER_INPUT',
      401: 'UNAUTHENTICATED',
      403: 'FORBIDDEN',
      404: 'NOT_FOUND',
      409: 'CONFLICT',
      418: 'SCRIPT_ERROR',
      503: 'SERVICE_UNAVAILABLE',
      504: 'TIMEOUT',
    };
    for (const code of statuses) {
      const error = byField[`s${code}`]!;
      expect(answer.data[`s${code}`]).toBeNull();
      expect(error.message).toBe(`no: ${code}`);
      expect(error.extensions).toMatchObject({ code: expectedCodes[code], status: code, executionId: expect.any(String) });
    }
    expect(byField.thrown!.extensions).toMatchObject({ code: 'SCRIPT_ERROR', status: 500, executionId: expect.any(String) });
    expect(byField.thrown!.message).toMatch(/script broke/);
    expect(byField.slow!.extensions).toMatchObject({ code: 'TIMEOUT', status: 504, executionId: expect.any(String) });
    expect(byField.textError!.extensions).toMatchObject({ code: 'SCRIPT_ERROR', status: 422 });
    expect(byField.textError!.message).toBe('plain text refusal');
    // The execution id names the run that failed.
    const run = await asAdmin(t, 'GET', `/api/v2/system/execution/${byField.thrown!.extensions!.executionId}`);
    expect(run).toMatchObject({ service: 'failing', status: 'failed', trigger: 'graphql-field' });
  }, 60_000);

  it('runs event scripts around a typed call, as around a REST call of the same endpoint', async () => {
    await defineOk(t, 'hooked', 'extend type Query { hookedValue: String } extend type Mutation { hookedWrite(v: Int): String }', "return 'from the service'");
    await asAdmin(t, 'POST', '/api/v2/system/event_script/hooked.hookedValue.get.post_process', {
      type: 'javascript',
      content: "event.response.content = 'changed by post_process';",
      allow_event_modification: true,
    });
    await asAdmin(t, 'POST', '/api/v2/system/event_script/hooked.hookedWrite.post.pre_process', {
      type: 'javascript',
      content: "if (event.request.payload.v < 0) throw new Error('negative refused by pre_process');",
    });
    const answer = await gql(t, 'query { hookedValue }');
    expect(answer.data.hookedValue).toBe('changed by post_process');
    const refused = await gql(t, 'mutation { hookedWrite(v: -1) }');
    expect(refused.data.hookedWrite).toBeNull();
    expect(refused.errors![0]!.message).toMatch(/negative refused by pre_process/);
    // A post_process answer the field's type refuses: the run the error names, the service's own, is recorded as failed.
    await defineOk(t, 'hookedint', 'extend type Query { hookedInt: Int }', 'return 1');
    await asAdmin(t, 'POST', '/api/v2/system/event_script/hookedint.hookedInt.get.post_process', {
      type: 'javascript',
      content: "event.response.content = 'not a number';",
      allow_event_modification: true,
    });
    const mismatch = await gql(t, '{ hookedInt }');
    expect(mismatch.errors![0]!.extensions).toMatchObject({ code: 'SCRIPT_ERROR' });
    const run = await asAdmin(t, 'GET', `/api/v2/system/execution/${mismatch.errors![0]!.extensions!.executionId}`);
    expect(run).toMatchObject({ service: 'hookedint', event_name: null, status: 'failed', status_code: 500 });
  });

  it('keeps a deactivated service\'s fields in the schema, answering FORBIDDEN', async () => {
    await defineOk(t, 'sleepy', 'extend type Query { sleepyValue: Int }', 'return 7');
    expect((await gql(t, '{ sleepyValue }')).data.sleepyValue).toBe(7);
    await gql(t, UPDATE, { name: 'sleepy', input: { isActive: false } });
    const answer = await gql(t, '{ sleepyValue }');
    expect(answer.data.sleepyValue).toBeNull();
    expect(answer.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    expect(answer.errors![0]!.message).toMatch(/deactivated/);
  });

  it('refuses bad definitions at save with a clear error, and the schema others use stays whole', async () => {
    await defineOk(t, 'owner', 'extend type Query { ownedField: OwnedType } type OwnedType { v: Int }', 'return { v: 1 }');
    const cases: { sdl: string; code: string; message: RegExp; context?: Record<string, unknown> }[] = [
      { sdl: 'extend type Query {\n  broken(: Int\n}', code: 'BAD_USER_INPUT', message: /Syntax Error.*\(line 2, column 10\)/, context: { field: 'graphql', line: 2, column: 10 } },
      { sdl: 'extend type Query { services: Int }', code: 'CONFLICT', message: /Query\.services collides with the platform's own field/ },
      // A name on either root: the access map is by name.
      { sdl: 'extend type Query { createService: Int }', code: 'CONFLICT', message: /collides with the platform's own field createService/ },
      { sdl: 'extend type Query { x1: Service } type Service { id: Int }', code: 'CONFLICT', message: /type Service is the platform's own/ },
      { sdl: 'extend type Query { ownedField: Int }', code: 'CONFLICT', message: /Query\.ownedField is already a field of service "owner"/, context: { service: 'owner' } },
      { sdl: 'extend type Mutation { ownedField: Int }', code: 'CONFLICT', message: /already a field of service "owner"/ },
      { sdl: 'extend type Query { x2: OwnedType } type OwnedType { v: Int }', code: 'CONFLICT', message: /type OwnedType is already defined by service "owner"/ },
      { sdl: 'extend type Query { x3: Missing }', code: 'BAD_USER_INPUT', message: /uses type Missing, which it does not define \(line 1\)/ },
      { sdl: 'extend type Query { x4: Execution }', code: 'BAD_USER_INPUT', message: /uses the platform's type Execution/ },
      { sdl: 'extend type Subscription { x5: Int }', code: 'BAD_USER_INPUT', message: /may extend only Query and Mutation; this one extends Subscription/ },
      { sdl: 'extend type Service { x6: Int }', code: 'BAD_USER_INPUT', message: /extends Service/ },
      { sdl: 'type Query { x7: Int }', code: 'BAD_USER_INPUT', message: /write "extend type Query"/ },
      { sdl: 'type Lonely { v: Int }', code: 'BAD_USER_INPUT', message: /at least one field to Query or Mutation/ },
      { sdl: 'extend type Query { x8: U } union U = A | B type A { v: Int } type B { v: Int }', code: 'BAD_USER_INPUT', message: /found a union/ },
      { sdl: 'extend type Query { x9: Money } scalar Money', code: 'BAD_USER_INPUT', message: /found a scalar definition/ },
      { sdl: 'extend type Query { x10: Int } directive @evil on FIELD_DEFINITION', code: 'BAD_USER_INPUT', message: /found a directive definition/ },
      { sdl: 'query { services { totalCount } }', code: 'BAD_USER_INPUT', message: /found an operation/ },
      { sdl: 'extend type Query { x11: Int @unknownDirective }', code: 'BAD_USER_INPUT', message: /Unknown directive "@unknownDirective"/ },
      { sdl: 'extend type Query { x12(a: Out): Int } type Out { v: Int }', code: 'BAD_USER_INPUT', message: /must be Input Type/ },
      { sdl: 'extend type Query { dup: Int dup: Int }', code: 'BAD_USER_INPUT', message: /dup/ },
      // Hostile: lists nested past any use, a parser bomb, a definition over the size limit.
      { sdl: `extend type Query { deep: ${'['.repeat(50)}Int${']'.repeat(50)} }`, code: 'BAD_USER_INPUT', message: /nests lists more than 8 deep/ },
      { sdl: `extend type Query { ${Array.from({ length: 7000 }, (_, i) => `f${i}: Int`).join(' ')} }`, code: 'BAD_USER_INPUT', message: /(tokens|bytes)/ },
      { sdl: `extend type Query { big: Int } "${'x'.repeat(70_000)}" enum E { A }`, code: 'BAD_USER_INPUT', message: /over the limit of 65536/ },
    ];
    for (const { sdl, code, message, context } of cases) {
      const answer = await define(t, 'refused', sdl);
      expect(answer.errors, sdl.slice(0, 80)).toHaveLength(1);
      const error = answer.errors![0]!;
      expect(error.extensions!.code, `${sdl.slice(0, 80)}: ${error.message}`).toBe(code);
      expect(error.message, sdl.slice(0, 80)).toMatch(message);
      if (context) expect(error.extensions!.context).toMatchObject(context);
    }
    // Nothing was stored, and the schema everyone uses still has the owner's field and no half of a refused one.
    expect((await t.rest('GET', '/api/v2/system/service?filter=name%3Drefused')).json.resource).toEqual([]);
    expect((await gql(t, '{ ownedField { v } }')).data).toEqual({ ownedField: { v: 1 } });
    expect(await rootFieldNames(t)).not.toEqual(expect.arrayContaining(['x3']));
    // An update is checked the same way, against the others but not against itself.
    const update = await gql(t, UPDATE, { name: 'owner', input: { graphql: 'extend type Query { ownedField: OwnedType  services: Int } type OwnedType { v: Int }' } });
    expect(update.errors![0]!.extensions!.code).toBe('CONFLICT');
    const same = await gql(t, UPDATE, { name: 'owner', input: { graphql: 'extend type Query { ownedField: OwnedType  ownedToo: Int } type OwnedType { v: Int }' } });
    expect(same.errors).toBeUndefined();
  });

  it('refuses a definition for a script type that cannot run here', async () => {
    const disabled = await startTestServer({ SCRIPTING_DISABLE: 'php' });
    try {
      const answer = await define(disabled, 'phpfield', 'extend type Query { phpValue: Int }', '<?php return 1;', 'php');
      expect(answer.errors![0]!.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503 });
      expect(await rootFieldNames(disabled)).not.toContain('phpValue');
    } finally {
      await disabled.stop();
    }
  });

  it('REST: the service record\'s top-level graphql field, set, read back, refused with line and column', async () => {
    const created = await t.rest('POST', '/api/v2/system/service?fields=name,graphql', {
      resource: [{ name: 'restfield', type: 'javascript', config: { content: 'return event.request.parameters.n * 2' }, graphql: 'extend type Query { doubled(n: Int!): Int }' }],
    });
    expect(created.status).toBe(201);
    expect(created.json.resource[0]).toEqual({ name: 'restfield', graphql: 'extend type Query { doubled(n: Int!): Int }' });
    expect((await gql(t, '{ doubled(n: 21) }')).data).toEqual({ doubled: 42 });
    const refused = await t.rest('PATCH', `/api/v2/system/service/${(await asAdmin(t, 'GET', '/api/v2/system/service?filter=name%3Drestfield')).resource[0].id}`, {
      graphql: 'extend type Query {\n  doubled(n: Int!): Int\n  oops(\n}',
    });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ status_code: 400, context: { field: 'graphql', line: 4, column: 1 } });
    // A batch is all or nothing, its records checked against each other too.
    const batch = await t.rest('POST', '/api/v2/system/service', {
      resource: [
        { name: 'batch-a', type: 'javascript', config: { content: 'return 1' }, graphql: 'extend type Query { batchField: Int }' },
        { name: 'batch-b', type: 'javascript', config: { content: 'return 2' }, graphql: 'extend type Query { batchField: Int }' },
      ],
    });
    expect(batch.status).toBe(400);
    expect(batch.json.error.code).toBe(1000);
    expect(batch.json.error.context.error).toEqual([1]);
    expect(batch.json.error.context.resource[1].error.message).toMatch(/already a field of service "batch-a"/);
    expect(await rootFieldNames(t)).not.toContain('batchField');
  });

  it('is live: create, change, rename and delete show in the schema at once; introspection and serviceSchema see them', async () => {
    await defineOk(t, 'livesvc', 'extend type Query { liveOne: Int }', 'return 1');
    expect(await rootFieldNames(t)).toContain('liveOne');
    const updated = await gql(t, UPDATE, { name: 'livesvc', input: { graphql: 'extend type Query {\n  "The second"\n  liveTwo: Int\n}' } });
    expect(updated.errors).toBeUndefined();
    const names = await rootFieldNames(t);
    expect(names).toContain('liveTwo');
    expect(names).not.toContain('liveOne');
    const printed = (await gql(t, '{ serviceSchema }')).data.serviceSchema as string;
    expect(printed).toContain('liveTwo: Int');
    expect(printed).toContain('createService(');
    // Renamed: its field calls it by the new name.
    await gql(t, UPDATE, { name: 'livesvc', input: { name: 'livesvc2' } });
    expect((await gql(t, '{ liveTwo }')).data).toEqual({ liveTwo: 1 });
    // Removed with null.
    await gql(t, UPDATE, { name: 'livesvc2', input: { graphql: null } });
    expect(await rootFieldNames(t)).not.toContain('liveTwo');
    await gql(t, UPDATE, { name: 'livesvc2', input: { graphql: 'extend type Query { liveThree: Int }' } });
    expect(await rootFieldNames(t)).toContain('liveThree');
    expect((await gql(t, 'mutation { deleteService(name: "livesvc2") }')).data).toEqual({ deleteService: true });
    expect(await rootFieldNames(t)).not.toContain('liveThree');
    // The printed platform schema is the platform's only.
    expect((await gql(t, '{ liveThree }')).errors![0]!.extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('authorizes a typed field as a call of its service (GET for Query, POST for Mutation), for app keys', async () => {
    const svc = await defineOk(t, 'guarded', 'extend type Query { guardedRead: String } extend type Mutation { guardedWrite: String  constructor: String }', "return 'ok ' + event.request.method");
    const role = await asAdmin(t, 'POST', '/api/v2/system/role', {
      name: 'typed-reader',
      role_service_access_by_role_id: [{ service_id: svc.id, component: '*', verb_mask: 1, requestor_mask: 1 }],
    });
    const app = await asAdmin(t, 'POST', '/api/v2/system/app', { name: 'typed-reader-app', role_id: role.id });
    const key = app.api_key as string;
    expect((await gql(t, '{ guardedRead }', {}, key)).data).toEqual({ guardedRead: 'ok GET' });
    const write = await gql(t, 'mutation { guardedWrite }', {}, key);
    expect(write.data.guardedWrite).toBeNull();
    expect(write.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    expect(write.errors![0]!.message).toMatch(/POST/);
    // Hostile: a field named like an Object.prototype member is still a call of its service, checked by the pipeline.
    const hostile = await gql(t, 'mutation { constructor }', {}, key);
    expect(hostile.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    expect(hostile.errors![0]!.message).toMatch(/POST/);
    // serviceSchema reads like the service list: this role cannot.
    expect((await gql(t, '{ serviceSchema }', {}, key)).errors![0]!.extensions!.code).toBe('FORBIDDEN');
    // No key: refused before anything runs.
    expect((await gql(t, '{ guardedRead }', {}, null)).status).toBe(401);
    const runs = await asAdmin(t, 'GET', `/api/v2/system/execution?filter=${encodeURIComponent("service = 'guarded'")}`);
    expect(runs.resource).toHaveLength(1);
  });

  it('concurrent saves never leave a half-built schema; of colliding ones exactly one wins', async () => {
    const reads: Promise<void>[] = [];
    let stop = false;
    let looked = 0;
    // Readers all along: every answer is a whole schema (each service's two fields together, or neither).
    for (let reader = 0; reader < 3; reader++) {
      reads.push(
        (async () => {
          while (!stop) {
            const names = await rootFieldNames(t);
            for (let i = 0; i < 12; i++) expect(names.includes(`par${i}A`)).toBe(names.includes(`par${i}B`));
            looked++;
          }
        })(),
      );
    }
    const saves = await Promise.all([
      ...Array.from({ length: 12 }, (_, i) => define(t, `par${i}`, `extend type Query { par${i}A: Int } extend type Mutation { par${i}B: Int }`, `return ${i}`)),
      ...Array.from({ length: 6 }, (_, i) => define(t, `clash${i}`, 'extend type Query { contested: Int }', `return ${i}`)),
    ]);
    await eventually(() => looked >= 6, 'readers to look during and after the saves');
    stop = true;
    await Promise.all(reads);
    expect(saves.slice(0, 12).every((answer) => !answer.errors)).toBe(true);
    const clashes = saves.slice(12);
    expect(clashes.filter((answer) => !answer.errors)).toHaveLength(1);
    expect(clashes.filter((answer) => answer.errors?.[0]?.extensions?.code === 'CONFLICT')).toHaveLength(5);
    const names = await rootFieldNames(t);
    for (let i = 0; i < 12; i++) expect(names).toEqual(expect.arrayContaining([`par${i}A`, `par${i}B`]));
    expect((await gql(t, '{ par3A par11A }')).data).toEqual({ par3A: 3, par11A: 11 });
  }, 60_000);

  it('keeps WebSocket and SSE subscriptions open across ten schema changes, and serves typed fields over WebSocket', async () => {
    await defineOk(t, 'churn', 'extend type Query { churn0: Int }', 'return 5');
    const wsUrl = `${t.url.replace('http', 'ws')}/graphql`;
    const client: Client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { 'X-DreamFactory-API-Key': ADMIN_KEY }, retryAttempts: 0, lazy: true });
    const wsSeen: unknown[] = [];
    const before = t.server.platform.bus.executions.subscriberCount;
    let wsEnded: unknown = null;
    const unsubscribe = client.subscribe(
      { query: 'subscription { executionUpdated(service: "churn") { service status trigger } }' },
      { next: (result) => wsSeen.push(result), error: (error) => (wsEnded = error ?? 'error'), complete: () => (wsEnded = 'complete') },
    );
    const sse = await subscribeSse(t.url, { query: 'subscription { executionUpdated(service: "churn") { service status trigger } }' }, { 'x-dreamfactory-api-key': ADMIN_KEY });
    const sseSeen: any[] = [];
    void (async () => {
      for await (const result of sse.results) sseSeen.push(result);
    })();
    try {
      await eventually(() => t.server.platform.bus.executions.subscriberCount >= before + 2, 'both subscriptions to register');
      for (let change = 1; change <= 10; change++) {
        const answer = await gql(t, UPDATE, { name: 'churn', input: { graphql: `extend type Query { churn${change}: Int }` } });
        expect(answer.errors).toBeUndefined();
      }
      expect(await rootFieldNames(t)).toContain('churn10');
      // A typed field over the same WebSocket, on the newest schema.
      const viaWs = await new Promise<any>((resolve, reject) => {
        let result: unknown;
        client.subscribe({ query: '{ churn10 }' }, { next: (r) => (result = r), error: reject, complete: () => resolve(result) });
      });
      expect(viaWs).toEqual({ data: { churn10: 5 } });
      await eventually(
        () => sseSeen.some((r) => r.data?.executionUpdated?.status === 'SUCCEEDED') && wsSeen.some((r: any) => r.data?.executionUpdated?.status === 'SUCCEEDED'),
        'both subscriptions to see the typed call\'s execution',
      );
      expect(wsEnded).toBeNull();
      expect(sseSeen.find((r) => r.data?.executionUpdated)?.data.executionUpdated).toMatchObject({ service: 'churn', trigger: 'graphql-field' });
    } finally {
      unsubscribe();
      sse.close();
      await client.dispose();
    }
  }, 60_000);
});

const postgres = await postgresAvailable();

describe.skipIf(!postgres)('typed service fields on PostgreSQL, two instances', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    database = await createTestDatabase();
    a = await startTestServer({ DATABASE_URL: database.url });
    b = await startTestServer({ DATABASE_URL: database.url });
    await a.rest('GET', '/api/v2/system/script_type');
    await b.rest('GET', '/api/v2/system/script_type');
  }, 60_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await database?.drop();
  });

  it('a field saved on one instance is served by the other without a restart, and its change and removal too', async () => {
    await defineOk(a, 'shared', 'extend type Query { sharedValue(n: Int!): Int }', 'return event.request.parameters.n + 1');
    await eventually(async () => (await rootFieldNames(b)).includes('sharedValue'), 'the second instance to serve sharedValue');
    expect((await gql(b, '{ sharedValue(n: 41) }')).data).toEqual({ sharedValue: 42 });
    const runs = await asAdmin(b, 'GET', `/api/v2/system/execution?filter=${encodeURIComponent("service = 'shared'")}`);
    expect(runs.resource[0]).toMatchObject({ trigger: 'graphql-field' });
    // A collision is refused on the other instance too, naming the owner.
    const clash = await define(b, 'shared2', 'extend type Query { sharedValue: Int }');
    expect(clash.errors![0]!.message).toMatch(/already a field of service "shared"/);
    await gql(a, UPDATE, { name: 'shared', input: { graphql: 'extend type Mutation { sharedWrite: Int }' } });
    await eventually(async () => {
      const names = await rootFieldNames(b);
      return names.includes('sharedWrite') && !names.includes('sharedValue');
    }, 'the second instance to serve the change');
    await gql(a, 'mutation { deleteService(name: "shared") }');
    await eventually(async () => !(await rootFieldNames(b)).includes('sharedWrite'), 'the second instance to drop the field');
  }, 60_000);

  it('colliding saves at once on one instance (a pool of connections): exactly one wins', async () => {
    const saves = await Promise.all(Array.from({ length: 8 }, (_, i) => define(a, `pgclash${i}`, 'extend type Query { pgContested: Int }', `return ${i}`)));
    expect(saves.filter((answer) => !answer.errors)).toHaveLength(1);
    expect(saves.filter((answer) => answer.errors?.[0]?.extensions?.code === 'CONFLICT')).toHaveLength(7);
    expect((await gql(a, '{ pgContested }')).errors).toBeUndefined();
  }, 60_000);

  it('a definition that no longer fits (saved at once on two instances) is left out, never breaking the schema', async () => {
    // Stored behind the check's back, as two instances racing could: the older service keeps the name.
    await defineOk(a, 'racer1', 'extend type Query { raced: Int }', 'return 1');
    await defineOk(a, 'racer2', 'extend type Query { other2: Int }', 'return 2');
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query(`UPDATE "Service" SET graphql = 'extend type Query { raced: Int  alsoRacer2: Int }' WHERE name = 'racer2'`);
    } finally {
      await client.end();
    }
    // Any change notice makes instances rebuild: one for racer2 from the other instance.
    await gql(b, UPDATE, { name: 'racer2', input: { label: 'touched' } });
    // The older service keeps its name and may change its definition: the left-out one claims nothing.
    const change = await gql(b, UPDATE, { name: 'racer1', input: { graphql: 'extend type Query { raced: Int  racedToo: Int }' } });
    expect(change.errors).toBeUndefined();
    await eventually(async () => (await rootFieldNames(a)).includes('racedToo'), 'the first instance to rebuild');
    for (const server of [a, b]) {
      const names = await rootFieldNames(server);
      expect(names).toEqual(expect.arrayContaining(['raced', 'racedToo']));
      expect(names).not.toContain('alsoRacer2');
      expect((await gql(server, '{ raced }')).data).toEqual({ raced: 1 });
    }
  }, 60_000);
});

describe('typed service fields: restarts', () => {
  it('serves stored definitions from the first request after a start', async () => {
    const first = await startTestServer();
    await first.rest('GET', '/api/v2/system/script_type');
    await defineOk(first, 'persisted', 'extend type Query { persistedValue: String }', "return 'still here'");
    await first.server.stop();
    const again = await startTestServer({ DATA_DIR: first.dataDir });
    try {
      expect((await gql(again, '{ persistedValue }')).data).toEqual({ persistedValue: 'still here' });
    } finally {
      await again.stop();
      await first.stop().catch(() => undefined);
    }
  }, 60_000);
});

