/**
 * Service secrets end to end, through real HTTP (issue #10, "Secrets"): a
 * script reads its service's secrets as `platform.secrets` in every
 * language; their values never leave. A value written to a log line or
 * carried by an error reads `[secret]` in every log, stream and error
 * body; no REST or GraphQL answer about the service, and no byte of the
 * SQLite database, holds it. An event script gets the secrets of the
 * service it hooks; another service gets none; a script cannot change
 * what the next run sees.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_REDACTED_LENGTH, REDACTED, redactorFor } from '../src/domain/executions.ts';
import { eventually } from './helpers/eventually.ts';
import { typeRunsHere } from './helpers/interpreters.ts';
import { ADMIN_KEY, createService, startTestServer, type RestResponse, type TestServer } from './helpers/server.ts';
import { subscribeSse } from './helpers/sse.ts';

const TYPES = ['javascript', 'nodejs', 'python3', 'php'] as const;
type Type = (typeof TYPES)[number];

/**
 * One script per language, by `mode`: use the secret (its length and code
 * point sum), log it (stdout, stderr, and the whole object as the
 * language prints it), throw it, return it as an `{error}`, try to change
 * `platform.secrets`, or list what it holds.
 */
const scripts: Record<Type, string> = {
  javascript: `
const s = platform.secrets;
const mode = event.request.parameters.mode;
const sum = (v) => { let n = 0; for (const c of v) n += c.codePointAt(0); return n; };
if (mode === 'use') return { length: s.API_TOKEN.length, sum: sum(s.API_TOKEN), names: Object.keys(s).sort() };
if (mode === 'log') { console.log('token=' + s.API_TOKEN); console.error('again ' + s.API_TOKEN + '!'); console.log(s); return { logged: true }; }
if (mode === 'throw') throw new Error('cannot use ' + s.API_TOKEN);
if (mode === 'error-result') return { error: { message: 'bad ' + s.API_TOKEN, token: s.API_TOKEN } };
if (mode === 'tamper') {
  const tries = [];
  for (const change of [() => { s.API_TOKEN = 'changed'; }, () => { s.NEW = 'x'; }, () => { delete s.API_TOKEN; }]) {
    try { change(); tries.push('ok'); } catch (e) { tries.push('refused'); }
  }
  return { after: s.API_TOKEN.length, frozen: Object.isFrozen(s) };
}
return { names: Object.keys(s).sort(), missing: s.API_TOKEN === undefined };`,
  nodejs: '',
  python3: `import sys
s = platform.secrets
mode = event.request.parameters.get('mode')
if mode == 'use':
    return {'length': len(s.API_TOKEN), 'sum': sum(ord(c) for c in platform['secrets']['API_TOKEN']), 'names': sorted(s.keys())}
if mode == 'log':
    print('token=' + s.API_TOKEN)
    print('again ' + platform['secrets']['API_TOKEN'] + '!', file=sys.stderr)
    print(json.dumps(s))
    return {'logged': True}
if mode == 'throw':
    raise ValueError('cannot use ' + s.API_TOKEN)
if mode == 'error-result':
    return {'error': {'message': 'bad ' + s.API_TOKEN, 'token': s.API_TOKEN}}
if mode == 'tamper':
    def set_one():
        s['API_TOKEN'] = 'changed'
    def add_one():
        s.NEW = 'x'
    def drop_one():
        del s['API_TOKEN']
    def clear_all():
        s.clear()
    refused = 0
    for change in (set_one, add_one, drop_one, clear_all):
        try:
            change()
        except TypeError:
            refused += 1
    return {'after': len(s.API_TOKEN), 'frozen': refused == 4}
return {'names': sorted(s.keys()), 'missing': 'API_TOKEN' not in s}`,
  php: `<?php
$s = $platform['secrets'];
$mode = $event['request']['parameters']['mode'] ?? null;
$names = array_keys($s);
sort($names);
if ($mode === 'use') {
    $sum = 0;
    foreach (str_split($s['API_TOKEN']) as $c) $sum += ord($c);
    return ['length' => strlen($s['API_TOKEN']), 'sum' => $sum, 'names' => $names];
}
if ($mode === 'log') {
    echo 'token=' . $s['API_TOKEN'] . "\\n";
    fwrite(STDERR, 'again ' . $platform['secrets']['API_TOKEN'] . "!\\n");
    echo json_encode($s), "\\n";
    return ['logged' => true];
}
if ($mode === 'throw') throw new Exception('cannot use ' . $s['API_TOKEN']);
if ($mode === 'error-result') return ['error' => ['message' => 'bad ' . $s['API_TOKEN'], 'token' => $s['API_TOKEN']]];
if ($mode === 'tamper') {
    // Arrays are values: this changes this run's copy only.
    $platform['secrets']['API_TOKEN'] = 'changed';
    $platform['secrets']['NEW'] = 'x';
    return ['after' => strlen($platform['secrets']['API_TOKEN']), 'frozen' => false];
}
return ['names' => $names, 'missing' => !isset($s['API_TOKEN'])];`,
};
scripts.nodejs = scripts.javascript;

/** The hooked service's secret as an event script sees it (null when absent). */
const eventScripts: Record<Type, string> = {
  javascript: 'event.response.content = { eventSees: platform.secrets.API_TOKEN === undefined ? null : platform.secrets.API_TOKEN.length };',
  nodejs: '',
  python3: "event.response.content = {'eventSees': len(platform.secrets.API_TOKEN) if 'API_TOKEN' in platform.secrets else None}",
  php: "<?php $event['response']['content'] = ['eventSees' => isset($platform['secrets']['API_TOKEN']) ? strlen($platform['secrets']['API_TOKEN']) : null];",
};
eventScripts.nodejs = eventScripts.javascript;

/** ASCII with a double quote, so its JSON form (`\"`) differs from the raw value: both must be hidden. */
const newToken = () => `sk_live_${randomBytes(12).toString('hex')}"end`;
const codePointSum = (value: string) => [...value].reduce((n, c) => n + c.codePointAt(0)!, 0);
const jsonForm = (value: string) => JSON.stringify(value).slice(1, -1);

let t: TestServer;
let available: Record<string, boolean> = {};
/** Every secret value set during the run: none may be in any answer or in the database. */
const allValues: string[] = [];

beforeAll(async () => {
  t = await startTestServer();
  const types = (await t.rest('GET', '/api/v2/system/script_type')).json.resource;
  available = Object.fromEntries(types.map((type: any) => [type.name, type.available]));
  for (const type of TYPES) typeRunsHere(type, available[type] === true);
});
afterAll(async () => {
  await t?.stop();
});

async function setSecret(serviceId: number, name: string, value: string): Promise<RestResponse> {
  allValues.push(value);
  return t.rest('PUT', `/api/v2/system/service/${serviceId}/secret/${name}`, { value });
}

/** The value must be nowhere in the text, raw or JSON-escaped. */
function expectHidden(text: string, value: string, where: string) {
  expect(text.includes(value), `${where} holds the secret: ${text.slice(0, 500)}`).toBe(false);
  expect(text.includes(jsonForm(value)), `${where} holds the secret (JSON-escaped): ${text.slice(0, 500)}`).toBe(false);
}

async function execution(id: string | null) {
  expect(id).toBeTruthy();
  const answer = await t.rest('GET', `/api/v2/system/execution/${id}`);
  expect(answer.status, answer.text).toBe(200);
  return answer;
}

describe.each(TYPES)('platform.secrets in %s', (type) => {
  const token = newToken();
  const service = `sec-${type}`;
  let serviceId: number;

  beforeAll(async () => {
    if (!available[type]) return;
    serviceId = await createService(t, service, type, scripts[type], { greeting: 'hello' });
    expect((await setSecret(serviceId, 'API_TOKEN', token)).status).toBe(201);
    expect((await setSecret(serviceId, 'OTHER_KEY', `other-${randomBytes(8).toString('hex')}`)).status).toBe(201);
  });

  it('the script reads its service secret and uses it', async ({ skip }) => {
    if (!available[type]) skip();
    const answer = await t.rest('GET', `/api/v2/${service}?mode=use`);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json).toEqual({ length: token.length, sum: codePointSum(token), names: ['API_TOKEN', 'OTHER_KEY'] });
  });

  it('a logged value reads [secret] on every stream, in the stored log', async ({ skip }) => {
    if (!available[type]) skip();
    const answer = await t.rest('GET', `/api/v2/${service}?mode=log`);
    expect(answer.status, answer.text).toBe(200);
    const run = await execution(answer.headers.get('x-execution-id'));
    expectHidden(run.text, token, 'the execution');
    const lines: { stream: string; message: string }[] = run.json.logs;
    expect(lines.find((l) => l.message.startsWith('token='))?.message).toBe(`token=${REDACTED}`);
    expect(lines.find((l) => l.message.startsWith('again'))).toMatchObject({ stream: type === 'javascript' || type === 'nodejs' ? expect.any(String) : 'STDERR', message: `again ${REDACTED}!` });
    // The whole object as the language prints it: the value (JSON-escaped too) is hidden, the name stays.
    const dump = lines.find((l) => l.message.includes('API_TOKEN'));
    expect(dump?.message).toContain(REDACTED);
    // The byte count is of what was kept.
    expect(run.json.log_bytes).toBe(lines.filter((l) => l.stream !== 'SYSTEM').reduce((n, l) => n + Buffer.byteLength(l.message), 0));
  });

  it('a thrown error carrying the value reads [secret] in the 500 body and the stored error', async ({ skip }) => {
    if (!available[type]) skip();
    const answer = await t.rest('GET', `/api/v2/${service}?mode=throw`);
    expect(answer.status).toBe(500);
    expectHidden(answer.text, token, 'the 500 body');
    expect(answer.json.error.message).toContain(`cannot use ${REDACTED}`);
    const run = await execution(answer.headers.get('x-execution-id'));
    expectHidden(run.text, token, 'the failed execution');
    expect(run.json.error.message).toContain(`cannot use ${REDACTED}`);
    expect(run.json.logs.filter((l: any) => l.stream === 'SYSTEM').map((l: any) => l.message).join('\n')).toContain(REDACTED);
  });

  it('a returned {error} carrying the value reads [secret] in the message and the context', async ({ skip }) => {
    if (!available[type]) skip();
    const answer = await t.rest('GET', `/api/v2/${service}?mode=error-result`);
    expect(answer.status).toBe(500);
    expectHidden(answer.text, token, 'the error body');
    expect(answer.json.error.message).toBe(`bad ${REDACTED}`);
    expect(answer.json.error.context).toMatchObject({ token: REDACTED });
    const run = await execution(answer.headers.get('x-execution-id'));
    expectHidden(run.text, token, 'the failed execution');
    expect(run.json.error.message).toBe(`bad ${REDACTED}`);
  });

  it('a script cannot change what the next run sees', async ({ skip }) => {
    if (!available[type]) skip();
    const tampered = await t.rest('GET', `/api/v2/${service}?mode=tamper`);
    expect(tampered.status, tampered.text).toBe(200);
    if (type === 'php') expect(tampered.json.after).toBe('changed'.length);
    else expect(tampered.json).toEqual({ after: token.length, frozen: true });
    for (let i = 0; i < 3; i++) {
      const next = await t.rest('GET', `/api/v2/${service}?mode=use`);
      expect(next.json).toEqual({ length: token.length, sum: codePointSum(token), names: ['API_TOKEN', 'OTHER_KEY'] });
    }
  });

  it('an event script of the service sees its secrets; a service of its own does not', async ({ skip }) => {
    if (!available[type]) skip();
    const hooked = `evt-${type}`;
    const hookedId = await createService(t, hooked, type, type === 'php' ? "<?php return ['plain' => true];" : type === 'python3' ? "return {'plain': True}" : 'return { plain: true };');
    const hookedToken = newToken();
    await setSecret(hookedId, 'API_TOKEN', hookedToken);
    const attached = await t.rest('POST', `/api/v2/system/event_script/${hooked}.get.post_process`, {
      type,
      content: eventScripts[type],
      is_active: true,
      allow_event_modification: true,
    });
    expect([200, 201], attached.text).toContain(attached.status);
    const answer = await t.rest('GET', `/api/v2/${hooked}`);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json).toEqual({ eventSees: hookedToken.length });

    // Another service, with the same script: nothing.
    await createService(t, `other-${type}`, type, scripts[type]);
    const other = await t.rest('GET', `/api/v2/other-${type}`);
    expect(other.json).toEqual({ names: [], missing: true });
  });

  it('no REST or GraphQL answer about the service holds the value', async ({ skip }) => {
    if (!available[type]) skip();
    const answers = [
      await t.rest('GET', `/api/v2/system/service/${serviceId}`),
      await t.rest('GET', `/api/v2/system/service?filter=name=${service}`),
      await t.rest('GET', `/api/v2/system/service/${serviceId}/secret`),
      await t.rest('GET', `/api/v2/system/service/${serviceId}/secret/API_TOKEN`),
      await t.rest('GET', `/api/v2/system/execution?filter=service=${service}&limit=100`),
    ];
    for (const answer of answers) expectHidden(answer.text, token, 'a REST answer');
    expect(answers[2]!.json).toEqual({ resource: [{ name: 'API_TOKEN' }, { name: 'OTHER_KEY' }] });
    const graphql = await t.gql(
      `query ($name: String!) {
        service(name: $name) { secretNames config content }
        executions(service: $name, first: 20) { edges { node { error { message } logs(first: 10) { edges { node { message } } } } } }
      }`,
      { name: service },
    );
    expect(graphql.errors).toBeUndefined();
    expect((graphql.data as any).service.secretNames).toEqual(['API_TOKEN', 'OTHER_KEY']);
    expectHidden(JSON.stringify(graphql), token, 'the GraphQL answer');
    expect(JSON.stringify(graphql)).toContain(REDACTED);
  });

  it('a removed secret is gone from the next run', async ({ skip }) => {
    if (!available[type]) skip();
    expect((await t.rest('DELETE', `/api/v2/system/service/${serviceId}/secret/API_TOKEN`)).status).toBe(200);
    const answer = await t.rest('GET', `/api/v2/${service}`);
    expect(answer.json).toEqual({ names: ['OTHER_KEY'], missing: true });
    // Set again under GraphQL: seen again.
    const again = newToken();
    allValues.push(again);
    const set = await t.gql('mutation ($s: String!, $v: String!) { setServiceSecret(service: $s, name: "API_TOKEN", value: $v) }', { s: service, v: again });
    expect(set.errors).toBeUndefined();
    expect((await t.rest('GET', `/api/v2/${service}?mode=use`)).json).toEqual({ length: again.length, sum: codePointSum(again), names: ['API_TOKEN', 'OTHER_KEY'] });
    const removed = await t.gql('mutation ($s: String!) { deleteServiceSecret(service: $s, name: "API_TOKEN") }', { s: service });
    expect(removed.errors).toBeUndefined();
    expect((await t.rest('GET', `/api/v2/${service}`)).json).toEqual({ names: ['OTHER_KEY'], missing: true });
  });
});

describe('services without secrets', () => {
  it('a service called before it had secrets sees the first one set, in the next run', async () => {
    // Its first calls find it among no services with secrets, without a query of its own; setting one must end that.
    const id = await createService(t, 'sec-later', 'javascript', 'return { names: Object.keys(platform.secrets), value: platform.secrets.LATER ?? null }');
    for (let i = 0; i < 2; i++) expect((await t.rest('GET', '/api/v2/sec-later')).json).toEqual({ names: [], value: null });
    const value = newToken();
    allValues.push(value);
    expect((await setSecret(id, 'LATER', value)).status).toBe(201);
    expect((await t.rest('GET', '/api/v2/sec-later')).json).toEqual({ names: ['LATER'], value });
  });
});

describe('redaction', () => {
  it('a live log stream (server-sent events) shows [secret], never the value', async () => {
    const id = await createService(t, 'sec-live', 'javascript', "console.log('live ' + platform.secrets.LIVE); console.log('done');");
    const value = newToken();
    await setSecret(id, 'LIVE', value);
    const subscription = await subscribeSse<{ executionLogs: { message: string } }>(
      t.url,
      { query: 'subscription { executionLogs(service: "sec-live") { message } }' },
      { 'x-dreamfactory-api-key': ADMIN_KEY },
    );
    expect(subscription.status).toBe(200);
    try {
      await eventually(() => t.server.platform.bus.logs.subscriberCount > 0, 'the subscription');
      expect((await t.rest('GET', '/api/v2/sec-live')).status).toBe(200);
      const first = await subscription.results.next();
      expect(first.value?.data?.executionLogs.message).toBe(`live ${REDACTED}`);
    } finally {
      subscription.close();
    }
  });

  it(`values shorter than ${MIN_REDACTED_LENGTH} characters are left alone; one inside another hides both whole`, async () => {
    const id = await createService(t, 'sec-lengths', 'javascript', `
const s = platform.secrets;
console.log('short=' + s.SHORT);
console.log('outer=' + s.OUTER);
console.log('inner=' + s.INNER);
console.log('joined=' + s.LEFT + s.RIGHT);`);
    const suffix = randomBytes(4).toString('hex');
    await setSecret(id, 'SHORT', 'q7z');
    await setSecret(id, 'OUTER', `alpha-${suffix}-gamma`);
    await setSecret(id, 'INNER', `${suffix}`);
    // Adjacent values, each holding INNER: nothing of any of them is left.
    await setSecret(id, 'LEFT', `lf${suffix}`);
    await setSecret(id, 'RIGHT', `${suffix}rt`);
    const answer = await t.rest('GET', '/api/v2/sec-lengths');
    const run = await execution(answer.headers.get('x-execution-id'));
    expect(run.json.logs.map((l: any) => l.message)).toEqual([
      'short=q7z',
      `outer=${REDACTED}`,
      `inner=${REDACTED}`,
      `joined=${REDACTED}${REDACTED}`,
    ]);
  });

  it('redactorFor: longest first, overlaps merged, JSON form, none without values', () => {
    expect(redactorFor(Object.freeze({}))).toBeNull();
    expect(redactorFor(Object.freeze({ A: 'abc' }))).toBeNull();
    const values = Object.freeze({ A: 'alpha-beta-gamma', B: 'beta', C: 'xx"yy', D: 'abcd1234', E: '1234wxyz' });
    const redact = redactorFor(values)!;
    expect(redactorFor(values)).toBe(redact);
    expect(redact('nothing here')).toBe('nothing here');
    expect(redact('alpha-beta-gamma and beta')).toBe(`${REDACTED} and ${REDACTED}`);
    expect(redact(JSON.stringify({ c: 'xx"yy' }))).toBe(`{"c":"${REDACTED}"}`);
    expect(redact('<abcd1234wxyz>')).toBe(`<${REDACTED}>`);
    expect(redact('betabeta')).toBe(`${REDACTED}${REDACTED}`);
  });

  it('a system.* event script gets no secrets; an inline run gets none', async () => {
    const name = 'system.script_type.get.post_process';
    const attached = await t.rest('POST', `/api/v2/system/event_script/${name}`, {
      type: 'javascript',
      content: 'console.log("saw " + Object.keys(platform.secrets).length);',
      is_active: true,
    });
    expect([200, 201], attached.text).toContain(attached.status);
    try {
      await t.rest('GET', '/api/v2/system/script_type');
      let line: string | undefined;
      await eventually(async () => {
        const runs = (await t.rest('GET', '/api/v2/system/execution?filter=service=system&limit=20')).json.resource as any[];
        const run = runs.find((r) => r.event_name === name && r.status !== 'running');
        if (!run) return false;
        line = (await execution(run.id)).json.logs[0]?.message;
        return true;
      }, 'the event script run');
      expect(line).toBe('saw 0');
    } finally {
      await t.rest('DELETE', `/api/v2/system/event_script/${name}`);
    }
    const inline = await t.gql('mutation { runScript(script: { type: "javascript", content: "return Object.keys(platform.secrets).length" }) { content } }');
    expect(inline.errors).toBeUndefined();
    expect(JSON.stringify(inline.data)).toContain('0');
  });
});

describe('hostile', () => {
  it('a secret named __proto__ (or any __ name) is refused; constructor is only ever a secret', async () => {
    const id = await createService(t, 'sec-names', 'javascript', `
const s = platform.secrets;
return { own: s.constructor === undefined ? null : s.constructor.length, proto: Object.getPrototypeOf(s) === null, objectIntact: ({}).constructor === Object };`);
    for (const name of ['__proto__', '%5F%5Fproto%5F%5F', '__defineGetter__', 'a.b', 'a-b', '1abc', 'x'.repeat(65)]) {
      const refused = await t.rest('PUT', `/api/v2/system/service/${id}/secret/${name}`, { value: 'sneaky-value' });
      expect(refused.status, `${name}: ${refused.text}`).toBe(400);
    }
    expect((await t.rest('GET', `/api/v2/system/service/${id}/secret`)).json.resource).toEqual([]);
    expect((await t.rest('GET', '/api/v2/sec-names')).json).toEqual({ own: null, proto: true, objectIntact: true });
    const value = newToken();
    await setSecret(id, 'constructor', value);
    expect((await t.rest('GET', '/api/v2/sec-names')).json).toEqual({ own: value.length, proto: true, objectIntact: true });
  });

  it('a script reading another service\'s secrets through platform.api gets names, never values', async () => {
    const victim = await createService(t, 'sec-victim', 'javascript', 'return 1');
    const value = newToken();
    await setSecret(victim, 'VICTIM_KEY', value);
    await createService(t, 'sec-thief', 'javascript', `
const list = await platform.api.get('system/service/${victim}/secret');
const one = await platform.api.get('system/service/${victim}/secret/VICTIM_KEY');
const svc = await platform.api.get('system/service/${victim}');
return { list: list.content, one: one.status_code, mine: Object.keys(platform.secrets), svc: svc.content };`);
    const answer = await t.rest('GET', '/api/v2/sec-thief');
    expectHidden(answer.text, value, 'the thief\'s answer');
    expect(answer.json.mine).toEqual([]);
    expect(answer.json.list).toEqual({ resource: [{ name: 'VICTIM_KEY' }] });
  });

  it('no secret value is in the SQLite database file or its write-ahead log', async () => {
    await t.server.platform.executions.ready();
    expect(allValues.length).toBeGreaterThan(8);
    const file = join(t.dataDir, 'scriptgate.db');
    expect(existsSync(file)).toBe(true);
    for (const path of [file, `${file}-wal`]) {
      if (!existsSync(path)) continue;
      const bytes = readFileSync(path);
      for (const value of allValues) {
        if (value.length < MIN_REDACTED_LENGTH) continue;
        expect(bytes.includes(Buffer.from(value)), `${path} holds a secret`).toBe(false);
        expect(bytes.includes(Buffer.from(jsonForm(value))), `${path} holds a secret (JSON-escaped)`).toBe(false);
      }
    }
  });
});
