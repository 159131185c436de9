import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, existsSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allows, permissionMask, SYSTEM_SERVICE_ID, type AccessRule } from '../src/access/access-rules.ts';
import { AppCatalog } from '../src/access/apps.ts';
import { Authenticator, identityAllows } from '../src/access/caller-identity.ts';
import { generateAppKey, hashKey } from '../src/access/keys.ts';
import { MAX_ACCESS_ROWS, RoleCatalog } from '../src/access/roles.ts';
import { loadSecretsKey, SecretStore } from '../src/access/secrets.ts';
import { ConfigError, loadSettings } from '../src/config.ts';
import { openDatabase, type OpenDatabase } from '../src/db/client.ts';
import { AdminKey } from '../src/domain/admin-key.ts';
import { adminCaller } from '../src/domain/caller.ts';
import { DomainError } from '../src/domain/errors.ts';
import type { InvokeRequest } from '../src/domain/invoke.ts';
import { EventBus } from '../src/logs/bus.ts';
import { AppsComponent } from '../src/system/apps.ts';
import { RolesComponent } from '../src/system/roles.ts';
import { serviceSecretRequest } from '../src/system/service-secrets.ts';
import { eventually } from './helpers/eventually.ts';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.ts';

const GET = 1;
const POST = 2;
const PUT = 4;
const PATCH = 8;
const DELETE = 16;
const ALL = 31;
const SYSTEM = SYSTEM_SERVICE_ID;
const USER = 7;

/** DreamFactory's own cases (df-core tests/RoleServiceAccessTest.php), with service names as ids. */
describe('role matching, with DreamFactory precedence', () => {
  const rule = (serviceId: number | null, component: string, verbMask: number, requestorMask = 1): AccessRule => ({ serviceId, component, verbMask, requestorMask });
  const mask = (rules: AccessRule[], serviceId: number, component = '', requestor: 'API' | 'SCRIPT' = 'API') => permissionMask(rules, serviceId, component, requestor);

  it('all services, root only (null service, blank component)', () => {
    const rules = [rule(null, '', GET)];
    expect(mask(rules, USER)).toBe(GET);
    expect(mask(rules, SYSTEM)).toBe(GET);
    expect(mask(rules, SYSTEM, 'app')).toBe(0);
    expect(mask(rules, SYSTEM, 'app/1')).toBe(0);
  });

  it('all services, everything (null service, *)', () => {
    const rules = [rule(null, '*', GET)];
    for (const component of ['', 'app', 'app/1', 'app/foo/bar']) expect(mask(rules, SYSTEM, component)).toBe(GET);
    expect(mask(rules, USER, 'x')).toBe(GET);
  });

  it('one service, root only', () => {
    const rules = [rule(SYSTEM, '', GET)];
    expect(mask(rules, SYSTEM)).toBe(GET);
    expect(mask(rules, USER)).toBe(0);
    expect(mask(rules, SYSTEM, 'app')).toBe(0);
  });

  it('service * with a more specific exact row', () => {
    const rules = [rule(SYSTEM, '*', GET | DELETE), rule(SYSTEM, 'admin/password', POST)];
    expect(mask(rules, SYSTEM)).toBe(GET | DELETE);
    expect(mask(rules, USER)).toBe(0);
    for (const component of ['app', 'app/1', 'role', 'role/1']) expect(mask(rules, SYSTEM, component)).toBe(GET | DELETE);
    expect(mask(rules, SYSTEM, 'admin/password')).toBe(POST);
  });

  it('exact component covers nothing below it; prefix/* covers itself and below', () => {
    const exact = [rule(SYSTEM, 'app', GET)];
    expect(mask(exact, SYSTEM, 'app')).toBe(GET);
    expect(mask(exact, SYSTEM, 'app/1')).toBe(0);
    expect(mask(exact, SYSTEM)).toBe(0);
    expect(mask(exact, SYSTEM, 'role')).toBe(0);
    const star = [rule(SYSTEM, 'app/*', GET)];
    expect(mask(star, SYSTEM, 'app')).toBe(GET);
    expect(mask(star, SYSTEM, 'app/1')).toBe(GET);
    expect(mask(star, SYSTEM, 'apple')).toBe(0);
    expect(mask(star, SYSTEM)).toBe(0);
  });

  it('the most specific level replaces, never adds', () => {
    const rules = [rule(SYSTEM, '*', GET), rule(SYSTEM, 'app', POST)];
    expect(mask(rules, SYSTEM)).toBe(GET);
    expect(mask(rules, SYSTEM, 'role')).toBe(GET);
    expect(mask(rules, SYSTEM, 'app')).toBe(POST);
    const two = [rule(SYSTEM, 'app', GET), rule(SYSTEM, 'app/*', POST)];
    expect(mask(two, SYSTEM, 'app')).toBe(GET);
    expect(mask(two, SYSTEM, 'app/1')).toBe(POST);
    expect(mask(two, SYSTEM, 'role')).toBe(0);
    // A service row beats an all-services row, even when it grants less.
    expect(mask([rule(null, '*', ALL), rule(USER, '*', GET)], USER, 'x')).toBe(GET);
  });

  it('rows of one level add up; * and prefix/* are one level for a component (as in DreamFactory)', () => {
    expect(mask([rule(SYSTEM, 'role', GET), rule(SYSTEM, 'role', POST), rule(SYSTEM, 'role', PATCH)], SYSTEM, 'role')).toBe(GET | POST | PATCH);
    expect(mask([rule(SYSTEM, '*', DELETE), rule(SYSTEM, 'service/*', PATCH)], SYSTEM, 'service/3')).toBe(DELETE | PATCH);
  });

  it('requestor masks: rows for other requestors are ignored, not denials', () => {
    const rules = [rule(SYSTEM, 'role', GET), rule(SYSTEM, 'role', POST, 2), rule(SYSTEM, 'role', PATCH), rule(SYSTEM, 'role', DELETE, 3)];
    expect(mask(rules, SYSTEM, 'role')).toBe(GET | PATCH | DELETE);
    expect(mask(rules, SYSTEM, 'role', 'SCRIPT')).toBe(POST | DELETE);
    // Script-only access: an API caller falls through to the all-services row.
    const scriptOnly = [rule(USER, '*', ALL, 2), rule(null, '*', GET)];
    expect(mask(scriptOnly, USER, 'x', 'API')).toBe(GET);
    expect(mask(scriptOnly, USER, 'x', 'SCRIPT')).toBe(ALL);
  });

  it('components compare without case and surrounding slashes; unknown verbs never pass', () => {
    const rules = [rule(SYSTEM, 'Service/*', PATCH)];
    expect(allows(rules, SYSTEM, '/service/12/', 'PATCH', 'API')).toBe(true);
    expect(allows(rules, SYSTEM, 'SERVICE', 'PATCH', 'API')).toBe(true);
    expect(allows(rules, SYSTEM, 'service/12', 'GET', 'API')).toBe(false);
    expect(allows([rule(null, '*', ALL)], 1, 'x', 'OPTIONS', 'API')).toBe(false);
    expect(allows([rule(null, '*', ALL)], 1, 'x', '__proto__', 'API')).toBe(false);
    expect(allows([], 1, '', 'GET', 'API')).toBe(false);
  });

  it('a CI key with PATCH on system/service/* and nothing else', () => {
    const rules = [rule(SYSTEM, 'service/*', PATCH)];
    expect(allows(rules, SYSTEM, 'service/4', 'PATCH', 'API')).toBe(true);
    expect(allows(rules, SYSTEM, 'service', 'PATCH', 'API')).toBe(true);
    for (const verb of ['GET', 'POST', 'PUT', 'DELETE']) expect(allows(rules, SYSTEM, 'service/4', verb, 'API')).toBe(false);
    expect(allows(rules, SYSTEM, 'role/1', 'PATCH', 'API')).toBe(false);
    expect(allows(rules, USER, 'service/4', 'PATCH', 'API')).toBe(false);
  });

  it('a 200-row role decides in microseconds', () => {
    // The worst case: every row on the asked service, none matching until the last.
    const rules = Array.from({ length: 199 }, (_, i) => rule(USER, `resource${i}/*`, GET));
    rules.push(rule(USER, 'items/*', GET), rule(null, '*', POST));
    const started = performance.now();
    let allowed = 0;
    for (let i = 0; i < 10_000; i++) if (allows(rules, USER, `items/${i}`, 'GET', 'API')) allowed++;
    const perCheckUs = ((performance.now() - started) * 1000) / 10_000;
    console.log(`role check, 201 rows: ${perCheckUs.toFixed(2)} µs`);
    expect(allowed).toBe(10_000);
    const twenty = rules.slice(180);
    const twentyStarted = performance.now();
    for (let i = 0; i < 10_000; i++) allows(twenty, USER, `items/${i}`, 'GET', 'API');
    console.log(`role check, 20 rows: ${(((performance.now() - twentyStarted) * 1000) / 10_000).toFixed(2)} µs`);
    expect(perCheckUs).toBeLessThan(50);
  });
});

describe('settings', () => {
  it('SECRETS_KEY must be 32 bytes of base64; GUEST_ROLE a role name; both off by default', () => {
    expect(loadSettings({}).access).toEqual({ secretsKey: null, guestRole: null });
    const key = randomBytes(32);
    expect(loadSettings({ SECRETS_KEY: key.toString('base64') }).access.secretsKey).toEqual(key);
    expect(loadSettings({ SECRETS_KEY: key.toString('base64url') }).access.secretsKey).toEqual(key);
    expect(() => loadSettings({ SECRETS_KEY: randomBytes(16).toString('base64') })).toThrow(/SECRETS_KEY must be base64 of exactly 32 bytes/);
    expect(() => loadSettings({ SECRETS_KEY: 'not a key!' })).toThrow(ConfigError);
    expect(loadSettings({ GUEST_ROLE: 'public' }).access.guestRole).toBe('public');
    expect(() => loadSettings({ GUEST_ROLE: 'no spaces' })).toThrow(/GUEST_ROLE/);
  });

  it('PostgreSQL requires SECRETS_KEY; SQLite generates one into DATA_DIR with mode 0600', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'scriptgate-key-'));
    try {
      expect(() => loadSecretsKey(loadSettings({ DATABASE_URL: 'postgres://x@127.0.0.1/db', DATA_DIR: dataDir }))).toThrow(/SECRETS_KEY is required with PostgreSQL/);
      const first = loadSecretsKey(loadSettings({ DATA_DIR: dataDir }));
      expect(first.generated).toBe(true);
      expect(first.key.length).toBe(32);
      expect(statSync(join(dataDir, 'secrets.key')).mode & 0o777).toBe(0o600);
      const again = loadSecretsKey(loadSettings({ DATA_DIR: dataDir }));
      expect(again).toEqual({ key: first.key, generated: false, warning: null });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('keys', () => {
  it('are 192 random bits, stored as SHA-256, shown by a short prefix', () => {
    const { key, hash, prefix } = generateAppKey();
    expect(key).toMatch(/^sga_[A-Za-z0-9_-]{32}$/);
    expect(hash).toBe(hashKey(key));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(key.startsWith(prefix)).toBe(true);
    expect(prefix.length).toBe(10);
    expect(new Set(Array.from({ length: 1000 }, () => generateAppKey().key)).size).toBe(1000);
  });
});

interface Core {
  open: OpenDatabase;
  bus: EventBus;
  roles: RoleCatalog;
  apps: AppCatalog;
  secrets: SecretStore;
  auth: Authenticator;
}

async function core(database: Parameters<typeof openDatabase>[0], key: Buffer, guestRole: string | null = null): Promise<Core> {
  const open = await openDatabase(database, (error) => console.error(error));
  const bus = new EventBus();
  if (open.serviceChanges) {
    bus.relayServiceChanges(open.serviceChanges);
    await open.serviceChanges.start((name, kind) => bus.remoteServiceChanged(name, kind));
  }
  const roles = new RoleCatalog(open.db, bus, guestRole);
  const apps = new AppCatalog(open.db, bus);
  const secrets = await SecretStore.open(open.db, bus, key);
  const { adminKey } = await AdminKey.load(open.db, 'the-admin-key');
  return { open, bus, roles, apps, secrets, auth: new Authenticator(adminKey, apps, roles, guestRole, bus) };
}

async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

function request(method: string, resource: string, payload: unknown = null, parameters: Record<string, string> = {}): InvokeRequest {
  return { method, service: 'system', resource, parameters, headers: {}, payload, content: payload === null ? '' : JSON.stringify(payload), contentType: null };
}

describe('on SQLite (a real file)', () => {
  let dataDir: string;
  let file: string;
  let c: Core;
  let serviceId: number;
  let otherServiceId: number;
  const secretsKey = randomBytes(32);

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'scriptgate-access-'));
    file = join(dataDir, 'scriptgate.db');
    c = await core({ provider: 'sqlite', file }, secretsKey);
    serviceId = (await c.open.db.service.create({ data: { name: 'orders', label: 'orders', type: 'javascript', config: {} } })).id;
    otherServiceId = (await c.open.db.service.create({ data: { name: 'billing', label: 'billing', type: 'javascript', config: {} } })).id;
  });
  afterAll(async () => {
    await c?.open.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('roles: created with grants, normalized; unknown services refused naming the id', async () => {
    const [role] = await c.roles.createMany([
      {
        name: 'reader',
        access: [
          { serviceId, component: '/items/*', verbMask: GET, requestorMask: 1 },
          { serviceId: SYSTEM, component: 'service/*', verbMask: PATCH },
        ],
      },
    ]);
    expect(role!.access.map((a) => [a.serviceId, a.component, a.verbMask, a.requestorMask])).toEqual([
      [serviceId, 'items/*', GET, 1],
      [SYSTEM, 'service/*', PATCH, 1],
    ]);
    const unknown = await refusal(c.roles.createMany([{ name: 'ghost', access: [{ serviceId: 99_999, component: '*', verbMask: GET }] }]));
    expect(unknown.kind).toBe('BAD_INPUT');
    expect(unknown.message).toContain('No service with id 99999');
    expect(await c.open.db.role.count({ where: { name: 'ghost' } })).toBe(0);
  });

  it('roles: bad rows are refused with the row and field named', async () => {
    const cases: [unknown, RegExp][] = [
      [{ serviceId: 'orders', component: '', verbMask: 1 }, /Access row 0: "service_id"/],
      [{ serviceId: null, component: 'a*b', verbMask: 1 }, /"component" may be/],
      [{ serviceId: null, component: '*/x', verbMask: 1 }, /"component" may be/],
      [{ serviceId: null, component: 'x\u0000', verbMask: 1 }, /"component" must be/],
      [{ serviceId: null, component: '', verbMask: 32 }, /"verb_mask"/],
      [{ serviceId: null, component: '', verbMask: 1.5 }, /"verb_mask"/],
      [{ serviceId: null, component: '', verbMask: 1, requestorMask: 4 }, /"requestor_mask"/],
      [{ serviceId: -1, component: '', verbMask: 1 }, /"service_id"/],
      ['row', /Access row 0: must be an object/],
    ];
    for (const [row, message] of cases) {
      const error = await refusal(c.roles.createMany([{ name: 'bad', access: [row] }]));
      expect(error.kind).toBe('BAD_INPUT');
      expect(error.message).toMatch(message);
    }
    for (const name of ['', '123', 'a b', 'x'.repeat(65), 'a/b', null, 5]) {
      expect((await refusal(c.roles.createMany([{ name }]))).message).toMatch(/Field "name" of a role/);
    }
  });

  it(`roles: at most ${MAX_ACCESS_ROWS} rows (a 1,000-row role is refused before any read)`, async () => {
    const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ serviceId, component: `r${i}`, verbMask: GET }));
    const huge = await refusal(c.roles.createMany([{ name: 'huge', access: rows(1000) }]));
    expect(huge.message).toContain(`at most ${MAX_ACCESS_ROWS} access rows; this one has 1000`);
    const big = await c.roles.createMany([{ name: 'big', access: rows(MAX_ACCESS_ROWS) }]);
    expect(big[0]!.access).toHaveLength(MAX_ACCESS_ROWS);
    await c.roles.delete(big[0]!);
  });

  it('roles: update replaces grants, and the request path sees it at once', async () => {
    const role = await c.roles.byName('reader');
    const cached = await c.roles.forRequest(role.id);
    expect(cached!.access).toHaveLength(2);
    const updated = await c.roles.update(role, { access: [{ serviceId, component: '*', verbMask: ALL }], description: 'all of orders' });
    expect(updated.access).toHaveLength(1);
    expect((await c.roles.forRequest(role.id))!.access).toEqual(updated.access);
    expect((await refusal(c.roles.update(role, { access: [{ serviceId: 123_456, verbMask: 1 }] }))).message).toContain('123456');
  });

  it('apps: the key is returned once; reads never show it nor its hash', async () => {
    const role = await c.roles.byName('reader');
    const { app, key } = await c.apps.create({ name: 'shop', roleId: role.id, description: 'the shop' });
    expect(key).toMatch(/^sga_/);
    expect(app.apiKeyPrefix).toBe(key.slice(0, 10));
    const reads: unknown[] = [app, await c.apps.byId(app.id), await c.apps.byName('shop'), (await c.apps.list()).apps];
    const components = new AppsComponent(c.apps);
    reads.push((await components.handle(request('GET', 'app'), [], adminCaller('test'))).content);
    reads.push((await components.handle(request('GET', 'app/shop'), ['shop'], adminCaller('test'))).content);
    for (const read of reads) {
      const text = JSON.stringify(read);
      expect(text).not.toContain(key);
      expect(text).not.toContain(key.slice(10));
      expect(text).not.toContain(hashKey(key));
    }
    expect((await c.apps.byKey(key))!.name).toBe('shop');
    const unknownRole = await refusal(c.apps.create({ name: 'orphan', roleId: 4242 }));
    expect(unknownRole.message).toBe('No role with id 4242.');
    expect((await refusal(c.apps.create({ name: 'chosen', roleId: role.id, apiKey: 'x'.repeat(64) } as never))).message).toMatch(/api_key.*cannot be set/);
  });

  it('authenticate: admin, app with its role, no key is 401 unless a guest role is configured; a wrong key is 401', async () => {
    expect(await c.auth.authenticate('the-admin-key')).toEqual({ kind: 'admin' });
    const role = await c.roles.byName('reader');
    const { key } = await c.apps.create({ name: 'auth-app', roleId: role.id });
    const identity = await c.auth.authenticate(key);
    expect(identity).toMatchObject({ kind: 'app', app: { name: 'auth-app' }, role: { name: 'reader' } });
    expect(identityAllows(identity, serviceId, 'x', 'DELETE', 'API')).toBe(true);
    expect(identityAllows(identity, otherServiceId, 'x', 'GET', 'API')).toBe(false);
    expect((await refusal(c.auth.authenticate(null))).kind).toBe('UNAUTHENTICATED');
    expect((await refusal(c.auth.authenticate('sga_wrong'))).message).toBe('Invalid API key.');

    await c.roles.createMany([{ name: 'public', access: [{ serviceId: otherServiceId, component: '', verbMask: GET }] }]);
    const guestAuth = new Authenticator((await AdminKey.load(c.open.db, 'the-admin-key')).adminKey, c.apps, c.roles, 'public', c.bus);
    const guest = await guestAuth.authenticate(null);
    expect(guest).toMatchObject({ kind: 'guest', role: { name: 'public' } });
    expect(identityAllows(guest, otherServiceId, '', 'GET', 'API')).toBe(true);
    expect(identityAllows(guest, otherServiceId, '', 'POST', 'API')).toBe(false);
    expect((await refusal(guestAuth.authenticate('sga_wrong'))).kind).toBe('UNAUTHENTICATED');
    const guardedRoles = new RoleCatalog(c.open.db, c.bus, 'public');
    expect((await refusal(guardedRoles.delete(await c.roles.byName('public')))).kind).toBe('CONFLICT');
    const inactive = await c.roles.update(await c.roles.byName('public'), { isActive: false });
    expect(inactive.isActive).toBe(false);
    expect((await refusal(guestAuth.authenticate(null))).kind).toBe('UNAUTHENTICATED');
  });

  it('rotation, deactivation and deletion cut a key off at once', async () => {
    const role = await c.roles.byName('reader');
    const { app, key } = await c.apps.create({ name: 'rotating', roleId: role.id });
    expect((await c.auth.authenticate(key)).kind).toBe('app');
    const rotated = await c.apps.rotate(app);
    expect(rotated.key).not.toBe(key);
    expect((await refusal(c.auth.authenticate(key))).message).toBe('Invalid API key.');
    expect((await c.auth.authenticate(rotated.key)).kind).toBe('app');
    await c.apps.update(rotated.app, { isActive: false });
    expect((await refusal(c.auth.authenticate(rotated.key))).message).toBe('App "rotating" is deactivated.');
    await c.apps.update(rotated.app, { isActive: true });
    expect((await c.auth.authenticate(rotated.key)).kind).toBe('app');
    await c.apps.delete(rotated.app);
    expect((await refusal(c.auth.authenticate(rotated.key))).message).toBe('Invalid API key.');
  });

  it('a role in use cannot be deleted; its apps are named', async () => {
    const role = await c.roles.byName('reader');
    const error = await refusal(c.roles.delete(role));
    expect(error.kind).toBe('CONFLICT');
    expect(error.message).toContain('"shop"');
  });

  it('wrong keys cost a hash and a map lookup, read nothing, and grow no cache', async () => {
    // Warm: the first misses load every app; after that a miss is answered from memory.
    await c.apps.byKey('sga_warm');
    await eventually(() => c.apps.holdsEveryApp, 'the key cache to hold every app');
    const cached = c.apps.cachedKeys;
    expect(cached).toBe(await c.open.db.app.count());
    const n = 20_000;
    const keys = Array.from({ length: n }, () => `sga_${randomBytes(24).toString('base64url')}`);
    let found = 0;
    const started = performance.now();
    for (const key of keys) if (await c.apps.byKey(key)) found++;
    const perLookupUs = ((performance.now() - started) * 1000) / n;
    console.log(`unknown key lookup: ${perLookupUs.toFixed(2)} µs`);
    expect(found).toBe(0);
    expect(c.apps.cachedKeys).toBe(cached);
    expect(c.apps.holdsEveryApp).toBe(true);
    // Oversized keys are refused before hashing.
    expect(await c.apps.byKey('k'.repeat(1_000_000))).toBeNull();
    expect(perLookupUs).toBeLessThan(50);
  });

  it('deleting a service deletes its grants and its secrets', async () => {
    const temp = await c.open.db.service.create({ data: { name: 'temp', label: 'temp', type: 'javascript', config: {} } });
    const [role] = await c.roles.createMany([{ name: 'temp-role', access: [{ serviceId: temp.id, component: '*', verbMask: GET }, { serviceId: null, component: '*', verbMask: GET }] }]);
    await c.secrets.set(temp.id, 'TOKEN', 'temp-secret');
    await c.open.db.service.delete({ where: { id: temp.id } });
    expect((await c.roles.byId(role!.id)).access.map((a) => a.serviceId)).toEqual([null]);
    expect(await c.open.db.serviceSecret.count({ where: { serviceId: temp.id } })).toBe(0);
    await c.roles.delete(role!);
  });

  it('secrets: set, listed by name, read decrypted by valuesFor, never in the database file in clear', async () => {
    const value = `sk_live_${randomBytes(16).toString('hex')}`;
    expect(await c.secrets.set(serviceId, 'STRIPE_KEY', value)).toBe(true);
    expect(await c.secrets.set(serviceId, 'STRIPE_KEY', value)).toBe(false);
    await c.secrets.set(serviceId, 'OTHER', 'second-secret-value');
    expect(await c.secrets.names(serviceId)).toEqual(['OTHER', 'STRIPE_KEY']);
    const values = await c.secrets.valuesFor(serviceId);
    expect({ ...values }).toEqual({ OTHER: 'second-secret-value', STRIPE_KEY: value });
    expect(Object.isFrozen(values)).toBe(true);
    expect(Object.getPrototypeOf(values)).toBeNull();
    expect(await c.secrets.valuesFor(otherServiceId)).toEqual({});
    // Every byte SQLite holds: the database file and its write-ahead log.
    await c.open.db.$executeRawUnsafe('PRAGMA wal_checkpoint(PASSIVE)').catch(() => undefined);
    for (const path of [file, `${file}-wal`]) {
      if (!existsSync(path)) continue;
      const bytes = readFileSync(path);
      expect(bytes.includes(Buffer.from(value))).toBe(false);
      expect(bytes.includes(Buffer.from('second-secret-value'))).toBe(false);
      expect(bytes.includes(Buffer.from(Buffer.from(value).toString('base64')))).toBe(false);
    }
    const answer = await serviceSecretRequest(c.secrets, request('GET', `service/${serviceId}/secret`), { id: serviceId, name: 'orders' }, []);
    expect(answer.content).toEqual({ resource: [{ name: 'OTHER' }, { name: 'STRIPE_KEY' }] });
    expect(JSON.stringify(answer)).not.toContain(value);
  });

  it('secrets: a change is seen by the next read; a removed one is gone', async () => {
    await c.secrets.valuesFor(serviceId);
    await c.secrets.set(serviceId, 'OTHER', 'changed');
    expect((await c.secrets.valuesFor(serviceId)).OTHER).toBe('changed');
    await c.secrets.delete(serviceId, 'OTHER');
    expect(Object.keys(await c.secrets.valuesFor(serviceId))).toEqual(['STRIPE_KEY']);
    expect((await refusal(c.secrets.delete(serviceId, 'OTHER'))).kind).toBe('NOT_FOUND');
  });

  it('secrets: bad names and values refused; an unknown service is NOT_FOUND', async () => {
    for (const name of ['', '1abc', 'a-b', '__proto__', 'x'.repeat(65), 'a/b', null]) {
      expect((await refusal(c.secrets.set(serviceId, name, 'v'))).kind).toBe('BAD_INPUT');
    }
    for (const value of ['', 5, null, 'x'.repeat(64 * 1024 + 1)]) {
      expect((await refusal(c.secrets.set(serviceId, 'OK', value))).message).toMatch(/"value" must be a non-empty string/);
    }
    expect((await refusal(c.secrets.set(987_654, 'OK', 'v'))).kind).toBe('NOT_FOUND');
    const rest = await refusal(serviceSecretRequest(c.secrets, request('GET', `service/${serviceId}/secret/STRIPE_KEY`), { id: serviceId, name: 'orders' }, ['STRIPE_KEY']));
    expect(rest.status).toBe(405);
    const noValue = await refusal(serviceSecretRequest(c.secrets, request('PUT', `service/${serviceId}/secret/X`, { val: 1 }), { id: serviceId, name: 'orders' }, ['X']));
    expect(noValue.message).toContain('{"value": "..."}');
  });

  it('secrets: a row copied to another service or name does not decrypt; a different key is refused at open', async () => {
    const row = await c.open.db.serviceSecret.findUniqueOrThrow({ where: { serviceId_name: { serviceId, name: 'STRIPE_KEY' } } });
    await c.open.db.serviceSecret.create({ data: { serviceId: otherServiceId, name: 'STRIPE_KEY', ciphertext: row.ciphertext, iv: row.iv, tag: row.tag } });
    c.bus.secretChanged(otherServiceId);
    expect((await refusal(c.secrets.valuesFor(otherServiceId))).message).toContain('cannot be decrypted');
    await c.open.db.serviceSecret.deleteMany({ where: { serviceId: otherServiceId } });
    c.bus.secretChanged(otherServiceId);
    await expect(SecretStore.open(c.open.db, c.bus, randomBytes(32))).rejects.toThrow(/secrets key differs/);
    await expect(SecretStore.open(c.open.db, c.bus, secretsKey)).resolves.toBeInstanceOf(SecretStore);
  });

  it('system/role: DreamFactory shapes (batch create 201, related rows, patch, delete)', async () => {
    const roles = new RolesComponent(c.roles);
    const caller = adminCaller('test');
    const created = await roles.handle(
      request('POST', 'role', {
        resource: [
          { name: 'ci', role_service_access_by_role_id: [{ service_id: SYSTEM, component: 'service/*', verb_mask: PATCH, requestor_mask: 1 }] },
          { name: 'all-get', role_service_access_by_role_id: [{ service_id: null, component: '*', verb_mask: GET }] },
        ],
      }),
      [],
      caller,
    );
    expect(created.statusCode).toBe(201);
    const ids = (created.content as { resource: { id: number }[] }).resource.map((r) => r.id);
    expect(ids).toHaveLength(2);
    const listed = await roles.handle(request('GET', 'role', null, { related: 'role_service_access_by_role_id', filter: 'name=ci' }), [], caller);
    expect(listed.content).toMatchObject({
      resource: [{ id: ids[0], name: 'ci', is_active: true, role_service_access_by_role_id: [{ service_id: 0, component: 'service/*', verb_mask: 8, requestor_mask: 1 }] }],
    });
    const plain = await roles.handle(request('GET', `role/${ids[0]}`), [String(ids[0])], caller);
    expect(plain.content).not.toHaveProperty('role_service_access_by_role_id');
    const patched = await roles.handle(
      request('PATCH', `role/${ids[0]}`, { role_service_access_by_role_id: [{ service_id: SYSTEM, component: 'service/*', verb_mask: PATCH | GET }, { role_id: null, service_id: 0, component: 'x', verb_mask: 1 }] }, { related: '*' }),
      [String(ids[0])],
      caller,
    );
    expect((patched.content as { role_service_access_by_role_id: unknown[] }).role_service_access_by_role_id).toEqual([
      expect.objectContaining({ service_id: 0, component: 'service/*', verb_mask: 9 }),
    ]);
    const bad = await refusal(roles.handle(request('POST', 'role', { name: 'x', role_service_access_by_role_id: [{ service_id: 31337, verb_mask: 1 }] }), [], caller));
    expect(bad.status).toBe(400);
    expect(bad.message).toContain('31337');
    expect((await refusal(roles.handle(request('GET', 'role', null, { related: 'users' }), [], caller))).message).toContain('no relation "users"');
    expect(await roles.handle(request('DELETE', 'role/all-get'), ['all-get'], caller)).toMatchObject({ content: { id: ids[1] } });
  });

  it('system/app: create answers the key once (201), reads show only its prefix, ?regenerate=true rotates', async () => {
    const apps = new AppsComponent(c.apps);
    const caller = adminCaller('test');
    const roleId = (await c.roles.byName('ci')).id;
    const created = await apps.handle(request('POST', 'app', { resource: [{ name: 'deployer', role_id: roleId }] }), [], caller);
    expect(created.statusCode).toBe(201);
    const [record] = (created.content as { resource: { id: number; name: string; api_key: string }[] }).resource;
    expect(record).toEqual({ id: expect.any(Number), name: 'deployer', api_key: expect.stringMatching(/^sga_/) });
    const identity = await c.auth.authenticate(record!.api_key);
    expect(identityAllows(identity, SYSTEM, 'service/4', 'PATCH', 'API')).toBe(true);
    expect(identityAllows(identity, SYSTEM, 'service/4', 'DELETE', 'API')).toBe(false);
    const read = await apps.handle(request('GET', `app/${record!.id}`), [String(record!.id)], caller);
    expect(read.content).toMatchObject({ name: 'deployer', role_id: roleId, api_key_prefix: record!.api_key.slice(0, 10) });
    expect(JSON.stringify(read.content)).not.toContain(record!.api_key);
    const rotated = await apps.handle(request('PATCH', `app/${record!.id}`, null, { regenerate: 'true' }), [String(record!.id)], caller);
    const newKey = (rotated.content as { api_key: string }).api_key;
    expect(newKey).not.toBe(record!.api_key);
    expect((await refusal(c.auth.authenticate(record!.api_key))).kind).toBe('UNAUTHENTICATED');
    expect((await c.auth.authenticate(newKey)).kind).toBe('app');
    expect((await refusal(apps.handle(request('POST', 'app', { name: 'x', role_id: 999 }), [], caller))).message).toBe('No role with id 999.');
  });
});

const pgAvailable = await postgresAvailable();

describe.skipIf(!pgAvailable)('on PostgreSQL, two instances', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: Core;
  let b: Core;
  const key = randomBytes(32);

  beforeAll(async () => {
    database = await createTestDatabase();
    a = await core({ provider: 'postgresql', url: database.url }, key);
    b = await core({ provider: 'postgresql', url: database.url }, key);
  });
  afterAll(async () => {
    await a?.open.close();
    await b?.open.close();
    await database?.drop();
  });

  it('rotating, deactivating or deleting an app on one instance cuts it off on the other', async () => {
    const [role] = await a.roles.createMany([{ name: 'pg-role', access: [{ serviceId: null, component: '*', verbMask: GET }] }]);
    const { app, key: first } = await a.apps.create({ name: 'pg-app', roleId: role!.id });
    await eventually(async () => (await b.auth.authenticate(first).catch(() => null))?.kind === 'app', 'b to know the new app');
    const rotated = await a.apps.rotate(app);
    const started = performance.now();
    await eventually(async () => (await b.auth.authenticate(first).catch(() => null)) === null, 'b to refuse the rotated key');
    console.log(`rotation reached the other instance in ${(performance.now() - started).toFixed(1)} ms`);
    await eventually(async () => (await b.auth.authenticate(rotated.key).catch(() => null))?.kind === 'app', 'b to accept the new key');
    await a.apps.update(rotated.app, { isActive: false });
    const refusedWith = (key: string) => b.auth.authenticate(key).then(() => null, (error: Error) => error.message);
    await eventually(async () => (await refusedWith(rotated.key))?.includes('deactivated') === true, 'b to refuse the deactivated app');
    await a.apps.delete(rotated.app);
    await eventually(async () => (await refusedWith(rotated.key)) === 'Invalid API key.', 'b to refuse the deleted app');
  });

  it('a role change on one instance applies on the other', async () => {
    const role = await a.roles.byName('pg-role');
    const { key: appKey } = await a.apps.create({ name: 'pg-app-2', roleId: role.id });
    // A new app reaches the other instance with the notice (milliseconds); until then its key is unknown there.
    await eventually(async () => (await b.auth.authenticate(appKey).catch(() => null))?.kind === 'app', 'b to know the new app');
    expect(identityAllows(await b.auth.authenticate(appKey), 5, 'x', 'GET', 'API')).toBe(true);
    await a.roles.update(role, { access: [{ serviceId: null, component: '*', verbMask: POST }] });
    await eventually(async () => {
      const now = await b.auth.authenticate(appKey);
      return !identityAllows(now, 5, 'x', 'GET', 'API') && identityAllows(now, 5, 'x', 'POST', 'API');
    }, 'b to apply the new grants');
    await a.roles.update(role, { isActive: false });
    await eventually(async () => !identityAllows(await b.auth.authenticate(appKey), 5, 'x', 'POST', 'API'), 'b to apply the deactivated role');
  });

  it('secrets set on one instance are read decrypted on the other; changes reach its cache', async () => {
    const service = await a.open.db.service.create({ data: { name: 'pg-secret', label: 'pg-secret', type: 'javascript', config: {} } });
    await a.secrets.set(service.id, 'TOKEN', 'first-value');
    expect((await b.secrets.valuesFor(service.id)).TOKEN).toBe('first-value');
    await a.secrets.set(service.id, 'TOKEN', 'second-value');
    await eventually(async () => (await b.secrets.valuesFor(service.id)).TOKEN === 'second-value', 'b to read the new value');
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query('SELECT * FROM "ServiceSecret"');
    await client.end();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain('second-value');
  });
});
