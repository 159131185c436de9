/**
 * API docs (issue #12): `/api/v2/api_docs` lists the services a key may read
 * docs of, `/api/v2/api_docs/{service}` answers OpenAPI 3.1 (checked against
 * the specification's schema), the system document covers every route the
 * running server serves (probed, not assumed), access follows the caller's
 * role, `config.openapi` is checked on save, and the Swagger UI page at
 * /api-docs works offline in Chromium without running a hostile document's
 * markup.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, type Page, type Request as BrowserRequest } from 'playwright-core';
import { Validator } from '@seriousme/openapi-schema-validator';
import { API_DOCS_ASSETS_PATH } from '../src/api-docs/page.ts';
import { rawGet as rawGetFrom } from './helpers/raw-http.ts';
import { browserTestsRun, launchChromium, openRecorded } from './helpers/chromium.ts';
import { eventually } from './helpers/eventually.ts';
import { ADMIN_KEY, asAdmin, createService, restAs, startTestServer, type RestResponse, type TestServer } from './helpers/server.ts';

const browserTests = browserTestsRun('API docs');

const VERBS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
const OPERATION_KEYS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const API = 1;
const SCRIPT = 2;
const GET = 1;

let t: TestServer;
let mathId: number;

beforeAll(async () => {
  t = await startTestServer();
  mathId = await createService(t, 'math', 'javascript', 'return { sum: Number(event.request.parameters.a) + Number(event.request.parameters.b) }', {
    paths: ['items/{id}', 'items/{id}/parts', 'not a/{valid template'],
  });
  await createService(t, 'other', 'javascript', 'return 1');
});

afterAll(async () => {
  await t?.stop();
});

async function valid(document: unknown): Promise<void> {
  const result = await new Validator().validate(document as Record<string, unknown>);
  expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
  expect(result.valid).toBe(true);
}

/** "GET /service/{}" for every operation of a document. */
function operationsOf(document: { paths: Record<string, Record<string, unknown>> }): string[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((key) => OPERATION_KEYS.includes(key))
      .map((method) => `${method.toUpperCase()} ${normalized(path)}`),
  );
}

const normalized = (path: string) => `/${path.replace(/^\/+|\/+$/g, '')}`.replace(/\{[^}]*\}/g, '{}');

/** A role with `rows` and an app under it: the app's key. */
let roles = 0;
async function keyWith(rows: { service_id: number | null; component: string; verb_mask: number; requestor_mask: number }[]): Promise<string> {
  const role = await asAdmin(t, 'POST', '/api/v2/system/role', { name: `docs-role-${++roles}`, role_service_access_by_role_id: rows });
  const app = await asAdmin(t, 'POST', '/api/v2/system/app', { name: `docs-app-${roles}`, role_id: role.id });
  return app.api_key as string;
}

/** A request exactly as written (fetch() would resolve `..`), with any headers. */
const rawGet = (path: string, headers: Record<string, string> = {}) => rawGetFrom(t.url, path, headers);

describe('api_docs documents', () => {
  it('GET /api/v2/api_docs lists system first, then the services, in DreamFactory\'s list shape', async () => {
    const response = await t.rest('GET', '/api/v2/api_docs');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.json.resource[0]).toEqual({ name: 'system', label: 'System Management', description: 'Service for managing system resources.', type: 'system' });
    expect(response.json.resource.map((entry: { name: string }) => entry.name)).toEqual(['system', 'math', 'other']);
    expect(response.json.resource[1]).toEqual({ name: 'math', label: 'math', description: '', type: 'javascript' });
  });

  it('the system document is valid OpenAPI 3.1 with its server and the key header scheme', async () => {
    const { status, json } = await t.rest('GET', '/api/v2/api_docs/system');
    expect(status).toBe(200);
    await valid(json);
    expect(json.openapi).toBe('3.1.0');
    expect(json.servers).toEqual([{ url: '/api/v2/system', description: expect.any(String) }]);
    expect(json.components.securitySchemes.ApiKeyHeader).toEqual({ type: 'apiKey', in: 'header', name: 'X-DreamFactory-API-Key', description: expect.any(String) });
    expect(json.security).toContainEqual({ ApiKeyHeader: [] });
    expect(json.paths['/service/{id}/secret/{name}'].put.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/SecretValue' });
    // Names are case-insensitive, as service names are.
    expect((await t.rest('GET', '/api/v2/API_DOCS/System')).json).toEqual(json);
  });

  it('a service without its own document gets every verb on its root, its config.paths templates and any resource', async () => {
    const { status, json } = await t.rest('GET', '/api/v2/api_docs/math');
    expect(status).toBe(200);
    await valid(json);
    expect(json.servers).toEqual([{ url: '/api/v2/math', description: expect.any(String) }]);
    expect(json.info).toMatchObject({ title: 'math', version: '2.0' });
    // The malformed template is left out rather than breaking the document.
    expect(Object.keys(json.paths)).toEqual(['/', '/items/{id}', '/items/{id}/parts', '/{resource}']);
    for (const item of Object.values(json.paths) as Record<string, unknown>[]) expect(Object.keys(item)).toEqual(['get', 'post', 'put', 'patch', 'delete']);
    expect(json.paths['/items/{id}'].get.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path', required: true })]);
    expect(json.components.securitySchemes.ApiKeyHeader.name).toBe('X-DreamFactory-API-Key');
  });

  it('a service\'s config.openapi is its document; the server and the key schemes are ours', async () => {
    const own = {
      openapi: '3.1.0',
      info: { title: 'Shop', version: '7.1' },
      servers: [{ url: 'https://elsewhere.example/api' }],
      paths: {
        '/orders': {
          servers: [{ url: 'https://elsewhere.example/path-level' }],
          get: { summary: 'List orders', servers: [{ url: 'https://elsewhere.example/op-level' }], responses: { '200': { description: 'ok', content: { 'application/json': { schema: { $ref: '#/components/schemas/Orders' } } } } } },
          post: { summary: 'Place an order', responses: { '201': { description: 'made' } } },
        },
      },
      components: { schemas: { Orders: { type: 'array' } }, securitySchemes: { Theirs: { type: 'http', scheme: 'basic' } } },
    };
    await createService(t, 'shop', 'javascript', 'return []', { openapi: own });
    const { status, json } = await t.rest('GET', '/api/v2/api_docs/shop');
    expect(status).toBe(200);
    await valid(json);
    expect(json.info).toEqual({ title: 'Shop', version: '7.1' });
    expect(json.servers).toEqual([{ url: '/api/v2/shop', description: expect.any(String) }]);
    expect(json.paths['/orders'].servers).toBeUndefined();
    expect(json.paths['/orders'].get.servers).toBeUndefined();
    expect(json.paths['/orders'].get.summary).toBe('List orders');
    expect(json.components.schemas.Orders).toEqual({ type: 'array' });
    expect(Object.keys(json.components.securitySchemes)).toEqual(['Theirs', 'ApiKeyHeader', 'BearerAuth', 'ApiKeyQuery']);
    expect(JSON.stringify(json)).not.toContain('elsewhere.example');
    // A 3.0 document is served as 3.0.
    await t.rest('PATCH', '/api/v2/system/service/' + (await asAdmin(t, 'GET', '/api/v2/system/service?filter=name=shop')).resource[0].id, {
      config: { openapi: { ...own, openapi: '3.0.3', components: { schemas: { Orders: { type: 'array' } } } } },
    });
    const v30 = await t.rest('GET', '/api/v2/api_docs/shop');
    expect(v30.json.openapi).toBe('3.0.3');
    await valid(v30.json);
  });

  it('config.openapi is checked on save: an OpenAPI 3.x object with paths, local $refs, paths under the service', async () => {
    const refused: [unknown, RegExp][] = [
      ['a string', /must be an OpenAPI document/],
      [[{ openapi: '3.1.0' }], /must be an OpenAPI document/],
      [{ paths: {} }, /"openapi"/],
      [{ openapi: 3.1, paths: {} }, /"openapi"/],
      [{ swagger: '2.0', openapi: '2.0', paths: {} }, /"openapi", a string starting with "3\."/],
      [{ openapi: '3.1.0' }, /must have "paths"/],
      [{ openapi: '3.1.0', paths: [] }, /must have "paths"/],
      [{ openapi: '3.1.0', paths: { 'orders': {} } }, /must start with "\/"/],
      [{ openapi: '3.1.0', paths: { '/../system/app': {} } }, /stay under the service/],
      [{ openapi: '3.1.0', paths: { '/a/./b': {} } }, /stay under the service/],
      [{ openapi: '3.1.0', paths: { '/a?x=1': {} } }, /stay under the service/],
      [{ openapi: '3.1.0', paths: { '/a': { get: { responses: { '200': { $ref: 'https://evil.example/r.json' } } } } } }, /\$ref/],
      [{ openapi: '3.1.0', paths: { '/a': { $ref: '/api/v2/system/app' } } }, /\$ref/],
      [{ openapi: '3.1.0', paths: {}, components: { schemas: { X: { $ref: 42 } } } }, /\$ref/],
    ];
    for (const [openapi, message] of refused) {
      const response = await t.rest('POST', '/api/v2/system/service', { name: 'refused-doc', type: 'javascript', content: 'return 1', config: { openapi } });
      expect(response.status, JSON.stringify(openapi)).toBe(400);
      expect(response.json.error.message, JSON.stringify(openapi)).toMatch(message);
      expect(response.json.error.context).toEqual({ field: 'config.openapi' });
    }
    // The same check on update, and through GraphQL; null removes the document.
    const patched = await t.rest('PATCH', `/api/v2/system/service/${mathId}`, { config: { openapi: { openapi: '3.1.0' } } });
    expect(patched.status).toBe(400);
    const graphql = await t.gql('mutation { createService(input: {name: "gql-doc", type: "javascript", content: "return 1", config: {openapi: {openapi: "2.0", paths: {}}}}) { id } }');
    expect(graphql.errors?.[0]?.message).toMatch(/config\.openapi/);
    const id = await createService(t, 'doc-then-none', 'javascript', 'return 1', { openapi: { openapi: '3.1.0', info: { title: 'x', version: '1' }, paths: { '/x': {} } } });
    expect(Object.keys((await t.rest('GET', '/api/v2/api_docs/doc-then-none')).json.paths)).toEqual(['/x']);
    expect((await t.rest('PATCH', `/api/v2/system/service/${id}`, { config: { openapi: null } })).status).toBe(200);
    expect(Object.keys((await t.rest('GET', '/api/v2/api_docs/doc-then-none')).json.paths)).toEqual(['/', '/{resource}']);
  });
});

describe('the system document covers every route served', () => {
  /**
   * What the running server serves under /api/v2/system, found by asking it:
   * the components it lists, each one's resource templates (from the event
   * names it offers), an item path for each, probed with every verb. A
   * probe sends no body and names no record that exists, so nothing changes;
   * a 405, or "no such resource", means the route is not served.
   */
  async function servedSystemOperations(): Promise<Set<string>> {
    const components = ((await asAdmin(t, 'GET', '/api/v2/system')).resource as { name: string }[]).map((c) => c.name);
    expect(components.length).toBeGreaterThanOrEqual(7);
    const eventNames = (await asAdmin(t, 'GET', '/api/v2/system/event?service=system&as_list=true')).resource as string[];
    const templates = new Map<string, string>([['/', '']]);
    const add = (template: string) => templates.set(normalized(template), template);
    for (const name of eventNames) add(name.split('.').slice(1, -2).join('/'));
    for (const component of components) {
      add(component);
      add(`${component}/{key}`);
    }
    // A placeholder with more path after it needs a record that exists (`service/{id}/secret`).
    const existing: Record<string, string> = { service: String(mathId), script_type: 'typescript' };
    const served = new Set<string>();
    for (const [key, template] of templates) {
      const segments = template.split('/').filter(Boolean);
      const concrete = segments.map((segment, i) => {
        if (!segment.startsWith('{')) return segment;
        if (i === segments.length - 1) return 'probe-missing-99';
        const record = existing[segments[0]!];
        if (!record) throw new Error(`No existing ${segments[0]} to probe ${template} with: add one to this test.`);
        return record;
      });
      for (const verb of VERBS) {
        const response = await restAs(t, ADMIN_KEY, verb, `/api/v2/system/${concrete.join('/')}`);
        if (isServed(response)) served.add(`${verb} ${key}`);
      }
    }
    return served;
  }

  function isServed(response: RestResponse): boolean {
    if (response.status === 405) return false;
    const message: string = response.json?.error?.message ?? '';
    return !((response.status === 404 || response.status === 400) && /^No resource|not found in system/.test(message));
  }

  it('every operation the system API answers is documented, and every documented one is answered', async () => {
    const served = await servedSystemOperations();
    const documented = new Set(operationsOf((await asAdmin(t, 'GET', '/api/v2/api_docs/system')) as never));
    const undocumented = [...served].filter((operation) => !documented.has(operation));
    const notServed = [...documented].filter((operation) => !served.has(operation));
    expect(undocumented, 'served but not in src/api-docs/system-operations.ts').toEqual([]);
    expect(notServed, 'documented but refused').toEqual([]);
    // The probe is not vacuous: it found the deepest route and told verbs apart.
    expect(served).toContain('PUT /service/{}/secret/{}');
    expect(served).not.toContain('GET /service/{}/secret/{}');
    expect(served).not.toContain('HEAD /service');
    expect(served.size).toBe(documented.size);
  });

  it('every fastify route under /api/v2 is one the documents cover', () => {
    // printRoutes draws a tree: each line's depth is its indentation, in steps of four.
    const routes: string[] = [];
    const stack: string[] = [];
    for (const line of t.server.app.printRoutes({ commonPrefix: false }).split('\n')) {
      const match = /^([\s│├└─]*?)(?:├── |└── )(\S+)(?: \(([^)]*)\))?$/.exec(line);
      if (!match) continue;
      const depth = match[1]!.length / 4;
      stack.length = depth;
      stack.push(match[2] === '/' ? '' : match[2]!);
      if (match[3]) routes.push(stack.join('/') || '/');
    }
    expect(routes).toContain('/healthz');
    // The system API (the system document) and every other service (its own document, or api_docs itself).
    expect(routes.filter((route) => route.startsWith('/api/v2')).sort()).toEqual(['/api/v2/:service', '/api/v2/:service/*', '/api/v2/system', '/api/v2/system/*']);
  });
});

describe('who sees which docs', () => {
  it('an app sees the services its role grants anything on, and only the operations it allows', async () => {
    const mathReader = await keyWith([{ service_id: mathId, component: '*', verb_mask: GET, requestor_mask: API }]);
    const list = await restAs(t, mathReader, 'GET', '/api/v2/api_docs');
    expect(list.status).toBe(200);
    expect(list.json.resource.map((entry: { name: string }) => entry.name)).toEqual(['math']);
    const math = await restAs(t, mathReader, 'GET', '/api/v2/api_docs/math');
    expect(math.status).toBe(200);
    await valid(math.json);
    expect(new Set(operationsOf(math.json).map((operation) => operation.split(' ')[0]))).toEqual(new Set(['GET']));

    for (const name of ['system', 'other']) {
      const refused = await restAs(t, mathReader, 'GET', `/api/v2/api_docs/${name}`);
      expect(refused.status, name).toBe(403);
      expect(refused.json.error.message).toContain(`'${name}'`);
      expect(refused.text).not.toContain('"paths"');
    }
  });

  it('a role with one system component sees exactly its operations', async () => {
    const serviceLister = await keyWith([{ service_id: 0, component: 'service', verb_mask: GET, requestor_mask: API }]);
    expect((await restAs(t, serviceLister, 'GET', '/api/v2/api_docs')).json.resource.map((entry: { name: string }) => entry.name)).toEqual(['system']);
    const system = await restAs(t, serviceLister, 'GET', '/api/v2/api_docs/system');
    expect(operationsOf(system.json)).toEqual(['GET /service']);
    await valid(system.json);

    const appsAdmin = await keyWith([{ service_id: 0, component: 'app/*', verb_mask: 31, requestor_mask: API }]);
    expect(operationsOf((await restAs(t, appsAdmin, 'GET', '/api/v2/api_docs/system')).json).sort()).toEqual(
      ['DELETE /app/{}', 'GET /app', 'GET /app/{}', 'PATCH /app/{}', 'POST /app', 'PUT /app/{}'].sort(),
    );
  });

  it('hostile: no key or a wrong one is 401; a script-only grant or a deactivated service shows nothing; docs are read-only', async () => {
    for (const path of ['/api/v2/api_docs', '/api/v2/api_docs/system', '/api/v2/api_docs/math']) {
      expect((await restAs(t, null, 'GET', path)).status, path).toBe(401);
      expect((await restAs(t, 'sga_' + 'x'.repeat(32), 'GET', path)).status, path).toBe(401);
    }
    const scriptOnly = await keyWith([{ service_id: mathId, component: '*', verb_mask: 31, requestor_mask: SCRIPT }]);
    expect((await restAs(t, scriptOnly, 'GET', '/api/v2/api_docs')).json.resource).toEqual([]);
    expect((await restAs(t, scriptOnly, 'GET', '/api/v2/api_docs/math')).status).toBe(403);

    const everything = await keyWith([{ service_id: null, component: '*', verb_mask: 31, requestor_mask: API }]);
    const id = await createService(t, 'switched-off', 'javascript', 'return 1');
    expect((await restAs(t, everything, 'GET', '/api/v2/api_docs')).json.resource.map((entry: { name: string }) => entry.name)).toContain('switched-off');
    await asAdmin(t, 'PATCH', `/api/v2/system/service/${id}`, { is_active: false });
    expect((await restAs(t, everything, 'GET', '/api/v2/api_docs')).json.resource.map((entry: { name: string }) => entry.name)).not.toContain('switched-off');
    expect((await restAs(t, everything, 'GET', '/api/v2/api_docs/switched-off')).status).toBe(403);

    for (const verb of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const response = await t.rest(verb, '/api/v2/api_docs/math', { openapi: '3.1.0', paths: {} });
      expect(response.status, verb).toBe(405);
    }
    // Not a service: scripts cannot reach it through platform.api.
    await createService(t, 'docs-caller', 'javascript', "const r = await platform.api.get('api_docs/system'); return { status: r.status_code }");
    expect((await t.rest('GET', '/api/v2/docs-caller')).json).toEqual({ status: 404 });
  });

  it('hostile: a service name with path traversal or junk names no document', async () => {
    const cases = [
      '/api/v2/api_docs/..%2fsystem%2fapp',
      '/api/v2/api_docs/%2e%2e',
      '/api/v2/api_docs/math/../../system/app',
      '/api/v2/api_docs/..%252f..%252fsystem',
      '/api/v2/api_docs/math/extra',
      '/api/v2/api_docs/%00',
      `/api/v2/api_docs/${'a'.repeat(5000)}`,
      '/api/v2/api_docs/%3Cscript%3Ealert(1)%3C%2Fscript%3E',
      '/api/v2/api_docs/nosuchservice',
    ];
    for (const path of cases) {
      const response = await rawGet(path, { 'x-dreamfactory-api-key': ADMIN_KEY });
      // `math/../../system/app` is resolved by the server's router to /api/v2/system/app: the app list, not a document.
      if (path.includes('/../')) {
        expect(response.body, path).not.toContain('"openapi"');
        continue;
      }
      expect(response.status, path).toBe(404);
      const body = JSON.parse(response.body);
      expect(body.error.code, path).toBe(404);
      expect(body.error.message.length, path).toBeLessThan(300);
      expect(response.body, path).not.toContain('<script>');
    }
  });

  it('hostile: a huge config.openapi is refused on save; a large or deep one within the limit is served quickly', async () => {
    const huge = { openapi: '3.1.0', info: { title: 'x', version: '1' }, paths: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`/p${i}`, { get: { responses: { '200': { description: 'x' } } } }])) };
    const refused = await t.rest('POST', '/api/v2/system/service', { name: 'huge-doc', type: 'javascript', content: 'return 1', config: { openapi: huge } });
    expect(refused.status).toBe(400);
    expect(refused.json.error.message).toMatch(/over the limit of 65536/);

    const large = { ...huge, paths: Object.fromEntries(Object.entries(huge.paths).slice(0, 900)) };
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 400; i++) deep = { type: 'array', items: deep };
    const deepDoc = { openapi: '3.1.0', info: { title: 'deep', version: '1' }, paths: {}, components: { schemas: { Deep: deep } } };
    await createService(t, 'large-doc', 'javascript', 'return 1', { openapi: large });
    await createService(t, 'deep-doc', 'javascript', 'return 1', { openapi: deepDoc });
    const started = performance.now();
    const response = await t.rest('GET', '/api/v2/api_docs/large-doc');
    const ms = performance.now() - started;
    expect(response.status).toBe(200);
    expect(Object.keys(response.json.paths)).toHaveLength(900);
    expect(ms).toBeLessThan(2000);
    expect((await t.rest('GET', '/api/v2/api_docs/deep-doc')).status).toBe(200);
  });
});

describe('the /api-docs page over HTTP', () => {
  it('is public, names only this server\'s files, and forbids inline script by its CSP', async () => {
    const response = await fetch(`${t.url}/api-docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self';");
    expect(csp).not.toMatch(/script-src[^;]*(unsafe-inline|unsafe-eval|sha256|nonce)/);
    expect(csp).toContain("connect-src 'self'");
    const html = await response.text();
    expect(html).not.toMatch(/https?:\/\//);
    // No inline script: every <script> has a src.
    expect(html.match(/<script[^>]*>/g)!.every((tag) => tag.includes(` src="${API_DOCS_ASSETS_PATH}`))).toBe(true);
    for (const src of html.match(/(?:src|href)="\/api-docs\/assets\/[^"]+"/g)!) {
      const path = src.slice(src.indexOf('"') + 1, -1);
      const asset = await fetch(`${t.url}${path}`);
      expect(asset.status, path).toBe(200);
      expect(asset.headers.get('content-type'), path).toMatch(/^text\/(css|javascript); charset=utf-8$/);
      expect(asset.headers.get('cache-control'), path).toBe('public, max-age=31536000, immutable');
      await asset.arrayBuffer();
    }
  });

  it('hostile: the asset route opens nothing but its named files', async () => {
    for (const path of [
      `${API_DOCS_ASSETS_PATH}../../package.json`,
      `${API_DOCS_ASSETS_PATH}%2e%2e/%2e%2e/package.json`,
      `${API_DOCS_ASSETS_PATH}..%2f..%2fpackage.json`,
      `${API_DOCS_ASSETS_PATH}index.html`,
      `${API_DOCS_ASSETS_PATH}swagger-initializer.js`,
      `${API_DOCS_ASSETS_PATH}`,
      '/api-docs/assets/0.0.1/swagger-ui.css',
      '/api-docs/assets/../../../../etc/passwd',
    ]) {
      const response = await rawGet(path);
      expect(response.status, path).toBe(404);
      expect(JSON.parse(response.body).error.code, path).toBe(404);
    }
  });
});

describe.skipIf(!browserTests)('the /api-docs page in headless Chromium', { timeout: 90_000 }, () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  const openPage = () => openRecorded(browser, `${t.url}/api-docs`, (message) => message.type() === 'error' || message.type() === 'warning');

  async function enterKey(page: Page, key: string): Promise<void> {
    await page.locator('#sg-key').fill(key);
    await page.getByRole('button', { name: 'Show API docs' }).click();
  }

  const offServer = (requests: BrowserRequest[]) => requests.map((request) => request.url()).filter((url) => !url.startsWith(`${t.url}/`) && !url.startsWith('data:'));
  const docsRequests = (requests: BrowserRequest[]) => requests.filter((request) => new URL(request.url()).pathname.startsWith('/api/v2/'));

  it('asks for the key first, then shows the system API\'s operations; nothing leaves 127.0.0.1', async () => {
    const { page, requests, complaints } = await openPage();
    await page.getByText('Enter the administrator key or an app key').waitFor();
    expect(docsRequests(requests)).toEqual([]);

    await enterKey(page, ADMIN_KEY);
    const secretRoute = page.locator('.opblock-summary-path', { hasText: '/service/{id}/secret/{name}' });
    await secretRoute.first().waitFor();
    expect(await page.locator('#sg-service option').allTextContents()).toEqual(expect.arrayContaining(['system (System Management)', 'math']));
    expect(await page.locator('.opblock').count()).toBe(operationsOf(await asAdmin(t, 'GET', '/api/v2/api_docs/system')).length);
    expect(await page.locator('.servers select option').allTextContents()).toEqual([expect.stringMatching(/^\/api\/v2\/system /)]);
    // Every document request carried the key.
    const calls = docsRequests(requests);
    expect(calls.map((request) => new URL(request.url()).pathname)).toEqual(['/api/v2/api_docs', '/api/v2/api_docs/system']);
    for (const call of calls) expect(call.headers()['x-dreamfactory-api-key']).toBe(ADMIN_KEY);

    // The CSP holds in the browser: an inline script added at run time does not run.
    expect(await page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.__inlineRan = true';
      document.body.append(script);
      return (window as unknown as { __inlineRan?: boolean }).__inlineRan ?? false;
    })).toBe(false);
    expect(offServer(requests)).toEqual([]);
    expect(complaints.filter((line) => !line.includes('Content Security Policy'))).toEqual([]);
    await page.close();
  });

  it('"Try it out" calls the service with the key; a wrong key shows its 401 and no docs', async () => {
    const { page, requests, complaints } = await openPage();
    await enterKey(page, 'sga_' + 'x'.repeat(32));
    await page.locator('#sg-status').getByText('Invalid API key.').waitFor();
    expect(await page.locator('.opblock').count()).toBe(0);

    await enterKey(page, ADMIN_KEY);
    await page.locator('.opblock-summary-path', { hasText: '/service/{id}/secret/{name}' }).first().waitFor();
    await page.locator('#sg-service').selectOption('math');
    const root = page.locator('#operations-math-getRoot');
    await root.locator('.opblock-summary').click();
    await root.getByRole('button', { name: 'Try it out' }).click();
    await root.getByRole('button', { name: 'Execute' }).click();
    await root.locator('.live-responses-table .response .response-col_status', { hasText: '200' }).waitFor();
    await root.locator('.live-responses-table').getByText('"sum"').waitFor();
    const call = requests.find((request) => new URL(request.url()).pathname.replace(/\/$/, '') === '/api/v2/math');
    expect((await call!.allHeaders())['x-dreamfactory-api-key']).toBe(ADMIN_KEY);
    expect((await call!.response())?.status()).toBe(200);
    expect(offServer(requests)).toEqual([]);
    expect(complaints.filter((line) => !line.includes('401'))).toEqual([]);
    await page.close();
  });

  it('hostile: markup in a service\'s document does not run, load anything or send the key elsewhere', async () => {
    const attack = '<script>window.__pwned = "script"</script><img src=x onerror="window.__pwned = \'img\'"><img src="http://203.0.113.7/leak.png"><a href="javascript:window.__pwned=\'link\'">click</a><iframe src="http://203.0.113.7/"></iframe>';
    const created = await t.rest('POST', '/api/v2/system/service', {
      name: 'evil',
      label: '<img src=x onerror="window.__pwned=\'label\'">',
      type: 'javascript',
      content: 'return 1',
      config: { openapi: {
        openapi: '3.1.0',
        info: { title: `Evil ${attack}`, version: '1', description: `**bold** ${attack}` },
        servers: [{ url: 'http://203.0.113.7/steal' }],
        tags: [{ name: 'evil', description: attack }],
        paths: {
          '/x': {
            get: {
              tags: ['evil'],
              summary: `Summary ${attack}`,
              description: `Description ${attack} [markdown link](javascript:window.__pwned='md')`,
              parameters: [{ name: 'q', in: 'query', description: attack, schema: { type: 'string', default: '<script>window.__pwned="default"</script>' } }],
              responses: { '200': { description: attack, links: {} } },
              externalDocs: { url: 'javascript:window.__pwned="docs"', description: 'docs' },
            },
          },
        },
        externalDocs: { url: 'http://203.0.113.7/docs' },
      } },
    });
    expect(created.status, created.text).toBe(201);
    const { page, requests, complaints } = await openPage();
    await enterKey(page, ADMIN_KEY);
    await page.locator('#sg-service option', { hasText: 'evil' }).waitFor({ state: 'attached' });
    // The label is text in the service list, not markup.
    expect(await page.locator('#sg-service option', { hasText: 'evil' }).textContent()).toBe('evil (<img src=x onerror="window.__pwned=\'label\'">)');
    await page.locator('#sg-service').selectOption('evil');
    const operation = page.locator('.opblock').first();
    await operation.waitFor();
    await operation.locator('.opblock-summary').click();
    await operation.locator('.opblock-description-wrapper').waitFor();
    await page.locator('.info').getByText('bold').waitFor();
    for (const link of await page.locator('a[href^="javascript:"]').all()) await link.click({ timeout: 1000 }).catch(() => undefined);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned ?? null)).toBeNull();
    expect(await page.locator('#swagger-ui script, #swagger-ui iframe, #swagger-ui [onerror]').count()).toBe(0);
    // The document's own server is replaced by this service's path.
    expect(await page.locator('.servers select option').allTextContents()).toEqual([expect.stringMatching(/^\/api\/v2\/evil /)]);
    // Swagger UI's sanitizer keeps <img>: the page asked for the description's image, and the CSP refused it before the network.
    const outside = requests.filter((request) => !request.url().startsWith(`${t.url}/`) && !request.url().startsWith('data:'));
    expect(new Set(outside.map((request) => request.url()))).toEqual(new Set(['http://203.0.113.7/leak.png']));
    await eventually(() => outside.every((request) => request.failure() !== null), 'the refused image requests ended');
    expect(outside.map((request) => request.failure()!.errorText)).toEqual(outside.map(() => 'csp'));
    // Whatever the page refused, it refused without breaking: no script error.
    expect(complaints.filter((line) => line.startsWith('page error'))).toEqual([]);
    await page.close();
  });
});
