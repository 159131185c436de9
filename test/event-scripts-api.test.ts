import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './helpers/eventually.ts';
import { createService, startTestServer, type TestServer } from './helpers/server.ts';

// Event scripts' management API (contract section 4): storage, validation and
// the scriptable names, over REST and GraphQL. What the scripts do when they
// fire is tested with the pipeline; here only that a write is live at once.

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ SCRIPT_MAX_BYTES: '4096' });
  await createService(t, 'orders', 'javascript', 'return { from: "orders" }', { paths: ['items/{id}', 'bad path/x', 'a.b'] });
  await createService(t, 'plain', 'javascript', 'return { from: "plain" }');
});
afterAll(async () => {
  await t.stop();
});

const at = (name: string) => `/api/v2/system/event_script/${encodeURIComponent(name)}`;
const codeOf = (result: { errors?: readonly any[] }) => result.errors?.[0]?.extensions?.code;

describe('REST: system/event_script', () => {
  it('creates with POST on a name (201, defaults), replaces with it (200, fields not given reset)', async () => {
    const created = await t.rest('POST', at('orders.get.pre_process'), { type: 'javascript', content: 'console.log(1)', allow_event_modification: true });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({
      name: 'orders.get.pre_process',
      type: 'javascript',
      content: 'console.log(1)',
      is_active: true,
      allow_event_modification: true,
      config: {},
      created_date: expect.any(String),
      last_modified_date: expect.any(String),
    });
    const replaced = await t.rest('POST', at('orders.get.pre_process'), { type: 'javascript', content: 'console.log(2)', config: { retries: 2 } });
    expect(replaced.status).toBe(200);
    expect(replaced.json).toMatchObject({ content: 'console.log(2)', allow_event_modification: false, config: { retries: 2 }, created_date: created.json.created_date });
    const read = await t.rest('GET', at('orders.get.pre_process'));
    expect(read.status).toBe(200);
    expect(read.json).toEqual(replaced.json);
  });

  it('stores names with the service, verb and phase lower-cased; template segments as given', async () => {
    const created = await t.rest('POST', at('Orders.items.{id}.GET.Post_Process'), { type: 'javascript', content: '' });
    expect(created.status).toBe(201);
    expect(created.json.name).toBe('orders.items.{id}.get.post_process');
    expect((await t.rest('GET', at('ORDERS.items.{id}.get.post_process'))).json.name).toBe('orders.items.{id}.get.post_process');
  });

  it('takes DreamFactory\'s wrapped single record and camelCase fields; ignores DreamFactory fields it does not keep', async () => {
    const wrapped = await t.rest('POST', at('orders.post.queued'), {
      resource: [{ type: 'javascript', content: 'x()', isActive: false, storage_service_id: null, scm_reference: null }],
    });
    expect(wrapped.status).toBe(201);
    expect(wrapped.json).toMatchObject({ name: 'orders.post.queued', is_active: false });
  });

  it('edits with PATCH and PUT: given fields change, config keys merge and null removes one', async () => {
    await t.rest('POST', at('orders.delete.pre_process'), { type: 'javascript', content: 'a', config: { timeout_ms: 500, note: 'x' } });
    const patched = await t.rest('PATCH', at('orders.delete.pre_process'), { allow_event_modification: true, config: { note: null, retries: 1 } });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ content: 'a', allow_event_modification: true, config: { timeout_ms: 500, retries: 1 } });
    expect(patched.json.config).not.toHaveProperty('note');
    const put = await t.rest('PUT', at('orders.delete.pre_process'), { content: 'b' });
    expect(put.json).toMatchObject({ content: 'b', allow_event_modification: true, config: { timeout_ms: 500, retries: 1 } });
  });

  it('lists with service=, fields, limit, offset and include_count', async () => {
    await t.rest('POST', at('plain.get.queued'), { type: 'javascript', content: '' });
    const all = await t.rest('GET', '/api/v2/system/event_script');
    expect(all.status).toBe(200);
    const names = all.json.resource.map((r: any) => r.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['orders.get.pre_process', 'plain.get.queued']));

    const plain = await t.rest('GET', '/api/v2/system/event_script?service=Plain&fields=name,is_active&include_count=true');
    expect(plain.json).toEqual({ resource: [{ name: 'plain.get.queued', is_active: true }], meta: { count: 1 } });

    const orders = await t.rest('GET', '/api/v2/system/event_script?service=orders&fields=name');
    const page = await t.rest('GET', '/api/v2/system/event_script?service=orders&fields=name&limit=2&offset=1');
    expect(page.json.resource).toEqual(orders.json.resource.slice(1, 3));
  });

  it('deletes, answering {name}; then the name is 404 on every verb but POST', async () => {
    await t.rest('POST', at('plain.put.queued'), { type: 'javascript', content: '' });
    const deleted = await t.rest('DELETE', at('plain.put.queued'));
    expect(deleted.status).toBe(200);
    expect(deleted.json).toEqual({ name: 'plain.put.queued' });
    for (const method of ['GET', 'PATCH', 'PUT', 'DELETE']) {
      const response = await t.rest(method, at('plain.put.queued'), method === 'PATCH' || method === 'PUT' ? { content: 'x' } : undefined);
      expect(response.status, method).toBe(404);
      expect(response.json.error.message).toContain('plain.put.queued');
    }
  });

  it('a write is live at once: the next call fires the script, and not after it is turned off or deleted', async () => {
    const answer = 'event.response = { status_code: 202, content: { from: "pre_process" } }';
    await t.rest('POST', at('plain.post.pre_process'), { type: 'javascript', content: answer, allow_event_modification: true });
    const fired = await t.rest('POST', '/api/v2/plain', {});
    expect(fired.status).toBe(202);
    expect(fired.json).toEqual({ from: 'pre_process' });

    await t.rest('PATCH', at('plain.post.pre_process'), { is_active: false });
    expect((await t.rest('POST', '/api/v2/plain', {})).json).toEqual({ from: 'plain' });
    await t.rest('PATCH', at('plain.post.pre_process'), { is_active: true });
    expect((await t.rest('POST', '/api/v2/plain', {})).status).toBe(202);
    await t.rest('DELETE', at('plain.post.pre_process'));
    expect((await t.rest('POST', '/api/v2/plain', {})).json).toEqual({ from: 'plain' });
  });

  it('allows a script for a service that does not exist yet', async () => {
    const created = await t.rest('POST', at('ghost.things.get.pre_process'), { type: 'javascript', content: '' });
    expect(created.status).toBe(201);
  });
});

describe('REST: bad input names the part that is wrong', () => {
  const refused = async (path: string, body: unknown, method = 'POST') => {
    const response = await t.rest(method, path, body);
    expect(response.status, response.text).toBe(400);
    expect(Object.keys(response.json.error).sort()).toEqual(['code', 'context', 'message', 'status_code']);
    return response.json.error as { message: string; context: { field?: string } | null };
  };
  const script = { type: 'javascript', content: '' };

  it('an unknown verb or phase', async () => {
    const verb = await refused(at('orders.fetch.pre_process'), script);
    expect(verb.message).toMatch(/unknown verb "fetch"/);
    expect(verb.context).toEqual({ field: 'name' });
    expect((await refused(at('orders.get.before'), script)).message).toMatch(/unknown phase "before"/);
  });

  it('a malformed name: too few parts, an empty or bad segment, a "/" in it, too long', async () => {
    expect((await refused(at('orders.get'), script)).message).toMatch(/must be \{service\}/);
    expect((await refused(at('orders..get.pre_process'), script)).message).toMatch(/resource segment ""/);
    expect((await refused(at('orders.it ems.get.pre_process'), script)).message).toMatch(/resource segment "it ems"/);
    expect((await refused(at('ord ers.get.pre_process'), script)).message).toMatch(/service part "ord ers"/);
    expect((await refused('/api/v2/system/event_script/orders/items.get.pre_process', script)).message).toMatch(/service part "orders\/items"/);
    expect((await refused(at(`orders.${'x'.repeat(400)}.get.pre_process`), script)).message).toMatch(/at most 400 characters/);
    expect((await refused(at('orders.fetch.pre_process'), undefined, 'GET')).message).toMatch(/unknown verb/);
  });

  it('an unknown or missing script type', async () => {
    const unknown = await refused(at('orders.get.queued'), { type: 'cobol', content: '' });
    expect(unknown.message).toMatch(/unknown script type "cobol"/);
    expect(unknown.context).toEqual({ field: 'type' });
    expect((await refused(at('orders.get.queued'), { content: '' })).context).toEqual({ field: 'type' });
  });

  it('fields of the wrong kind, limits past the maxima, retries out of range', async () => {
    expect((await refused(at('orders.get.queued'), { ...script, is_active: 'yes' })).context).toEqual({ field: 'is_active' });
    expect((await refused(at('orders.get.queued'), { ...script, allow_event_modification: 1 })).context).toEqual({ field: 'allow_event_modification' });
    expect((await refused(at('orders.get.queued'), { ...script, content: 7 })).context).toEqual({ field: 'content' });
    expect((await refused(at('orders.get.queued'), { ...script, config: [] })).context).toEqual({ field: 'config' });
    expect((await refused(at('orders.get.queued'), { ...script, config: { timeout_ms: 10 ** 9 } })).context).toEqual({ field: 'config.timeout_ms' });
    const retries = await refused(at('orders.get.queued'), { ...script, config: { retries: 11 } });
    expect(retries.message).toMatch(/"config.retries" must be a whole number from 0 to 10/);
    expect((await refused(at('orders.get.queued'), { ...script, config: { retries: 1.5 } })).context).toEqual({ field: 'config.retries' });
    expect((await refused(at('orders.get.queued'), { ...script, content: 'x'.repeat(5000) })).message).toMatch(/over the limit of 4096/);
    expect((await refused(at('orders.get.queued'), { ...script, config: { big: 'x'.repeat(70_000) } })).message).toMatch(/over the limit of 65536/);
    // None of the refused writes left a record.
    expect((await t.rest('GET', at('orders.get.queued'))).status).toBe(404);
  });

  it('a body that is not one record, or names another script', async () => {
    await refused(at('orders.get.queued'), [script]);
    expect((await refused(at('orders.get.queued'), { resource: [script, script] })).message).toMatch(/one event script record/);
    expect((await refused(at('orders.get.queued'), { ...script, name: 'orders.put.queued' })).context).toEqual({ field: 'name' });
    const noName = await t.rest('POST', '/api/v2/system/event_script', script);
    expect(noName.status).toBe(405);
  });
});

describe('hostile', () => {
  it('concurrent creates of one name: one 201, the rest replace it, one record', async () => {
    const name = 'plain.patch.pre_process';
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => t.rest('POST', at(name), { type: 'javascript', content: `// ${i}` })),
    );
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    const listed = await t.rest('GET', '/api/v2/system/event_script?service=plain&fields=name');
    expect(listed.json.resource.filter((r: any) => r.name === name)).toHaveLength(1);
  });

  it('a __proto__ key in config is refused by the catalog itself (behind the doors\' own check), top-level or nested', async () => {
    const catalog = t.server.platform.eventScripts;
    for (const config of ['{"__proto__": {"retries": 99}}', '{"a": {"__proto__": {"x": 1}}}']) {
      await expect(catalog.put('plain.get.post_process', { type: 'javascript', config: JSON.parse(config) })).rejects.toMatchObject({
        kind: 'BAD_INPUT',
        message: 'Field "config" may not contain a "__proto__" key.',
      });
    }
    expect(await catalog.byName('plain.get.post_process')).toBeNull();
  });

  it('an events listing for a long or strange service name is refused, not built', async () => {
    const response = await t.rest('GET', `/api/v2/system/event?service=${'x'.repeat(5000)}`);
    expect(response.status).toBe(400);
    expect(response.json.error.context).toEqual({ field: 'service' });
  });
});

describe('REST: system/event', () => {
  it('lists a service\'s names from its config.paths templates, skipping paths that cannot be names', async () => {
    const { status, json } = await t.rest('GET', '/api/v2/system/event?service=orders&as_list=true');
    expect(status).toBe(200);
    const names: string[] = json.resource;
    // Root, items, items/{id}: 3 paths × 5 verbs × 3 phases.
    expect(names).toHaveLength(45);
    expect(names).toEqual(expect.arrayContaining(['orders.get.pre_process', 'orders.items.post.queued', 'orders.items.{id}.delete.post_process']));
    expect(names.some((n) => n.includes('bad path') || n.startsWith('orders.a.b.'))).toBe(false);
    expect(new Set(names).size).toBe(names.length);
  });

  it('adds names of existing scripts that would fire; a templated one only where the service declares it', async () => {
    await t.rest('POST', at('plain.reports.daily.get.post_process'), { type: 'javascript', content: '' });
    await t.rest('POST', at('plain.{x}.get.post_process'), { type: 'javascript', content: '' });
    const names: string[] = (await t.rest('GET', '/api/v2/system/event?service=plain&as_list=true')).json.resource;
    expect(names).toContain('plain.reports.daily.get.post_process');
    expect(names).not.toContain('plain.{x}.get.post_process');
    expect(names).toContain('plain.get.pre_process');
  });

  it('for a service that does not exist yet: its root names and its scripts\' names', async () => {
    const names: string[] = (await t.rest('GET', '/api/v2/system/event?service=ghost&as_list=true')).json.resource;
    expect(names).toHaveLength(16);
    expect(names).toEqual(expect.arrayContaining(['ghost.get.pre_process', 'ghost.delete.queued', 'ghost.things.get.pre_process']));
    const none: string[] = (await t.rest('GET', '/api/v2/system/event?service=nobody&as_list=true')).json.resource;
    expect(none).toHaveLength(15);
  });

  it('groups every service\'s names, the system API\'s and not-yet services\' included, by service name', async () => {
    const { json } = await t.rest('GET', '/api/v2/system/event');
    const groups = json.resource as { name: string; events: string[] }[];
    expect(groups.map((g) => g.name)).toEqual([...groups.map((g) => g.name)].sort());
    expect(groups.map((g) => g.name)).toEqual(expect.arrayContaining(['ghost', 'orders', 'plain', 'system']));
    const system = groups.find((g) => g.name === 'system')!.events;
    expect(system).toEqual(
      expect.arrayContaining(['system.service.post.post_process', 'system.service.delete.pre_process', 'system.event_script.{name}.post.queued']),
    );
    const flat: string[] = (await t.rest('GET', '/api/v2/system/event?as_list=true')).json.resource;
    expect(flat).toEqual(groups.flatMap((g) => g.events));
  });

  it('only reads', async () => {
    expect((await t.rest('POST', '/api/v2/system/event', {})).status).toBe(405);
    expect((await t.rest('GET', '/api/v2/system/event/orders')).status).toBe(404);
  });
});

describe('GraphQL', () => {
  const fields = 'name type content isActive allowEventModification config createdAt updatedAt';

  it('upserts, reads, lists, replaces and deletes', async () => {
    const created = await t.gql(
      `mutation { upsertEventScript(name: "Orders.put.post_process", input: {type: "javascript", content: "1", allowEventModification: true, config: {retries: 3}}) { ${fields} } }`,
    );
    expect(created.errors).toBeUndefined();
    expect(created.data).toEqual({
      upsertEventScript: {
        name: 'orders.put.post_process',
        type: 'javascript',
        content: '1',
        isActive: true,
        allowEventModification: true,
        config: { retries: 3 },
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      },
    });
    const read = await t.gql(`{ eventScript(name: "orders.put.post_process") { ${fields} } }`);
    expect(read.data).toEqual({ eventScript: (created.data as any).upsertEventScript });

    const listed = await t.gql('{ eventScripts(service: "orders") { name } all: eventScripts { name } }');
    const names = (listed.data as any).eventScripts.map((s: any) => s.name);
    expect(names).toContain('orders.put.post_process');
    expect(names.every((n: string) => n.startsWith('orders.'))).toBe(true);
    expect((listed.data as any).all.length).toBeGreaterThan(names.length);

    const replaced = await t.gql('mutation { upsertEventScript(name: "orders.put.post_process", input: {type: "javascript", content: "2"}) { content allowEventModification config } }');
    expect(replaced.data).toEqual({ upsertEventScript: { content: '2', allowEventModification: false, config: {} } });

    expect((await t.gql('mutation { deleteEventScript(name: "orders.put.post_process") }')).data).toEqual({ deleteEventScript: true });
    expect((await t.gql('{ eventScript(name: "orders.put.post_process") { name } }')).data).toEqual({ eventScript: null });
    const again = await t.gql('mutation { deleteEventScript(name: "orders.put.post_process") }');
    expect(codeOf(again)).toBe('NOT_FOUND');
  });

  it('refuses bad names and types with BAD_USER_INPUT naming the part', async () => {
    const verb = await t.gql('mutation { upsertEventScript(name: "orders.fetch.pre_process", input: {type: "javascript"}) { name } }');
    expect(codeOf(verb)).toBe('BAD_USER_INPUT');
    expect(verb.errors![0].message).toMatch(/unknown verb "fetch"/);
    const phase = await t.gql('{ eventScript(name: "orders.get.later") { name } }');
    expect(codeOf(phase)).toBe('BAD_USER_INPUT');
    expect(phase.errors![0].message).toMatch(/unknown phase "later"/);
    const slash = await t.gql('mutation { deleteEventScript(name: "orders/items.get.pre_process") }');
    expect(codeOf(slash)).toBe('BAD_USER_INPUT');
    const type = await t.gql('mutation { upsertEventScript(name: "orders.get.queued", input: {type: "cobol"}) { name } }');
    expect(codeOf(type)).toBe('BAD_USER_INPUT');
    expect(type.errors![0].message).toMatch(/unknown script type "cobol"/);
    expect(type.errors![0].extensions!.context).toEqual({ field: 'type' });
  });

  it('lists event names', async () => {
    const result = await t.gql('{ events(service: "orders") all: events }');
    const names: string[] = (result.data as any).events;
    expect(names).toEqual((await t.rest('GET', '/api/v2/system/event?service=orders&as_list=true')).json.resource);
    expect((result.data as any).all).toContain('system.service.post.post_process');
  });

  it('shows eventName on executions: null for a service\'s own run, the name for an event script\'s', async () => {
    await createService(t, 'lone', 'javascript', 'return 1');
    await t.rest('POST', at('lone.get.pre_process'), { type: 'javascript', content: 'console.log("hooked")' });
    expect((await t.rest('GET', '/api/v2/lone')).status).toBe(200);
    const query = '{ executions(service: "lone", first: 5) { edges { node { eventName } } } }';
    let names: unknown[] = [];
    await eventually(async () => {
      const result = await t.gql(query);
      expect(result.errors).toBeUndefined();
      names = (result.data as any).executions.edges.map((e: any) => e.node.eventName);
      return names.length === 2;
    }, 'two executions of lone');
    expect(names.sort()).toEqual(['lone.get.pre_process', null]);
  });
});
