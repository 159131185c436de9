import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './helpers/eventually.ts';
import { createTestDatabase } from './helpers/postgres.ts';
import { ADMIN_KEY, createService, startTestServer, type TestServer } from './helpers/server.ts';

/** One event script over REST, as DreamFactory clients write it. */
async function attach(t: TestServer, name: string, type: string, content: string, options: { modify?: boolean; config?: Record<string, unknown> } = {}) {
  const response = await t.rest('POST', `/api/v2/system/event_script/${name}`, {
    type,
    content,
    is_active: true,
    allow_event_modification: options.modify ?? false,
    config: options.config ?? {},
  });
  if (response.status !== 201 && response.status !== 200) throw new Error(`attaching ${name} failed: ${response.status} ${response.text}`);
}

async function executionsOf(t: TestServer, service: string): Promise<any[]> {
  const listed = await t.rest('GET', `/api/v2/system/execution?filter=service=${service}&limit=100`);
  return listed.json.resource;
}

/** The same behaviours in each language: the script bodies differ, what a client sees does not. */
const languages = {
  javascript: {
    echo: 'return { method: event.request.method, params: event.request.parameters, payload: event.request.payload, order: event.request.headers["x-order"] || "" };',
    addParam: 'event.request.parameters.added = "yes"; event.request.headers["x-order"] = (event.request.headers["x-order"] || "") + "A";',
    addOrder: (tag: string) => `event.request.headers["x-order"] = (event.request.headers["x-order"] || "") + "${tag}";`,
    answer: 'event.response.status_code = 202; event.response.content = { answered: "by pre_process", id: event.path_params.id };',
    refuse: 'throw new Error("refused by the hook");',
    fail: 'throw new Error("the service broke");',
    recover: 'event.response.status_code = 200; event.response.content = { recovered: event.response.content.error.message };',
    loop: (service: string) => `var r = await platform.api.get("${service}"); event.response.content = r.content; event.response.status_code = r.status_code;`,
    log: 'console.log("queued saw " + event.response.status_code + " " + JSON.stringify(event.response.content));',
  },
  python3: {
    echo: "return {'method': event.request.method, 'params': event.request.parameters, 'payload': event.request.payload, 'order': event.request.headers.get('x-order', '')}",
    addParam: "event.request.parameters['added'] = 'yes'\nevent.request.headers['x-order'] = event.request.headers.get('x-order', '') + 'A'",
    addOrder: (tag: string) => `event.request.headers['x-order'] = event.request.headers.get('x-order', '') + '${tag}'`,
    answer: "event.response.status_code = 202\nevent.response.content = {'answered': 'by pre_process', 'id': event.path_params['id']}",
    refuse: "raise Exception('refused by the hook')",
    fail: "raise Exception('the service broke')",
    recover: "event.response.status_code = 200\nevent.response.content = {'recovered': event.response.content['error']['message']}",
    loop: (service: string) => `r = platform.api.get('${service}')\nevent.response.content = r['content']\nevent.response.status_code = r['status_code']`,
    log: "import json\nprint('queued saw %s %s' % (event.response.status_code, json.dumps(event.response.content)))",
  },
};

describe.each(Object.entries(languages))('event scripts in %s', (type, s) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('pre_process changes the request only with allow_event_modification', async () => {
    await createService(t, 'orders', type, s.echo);
    await attach(t, 'orders.get.pre_process', type, s.addParam);
    const unchanged = await t.rest('GET', '/api/v2/orders?a=1');
    expect(unchanged.status).toBe(200);
    expect(unchanged.json.params).toEqual({ a: '1' });

    await attach(t, 'orders.get.pre_process', type, s.addParam, { modify: true });
    const changed = await t.rest('GET', '/api/v2/orders?a=1');
    expect(changed.json.params).toEqual({ a: '1', added: 'yes' });
    // The service's own resources fire the service-wide name too (generic), then theirs.
    await attach(t, 'orders.items.get.pre_process', type, s.addOrder('B'), { modify: true });
    const nested = await t.rest('GET', '/api/v2/orders/items');
    expect(nested.json.order).toBe('AB');
  });

  it('pre_process answers by itself from a template path, and the service is skipped', async () => {
    await createService(t, 'shop', type, s.fail, { paths: ['items/{id}'] });
    await attach(t, 'shop.items.{id}.get.pre_process', type, s.answer, { modify: true });
    const answered = await t.rest('GET', '/api/v2/shop/items/7');
    expect(answered.status).toBe(202);
    expect(answered.json).toEqual({ answered: 'by pre_process', id: '7' });
    // Other paths still reach the (failing) service.
    expect((await t.rest('GET', '/api/v2/shop/other')).status).toBe(500);
  });

  it('a pre_process throw refuses the call with that error, whatever allow_event_modification says', async () => {
    await createService(t, 'vault', type, s.echo);
    await attach(t, 'vault.delete.pre_process', type, s.refuse);
    const refused = await t.rest('DELETE', '/api/v2/vault/1');
    expect(refused.status).toBe(500);
    expect(refused.json.error.message).toContain('refused by the hook');
    expect((await t.rest('GET', '/api/v2/vault')).status).toBe(200);
  });

  it('post_process sees an error response and may turn it into another', async () => {
    await createService(t, 'fragile', type, s.fail);
    await attach(t, 'fragile.get.post_process', type, s.recover);
    expect((await t.rest('GET', '/api/v2/fragile')).status).toBe(500);
    await attach(t, 'fragile.get.post_process', type, s.recover, { modify: true });
    const recovered = await t.rest('GET', '/api/v2/fragile');
    expect(recovered.status).toBe(200);
    expect(recovered.json.recovered).toContain('the service broke');
  });

  it('hooks the system API: a pre_process refuses deleting a service', async () => {
    const id = await createService(t, 'precious', type, s.echo);
    await attach(t, 'system.service.delete.pre_process', type, s.refuse);
    const refused = await t.rest('DELETE', `/api/v2/system/service/${id}`);
    expect(refused.status).toBe(500);
    expect(refused.json.error.message).toContain('refused by the hook');
    expect((await t.rest('GET', `/api/v2/system/service/${id}`)).status).toBe(200);
    expect((await t.rest('DELETE', '/api/v2/system/event_script/system.service.delete.pre_process')).status).toBe(200);
    expect((await t.rest('DELETE', `/api/v2/system/service/${id}`)).status).toBe(200);
  });

  it('platform.api calls fire event scripts like any request', async () => {
    await createService(t, 'inner', type, s.echo);
    await createService(t, 'outer', 'javascript', 'var r = await platform.api.get("inner?x=1"); return r.content;');
    await attach(t, 'inner.get.pre_process', type, s.addParam, { modify: true });
    const called = await t.rest('GET', '/api/v2/outer');
    expect(called.json.params).toEqual({ x: '1', added: 'yes' });
  });

  it('an event script calling its own endpoint stops at the call-depth limit', async () => {
    await createService(t, 'selfish', type, s.echo);
    await attach(t, 'selfish.get.pre_process', type, s.loop('selfish'), { modify: true });
    const looped = await t.rest('GET', '/api/v2/selfish');
    expect(looped.status).toBe(508);
  });

  it('queued runs after the response, listed with the service executions under its event name', async () => {
    await createService(t, 'audited', type, s.echo);
    await attach(t, 'audited.post.queued', type, s.log);
    const called = await t.rest('POST', '/api/v2/audited', { n: 1 });
    expect(called.status).toBe(200);
    let queuedRun: any;
    await eventually(async () => {
      queuedRun = (await executionsOf(t, 'audited')).find((e) => e.event_name === 'audited.post.queued' && e.status !== 'running');
      return Boolean(queuedRun);
    }, 'the queued run');
    expect(queuedRun.status).toBe('succeeded');
    const detail = await t.rest('GET', `/api/v2/system/execution/${queuedRun.id}`);
    expect(detail.json.logs.map((l: any) => l.message).join('\n')).toContain('queued saw 200');
  });

  it('a failed queued run is recorded failed and retried per config.retries', async () => {
    await createService(t, 'flaky', type, s.echo);
    await attach(t, 'flaky.get.queued', type, s.fail, { config: { retries: 1 } });
    await t.rest('GET', '/api/v2/flaky');
    await eventually(async () => (await executionsOf(t, 'flaky')).filter((e) => e.event_name === 'flaky.get.queued' && e.status === 'failed').length === 2, 'two failed attempts');
    const [failed] = (await executionsOf(t, 'flaky')).filter((e) => e.event_name);
    expect(failed.error.message).toContain('the service broke');
  });
});

describe('event script management over GraphQL goes through the same pipeline', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('system.service.post.post_process sees services created over GraphQL', async () => {
    await attach(t, 'system.service.post.post_process', 'javascript', 'console.log("created " + JSON.stringify(event.response.content));');
    const created = await t.gql(`mutation { createService(input: {name: "via-gql", type: "javascript", content: "return 1"}) { id name } }`);
    expect(created.errors).toBeUndefined();
    await eventually(async () => {
      const runs = await executionsOf(t, 'system');
      return runs.some((e) => e.event_name === 'system.service.post.post_process');
    }, 'the audit run');
  });

  it('a pre_process refusal reaches GraphQL as an error on the field', async () => {
    await attach(t, 'system.service.delete.pre_process', 'javascript', 'throw new Error("no deleting today")');
    await createService(t, 'keep-me', 'javascript', 'return 1');
    const refused = await t.gql(`mutation { deleteService(name: "keep-me") }`);
    expect(refused.errors?.[0]?.message).toContain('no deleting today');
  });
});

describe('what an event script cannot do', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    await createService(t, 'target', 'javascript', 'return { method: event.request.method, headers: event.request.headers };');
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('a request changed into something invalid is the script\'s error, naming what it set', async () => {
    for (const [content, named] of [
      ['event.request.method = "TRACE";', 'event.request.method'],
      ['event.request.headers = "not an object";', 'event.request.headers'],
      ['event.request.parameters = [1, 2];', 'event.request.parameters'],
    ]) {
      await attach(t, 'target.get.pre_process', 'javascript', content, { modify: true });
      const response = await t.rest('GET', '/api/v2/target');
      expect(response.status, content).toBe(500);
      expect(response.json.error.message, content).toContain(named);
    }
  });

  it('a response set with a bad status or header is refused like a service\'s', async () => {
    await attach(t, 'target.get.pre_process', 'javascript', 'event.request.method = "GET";', { modify: true });
    for (const content of ['event.response.status_code = 99;', 'event.response.headers = {"bad header": "x"};', 'event.response.headers = {"x-a": "1\\r\\nset-cookie: a=b"};']) {
      await attach(t, 'target.get.post_process', 'javascript', content, { modify: true });
      const response = await t.rest('GET', '/api/v2/target');
      expect(response.status, content).toBe(500);
      expect(response.headers.get('set-cookie')).toBeNull();
    }
    await t.rest('DELETE', '/api/v2/system/event_script/target.get.post_process');
  });

  it('never sees the caller\'s credentials, and cannot add any that count', async () => {
    await attach(t, 'target.get.pre_process', 'javascript', 'event.request.headers["x-seen"] = JSON.stringify(Object.keys(event.request.headers));', { modify: true });
    const response = await t.rest('GET', '/api/v2/target', undefined, { authorization: `Bearer ${ADMIN_KEY}` });
    expect(response.status).toBe(200);
    expect(response.text).not.toContain(ADMIN_KEY);
    expect(JSON.parse(response.json.headers['x-seen'])).not.toContain('x-dreamfactory-api-key');
  });

  it('a template the service does not declare never fires', async () => {
    await createService(t, 'undeclared', 'javascript', 'return "service ran"');
    await attach(t, 'undeclared.{id}.get.pre_process', 'javascript', 'event.response.content = "hook ran";', { modify: true });
    expect((await t.rest('GET', '/api/v2/undeclared/7')).text).toBe('service ran');
  });
});

/** A server in a process of its own, so the test can kill -9 it. */
async function spawnServer(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ADMIN_KEY, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /"url":"(http:\/\/[^"]+)".*Scriptgate ready/.exec(output);
      if (ready) resolve(ready[1]!);
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });
  return { child, url };
}

describe('queued runs are durable', () => {
  it('survive a kill -9 between the response and the run, and run after restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'scriptgate-queue-'));
    // An instance that never runs queued scripts itself (QUEUE_CONCURRENCY=0): the run can only happen after it.
    const first = await spawnServer({ DATA_DIR: dataDir, QUEUE_CONCURRENCY: '0' });
    const headers = { 'x-dreamfactory-api-key': ADMIN_KEY, 'content-type': 'application/json' };
    const post = (path: string, body: unknown) => fetch(`${first.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    expect((await post('/api/v2/system/service', { resource: [{ name: 'durable', type: 'javascript', content: 'return 1' }] })).status).toBe(201);
    expect((await post('/api/v2/system/event_script/durable.get.queued', { type: 'javascript', content: 'console.log("ran late")' })).status).toBe(201);
    const called = await fetch(`${first.url}/api/v2/durable`, { headers });
    expect(called.status).toBe(200);
    const exited = new Promise((resolve) => first.child.on('exit', resolve));
    first.child.kill('SIGKILL');
    await exited;

    const second = await startTestServer({ DATA_DIR: dataDir });
    try {
      await eventually(async () => (await executionsOf(second, 'durable')).some((e) => e.event_name === 'durable.get.queued' && e.status === 'succeeded'), 'the run after restart');
    } finally {
      await second.server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('run exactly once with two instances on one PostgreSQL database', async () => {
    const database = await createTestDatabase();
    const a = await startTestServer({ DATABASE_URL: database.url });
    const b = await startTestServer({ DATABASE_URL: database.url });
    try {
      await createService(a, 'shared', 'javascript', 'return 1');
      await attach(a, 'shared.get.queued', 'javascript', 'console.log("once")');
      const calls = 40;
      await Promise.all(Array.from({ length: calls }, (_, i) => (i % 2 ? a : b).rest('GET', '/api/v2/shared')));
      const queuedRuns = async () => (await executionsOf(a, 'shared')).filter((e) => e.event_name === 'shared.get.queued');
      await eventually(async () => (await queuedRuns()).filter((e) => e.status === 'succeeded').length >= calls, 'every queued run');
      const runs = await queuedRuns();
      expect(runs).toHaveLength(calls);
    } finally {
      await a.stop();
      await b.stop();
      await database.drop();
    }
  });
});
