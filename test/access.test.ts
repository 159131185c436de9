/**
 * Access control end to end, through real HTTP (issue #10): a table-driven
 * matrix of every REST route and every GraphQL root field, each with the
 * administrator key, a key whose role grants exactly that call, one whose
 * role grants everything but that call, a wrong key and none; then
 * script-only access, key handling (never read back, rotation, deactivation,
 * deletion, across two instances on PostgreSQL), the `api_key` query
 * parameter, the guest role, and hostile keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATION_ACCESS } from '../src/graphql/plugins/operation-access.ts';
import { schema as platformSchema } from '../src/graphql/schema.ts';
import { eventually } from './helpers/eventually.ts';
import { expectErrorShape, HEALTHZ_BUDGET_MS, whileProbingHealth } from './helpers/hostile.ts';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.ts';
import { ADMIN_KEY, asAdmin, createService, restAs, startTestServer, type RestResponse, type TestServer } from './helpers/server.ts';
import { subscribeSse } from './helpers/sse.ts';

const VERB_BITS = { GET: 1, POST: 2, PUT: 4, PATCH: 8, DELETE: 16 } as const;
type Verb = keyof typeof VERB_BITS;
const ALL_VERBS = 31;
const API = 1;
const SCRIPT = 2;
const SYSTEM = 0;
/** A well-formed app key no app has. */
const WRONG_KEY = `sga_${'x'.repeat(32)}`;

// ---------------------------------------------------------------- clients


interface GqlResponse {
  status: number;
  data?: any;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** GraphQL over HTTP sending exactly `key` (null: none). */
async function gqlAs(t: TestServer, key: string | null, query: string, variables: Record<string, unknown> = {}): Promise<GqlResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) headers['x-dreamfactory-api-key'] = key;
  const response = await fetch(`${t.url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return { status: response.status, ...((await response.json()) as object) };
}


// ---------------------------------------------------------------- roles and apps

interface AccessRow {
  service_id: number | null;
  component: string;
  verb_mask: number;
  requestor_mask: number;
}

/** The one call a case makes, as the pipeline authorizes it. */
interface Grant {
  serviceId: number;
  serviceName: string;
  component: string;
  verb: Verb;
}

const exactly = (g: Grant): AccessRow[] => [{ service_id: g.serviceId, component: g.component, verb_mask: VERB_BITS[g.verb], requestor_mask: API }];

/**
 * Everything but that call: every verb on every service, and on the call's
 * own component every verb but its one (the exact row is the most specific
 * level, so it decides alone).
 */
const allBut = (g: Grant): AccessRow[] => [
  { service_id: null, component: '*', verb_mask: ALL_VERBS, requestor_mask: API | SCRIPT },
  { service_id: g.serviceId, component: '*', verb_mask: ALL_VERBS, requestor_mask: API | SCRIPT },
  { service_id: g.serviceId, component: g.component, verb_mask: ALL_VERBS & ~VERB_BITS[g.verb], requestor_mask: API | SCRIPT },
];

let roleCounter = 0;

/** Roles, then one app per role; resolves to the apps' keys, in order. Batches of 100 (the batch limit). */
async function keysFor(t: TestServer, roles: AccessRow[][]): Promise<string[]> {
  const keys: string[] = [];
  for (let start = 0; start < roles.length; start += 100) {
    const batch = roles.slice(start, start + 100);
    const names = batch.map(() => `r${++roleCounter}`);
    const created = await restAs(t, ADMIN_KEY, 'POST', '/api/v2/system/role', {
      resource: batch.map((rows, i) => ({ name: names[i], role_service_access_by_role_id: rows })),
    });
    expect(created.status, created.text).toBe(201);
    const roleIds = (created.json.resource as { id: number }[]).map((r) => r.id);
    const apps = await restAs(t, ADMIN_KEY, 'POST', '/api/v2/system/app', {
      resource: roleIds.map((roleId, i) => ({ name: `a-${names[i]}`, role_id: roleId })),
    });
    expect(apps.status, apps.text).toBe(201);
    for (const app of apps.json.resource as { id: number; name: string; api_key: string }[]) {
      expect(app.api_key).toMatch(/^sga_/);
      keys.push(app.api_key);
    }
  }
  return keys;
}

/** One role with `rows` and its app: `{key, roleId, appId, appName, roleName}`. */
async function appWith(t: TestServer, rows: AccessRow[]) {
  const roleName = `r${++roleCounter}`;
  const role = await asAdmin(t, 'POST', '/api/v2/system/role', { name: roleName, role_service_access_by_role_id: rows });
  const appName = `a-${roleName}`;
  const app = await asAdmin(t, 'POST', '/api/v2/system/app', { name: appName, role_id: role.id });
  return { key: app.api_key as string, roleId: role.id as number, appId: app.id as number, appName, roleName };
}

/** A 403 naming the verb, component and service. */
function expectForbiddenMessage(message: string, g: Grant): void {
  expect(message).toContain(g.verb);
  expect(message).toContain(`'${g.serviceName}'`);
  if (g.component) expect(message.toLowerCase()).toContain(`'${g.component.toLowerCase()}'`);
}

// ---------------------------------------------------------------- the REST matrix

/** Who makes an attempt: the allowed ones may need their own target (a deleted record is gone). */
type Who = 'admin' | 'key';

interface RestCase {
  label: string;
  grant: Grant;
  request: (who: Who) => { method: string; path: string; body?: unknown };
  /** Statuses an allowed attempt answers. */
  ok: number[];
  /** Runs (as admin) before each allowed attempt: restores what the previous one removed. */
  before?: (who: Who) => Promise<void>;
}

describe('the access matrix', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.stop();
  });

  /**
   * Runs each case five ways, in an order that keeps targets intact until
   * the allowed attempts: no key (401), a wrong key (401), everything but
   * (403), exactly that (allowed), the administrator (allowed).
   */
  async function runRestCases(cases: RestCase[]): Promise<void> {
    const keys = await keysFor(t, cases.flatMap((c) => [exactly(c.grant), allBut(c.grant)]));
    const failures: string[] = [];
    const check = (ok: boolean, c: RestCase, what: string, response: RestResponse) => {
      if (!ok) failures.push(`${c.label} (${c.request('key').method} ${c.request('key').path}) ${what}: ${response.status} ${response.text.slice(0, 300)}`);
    };
    for (const [i, c] of cases.entries()) {
      const { method, path, body } = c.request('key');
      const none = await restAs(t, null, method, path, body);
      check(none.status === 401 && none.json?.error?.status_code === 401, c, 'without a key, expected 401', none);
      const wrong = await restAs(t, WRONG_KEY, method, path, body);
      check(wrong.status === 401, c, 'with a wrong key, expected 401', wrong);
      const denied = await restAs(t, keys[2 * i + 1]!, method, path, body);
      check(denied.status === 403 && denied.json?.error?.status_code === 403, c, 'with everything but, expected 403', denied);
      if (denied.status === 403) expectForbiddenMessage(denied.json.error.message, c.grant);
      await c.before?.('key');
      const allowed = await restAs(t, keys[2 * i]!, method, path, body);
      check(c.ok.includes(allowed.status), c, `with exactly that, expected ${c.ok}`, allowed);
      await c.before?.('admin');
      const asAdmin = c.request('admin');
      const byAdmin = await restAs(t, ADMIN_KEY, asAdmin.method, asAdmin.path, asAdmin.body);
      check(c.ok.includes(byAdmin.status), c, `as the administrator, expected ${c.ok}`, byAdmin);
    }
    expect(failures).toEqual([]);
  }

  it('system/service and its secrets: every verb', async () => {
    const svc = await createService(t, 'svc', 'javascript', 'return 1');
    const [doomedKey, doomedAdmin] = [await createService(t, 'doomed1', 'javascript', 'return 1'), await createService(t, 'doomed2', 'javascript', 'return 1')];
    await asAdmin(t, 'PUT', `/api/v2/system/service/${svc}/secret/token`, { value: 'v' });
    const sys = (component: string, verb: Verb): Grant => ({ serviceId: SYSTEM, serviceName: 'system', component, verb });
    let made = 0;
    const setGone = async () => void (await asAdmin(t, 'PUT', `/api/v2/system/service/${svc}/secret/gone`, { value: 'v' }));
    await runRestCases([
      { label: 'system root', grant: sys('', 'GET'), request: () => ({ method: 'GET', path: '/api/v2/system' }), ok: [200] },
      { label: 'list services', grant: sys('service', 'GET'), request: () => ({ method: 'GET', path: '/api/v2/system/service' }), ok: [200] },
      {
        label: 'create services',
        grant: sys('service', 'POST'),
        request: () => ({ method: 'POST', path: '/api/v2/system/service', body: { resource: [{ name: `made${++made}`, type: 'javascript', config: { content: 'return 1' } }] } }),
        ok: [201],
      },
      { label: 'get a service', grant: sys(`service/${svc}`, 'GET'), request: () => ({ method: 'GET', path: `/api/v2/system/service/${svc}` }), ok: [200] },
      {
        label: 'patch a service',
        grant: sys(`service/${svc}`, 'PATCH'),
        request: () => ({ method: 'PATCH', path: `/api/v2/system/service/${svc}`, body: { description: 'patched' } }),
        ok: [200],
      },
      {
        label: 'put a service',
        grant: sys(`service/${svc}`, 'PUT'),
        request: () => ({ method: 'PUT', path: `/api/v2/system/service/${svc}`, body: { description: 'put' } }),
        ok: [200],
      },
      {
        label: 'delete a service',
        grant: sys(`service/${doomedKey}`, 'DELETE'),
        request: (who) => ({ method: 'DELETE', path: `/api/v2/system/service/${who === 'key' ? doomedKey : doomedAdmin}` }),
        ok: [200],
      },
      { label: 'list secret names', grant: sys(`service/${svc}/secret`, 'GET'), request: () => ({ method: 'GET', path: `/api/v2/system/service/${svc}/secret` }), ok: [200] },
      {
        label: 'set a secret',
        grant: sys(`service/${svc}/secret/token`, 'PUT'),
        request: () => ({ method: 'PUT', path: `/api/v2/system/service/${svc}/secret/token`, body: { value: 'new' } }),
        ok: [200, 201],
      },
      {
        label: 'delete a secret',
        grant: sys(`service/${svc}/secret/gone`, 'DELETE'),
        request: () => ({ method: 'DELETE', path: `/api/v2/system/service/${svc}/secret/gone` }),
        ok: [200],
        before: setGone,
      },
    ]);
  });

  it('system/script_type, system/execution, system/event', async () => {
    await createService(t, 'runs', 'javascript', 'return 1');
    const call = await restAs(t, ADMIN_KEY, 'GET', '/api/v2/runs');
    const executionId = call.headers.get('x-execution-id');
    expect(executionId).toBeTruthy();
    await eventually(async () => (await restAs(t, ADMIN_KEY, 'GET', `/api/v2/system/execution/${executionId}`)).status === 200, 'the execution to be recorded');
    const sys = (component: string): Grant => ({ serviceId: SYSTEM, serviceName: 'system', component, verb: 'GET' });
    await runRestCases([
      { label: 'script types', grant: sys('script_type'), request: () => ({ method: 'GET', path: '/api/v2/system/script_type' }), ok: [200] },
      { label: 'a script type', grant: sys('script_type/javascript'), request: () => ({ method: 'GET', path: '/api/v2/system/script_type/javascript' }), ok: [200] },
      { label: 'executions', grant: sys('execution'), request: () => ({ method: 'GET', path: '/api/v2/system/execution' }), ok: [200] },
      { label: 'an execution', grant: sys(`execution/${executionId}`), request: () => ({ method: 'GET', path: `/api/v2/system/execution/${executionId}` }), ok: [200] },
      { label: 'events', grant: sys('event'), request: () => ({ method: 'GET', path: '/api/v2/system/event' }), ok: [200] },
    ]);
  });

  it('system/event_script: every verb', async () => {
    await createService(t, 'hooks', 'javascript', 'return 1');
    const script = { type: 'javascript', content: 'return;' };
    for (const name of ['hooks.get.pre_process', 'hooks.post.pre_process', 'hooks.put.pre_process']) {
      await asAdmin(t, 'POST', `/api/v2/system/event_script/${name}`, script);
    }
    const sys = (component: string, verb: Verb): Grant => ({ serviceId: SYSTEM, serviceName: 'system', component, verb });
    const one = 'event_script/hooks.get.pre_process';
    await runRestCases([
      { label: 'list', grant: sys('event_script', 'GET'), request: () => ({ method: 'GET', path: '/api/v2/system/event_script' }), ok: [200] },
      { label: 'get', grant: sys(one, 'GET'), request: () => ({ method: 'GET', path: `/api/v2/system/${one}` }), ok: [200] },
      { label: 'create or replace', grant: sys(one, 'POST'), request: () => ({ method: 'POST', path: `/api/v2/system/${one}`, body: script }), ok: [200, 201] },
      { label: 'patch', grant: sys(one, 'PATCH'), request: () => ({ method: 'PATCH', path: `/api/v2/system/${one}`, body: { is_active: true } }), ok: [200] },
      { label: 'put', grant: sys(one, 'PUT'), request: () => ({ method: 'PUT', path: `/api/v2/system/${one}`, body: { is_active: true } }), ok: [200] },
      {
        label: 'delete',
        grant: sys('event_script/hooks.post.pre_process', 'DELETE'),
        request: (who) => ({ method: 'DELETE', path: `/api/v2/system/event_script/hooks.${who === 'key' ? 'post' : 'put'}.pre_process` }),
        ok: [200],
      },
    ]);
  });

  it('system/role and system/app: every verb, and regenerating a key', async () => {
    const fixtureRole = await asAdmin(t, 'POST', '/api/v2/system/role', { name: 'fixture-role' });
    const [target, doomedKey, doomedAdmin] = [
      await asAdmin(t, 'POST', '/api/v2/system/role', { name: 'target-role' }),
      await asAdmin(t, 'POST', '/api/v2/system/role', { name: 'doomed-role-1' }),
      await asAdmin(t, 'POST', '/api/v2/system/role', { name: 'doomed-role-2' }),
    ];
    const [app, appDoomedKey, appDoomedAdmin] = [
      await asAdmin(t, 'POST', '/api/v2/system/app', { name: 'target-app', role_id: fixtureRole.id }),
      await asAdmin(t, 'POST', '/api/v2/system/app', { name: 'doomed-app-1', role_id: fixtureRole.id }),
      await asAdmin(t, 'POST', '/api/v2/system/app', { name: 'doomed-app-2', role_id: fixtureRole.id }),
    ];
    const sys = (component: string, verb: Verb): Grant => ({ serviceId: SYSTEM, serviceName: 'system', component, verb });
    let made = 0;
    await runRestCases([
      { label: 'list roles', grant: sys('role', 'GET'), request: () => ({ method: 'GET', path: '/api/v2/system/role?related=role_service_access_by_role_id' }), ok: [200] },
      { label: 'create a role', grant: sys('role', 'POST'), request: () => ({ method: 'POST', path: '/api/v2/system/role', body: { resource: [{ name: `made-role-${++made}` }] } }), ok: [201] },
      { label: 'get a role', grant: sys(`role/${target.id}`, 'GET'), request: () => ({ method: 'GET', path: `/api/v2/system/role/${target.id}` }), ok: [200] },
      { label: 'patch a role', grant: sys(`role/${target.id}`, 'PATCH'), request: () => ({ method: 'PATCH', path: `/api/v2/system/role/${target.id}`, body: { description: 'p' } }), ok: [200] },
      { label: 'put a role', grant: sys(`role/${target.id}`, 'PUT'), request: () => ({ method: 'PUT', path: `/api/v2/system/role/${target.id}`, body: { description: 'q' } }), ok: [200] },
      {
        label: 'delete a role',
        grant: sys(`role/${doomedKey.id}`, 'DELETE'),
        request: (who) => ({ method: 'DELETE', path: `/api/v2/system/role/${who === 'key' ? doomedKey.id : doomedAdmin.id}` }),
        ok: [200],
      },
      { label: 'list apps', grant: sys('app', 'GET'), request: () => ({ method: 'GET', path: '/api/v2/system/app' }), ok: [200] },
      {
        label: 'create an app',
        grant: sys('app', 'POST'),
        request: () => ({ method: 'POST', path: '/api/v2/system/app', body: { name: `made-app-${++made}`, role_id: fixtureRole.id } }),
        ok: [201],
      },
      { label: 'get an app', grant: sys(`app/${app.id}`, 'GET'), request: () => ({ method: 'GET', path: `/api/v2/system/app/${app.id}` }), ok: [200] },
      { label: 'patch an app', grant: sys(`app/${app.id}`, 'PATCH'), request: () => ({ method: 'PATCH', path: `/api/v2/system/app/${app.id}`, body: { description: 'p' } }), ok: [200] },
      { label: 'put an app', grant: sys(`app/${app.id}`, 'PUT'), request: () => ({ method: 'PUT', path: `/api/v2/system/app/${app.id}`, body: { description: 'q' } }), ok: [200] },
      { label: 'regenerate a key', grant: sys(`app/${app.id}`, 'PATCH'), request: () => ({ method: 'PATCH', path: `/api/v2/system/app/${app.id}?regenerate=true` }), ok: [200] },
      {
        label: 'delete an app',
        grant: sys(`app/${appDoomedKey.id}`, 'DELETE'),
        request: (who) => ({ method: 'DELETE', path: `/api/v2/system/app/${who === 'key' ? appDoomedKey.id : appDoomedAdmin.id}` }),
        ok: [200],
      },
    ]);
  });

  interface GqlCase {
    field: string;
    grant: Grant;
    request: (who: Who) => { query: string; variables?: Record<string, unknown> };
    before?: (who: Who) => Promise<void>;
    /** A subscription: run over server-sent events, allowed when it delivers what `trigger` causes. */
    subscription?: 'logs' | 'executions';
    /** Rows both keys hold besides: a field that also checks a second grant (replayExecution runs the service). */
    also?: AccessRow[];
  }

  /** The same five attempts as REST; denial is `extensions.code` FORBIDDEN, no or a wrong key a 401 with UNAUTHENTICATED. */
  async function runGqlCases(cases: GqlCase[], trigger: () => Promise<void>): Promise<void> {
    const keys = await keysFor(t, cases.flatMap((c) => [[...exactly(c.grant), ...(c.also ?? [])], [...allBut(c.grant), ...(c.also ?? [])]]));
    const failures: string[] = [];
    const fail = (c: GqlCase, what: string, got: unknown) => failures.push(`${c.field} ${what}: ${JSON.stringify(got).slice(0, 400)}`);
    for (const [i, c] of cases.entries()) {
      const attempt = (key: string | null, who: Who) => {
        const { query, variables } = c.request(who);
        return c.subscription ? subscribed(key, c, query, variables ?? {}) : gqlAs(t, key, query, variables);
      };
      for (const key of [null, WRONG_KEY]) {
        const refused = await attempt(key, 'key');
        if (refused.status !== 401 || refused.errors?.[0]?.extensions?.code !== 'UNAUTHENTICATED') fail(c, `with key ${key}, expected 401 UNAUTHENTICATED`, refused);
      }
      const denied = await attempt(keys[2 * i + 1]!, 'key');
      if (denied.errors?.[0]?.extensions?.code !== 'FORBIDDEN' || denied.data?.[c.field]) fail(c, 'with everything but, expected FORBIDDEN', denied);
      else expectForbiddenMessage(denied.errors[0]!.message, c.grant);
      await c.before?.('key');
      const allowed = await attempt(keys[2 * i]!, 'key');
      if (allowed.errors || allowed.data?.[c.field] === undefined || allowed.data?.[c.field] === null) fail(c, 'with exactly that, expected data', allowed);
      await c.before?.('admin');
      const byAdmin = await attempt(ADMIN_KEY, 'admin');
      if (byAdmin.errors || byAdmin.data?.[c.field] === undefined || byAdmin.data?.[c.field] === null) fail(c, 'as the administrator, expected data', byAdmin);
    }
    expect(failures).toEqual([]);

    /** A subscription's first result (after `trigger` when the server registered it), or its refusal. */
    async function subscribed(key: string | null, c: GqlCase, query: string, variables: Record<string, unknown>): Promise<GqlResponse> {
      const topic = c.subscription === 'logs' ? t.server.platform.bus.logs : t.server.platform.bus.executions;
      const before = topic.subscriberCount;
      const subscription = await subscribeSse(t.url, { query, variables }, key === null ? {} : { 'x-dreamfactory-api-key': key });
      try {
        if (subscription.refusal !== null) return { status: subscription.status, ...(JSON.parse(subscription.refusal) as object) };
        let answered = false;
        const first = subscription.results.next().finally(() => (answered = true));
        // A refused operation ends with its error at once; an allowed one waits for the next execution.
        await eventually(() => answered || topic.subscriberCount > before, `${c.field} to be answered or registered`);
        if (!answered) await trigger();
        const result = await first;
        return { status: subscription.status, ...(result.value ?? {}) };
      } finally {
        subscription.close();
        // The next attempt counts from here: this one must be gone first.
        await eventually(() => topic.subscriberCount <= before, `${c.field} to be unsubscribed`);
      }
    }
  }

  it('GraphQL: every root field, and the map of root fields is complete', async () => {
    // The platform's own root fields: services' typed fields come and go with the catalog, and go through the pipeline.
    const rootFields = [platformSchema.getQueryType()!, platformSchema.getMutationType()!, platformSchema.getSubscriptionType()!].flatMap((type) => Object.keys(type.getFields()));
    // A new root field without a mapping fails here (and is refused to every key but the administrator's).
    expect(Object.keys(OPERATION_ACCESS).sort()).toEqual([...rootFields].sort());

    const gsvc = await createService(t, 'gsvc', 'javascript', "console.log('ran'); return { ok: true };");
    const [doomedKey, doomedAdmin] = [await createService(t, 'gdoomed1', 'javascript', 'return 1'), await createService(t, 'gdoomed2', 'javascript', 'return 1')];
    await createService(t, 'ghooks', 'javascript', 'return 1');
    const script = { type: 'javascript', content: 'return;' };
    for (const name of ['ghooks.get.pre_process', 'ghooks.post.pre_process', 'ghooks.put.pre_process']) await asAdmin(t, 'POST', `/api/v2/system/event_script/${name}`, script);
    const fixtureRole = await asAdmin(t, 'POST', '/api/v2/system/role', { name: 'g-fixture-role' });
    // GraphQL names roles and apps; grants name them by id, as REST addresses them.
    const roleIds: Record<string, number> = {};
    const appIds: Record<string, number> = {};
    for (const name of ['g-target-role', 'g-doomed-role-1', 'g-doomed-role-2']) roleIds[name] = (await asAdmin(t, 'POST', '/api/v2/system/role', { name })).id;
    for (const name of ['g-target-app', 'g-doomed-app-1', 'g-doomed-app-2']) appIds[name] = (await asAdmin(t, 'POST', '/api/v2/system/app', { name, role_id: fixtureRole.id })).id;
    await asAdmin(t, 'PUT', `/api/v2/system/service/${gsvc}/secret/token`, { value: 'v' });
    const call = await restAs(t, ADMIN_KEY, 'GET', '/api/v2/gsvc');
    const executionId = call.headers.get('x-execution-id')!;
    await eventually(async () => (await restAs(t, ADMIN_KEY, 'GET', `/api/v2/system/execution/${executionId}`)).status === 200, 'the execution to be recorded');

    const sys = (component: string, verb: Verb): Grant => ({ serviceId: SYSTEM, serviceName: 'system', component, verb });
    const q = (query: string, variables?: Record<string, unknown>) => () => ({ query, variables });
    let made = 0;
    const cases: GqlCase[] = [
      // Query
      { field: 'services', grant: sys('service', 'GET'), request: q('{ services { edges { node { id } } } }') },
      { field: 'service', grant: sys(`service/${gsvc}`, 'GET'), request: q('{ service(name: "gsvc") { id } }') },
      { field: 'eventScripts', grant: sys('event_script', 'GET'), request: q('{ eventScripts { name } }') },
      { field: 'eventScript', grant: sys('event_script/ghooks.get.pre_process', 'GET'), request: q('{ eventScript(name: "ghooks.get.pre_process") { name } }') },
      { field: 'events', grant: sys('event', 'GET'), request: q('{ events }') },
      { field: 'roles', grant: sys('role', 'GET'), request: q('{ roles { name access { service } } }') },
      { field: 'role', grant: sys(`role/${roleIds['g-target-role']}`, 'GET'), request: q('{ role(name: "g-target-role") { name } }') },
      { field: 'apps', grant: sys('app', 'GET'), request: q('{ apps { name apiKeyPrefix } }') },
      { field: 'app', grant: sys(`app/${appIds['g-target-app']}`, 'GET'), request: q('{ app(name: "g-target-app") { name } }') },
      { field: 'scriptTypes', grant: sys('script_type', 'GET'), request: q('{ scriptTypes { name } }') },
      { field: 'scriptType', grant: sys('script_type/javascript', 'GET'), request: q('{ scriptType(name: "javascript") { name } }') },
      { field: 'executions', grant: sys('execution', 'GET'), request: q('{ executions(first: 1) { edges { node { id } } } }') },
      { field: 'execution', grant: sys(`execution/${executionId}`, 'GET'), request: q('query($id: ID!) { execution(id: $id) { id } }', { id: executionId }) },
      { field: 'checkScript', grant: sys('service', 'POST'), request: q('{ checkScript(script: { type: "javascript", content: "return (" }) { line } }') },
      // Mutation
      {
        field: 'createService',
        grant: sys('service', 'POST'),
        request: () => ({ query: 'mutation($i: CreateServiceInput!) { createService(input: $i) { id } }', variables: { i: { name: `gmade${++made}`, type: 'javascript', content: 'return 1' } } }),
      },
      { field: 'updateService', grant: sys(`service/${gsvc}`, 'PATCH'), request: q('mutation { updateService(name: "gsvc", input: { description: "d" }) { id } }') },
      {
        field: 'deleteService',
        grant: sys(`service/${doomedKey}`, 'DELETE'),
        request: (who) => ({ query: `mutation { deleteService(name: "${who === 'key' ? 'gdoomed1' : 'gdoomed2'}") }` }),
      },
      {
        field: 'upsertEventScript',
        grant: sys('event_script/ghooks.get.pre_process', 'POST'),
        request: q('mutation { upsertEventScript(name: "ghooks.get.pre_process", input: { type: "javascript", content: "return;" }) { name } }'),
      },
      {
        field: 'deleteEventScript',
        grant: sys('event_script/ghooks.post.pre_process', 'DELETE'),
        request: (who) => ({ query: `mutation { deleteEventScript(name: "ghooks.${who === 'key' ? 'post' : 'put'}.pre_process") }` }),
      },
      { field: 'createRole', grant: sys('role', 'POST'), request: () => ({ query: `mutation { createRole(input: { name: "g-made-role-${++made}" }) { id } }` }) },
      { field: 'updateRole', grant: sys(`role/${roleIds['g-target-role']}`, 'PATCH'), request: q('mutation { updateRole(name: "g-target-role", input: { description: "d" }) { id } }') },
      {
        field: 'deleteRole',
        grant: sys(`role/${roleIds['g-doomed-role-1']}`, 'DELETE'),
        request: (who) => ({ query: `mutation { deleteRole(name: "g-doomed-role-${who === 'key' ? 1 : 2}") }` }),
      },
      {
        field: 'createApp',
        grant: sys('app', 'POST'),
        request: () => ({ query: `mutation { createApp(input: { name: "g-made-app-${++made}", role: "g-fixture-role" }) { apiKey app { name } } }` }),
      },
      { field: 'updateApp', grant: sys(`app/${appIds['g-target-app']}`, 'PATCH'), request: q('mutation { updateApp(name: "g-target-app", input: { description: "d" }) { id } }') },
      {
        field: 'deleteApp',
        grant: sys(`app/${appIds['g-doomed-app-1']}`, 'DELETE'),
        request: (who) => ({ query: `mutation { deleteApp(name: "g-doomed-app-${who === 'key' ? 1 : 2}") }` }),
      },
      { field: 'rotateAppKey', grant: sys(`app/${appIds['g-target-app']}`, 'PATCH'), request: q('mutation { rotateAppKey(name: "g-target-app") { apiKey } }') },
      {
        field: 'setServiceSecret',
        grant: sys(`service/${gsvc}/secret/token`, 'PUT'),
        request: q('mutation { setServiceSecret(service: "gsvc", name: "token", value: "w") }'),
      },
      {
        field: 'deleteServiceSecret',
        grant: sys(`service/${gsvc}/secret/gone`, 'DELETE'),
        request: q('mutation { deleteServiceSecret(service: "gsvc", name: "gone") }'),
        before: async () => void (await asAdmin(t, 'PUT', `/api/v2/system/service/${gsvc}/secret/gone`, { value: 'v' })),
      },
      {
        field: 'invokeService',
        grant: { serviceId: gsvc, serviceName: 'gsvc', component: 'items', verb: 'POST' },
        request: q('mutation { invokeService(name: "gsvc", method: "POST", resource: "items", payload: {a: 1}) { statusCode } }'),
      },
      { field: 'runScript', grant: sys('service', 'POST'), request: q('mutation { runScript(script: { type: "javascript", content: "return 2" }) { statusCode } }') },
      { field: 'serviceSchema', grant: sys('service', 'GET'), request: q('{ serviceSchema }') },
      { field: 'serviceVersion', grant: sys(`service/${gsvc}/version/1`, 'GET'), request: q('{ serviceVersion(name: "gsvc", version: 1) { version } }') },
      { field: 'rollbackService', grant: sys(`service/${gsvc}`, 'PATCH'), request: q('mutation { rollbackService(name: "gsvc", version: 1) { version } }') },
      {
        field: 'replayExecution',
        grant: sys(`execution/${executionId}`, 'GET'),
        also: [{ service_id: gsvc, component: '', verb_mask: VERB_BITS.GET, requestor_mask: API }],
        request: q('mutation($id: ID!) { replayExecution(id: $id) { statusCode } }', { id: executionId }),
      },
      // Subscription
      { field: 'executionLogs', grant: sys('execution', 'GET'), request: q('subscription { executionLogs(service: "gsvc") { message } }'), subscription: 'logs' },
      { field: 'executionUpdated', grant: sys('execution', 'GET'), request: q('subscription { executionUpdated(service: "gsvc") { id } }'), subscription: 'executions' },
    ];
    expect(cases.map((c) => c.field).sort()).toEqual([...rootFields].sort());
    await runGqlCases(cases, async () => void (await asAdmin(t, 'GET', '/api/v2/gsvc')));
  });

  it('a scripted service: every verb, on its root and on a resource', async () => {
    const id = await createService(t, 'scripted', 'javascript', 'return { method: event.request.method, resource: event.resource };');
    const grant = (component: string, verb: Verb): Grant => ({ serviceId: id, serviceName: 'scripted', component, verb });
    await runRestCases([
      { label: 'root', grant: grant('', 'GET'), request: () => ({ method: 'GET', path: '/api/v2/scripted' }), ok: [200] },
      ...(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const).map((verb) => ({
        label: verb,
        grant: grant('items/1', verb),
        request: () => ({ method: verb, path: '/api/v2/scripted/items/1', ...(verb === 'GET' || verb === 'DELETE' ? {} : { body: { x: 1 } }) }),
        ok: [200],
      })),
    ]);
  });
});

describe('scripts, keys, the api_key parameter and the guest role', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.stop();
  });

  /** Everything a script can see of its call, as JSON: the event and the platform object (functions drop out). */
  const SEE_ALL = 'JSON.stringify({ event, platform })';

  it('script-only access: B is refused directly and reached through A; platform.session names the app and role, never a key', async () => {
    const b = await createService(t, 'onlyb', 'javascript', `return { b: true, session: platform.session, seen: ${SEE_ALL} };`);
    const a = await createService(
      t,
      'froma',
      'javascript',
      `const r = await platform.api.get('onlyb/x'); return { status: r.status_code, inner: r.content, session: platform.session, seen: ${SEE_ALL} };`,
    );
    const caller = await appWith(t, [
      { service_id: a, component: '*', verb_mask: VERB_BITS.GET, requestor_mask: API },
      { service_id: b, component: '*', verb_mask: VERB_BITS.GET, requestor_mask: SCRIPT },
    ]);
    const direct = await restAs(t, caller.key, 'GET', '/api/v2/onlyb/x');
    expectErrorShape(direct, [403]);
    expect(direct.json.error.message).toContain("'onlyb'");

    const through = await restAs(t, caller.key, 'GET', '/api/v2/froma');
    expect(through.status, through.text).toBe(200);
    expect(through.json.status).toBe(200);
    expect(through.json.inner.b).toBe(true);
    const expected = { app: { id: caller.appId, name: caller.appName }, role: { id: caller.roleId, name: caller.roleName }, user: null };
    expect(through.json.session).toEqual({ ...expected, requestor: 'API' });
    expect(through.json.inner.session).toEqual({ ...expected, requestor: 'SCRIPT' });
    for (const seen of [through.json.seen, through.json.inner.seen]) {
      expect(seen).not.toContain(caller.key);
      expect(seen).not.toContain(caller.key.slice(4));
    }

    // The same rows for API only: the script's call is refused, as a result it can see.
    const apiOnly = await appWith(t, [
      { service_id: a, component: '*', verb_mask: VERB_BITS.GET, requestor_mask: API },
      { service_id: b, component: '*', verb_mask: VERB_BITS.GET, requestor_mask: API },
    ]);
    const refused = await restAs(t, apiOnly.key, 'GET', '/api/v2/froma');
    expect(refused.status).toBe(200);
    expect(refused.json.status).toBe(403);
    expect(refused.json.inner.error.message).toContain("'onlyb'");
    expect((await restAs(t, apiOnly.key, 'GET', '/api/v2/onlyb/x')).status).toBe(200);
  });

  it('the api_key query parameter authenticates REST and GraphQL, and never reaches the script', async () => {
    const id = await createService(t, 'echo', 'javascript', `return { parameters: event.request.parameters, uri: event.request.uri, seen: ${SEE_ALL} };`);
    const caller = await appWith(t, [{ service_id: id, component: '*', verb_mask: ALL_VERBS, requestor_mask: API }]);
    const response = await restAs(t, null, 'GET', `/api/v2/echo/x?a=1&api_key=${caller.key}&b=2`);
    expect(response.status, response.text).toBe(200);
    expect(response.json.parameters).toEqual({ a: '1', b: '2' });
    expect(response.json.uri).not.toContain('api_key');
    expect(response.json.seen).not.toContain(caller.key);
    expect(response.json.seen).not.toContain('api_key');
    // Sent in a header too, the key stays out of the event's headers.
    const header = await restAs(t, caller.key, 'POST', `/api/v2/echo/x?api_key=${caller.key}`, { k: 1 });
    expect(header.status).toBe(200);
    expect(header.json.seen).not.toContain(caller.key);

    const wrong = await restAs(t, null, 'GET', `/api/v2/echo/x?api_key=${WRONG_KEY}`);
    expectErrorShape(wrong, [401]);
    const graphql = await fetch(`${t.url}/graphql?api_key=${encodeURIComponent(ADMIN_KEY)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ scriptTypes { name } }' }),
    });
    expect(graphql.status).toBe(200);
    expect(((await graphql.json()) as GqlResponse).errors).toBeUndefined();
  });

  it('keys are never read back: only api_key_prefix, over REST and GraphQL', async () => {
    const caller = await appWith(t, []);
    const prefix = caller.key.slice(0, 10);
    const reads = [
      await restAs(t, ADMIN_KEY, 'GET', '/api/v2/system/app'),
      await restAs(t, ADMIN_KEY, 'GET', `/api/v2/system/app/${caller.appId}`),
      await restAs(t, ADMIN_KEY, 'GET', `/api/v2/system/app?fields=*&filter=name=${caller.appName}`),
    ];
    for (const read of reads) {
      expect(read.status, read.text).toBe(200);
      expect(read.text).not.toContain(caller.key);
      expect(read.text).not.toContain('"api_key"');
      expect(read.text).toContain(`"api_key_prefix":"${prefix}"`);
    }
    const appFields = await gqlAs(t, ADMIN_KEY, '{ __type(name: "App") { fields { name } } }');
    expect(appFields.data.__type.fields.map((f: { name: string }) => f.name).filter((name: string) => /key/i.test(name))).toEqual(['apiKeyPrefix']);
    const graphql = await gqlAs(t, ADMIN_KEY, `{ apps { name apiKeyPrefix } app(name: "${caller.appName}") { apiKeyPrefix } }`);
    expect(graphql.errors).toBeUndefined();
    expect(graphql.data.app.apiKeyPrefix).toBe(prefix);
    expect(JSON.stringify(graphql)).not.toContain(caller.key);
  });

  it('rotation, deactivation and deletion cut a key off at once; the new key works at once', async () => {
    const id = await createService(t, 'guarded', 'javascript', 'return 1');
    const caller = await appWith(t, [{ service_id: id, component: '', verb_mask: VERB_BITS.GET, requestor_mask: API }]);
    const works = async (key: string) => (await restAs(t, key, 'GET', '/api/v2/guarded')).status;
    expect(await works(caller.key)).toBe(200);

    const rotated = await restAs(t, ADMIN_KEY, 'PATCH', `/api/v2/system/app/${caller.appId}?regenerate=true`);
    expect(rotated.status).toBe(200);
    const restKey = rotated.json.api_key as string;
    expect(restKey).toMatch(/^sga_/);
    expect(rotated.json.api_key_prefix).toBe(restKey.slice(0, 10));
    expect(await works(caller.key)).toBe(401);
    expect(await works(restKey)).toBe(200);

    const viaGraphql = await gqlAs(t, ADMIN_KEY, `mutation { rotateAppKey(name: "${caller.appName}") { apiKey app { apiKeyPrefix } } }`);
    const graphqlKey = viaGraphql.data.rotateAppKey.apiKey as string;
    expect(viaGraphql.data.rotateAppKey.app.apiKeyPrefix).toBe(graphqlKey.slice(0, 10));
    expect(await works(restKey)).toBe(401);
    expect(await works(graphqlKey)).toBe(200);

    await asAdmin(t, 'PATCH', `/api/v2/system/app/${caller.appId}`, { is_active: false });
    const off = await restAs(t, graphqlKey, 'GET', '/api/v2/guarded');
    expectErrorShape(off, [401]);
    expect((await gqlAs(t, graphqlKey, '{ scriptTypes { name } }')).status).toBe(401);
    await asAdmin(t, 'PATCH', `/api/v2/system/app/${caller.appId}`, { is_active: true });
    expect(await works(graphqlKey)).toBe(200);

    // A role made inactive allows nothing: 403, the key itself still being valid.
    await asAdmin(t, 'PATCH', `/api/v2/system/role/${caller.roleId}`, { is_active: false });
    expect(await works(graphqlKey)).toBe(403);
    await asAdmin(t, 'PATCH', `/api/v2/system/role/${caller.roleId}`, { is_active: true });

    await asAdmin(t, 'DELETE', `/api/v2/system/app/${caller.appId}`);
    expect(await works(graphqlKey)).toBe(401);
  });

  it('an app key cannot read or change the secrets of a service it was not granted', async () => {
    const mine = await createService(t, 'mine', 'javascript', 'return 1');
    const theirs = await createService(t, 'theirs', 'javascript', 'return 1');
    await asAdmin(t, 'PUT', `/api/v2/system/service/${theirs}/secret/token`, { value: 'their-secret-value' });
    const caller = await appWith(t, [
      { service_id: SYSTEM, component: `service/${mine}/secret/*`, verb_mask: ALL_VERBS, requestor_mask: API },
      { service_id: mine, component: '*', verb_mask: ALL_VERBS, requestor_mask: API },
    ]);
    expect((await restAs(t, caller.key, 'PUT', `/api/v2/system/service/${mine}/secret/token`, { value: 'mine' })).status).toBe(201);
    expect((await restAs(t, caller.key, 'GET', `/api/v2/system/service/${mine}/secret`)).status).toBe(200);
    for (const [method, path, body] of [
      ['GET', `/api/v2/system/service/${theirs}/secret`, undefined],
      ['GET', `/api/v2/system/service/${theirs}/secret/token`, undefined],
      ['PUT', `/api/v2/system/service/${theirs}/secret/token`, { value: 'overwritten' }],
      ['POST', `/api/v2/system/service/${theirs}/secret/token`, { value: 'overwritten' }],
      ['DELETE', `/api/v2/system/service/${theirs}/secret/token`, undefined],
      ['GET', `/api/v2/system/service/${theirs}`, undefined],
    ] as const) {
      const response = await restAs(t, caller.key, method, path, body);
      expectErrorShape(response, [403]);
      expect(response.text).not.toContain('their-secret-value');
    }
    const graphql = await gqlAs(t, caller.key, 'mutation { setServiceSecret(service: "theirs", name: "token", value: "x") }');
    expect(graphql.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const removed = await gqlAs(t, caller.key, 'mutation { deleteServiceSecret(service: "theirs", name: "token") }');
    expect(removed.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // Still there, unchanged (read as the script runner reads it: no API returns a value).
    expect(await t.server.platform.secrets.valuesFor(theirs)).toMatchObject({ token: 'their-secret-value' });
    expect(await t.server.platform.secrets.valuesFor(mine)).toMatchObject({ token: 'mine' });
  });

  it('privilege: write access to system/role or system/app is administrator-equivalent, as in DreamFactory', async () => {
    // A role that may only PATCH itself rewrites its own grants to everything: the model allows it.
    const self = await appWith(t, []);
    await asAdmin(t, 'PATCH', `/api/v2/system/role/${self.roleId}`, {
      role_service_access_by_role_id: [{ service_id: SYSTEM, component: `role/${self.roleId}`, verb_mask: VERB_BITS.PATCH, requestor_mask: API }],
    });
    expect((await restAs(t, self.key, 'GET', '/api/v2/system/service')).status).toBe(403);
    const escalated = await restAs(t, self.key, 'PATCH', `/api/v2/system/role/${self.roleId}`, {
      role_service_access_by_role_id: [{ service_id: null, component: '*', verb_mask: ALL_VERBS, requestor_mask: API | SCRIPT }],
    });
    expect(escalated.status).toBe(200);
    expect((await restAs(t, self.key, 'GET', '/api/v2/system/service')).status).toBe(200);

    // A key that may only create apps mints one under any role, the broadest included.
    const minter = await appWith(t, [{ service_id: SYSTEM, component: 'app', verb_mask: VERB_BITS.POST, requestor_mask: API }]);
    const minted = await restAs(t, minter.key, 'POST', '/api/v2/system/app', { name: 'minted', role_id: self.roleId });
    expect(minted.status).toBe(201);
    expect((await restAs(t, minted.json.api_key, 'GET', '/api/v2/system/service')).status).toBe(200);
    // What no role reaches: the administrator key is not an app, so it cannot be read, rotated or deleted through system/app.
    expect((await restAs(t, minted.json.api_key, 'GET', '/api/v2/system/app')).text).not.toContain(ADMIN_KEY);
  });
});

describe('the guest role', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ GUEST_ROLE: 'public' });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('applies to requests without a key once the role exists; a wrong key stays 401', async () => {
    const id = await createService(t, 'open', 'javascript', 'return { session: platform.session }');
    await createService(t, 'closed', 'javascript', 'return 1');
    expectErrorShape(await restAs(t, null, 'GET', '/api/v2/open'), [401]);
    expect((await gqlAs(t, null, '{ scriptTypes { name } }')).status).toBe(401);

    const role = await asAdmin(t, 'POST', '/api/v2/system/role', {
      name: 'public',
      role_service_access_by_role_id: [{ service_id: id, component: '', verb_mask: VERB_BITS.GET, requestor_mask: API }],
    });
    const open = await restAs(t, null, 'GET', '/api/v2/open');
    expect(open.status, open.text).toBe(200);
    expect(open.json.session).toEqual({ user: null, app: null, role: { id: role.id, name: 'public' }, requestor: 'API' });
    expectErrorShape(await restAs(t, null, 'POST', '/api/v2/open'), [403]);
    expectErrorShape(await restAs(t, null, 'GET', '/api/v2/closed'), [403]);
    expectErrorShape(await restAs(t, null, 'GET', '/api/v2/system/service'), [403]);
    expect((await gqlAs(t, null, '{ services { edges { node { id } } } }')).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expectErrorShape(await restAs(t, WRONG_KEY, 'GET', '/api/v2/open'), [401]);

    // Deactivated, the guest role is off again; it cannot be deleted while configured.
    await asAdmin(t, 'PATCH', `/api/v2/system/role/${role.id}`, { is_active: false });
    expectErrorShape(await restAs(t, null, 'GET', '/api/v2/open'), [401]);
    expectErrorShape(await restAs(t, ADMIN_KEY, 'DELETE', `/api/v2/system/role/${role.id}`), [409]);
  });
});

describe('hostile keys', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('a 10 KB key is 401 at once, over REST and GraphQL', async () => {
    await appWith(t, []);
    const huge = `sga_${'A'.repeat(10_240)}`;
    const started = performance.now();
    expectErrorShape(await restAs(t, huge, 'GET', '/api/v2/system/service'), [401]);
    expectErrorShape(await restAs(t, null, 'GET', `/api/v2/system/service?api_key=${huge}`), [401]);
    expect((await gqlAs(t, huge, '{ services { edges { node { id } } } }')).status).toBe(401);
    expect(performance.now() - started).toBeLessThan(HEALTHZ_BUDGET_MS * 3);
  });

  it('1,000 wrong keys neither slow the server nor grow its key cache', async () => {
    await appWith(t, []);
    // The first miss loads every app; after it, a wrong key is answered from memory.
    expectErrorShape(await restAs(t, WRONG_KEY, 'GET', '/api/v2/system/service'), [401]);
    await eventually(() => t.server.platform.apps.holdsEveryApp, 'the key cache to hold every app');
    const cached = t.server.platform.apps.cachedKeys;
    const { result: statuses, slowestHealthMs } = await whileProbingHealth(t, async () => {
      const statuses = new Set<number>();
      // Eight connections at a time: the test client shares the process, so more would measure the client.
      for (let round = 0; round < 125; round++) {
        const responses = await Promise.all(
          Array.from({ length: 8 }, (_, i) => restAs(t, `sga_wrong${round}_${i}_${'z'.repeat(20)}`, 'GET', '/api/v2/system/service')),
        );
        for (const response of responses) statuses.add(response.status);
      }
      return statuses;
    });
    expect([...statuses]).toEqual([401]);
    expect(slowestHealthMs).toBeLessThan(HEALTHZ_BUDGET_MS);
    expect(t.server.platform.apps.cachedKeys).toBe(cached);
  });
});

describe.skipIf(!(await postgresAvailable()) && process.env.CI !== 'true')('two instances on PostgreSQL', () => {
  let a: TestServer;
  let b: TestServer;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    database = await createTestDatabase();
    a = await startTestServer({ DATABASE_URL: database.url });
    b = await startTestServer({ DATABASE_URL: database.url });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await database?.drop();
  });

  it('rotating a key on one instance cuts the old key off on the other, which accepts the new one', async () => {
    const id = await createService(a, 'shared', 'javascript', 'return 1');
    const caller = await appWith(a, [{ service_id: id, component: '', verb_mask: VERB_BITS.GET, requestor_mask: API }]);
    const statusOn = async (t: TestServer, key: string) => (await restAs(t, key, 'GET', '/api/v2/shared')).status;
    await eventually(async () => (await statusOn(b, caller.key)) === 200, 'the other instance to accept the key');

    const rotated = await gqlAs(a, ADMIN_KEY, `mutation { rotateAppKey(name: "${caller.appName}") { apiKey } }`);
    const newKey = rotated.data.rotateAppKey.apiKey as string;
    expect(await statusOn(a, caller.key)).toBe(401);
    await eventually(async () => (await statusOn(b, caller.key)) === 401, 'the other instance to refuse the old key');
    await eventually(async () => (await statusOn(b, newKey)) === 200, 'the other instance to accept the new key');

    await asAdmin(a, 'PATCH', `/api/v2/system/app/${caller.appId}`, { is_active: false });
    await eventually(async () => (await statusOn(b, newKey)) === 401, 'the other instance to refuse a deactivated app');
    await asAdmin(a, 'DELETE', `/api/v2/system/app/${caller.appId}`);
    expect(await statusOn(b, newKey)).toBe(401);
  });
});
