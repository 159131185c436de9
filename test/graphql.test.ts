import { GraphQLError } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskError } from '../src/graphql/plugins/domain-errors.ts';
import {
  CreateServiceDocument,
  DeleteServiceDocument,
  ExecutionDocument,
  InvokeServiceDocument,
  RunScriptDocument,
  ScriptTypeDocument,
  ScriptTypesDocument,
  ServiceDocument,
  ServicesDocument,
  UpdateServiceDocument,
} from './generated/graphql.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from './helpers/server.ts';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.stop();
});

const codeOf = (result: { errors?: readonly any[] }) => result.errors?.[0]?.extensions?.code;

describe('GraphQL management API', () => {
  it('refuses requests without the key with UNAUTHENTICATED', async () => {
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ services { edges { node { name } } } }' }),
    });
    expect(response.status).toBe(401);
    const body = await response.json();
    expect(body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const wrong = await t.gql(ServicesDocument, {}, { authorization: 'Bearer wrong' });
    expect(codeOf(wrong)).toBe('UNAUTHENTICATED');
  });

  it('serves GraphiQL to a browser', async () => {
    const response = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/graphiql/i);
  });

  it('lists script types with availability', async () => {
    const { data } = await t.gql(ScriptTypesDocument);
    const javascript = data!.scriptTypes.find((s) => s.name === 'javascript');
    expect(javascript).toMatchObject({ label: 'JavaScript', sandboxed: true, available: true, engine: 'quickjs-wasm', unavailableReason: null });
    expect(data!.scriptTypes.map((s) => s.name).sort()).toEqual(['javascript', 'nodejs', 'php', 'python', 'python3', 'typescript']);
    expect((await t.gql(ScriptTypeDocument, { name: 'cobol' })).data!.scriptType).toBeNull();
  });

  it('creates, reads, updates, invokes and deletes a service', async () => {
    const created = await t.gql(CreateServiceDocument, {
      input: { name: 'Greeter', type: 'javascript', content: "return { hello: event.request.parameters.name ?? 'world' }", config: { cache_ttl: 1 } },
    });
    expect(created.errors).toBeUndefined();
    expect(created.data!.createService).toMatchObject({ name: 'greeter', label: 'greeter', isActive: true, config: { cache_ttl: 1 } });

    const invoked = await t.gql(InvokeServiceDocument, { name: 'greeter', parameters: { name: 'Ada' } });
    expect(invoked.data!.invokeService).toMatchObject({ statusCode: 200, content: { hello: 'Ada' }, executionId: expect.any(String) });

    const updated = await t.gql(UpdateServiceDocument, { name: 'greeter', input: { label: 'Greeter', content: 'event.setResponse({ posted: event.request.payload }, 201)' } });
    expect(updated.data!.updateService).toMatchObject({ label: 'Greeter', content: expect.stringContaining('setResponse') });
    const posted = await t.gql(InvokeServiceDocument, { name: 'greeter', method: 'POST', payload: { a: 1 } });
    expect(posted.data!.invokeService).toMatchObject({ statusCode: 201, content: { posted: { a: 1 } }, contentType: 'application/json' });

    expect((await t.gql(ServiceDocument, { name: 'GREETER' })).data!.service!.name).toBe('greeter');
    expect((await t.gql(ServicesDocument)).data!.services.edges.map((e) => e.node.name)).toContain('greeter');
    expect((await t.gql(DeleteServiceDocument, { name: 'greeter' })).data!.deleteService).toBe(true);
    expect((await t.gql(ServiceDocument, { name: 'greeter' })).data!.service).toBeNull();
  });

  it('answers bad input with BAD_USER_INPUT naming the field', async () => {
    const result = await t.gql(CreateServiceDocument, { input: { name: 'bad name', type: 'javascript', content: '' } });
    expect(codeOf(result)).toBe('BAD_USER_INPUT');
    expect(result.errors![0].message).toMatch(/"name"/);
    expect(result.errors![0].extensions!.context).toEqual({ field: 'name' });
    const badType = await t.gql(CreateServiceDocument, { input: { name: 'x1', type: 'cobol', content: '' } });
    expect(codeOf(badType)).toBe('BAD_USER_INPUT');
    expect(badType.errors![0].message).toMatch(/cobol/);
  });

  it('answers a duplicate with CONFLICT and unknown names with NOT_FOUND', async () => {
    await t.gql(CreateServiceDocument, { input: { name: 'twice', type: 'javascript', content: 'return 1' } });
    expect(codeOf(await t.gql(CreateServiceDocument, { input: { name: 'twice', type: 'javascript', content: '' } }))).toBe('CONFLICT');
    expect(codeOf(await t.gql(UpdateServiceDocument, { name: 'nobody', input: { label: 'x' } }))).toBe('NOT_FOUND');
    expect(codeOf(await t.gql(DeleteServiceDocument, { name: 'nobody' }))).toBe('NOT_FOUND');
    expect(codeOf(await t.gql(InvokeServiceDocument, { name: 'nobody' }))).toBe('NOT_FOUND');
  });

  it('answers a script that failed as an Invocation with its status and error body, as REST shows it', async () => {
    await t.gql(CreateServiceDocument, { input: { name: 'failing', type: 'javascript', content: "\nthrow new Error('nope')" } });
    const failed = await t.gql(InvokeServiceDocument, { name: 'failing' });
    expect(failed.errors).toBeUndefined();
    expect(failed.data!.invokeService).toMatchObject({ statusCode: 500, contentType: 'application/json', executionId: expect.any(String) });
    expect((failed.data!.invokeService.content as any).error).toMatchObject({ code: 500, status_code: 500, context: { line: 2 } });
    expect((failed.data!.invokeService.content as any).error.message).toMatch(/nope.*line 2/);
    await t.gql(CreateServiceDocument, { input: { name: 'slow', type: 'javascript', content: 'while(true){}', config: { timeout_ms: 100 } } });
    expect((await t.gql(InvokeServiceDocument, { name: 'slow' })).data!.invokeService.statusCode).toBe(504);
  });

  it('reports the content type REST sends, for returned values too', async () => {
    await t.gql(CreateServiceDocument, { input: { name: 'typed', type: 'javascript', content: 'return event.request.parameters.text ? "plain" : { json: true }' } });
    expect((await t.gql(InvokeServiceDocument, { name: 'typed' })).data!.invokeService.contentType).toBe('application/json');
    expect((await t.gql(InvokeServiceDocument, { name: 'typed', parameters: { text: 1 } })).data!.invokeService.contentType).toBe('text/plain; charset=utf-8');
  });

  it('runs a script inline without saving it, recorded as an execution of (inline)', async () => {
    const ran = await t.gql(RunScriptDocument, {
      script: { type: 'javascript', content: "console.log('trying'); return { sum: event.request.parameters.a + 1, limit: platform.config.timeout_ms }", config: { timeout_ms: 500 } },
      parameters: { a: 41 },
    });
    expect(ran.errors).toBeUndefined();
    expect(ran.data!.runScript).toMatchObject({ statusCode: 200, content: { sum: 42, limit: 500 } });
    const execution = await t.gql(ExecutionDocument, { id: ran.data!.runScript.executionId! });
    expect(execution.data!.execution).toMatchObject({ service: '(inline)', scriptType: 'javascript', status: 'SUCCEEDED' });
    expect(execution.data!.execution!.logs.edges.map((e) => e.node.message)).toEqual(['trying']);
    expect((await t.gql(ServicesDocument)).data!.services.edges.map((e) => e.node.name)).not.toContain('(inline)');

    const python = await t.gql(RunScriptDocument, { script: { type: 'python3', content: 'return {"method": event.request.method}' }, method: 'post' });
    expect(python.data!.runScript.content).toEqual({ method: 'POST' });
    const broken = await t.gql(RunScriptDocument, { script: { type: 'javascript', content: 'return {' } });
    expect(broken.data!.runScript).toMatchObject({ statusCode: 500, executionId: expect.any(String) });
    const unknownType = await t.gql(RunScriptDocument, { script: { type: 'cobol', content: '' } });
    expect(codeOf(unknownType)).toBe('BAD_USER_INPUT');
    const tooLong = await t.gql(RunScriptDocument, { script: { type: 'javascript', content: '', config: { timeout_ms: 10_000_000 } } });
    expect(codeOf(tooLong)).toBe('BAD_USER_INPUT');
    expect(tooLong.errors![0].message).toMatch(/timeout_ms/);
  });

  it('answers headers or parameters of the wrong shape with BAD_USER_INPUT naming them', async () => {
    await t.gql(CreateServiceDocument, { input: { name: 'shapes', type: 'javascript', content: 'return event.request.headers' } });
    const nested = await t.gql('mutation { invokeService(name: "shapes", headers: { a: { b: 1 } }) { statusCode } }');
    expect(codeOf(nested)).toBe('BAD_USER_INPUT');
    expect(nested.errors![0].message).toMatch(/headers\.a/);
    const list = await t.gql('mutation { invokeService(name: "shapes", parameters: [1]) { statusCode } }');
    expect(codeOf(list)).toBe('BAD_USER_INPUT');
    const fine = await t.gql('mutation ($headers: JSON) { invokeService(name: "shapes", headers: $headers) { content } }', { headers: { 'X-N': 5, x_b: true } });
    expect(fine.data).toMatchObject({ invokeService: { content: { 'x-n': '5', x_b: 'true' } } });
  });

  it('rejects malformed operations with GraphQL validation errors', async () => {
    const result = await t.gql('{ services { edges { node { nope } } } }');
    expect(codeOf(result)).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('answers a body that is not JSON, or has no query, with a GraphQL-shaped error', async () => {
    const post = async (body: string, contentType = 'application/json') => {
      const response = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': contentType, 'x-dreamfactory-api-key': ADMIN_KEY },
        body,
      });
      return { status: response.status, body: await response.json() };
    };
    for (const body of ['{not json', '{}', '[]', 'null']) {
      const answer = await post(body);
      // 200 or 400: with an `application/json` response the GraphQL-over-HTTP spec allows either for request errors.
      expect([200, 400]).toContain(answer.status);
      expect(answer.body.errors[0]).toMatchObject({ message: expect.any(String), extensions: { code: 'BAD_REQUEST' } });
    }
    expect((await post('{}')).body.errors[0].message).toMatch(/query/);
    const asGraphql = await post('{ scriptTypes { name } }', 'application/graphql');
    expect(asGraphql.body.data.scriptTypes).toContainEqual({ name: 'javascript' });
  });
});

describe('updating config', () => {
  it('merges like REST PATCH: given keys replace, null removes, others stay', async () => {
    await t.gql(CreateServiceDocument, { input: { name: 'configured', type: 'javascript', content: 'return platform.config', config: { a: 1, b: 2 } } });
    const updated = await t.gql(UpdateServiceDocument, { name: 'configured', input: { config: { b: 3, a: null, c: 4 } } });
    expect(updated.data!.updateService.config).toEqual({ b: 3, c: 4 });
    const id = updated.data!.updateService.id;
    const patched = await t.rest('PATCH', `/api/v2/system/service/${id}`, { config: { d: 5 } });
    expect(patched.json.config).toEqual({ b: 3, c: 4, d: 5, content: 'return platform.config' });
  });
});

describe('errors thrown by code rather than the domain', () => {
  it('reach clients masked and the server log whole', () => {
    const logged: unknown[] = [];
    const bug = new TypeError('Cannot read properties of undefined');
    const masked = maskError(new GraphQLError(bug.message, { originalError: bug }), 'Unexpected error.', false, (error) => logged.push(error));
    expect(masked.message).toBe('Unexpected error.');
    expect((masked as GraphQLError).extensions.code).toBe('INTERNAL_SERVER_ERROR');
    expect(logged).toEqual([bug]);
    // GraphQL's own errors (validation) pass through and are not logged as bugs.
    const validation = new GraphQLError('Cannot query field "nope" on type "Service".');
    expect(maskError(validation, 'Unexpected error.', false, (error) => logged.push(error))).toBe(validation);
    expect(logged).toHaveLength(1);
  });
});
