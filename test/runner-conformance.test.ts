import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeLanguage } from '../src/scripting/subprocess/languages/node.ts';
import type { LanguageSpec } from '../src/scripting/subprocess/languages/language.ts';
import { phpLanguage } from '../src/scripting/subprocess/languages/php.ts';
import { python3Language } from '../src/scripting/subprocess/languages/python.ts';
import { eventually } from './helpers/eventually.ts';
import { typeRunsHere } from './helpers/interpreters.ts';
import { createService, startTestServer, type RestResponse, type TestServer } from './helpers/server.ts';

/**
 * One runner contract (engines/PROTOCOL.md, docs/SCRIPTING.md): the same
 * table of cases, run over REST against every script type this machine has.
 * A case gives a script per language family (or per type where they differ)
 * and what the caller must get; a language without the feature has no script.
 */
const TYPES = ['javascript', 'nodejs', 'python3', 'python', 'php'] as const;
type ScriptType = (typeof TYPES)[number];
type Family = 'js' | 'py' | 'php';
const FAMILY: Record<ScriptType, Family> = { javascript: 'js', nodejs: 'js', python3: 'py', python: 'py', php: 'php' };

interface Expected {
  status: number;
  /** The JSON body, compared whole. */
  json?: unknown;
  text?: string;
  contentType?: RegExp;
  headers?: Record<string, string>;
  /** An error body: its message matches. */
  error?: RegExp;
  /** The run's log lines (SYSTEM lines left out), in order. */
  logs?: string[];
}

interface Case {
  name: string;
  scripts: Partial<Record<Family | ScriptType, string>>;
  expect: Expected | Partial<Record<Family | ScriptType, Expected>>;
  query?: string;
}

// ---- script templates for platform.api calls ------------------------------------------

/** A JSON value written as a literal of each language. */
function literal(family: Family, value: unknown): string {
  if (value === null || value === undefined) return { js: 'null', py: 'None', php: 'null' }[family];
  if (typeof value === 'boolean') return family === 'py' ? (value ? 'True' : 'False') : String(value);
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return family === 'php' ? `'${value.replace(/[\\']/g, '\\$&')}'` : JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => literal(family, item)).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>);
  if (family === 'php') return `[${entries.map(([k, v]) => `${literal(family, k)} => ${literal(family, v)}`).join(', ')}]`;
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${literal(family, v)}`).join(', ')}}`;
}

/** What the echo service saw of a request. */
function echo(method: string, seen: { parameters?: Record<string, unknown>; payload?: unknown; trace?: string } = {}) {
  return { method, resource: 'res', parameters: seen.parameters ?? {}, payload: seen.payload ?? null, trace: seen.trace ?? null, key: null };
}

/** `platform.api.<verb>('echo/res', ...args)` in every language; the script answers the call's status and content. */
/** PHP reads JSON objects as arrays: an empty one comes back as []. */
function asPhpReadsIt(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asPhpReadsIt);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    return entries.length === 0 ? [] : Object.fromEntries(entries.map(([k, v]) => [k, asPhpReadsIt(v)]));
  }
  return value;
}

function apiCase(name: string, verb: string, args: unknown[], expected: unknown, path = 'echo/res'): Case {
  const call = (family: Family) => [literal(family, path), ...args.map((arg) => literal(family, arg))].join(', ');
  const answer = { status: 200, json: { status: 200, echo: expected } };
  return {
    name: `platform.api ${name}`,
    scripts: {
      js: `const r = await platform.api.${verb}(${call('js')});\nreturn { status: r.status_code, echo: r.content };`,
      py: `r = platform.api.${verb}(${call('py')})\nreturn {'status': r.status_code, 'echo': r.content}`,
      php: `$r = $platform['api']->${verb}(${call('php')});\nreturn ['status' => $r['status_code'], 'echo' => $r['content']];`,
    },
    expect: { js: answer, py: answer, php: { ...answer, json: asPhpReadsIt(answer.json) } },
  };
}

const OPTIONS = { parameters: { a: '1' }, headers: { 'x-trace': 't1' } };
const PAYLOAD = { title: 'milk', n: 2 };

const cases: Case[] = [
  // ---- answering ----
  {
    name: 'a returned value is the body',
    scripts: { js: "return { a: 1, list: [1, 'two', null], flag: true };", py: "return {'a': 1, 'list': [1, 'two', None], 'flag': True}", php: "return ['a' => 1, 'list' => [1, 'two', null], 'flag' => true];" },
    expect: { status: 200, json: { a: 1, list: [1, 'two', null], flag: true }, contentType: /application\/json/ },
  },
  {
    name: 'a returned string is text',
    scripts: { js: "return 'plain';", py: "return 'plain'", php: "return 'plain';" },
    expect: { status: 200, text: 'plain', contentType: /text\/plain/ },
  },
  {
    name: 'a returned descriptor sets status, content, type and headers',
    scripts: {
      js: "return { status_code: 202, content: { ok: true }, headers: { 'x-a': 'b' } };",
      py: "return {'status_code': 202, 'content': {'ok': True}, 'headers': {'x-a': 'b'}}",
      php: "return ['status_code' => 202, 'content' => ['ok' => true], 'headers' => ['x-a' => 'b']];",
    },
    expect: { status: 202, json: { ok: true }, headers: { 'x-a': 'b' } },
  },
  {
    name: 'setResponse with a status',
    scripts: { js: "event.setResponse({ made: true }, 201);" },
    expect: { status: 201, json: { made: true }, contentType: /application\/json/ },
  },
  {
    name: 'setResponse without a status is 200 JSON',
    scripts: { js: "event.setResponse({ made: true });" },
    expect: { status: 200, json: { made: true }, contentType: /application\/json/ },
  },
  {
    name: 'setResponse with a null status and type takes the defaults (DreamFactory)',
    scripts: { js: "event.setResponse('text', null, null);" },
    expect: { status: 200, text: 'text', contentType: /application\/json/ },
  },
  {
    name: 'event.response assigned whole',
    scripts: {
      js: "event.response = { status_code: 201, content: { id: 7 }, headers: { location: '/x/7' } };",
      py: "event.response = {'status_code': 201, 'content': {'id': 7}, 'headers': {'location': '/x/7'}}",
      php: "$event['response'] = ['status_code' => 201, 'content' => ['id' => 7], 'headers' => ['location' => '/x/7']];",
    },
    expect: { status: 201, json: { id: 7 }, headers: { location: '/x/7' } },
  },
  {
    name: 'event.response changed field by field',
    scripts: {
      js: "event.response.status_code = 203;\nevent.response.content = { id: 8 };\nevent.response.headers['x-b'] = 'c';",
      py: "event.response.status_code = 203\nevent['response']['content'] = {'id': 8}\nevent.response.headers['x-b'] = 'c'",
      php: "$event['response']['status_code'] = 203;\n$event['response']['content'] = ['id' => 8];\n$event['response']['headers']['x-b'] = 'c';",
    },
    expect: { status: 203, json: { id: 8 }, headers: { 'x-b': 'c' } },
  },
  {
    name: 'a returned value wins over event.response',
    scripts: {
      js: "event.response.status_code = 418;\nreturn { won: 'returned' };",
      py: "event.response.status_code = 418\nreturn {'won': 'returned'}",
      php: "$event['response']['status_code'] = 418;\nreturn ['won' => 'returned'];",
    },
    expect: { status: 200, json: { won: 'returned' } },
  },

  // ---- failures ----
  {
    name: 'a thrown error is a 500 with its message and line',
    scripts: { js: "const x = 1;\nthrow new Error('boom');", py: "x = 1\nraise ValueError('boom')", php: "$x = 1;\nthrow new Exception('boom');" },
    expect: { status: 500, error: /boom.*\(line 2\)/ },
  },
  {
    name: 'a returned {error} is a 500 carrying it',
    scripts: { js: "return { error: 'refused' };", py: "return {'error': 'refused'}", php: "return ['error' => 'refused'];" },
    expect: { status: 500, error: /^refused$/ },
  },
  {
    name: 'a circular result is a 500 naming JSON',
    scripts: {
      js: 'const a = { n: 1 };\na.self = a;\nreturn a;',
      py: "a = {'n': 1}\na['self'] = a\nreturn a",
      php: '$a = new stdClass();\n$a->self = $a;\nreturn $a;',
    },
    expect: { status: 500, error: /JSON|circular/i },
  },
  {
    name: 'a value JSON has no form for is a 500',
    scripts: { js: 'return { big: 10n };', py: "return {'set': {1, 2}}", php: "return ['stream' => fopen('php://memory', 'r')];" },
    expect: { status: 500, error: /JSON|BigInt/i },
  },

  // ---- values ----
  {
    name: 'NaN and infinities are null, as JSON.stringify writes them',
    scripts: {
      js: 'return { nan: NaN, inf: Infinity, neg: -Infinity, ok: 1.5, list: [NaN] };',
      py: "return {'nan': float('nan'), 'inf': float('inf'), 'neg': float('-inf'), 'ok': 1.5, 'list': [float('nan')]}",
      php: "return ['nan' => NAN, 'inf' => INF, 'neg' => -INF, 'ok' => 1.5, 'list' => [NAN]];",
    },
    expect: { status: 200, json: { nan: null, inf: null, neg: null, ok: 1.5, list: [null] } },
  },
  {
    name: 'NaN in event.response is null too',
    scripts: {
      js: 'event.response.content = { nan: NaN };',
      py: "event.response.content = {'nan': float('nan')}",
      php: "$event['response']['content'] = ['nan' => NAN];",
    },
    expect: { status: 200, json: { nan: null } },
  },
  {
    name: 'unicode survives both ways',
    scripts: {
      js: "console.log('log: héllo 日本 🎉');\nreturn { text: 'héllo – 日本 🎉', got: event.request.parameters.u };",
      py: "print('log: héllo 日本 🎉')\nreturn {'text': 'héllo – 日本 🎉', 'got': event.request.parameters.u}",
      php: "echo \"log: héllo 日本 🎉\\n\";\nreturn ['text' => 'héllo – 日本 🎉', 'got' => $event['request']['parameters']['u']];",
    },
    query: `u=${encodeURIComponent('ü🎉')}`,
    expect: { status: 200, json: { text: 'héllo – 日本 🎉', got: 'ü🎉' }, logs: ['log: héllo 日本 🎉'] },
  },
  {
    name: 'broken text (a lone surrogate, invalid UTF-8) becomes U+FFFD, not a broken response',
    scripts: { js: "return { s: 'a\\uD800b' };", py: "return {'s': 'a\\ud800b'}", php: 'return [\'s\' => "a\\xffb"];' },
    // JSON escapes a lone surrogate (\ud800): still valid JSON text; PHP's invalid bytes are replaced.
    expect: { js: { status: 200, json: { s: 'a\uD800b' } }, py: { status: 200, json: { s: 'a\uD800b' } }, php: { status: 200, json: { s: 'a\uFFFDb' } } },
  },
  {
    name: 'log lines keep their order',
    scripts: {
      js: "console.log('one');\nconsole.log('two');\nconsole.log('three');\nreturn 1;",
      py: "print('one')\nprint('two')\nprint('three')\nreturn 1",
      php: "echo \"one\\n\";\necho \"two\\n\";\necho \"three\\n\";\nreturn 1;",
    },
    expect: { status: 200, json: 1, logs: ['one', 'two', 'three'] },
  },

  // ---- exit ----
  {
    name: 'exit(0) ends the script; the answer is event.response',
    scripts: {
      nodejs: "event.setResponse({ set: true }, 202);\nprocess.exit(0);\nreturn { not: 'this' };",
      py: "import sys\nevent.response.status_code = 202\nevent.response.content = {'set': True}\nsys.exit(0)\nreturn {'not': 'this'}",
      php: "$event['response']['status_code'] = 202;\n$event['response']['content'] = ['set' => true];\nexit(0);\nreturn ['not' => 'this'];",
    },
    expect: { status: 202, json: { set: true } },
  },
  {
    name: 'exit with a status is a 500 naming it',
    scripts: { nodejs: 'process.exit(3);', py: 'import sys\nsys.exit(3)', php: 'exit(3);' },
    expect: { status: 500, error: /exited with status 3/ },
  },
  {
    name: 'an exit caught by the script still ends it as exited',
    scripts: {
      nodejs: "try { process.exit(4); } catch (e) {}\nreturn { not: 'this' };",
      py: "import sys\ntry:\n    sys.exit(4)\nexcept BaseException:\n    pass\nreturn {'not': 'this'}",
    },
    expect: { nodejs: { status: 500, error: /exited with status 4/ }, py: { status: 200, json: { not: 'this' } } },
  },

  // ---- platform.api: every argument form, decided by the host ----
  apiCase('get(path)', 'get', [], echo('GET')),
  apiCase('get(path, null, options)', 'get', [null, OPTIONS], echo('GET', { parameters: { a: '1' }, trace: 't1' })),
  apiCase("get(path, options): DreamFactory's form", 'get', [OPTIONS], echo('GET', { parameters: { a: '1' }, trace: 't1' })),
  apiCase('get with /api/v2/ and a query in the path', 'get', [null, { parameters: { a: '1' } }], echo('GET', { parameters: { q: 'x', a: '1' } }), '/api/v2/echo/res?q=x'),
  apiCase('post(path, payload)', 'post', [PAYLOAD], echo('POST', { payload: PAYLOAD })),
  ...(['post', 'put', 'patch'] as const).map((verb) =>
    apiCase(`${verb}(path, payload, options)`, verb, [PAYLOAD, OPTIONS], echo(verb.toUpperCase(), { payload: PAYLOAD, parameters: { a: '1' }, trace: 't1' })),
  ),
  apiCase('post(path, object shaped like options) is a payload', 'post', [{ parameters: { a: '1' } }], echo('POST', { payload: { parameters: { a: '1' } } })),
  apiCase('post(path, JSON text) sends it parsed', 'post', ['{"title":"milk"}'], echo('POST', { payload: { title: 'milk' } })),
  apiCase('delete(path)', 'delete', [], echo('DELETE')),
  apiCase('delete(path, payload)', 'delete', [{ resource: [{ id: 1 }] }], echo('DELETE', { payload: { resource: [{ id: 1 }] } })),
  apiCase('delete(path, options)', 'delete', [{ parameters: { force: 'true' } }], echo('DELETE', { parameters: { force: 'true' } })),
  apiCase('delete(path, payload, options)', 'delete', [{ ids: [1] }, OPTIONS], echo('DELETE', { payload: { ids: [1] }, parameters: { a: '1' }, trace: 't1' })),
  // Hostile: extra arguments, options of the wrong shape and a credential header change nothing.
  apiCase('extra arguments are ignored', 'get', [null, OPTIONS, 'extra', 42], echo('GET', { parameters: { a: '1' }, trace: 't1' })),
  apiCase('options of the wrong shape are ignored', 'get', [null, { parameters: 'a=1', headers: ['x'] }], echo('GET')),
  apiCase('a credential header is not passed on', 'get', [null, { headers: { 'x-dreamfactory-api-key': 'stolen', authorization: 'Bearer stolen' } }], echo('GET')),
  {
    name: 'platform.api: a header value that is not text is a 400 result naming it',
    scripts: {
      js: "const r = await platform.api.get('echo/res', null, { headers: { 'x-trace': { nested: 1 } } });\nreturn { status: r.status_code, message: r.content.error.message };",
      py: "r = platform.api.get('echo/res', None, {'headers': {'x-trace': {'nested': 1}}})\nreturn {'status': r.status_code, 'message': r.content['error']['message']}",
      php: "$r = $platform['api']->get('echo/res', null, ['headers' => ['x-trace' => ['nested' => 1]]]);\nreturn ['status' => $r['status_code'], 'message' => $r['content']['error']['message']];",
    },
    expect: { status: 200, json: { status: 400, message: expect.stringMatching(/options\.headers\.x-trace/) } },
  },
  {
    name: 'platform.api: NaN in a payload is sent as null',
    scripts: {
      js: "const r = await platform.api.post('echo/res', { n: NaN });\nreturn r.content.payload;",
      py: "r = platform.api.post('echo/res', {'n': float('nan')})\nreturn r.content['payload']",
      php: "$r = $platform['api']->post('echo/res', ['n' => NAN]);\nreturn $r['content']['payload'];",
    },
    expect: { status: 200, json: { n: null } },
  },
  {
    name: 'platform.api: an argument JSON cannot carry fails in the script, before the call',
    scripts: {
      js: "await platform.api.post('count/res', { big: 1n });",
      py: "platform.api.post('count/res', {'s': {1}})",
      php: "$platform['api']->post('count/res', ['f' => fopen('php://memory', 'r')]);",
    },
    expect: { status: 500, error: /BigInt|serializ|JSON|resource|type/i },
  },
  {
    name: "platform.api: Python's named payload= and options=",
    scripts: { py: "r = platform.api.post('echo/res', payload={'title': 'milk'}, options={'parameters': {'a': '1'}})\nreturn {'status': r.status_code, 'echo': r.content}" },
    expect: { status: 200, json: { status: 200, echo: echo('POST', { payload: { title: 'milk' }, parameters: { a: '1' } }) } },
  },

  // ---- DreamFactory's callback style (javascript, nodejs) and raw body (python) ----
  {
    name: "callback: get(path, options, callback) gets the body as text and the response",
    scripts: {
      js: `platform.api.get('echo/res', { parameters: { a: '1' } }, function (body, response) {
  event.setResponse({ type: typeof body, parsed: JSON.parse(body).parameters, status: response.status_code, statusCode: response.statusCode, content: response.content.method });
});`,
    },
    expect: { status: 200, json: { type: 'string', parsed: { a: '1' }, status: 200, statusCode: 200, content: 'GET' } },
  },
  {
    name: 'callback: post(path, payload, options, callback) and delete(path, callback)',
    scripts: {
      js: `platform.api.post('echo/res', { title: 'milk' }, { headers: { 'x-trace': 't2' } }, function (body) {
  const posted = JSON.parse(body);
  platform.api.delete('echo/res', function (text) {
    event.setResponse({ payload: posted.payload, trace: posted.trace, deleted: JSON.parse(text).method });
  });
});`,
    },
    expect: { status: 200, json: { payload: { title: 'milk' }, trace: 't2', deleted: 'DELETE' } },
  },
  {
    name: 'the raw body is what the REST door sends: a JSON-typed string is not quoted again, an object is JSON text, nothing is empty',
    scripts: {
      js: `const bodies = {};
await new Promise((done) => platform.api.get('text/res', null, (body) => { bodies.text = body; done(); }));
await new Promise((done) => platform.api.get('echo/res', null, (body) => { bodies.object = typeof body === 'string' && JSON.parse(body).method; done(); }));
await new Promise((done) => platform.api.get('empty/res', null, (body) => { bodies.empty = body; done(); }));
return bodies;`,
      py: `return {'text': platform.api.get('text/res').read().decode(), 'object': json.loads(platform.api.get('echo/res').read())['method'], 'empty': platform.api.get('empty/res').read().decode()}`,
    },
    expect: { status: 200, json: { text: 'hello "json"', object: 'GET', empty: '' } },
  },
];

// ---- running the table ----------------------------------------------------------------

let t: TestServer;
const available = new Set<ScriptType>();

beforeAll(async () => {
  t = await startTestServer();
  const types = (await t.rest('GET', '/api/v2/system/script_type')).json.resource as Array<{ name: string; available: boolean }>;
  for (const type of types) {
    if ((TYPES as readonly string[]).includes(type.name) && typeRunsHere(type.name, type.available)) available.add(type.name as ScriptType);
  }
  // The services the platform.api cases call (javascript: always there).
  await createService(
    t,
    'echo',
    'javascript',
    `const r = event.request;
return { method: r.method, resource: event.resource, parameters: r.parameters, payload: r.payload, trace: r.headers['x-trace'] ?? null,
  key: r.headers['x-dreamfactory-api-key'] ?? r.headers.authorization ?? null };`,
  );
  await createService(t, 'text', 'javascript', `event.setResponse('hello "json"');`);
  await createService(t, 'empty', 'javascript', 'event.response.status_code = 204;');
  await createService(t, 'count', 'javascript', 'return { reached: true };');
}, 60_000);
afterAll(async () => {
  await t?.stop();
});

function scriptFor(c: Case, type: ScriptType): string | undefined {
  return c.scripts[type] ?? c.scripts[FAMILY[type]];
}
function expectedFor(c: Case, type: ScriptType): Expected {
  const byType = c.expect as Partial<Record<Family | ScriptType, Expected>>;
  return 'status' in c.expect ? (c.expect as Expected) : (byType[type] ?? byType[FAMILY[type]])!;
}

let serial = 0;
async function run(type: ScriptType, script: string, query = ''): Promise<RestResponse> {
  const name = `c${++serial}-${type}`;
  await createService(t, name, type, FAMILY[type] === 'php' ? `<?php ${script}` : script, { timeout_ms: 20_000 });
  return t.rest('GET', `/api/v2/${name}${query ? `?${query}` : ''}`);
}

async function logsOf(response: RestResponse): Promise<string[]> {
  const execution = await t.rest('GET', `/api/v2/system/execution/${response.headers.get('x-execution-id')}`);
  return execution.json.logs.filter((line: { stream: string }) => line.stream !== 'SYSTEM').map((line: { message: string }) => line.message);
}

for (const type of TYPES) {
  describe(type, () => {
    for (const c of cases) {
      const script = scriptFor(c, type);
      if (script === undefined) continue;
      it(c.name, async ({ skip }) => {
        if (!available.has(type)) skip();
        const wanted = expectedFor(c, type);
        const response = await run(type, script, c.query);
        expect(response.status, response.text).toBe(wanted.status);
        if (wanted.json !== undefined) expect(response.json).toEqual(wanted.json);
        if (wanted.text !== undefined) expect(response.text).toBe(wanted.text);
        if (wanted.contentType) expect(response.headers.get('content-type')).toMatch(wanted.contentType);
        for (const [name, value] of Object.entries(wanted.headers ?? {})) expect(response.headers.get(name)).toBe(value);
        if (wanted.error) {
          expect(response.json?.error?.status_code, response.text).toBe(wanted.status);
          expect(response.json.error.message).toMatch(wanted.error);
        }
        if (wanted.logs) expect(await logsOf(response)).toEqual(wanted.logs);
      });
    }

    if (type !== 'javascript') {
      it('exit() does not end the worker: the next call runs in the same process', async ({ skip }) => {
        if (!available.has(type)) skip();
        // The private /tmp lasts as long as its worker: the id written there tells one worker from its replacement.
        const scripts: Record<Family, string> = {
          js: `const fs = require('fs');
if (event.request.parameters.exit) { event.setResponse({ exited: true }); process.exit(0); }
if (!fs.existsSync('/tmp/worker-id')) fs.writeFileSync('/tmp/worker-id', String(Math.random()));
return fs.readFileSync('/tmp/worker-id', 'utf8');`,
          py: `import os, random, sys
if event.request.parameters.get('exit'):
    event.response.content = {'exited': True}
    sys.exit(0)
if not os.path.exists('/tmp/worker-id'):
    open('/tmp/worker-id', 'w').write(str(random.random()))
return open('/tmp/worker-id').read()`,
          php: `if (!empty($event['request']['parameters']['exit'])) { $event['response']['content'] = ['exited' => true]; exit(0); }
if (!file_exists('/tmp/worker-id')) file_put_contents('/tmp/worker-id', (string) mt_rand());
return file_get_contents('/tmp/worker-id');`,
        };
        const name = `exit-worker-${type}`;
        const script = scripts[FAMILY[type]];
        await createService(t, name, type, FAMILY[type] === 'php' ? `<?php ${script}` : script);
        const before = await t.rest('GET', `/api/v2/${name}`);
        expect(before.status, before.text).toBe(200);
        for (let i = 0; i < 3; i++) {
          const exited = await t.rest('GET', `/api/v2/${name}?exit=1`);
          expect(exited.json, exited.text).toEqual({ exited: true });
        }
        const after = await t.rest('GET', `/api/v2/${name}`);
        expect(after.text).toBe(before.text);
      });
    }
  });
}

/**
 * Unsandboxed (SCRIPT_SANDBOX=off) nothing but the runner itself ends it when
 * the server dies: each runner, busy in an endless loop, must go when its
 * parent is killed, while its protocol pipe is still open.
 */
describe('die with parent', () => {
  const endless: Array<[LanguageSpec, string]> = [
    [nodeLanguage, 'while (true) {}'],
    [python3Language, 'while True:\n    pass'],
    [phpLanguage, 'while (true) {}'],
  ];
  for (const [language, script] of endless) {
    it(`a ${language.type} runner busy in a script dies with its parent`, async () => {
      let executable: string;
      try {
        executable = (await language.detect(undefined, process.env as Record<string, string>)).executable;
      } catch (error) {
        typeRunsHere(language.type, false, (error as Error).message);
        return;
      }
      const runner = path.resolve('engines', language.runnerFile);
      // bash stands for the server: the runner inherits the test's pipes on fds 3 and 4, so they stay open when bash dies.
      const parent = spawn('bash', ['-c', '"$@" & echo $!; wait', 'bash', executable, ...language.runnerArgs(runner, 'tok', 64)], {
        stdio: ['ignore', 'pipe', 'ignore', 'pipe', 'pipe'],
      });
      // The runner's end of the pipes goes away with it: a reset there is the point of the test, not an error.
      for (const stream of parent.stdio) stream?.on('error', () => undefined);
      let stdout = '';
      let frames = '';
      parent.stdout!.on('data', (chunk) => (stdout += chunk));
      (parent.stdio[4] as NodeJS.ReadableStream).on('data', (chunk) => (frames += chunk));
      let runnerPid = 0;
      try {
        await eventually(() => /^\d+\n/.test(stdout) && frames.includes('"t":"ready"'), `the ${language.type} runner to start`);
        runnerPid = Number(stdout.split('\n')[0]);
        const job = { t: 'job', id: 1, script, event: { request: {}, response: {} }, platform: { config: {}, session: {}, secrets: {} }, limits: { timeoutMs: 60_000, memoryLimitMb: 64, maxResponseBytes: 1_000_000 } };
        (parent.stdio[3] as NodeJS.WritableStream).write(`${JSON.stringify(job)}\n`);
        expect(alive(runnerPid)).toBe(true);
        parent.kill('SIGKILL');
        await eventually(() => !alive(runnerPid), `the ${language.type} runner to die with its parent`, 10_000);
      } finally {
        if (runnerPid && alive(runnerPid)) process.kill(runnerPid, 'SIGKILL');
        parent.kill('SIGKILL');
        for (const stream of parent.stdio) stream?.destroy();
      }
    });
  }
});

/** Running (a zombie waiting for its reaper has died). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
