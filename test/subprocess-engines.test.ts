import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptFailure } from '../src/scripting/failure.ts';
import { createSubprocessEngines, type SubprocessEngine, type SubprocessType } from '../src/scripting/subprocess/index.ts';
import { SANDBOX_MAX_PROCESSES } from '../src/scripting/subprocess/sandbox.ts';
import { MAX_API_CALLS_IN_FLIGHT, type ApiCall, type ApiResult, type LogStream, type ScriptEvent, type ScriptOutcome } from '../src/scripting/types.ts';
import { typeRunsHere } from './helpers/interpreters.ts';
import { eventually } from './helpers/eventually.ts';

// Real interpreters, no mocks. A language whose interpreter is missing is skipped with a reason (a failure under CI).

function onPath(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}
const INSTALLED: Record<SubprocessType, boolean> = {
  nodejs: true,
  python: onPath('python') || onPath('python3'),
  python3: onPath('python3'),
  php: onPath('php'),
};
for (const [type, present] of Object.entries(INSTALLED)) typeRunsHere(type, present, 'its interpreter is not installed');

const ALL_TYPES: SubprocessType[] = ['nodejs', 'python', 'python3', 'php'];

async function startEngine(
  type: SubprocessType,
  options: { poolSize?: number; maxPoolSize?: number; queueLimit?: number; sandbox?: 'bwrap' | 'off'; interpreterPath?: string } = {},
): Promise<SubprocessEngine> {
  const engines = createSubprocessEngines({
    interpreterPaths: options.interpreterPath ? { [type]: options.interpreterPath } : {},
    disabled: new Set(ALL_TYPES.filter((t) => t !== type)),
    poolSize: options.poolSize ?? 1,
    maxPoolSize: options.maxPoolSize ?? 3,
    queueLimit: options.queueLimit ?? 8,
    defaultMemoryLimitMb: 64,
    sandbox: options.sandbox ?? 'bwrap',
  });
  const engine = engines.find((e) => e.info.name === type)!;
  await engine.start();
  if (!engine.info.available) throw new Error(`${type} did not start: ${engine.info.unavailableReason}`);
  return engine;
}

function makeEvent(parameters: Record<string, unknown> = {}): ScriptEvent {
  return {
    request: {
      method: 'GET',
      uri: '/api/v2/math/add',
      service: 'math',
      resource: 'add',
      parameters,
      headers: { 'content-type': 'application/json' },
      payload: null,
      content: '',
      content_type: null,
      api_version: '2.0',
    },
    resource: 'add',
    response: { status_code: 200, content: null, content_type: null, headers: {} },
  };
}

interface RunOptions {
  key?: string;
  parameters?: Record<string, unknown>;
  timeoutMs?: number;
  memoryLimitMb?: number;
  maxLogBytes?: number;
  config?: Record<string, unknown>;
  session?: Record<string, unknown>;
  onLog?: (stream: LogStream, message: string) => void;
}

interface Run {
  outcome?: ScriptOutcome;
  failure?: ScriptFailure;
  logs: Array<[LogStream, string]>;
  calls: ApiCall[];
  ms: number;
}

/** A simple in-test dispatcher for platform.api: echoes the call back. */
function echoApi(calls: ApiCall[]) {
  return async (call: ApiCall): Promise<ApiResult> => {
    calls.push(call);
    return { status_code: 200, content: { echo: call }, content_type: 'application/json', headers: { 'x-test': '1' } };
  };
}

async function run(engine: SubprocessEngine, script: string, options: RunOptions = {}): Promise<Run> {
  const logs: Array<[LogStream, string]> = [];
  const calls: ApiCall[] = [];
  const started = performance.now();
  const result: Run = { logs, calls, ms: 0 };
  try {
    result.outcome = await engine.run({
      executionId: `test-${Math.random()}`,
      scriptKey: options.key ?? 'svc',
      script,
      event: makeEvent(options.parameters),
      platform: { config: options.config ?? {}, session: options.session ?? {} },
      limits: { timeoutMs: options.timeoutMs ?? 5000, memoryLimitMb: options.memoryLimitMb ?? 64, maxLogBytes: options.maxLogBytes ?? 100_000, maxResponseBytes: 10 * 1024 * 1024, network: true },
      api: echoApi(calls),
      log: (stream, message) => {
        logs.push([stream, message]);
        options.onLog?.(stream, message);
      },
    });
  } catch (error) {
    if (!(error instanceof ScriptFailure)) throw error;
    result.failure = error;
  }
  result.ms = performance.now() - started;
  return result;
}

function text(logs: Array<[LogStream, string]>): string {
  return logs.map(([, message]) => message).join('\n');
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Live processes running as a host uid (each sandboxed worker has its own). */
function processesOfUid(uid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === uid && !/^State:\s+[ZX]/m.test(status)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The worker serving a script key, as the host sees it. */
function workerOf(engine: SubprocessEngine, key: string) {
  return engine.workers().find((worker) => worker.scriptKey === key && (worker.state === 'busy' || worker.state === 'idle'));
}

/** Live processes in a process group (workers lead their own group). */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return members;
}


/** Each language's version of the scripts the shared robustness tests run. */
interface LanguageScripts {
  ok: string; // returns {ok: true}
  echoParam: string; // logs "param <x>", sleeps ~50 ms, returns {x}
  sleepForever: string;
  busyLoop: string;
  pidThenSleep: string; // logs "pid <pid>" then sleeps
  memoryBomb: string;
  processBomb: string; // logs "pid <pid>", starts processes that never end (as many as it may), then waits
  leaveChildBehind: string; // starts a process, returns {pid} at once
  exit0: string; // logs "before", exits 0, would log "after"
  exit4: string;
  hugeOutput: string; // ~2 MB of lines
  binaryOutput: string; // every byte value, then returns {ok: true}
  nonUtf8: string; // writes "caf\xe9 ok\n"
  setGlobal: string;
  readGlobal: string; // returns {seen: boolean}
  setModuleState: string;
  readModuleState: string; // returns {seen: boolean}
  syntaxErrorLine2: string;
  throwLine3: string;
  unserialisable: string;
}

const SCRIPTS: Record<'nodejs' | 'python' | 'php', LanguageScripts> = {
  nodejs: {
    ok: 'return { ok: true };',
    echoParam: "console.log('param ' + event.request.parameters.x); await new Promise((r) => setTimeout(r, 50)); return { x: event.request.parameters.x };",
    sleepForever: 'await new Promise(() => setInterval(() => {}, 1000));',
    busyLoop: 'while (true) {}',
    pidThenSleep: "console.log('pid ' + process.pid); await new Promise((r) => setTimeout(r, 20000));",
    memoryBomb: 'const keep = []; while (true) keep.push(new Array(100000).fill(Math.random()));',
    processBomb:
      "console.log('pid ' + process.pid); const { spawn } = require('child_process'); for (let i = 0; i < 100; i++) spawn('sleep', ['30'], { stdio: 'ignore' }).on('error', () => {}); await new Promise((r) => setTimeout(r, 30000));",
    leaveChildBehind: "const { spawn } = require('child_process'); const child = spawn('sleep', ['30'], { stdio: 'ignore' }); return { pid: child.pid };",
    exit0: "console.log('before'); process.exit(0); console.log('after');",
    exit4: "console.log('before'); process.exit(4);",
    hugeOutput: "for (let i = 0; i < 100000; i++) console.log('line ' + i + ' of output'); return { ok: true };",
    binaryOutput: 'process.stdout.write(Buffer.from(Array.from({ length: 256 * 64 }, (_, i) => i % 256))); return { ok: true };',
    nonUtf8: 'process.stdout.write(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0x6f, 0x6b, 0x0a])); return { ok: true };',
    setGlobal: 'globalThis.leak = 1; leakedVar = 2; return { ok: true };',
    readGlobal: "return { seen: typeof leak !== 'undefined' || typeof leakedVar !== 'undefined' };",
    setModuleState: "require('os').scriptgateLeak = 1; return { ok: true };",
    readModuleState: "return { seen: require('os').scriptgateLeak !== undefined };",
    syntaxErrorLine2: 'const a = 1;\nconst b = ;',
    throwLine3: "const a = 1;\n\nthrow new Error('boom');",
    unserialisable: 'return { big: 10n };',
  },
  python: {
    ok: "return {'ok': True}",
    echoParam: "import time\nprint('param ' + event.request.parameters.x)\ntime.sleep(0.05)\nreturn {'x': event.request.parameters.x}",
    sleepForever: 'import time\nwhile True:\n    time.sleep(1)',
    busyLoop: 'while True:\n    pass',
    pidThenSleep: "import os, time\nprint('pid', os.getpid(), flush=True)\ntime.sleep(20)",
    memoryBomb: "keep = []\nwhile True:\n    keep.append(' ' * (1 << 20))",
    processBomb: "import os, time\nprint('pid', os.getpid(), flush=True)\nfor _ in range(8):\n    try:\n        os.fork()\n    except OSError:\n        pass\ntime.sleep(30)",
    leaveChildBehind: "import subprocess\nchild = subprocess.Popen(['sleep', '30'])\nreturn {'pid': child.pid}",
    exit0: "import sys\nprint('before')\nsys.exit(0)\nprint('after')",
    exit4: "import sys\nprint('before')\nsys.exit(4)",
    hugeOutput: "for i in range(100000):\n    print('line %d of output' % i)\nreturn {'ok': True}",
    binaryOutput: "import sys\nsys.stdout.buffer.write(bytes(range(256)) * 64)\nsys.stdout.buffer.flush()\nreturn {'ok': True}",
    nonUtf8: "import sys\nsys.stdout.buffer.write(b'caf\\xe9 ok\\n')\nsys.stdout.buffer.flush()\nreturn {'ok': True}",
    setGlobal: "global leak\nleak = 1\nreturn {'ok': True}",
    readGlobal: "return {'seen': 'leak' in globals()}",
    setModuleState: "import json as j\nj.scriptgate_leak = 1\nreturn {'ok': True}",
    readModuleState: "import json as j\nreturn {'seen': hasattr(j, 'scriptgate_leak')}",
    syntaxErrorLine2: 'a = 1\nb = = 2',
    throwLine3: "a = 1\n\nraise ValueError('boom')",
    unserialisable: "return {'s': {1, 2}}",
  },
  php: {
    ok: "return ['ok' => true];",
    echoParam: "echo 'param ', $event['request']['parameters']['x'], \"\\n\"; usleep(50000); return ['x' => $event['request']['parameters']['x']];",
    sleepForever: 'while (true) { sleep(1); }',
    busyLoop: 'while (true) {}',
    pidThenSleep: "echo 'pid ', getmypid(), \"\\n\"; sleep(20);",
    memoryBomb: "$keep = []; while (true) { $keep[] = str_repeat('x', 1 << 20); }",
    processBomb: "echo 'pid ', getmypid(), \"\\n\"; for ($i = 0; $i < 8; $i++) { pcntl_fork(); } sleep(30);",
    leaveChildBehind: "$pid = pcntl_fork(); if ($pid === 0) { pcntl_exec('/bin/sleep', ['30']); } return ['pid' => $pid];",
    exit0: "echo \"before\\n\"; exit(0); echo \"after\\n\";",
    exit4: "echo \"before\\n\"; exit(4);",
    hugeOutput: "for ($i = 0; $i < 100000; $i++) { echo \"line $i of output\\n\"; } return ['ok' => true];",
    binaryOutput: "echo str_repeat(implode('', array_map('chr', range(0, 255))), 64); return ['ok' => true];",
    nonUtf8: "echo \"caf\\xe9 ok\\n\"; return ['ok' => true];",
    setGlobal: "$GLOBALS['leak'] = 1; return ['ok' => true];",
    readGlobal: "return ['seen' => isset($GLOBALS['leak'])];",
    setModuleState: "define('SCRIPTGATE_LEAK', 1); return ['ok' => true];",
    readModuleState: "return ['seen' => defined('SCRIPTGATE_LEAK')];",
    syntaxErrorLine2: '$a = 1;\n$b = ;',
    throwLine3: "$a = 1;\n\nthrow new RuntimeException('boom');",
    unserialisable: "return ['f' => fopen('php://memory', 'r')];",
  },
};

const scriptsFor = (type: SubprocessType): LanguageScripts => SCRIPTS[type === 'python3' ? 'python' : type];

// ---- DreamFactory conventions, per language --------------------------------------------

describe.skipIf(!INSTALLED.nodejs)('nodejs: DreamFactory conventions', () => {
  let engine: SubprocessEngine;
  beforeAll(async () => {
    engine = await startEngine('nodejs');
  });
  afterAll(() => engine?.stop(2000));

  it('reports its type info', () => {
    expect(engine.info).toMatchObject({
      name: 'nodejs',
      label: 'Node.js',
      description: 'Server-side JavaScript handler using the Node.js engine.',
      sandboxed: true,
      supportsInlineExecution: true,
      engine: 'subprocess',
      available: true,
      unavailableReason: null,
    });
    expect(engine.info.version).toMatch(/^v\d+\./);
  });

  it('event.setResponse(content, statusCode, contentType) sets the response; returning nothing leaves returned undefined', async () => {
    const r = await run(engine, 'event.setResponse({ sum: Number(event.request.parameters.a) + 1 }, 201);', { parameters: { a: '41' } });
    expect(r.failure).toBeUndefined();
    expect(r.outcome!.returned).toBeUndefined();
    expect(r.outcome!.event.response).toEqual({ status_code: 201, content: { sum: 42 }, content_type: 'application/json', headers: {} });
  });

  it("return gives the value; await works in the body; require loads Node's modules but never the server's", async () => {
    const script = [
      "const { join } = require('path');",
      'await new Promise((r) => setTimeout(r, 5));',
      "let server = 'none';",
      "try { require('graphql'); server = 'loaded'; } catch (error) { server = error.code; }",
      "return { name: event.request.parameters.name, joined: join('a', 'b'), server };",
    ].join('\n');
    const r = await run(engine, script, { parameters: { name: 'ada' } });
    expect(r.outcome!.returned).toEqual({ name: 'ada', joined: 'a/b', server: 'MODULE_NOT_FOUND' });
  });

  it('platform.config and platform.session are there', async () => {
    const r = await run(engine, 'return { greeting: platform.config.greeting, user: platform.session.user.name };', {
      config: { greeting: 'hi' },
      session: { user: { name: 'ada' } },
    });
    expect(r.outcome!.returned).toEqual({ greeting: 'hi', user: 'ada' });
  });

  it('platform.api: DreamFactory callbacks, get(path, options, callback) and post(path, payload, options, callback)', async () => {
    const script = `
      platform.api.get('math/add', { parameters: { a: 1 } }, function (body, response) {
        const first = JSON.parse(body);
        platform.api.post('db/_table/todo', { resource: [{ name: 'x' }] }, null, function (body2, response2) {
          event.setResponse({ first, second: JSON.parse(body2), status: response.statusCode, header: response2.headers['x-test'] });
        });
      });`;
    const r = await run(engine, script);
    expect(r.failure).toBeUndefined();
    expect(r.calls).toEqual([
      { method: 'GET', path: 'math/add', options: { parameters: { a: 1 } } },
      { method: 'POST', path: 'db/_table/todo', payload: { resource: [{ name: 'x' }] } },
    ]);
    expect(r.outcome!.event.response.content).toEqual({
      first: { echo: r.calls[0] },
      second: { echo: r.calls[1] },
      status: 200,
      header: '1',
    });
  });

  it('platform.api: await and .then styles, every verb', async () => {
    const script = `
      const got = await platform.api.get('svc/ping');
      const put = await platform.api.put('svc/x', { a: 1 });
      const patched = await platform.api.patch('svc/x', { b: 2 }, { headers: { 'X-A': 'b' } });
      platform.api.delete('/api/v2/svc/x').then((r) => event.setResponse({ deleted: r.content.echo.method }));
      return { get: got.status_code, put: put.content.echo.method, patch: patched.content.echo.options };`;
    const r = await run(engine, script);
    expect(r.failure).toBeUndefined();
    expect(r.outcome!.returned).toEqual({ get: 200, put: 'PUT', patch: { headers: { 'X-A': 'b' } } });
    expect(r.outcome!.event.response.content).toEqual({ deleted: 'DELETE' });
    expect(r.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET svc/ping', 'PUT svc/x', 'PATCH svc/x', 'DELETE svc/x']);
  });

  it('a throw of any kind is an error', async () => {
    const r = await run(engine, "throw 'plain text';");
    expect(r.failure?.kind).toBe('error');
    expect(r.failure?.message).toBe('plain text');
  });
});

for (const type of ['python', 'python3'] as const) {
  describe.skipIf(!INSTALLED[type])(`${type}: DreamFactory conventions`, () => {
    let engine: SubprocessEngine;
    beforeAll(async () => {
      engine = await startEngine(type);
    });
    afterAll(() => engine?.stop(2000));

    it('reports its type info, naming the interpreter it found', () => {
      expect(engine.info).toMatchObject({
        name: type,
        label: type === 'python' ? 'Python' : 'Python3',
        description: type === 'python' ? 'Script handler using native Python.' : 'Script handler using native Python3.',
        sandboxed: true,
        supportsInlineExecution: true,
        engine: 'subprocess',
        available: true,
      });
      expect(engine.info.version).toMatch(/^3\.\d+/);
      expect(engine.info.interpreter).toMatch(/^\//);
      expect(engine.info.interpreter).not.toContain('shims');
      expect(engine.info.note).toContain(engine.info.version!);
    });

    it('event.x and event["x"] both work; changes to event.response come back; return gives the value', async () => {
      const script = [
        'total = int(event.request.parameters.a) + int(event["request"]["parameters"]["b"])',
        "event.response.content = {'total': total}",
        "event['response']['status_code'] = 202",
        "return {'method': event.request.method, 'resource': event.resource}",
      ].join('\n');
      const r = await run(engine, script, { parameters: { a: '40', b: '2' } });
      expect(r.failure).toBeUndefined();
      expect(r.outcome!.returned).toEqual({ method: 'GET', resource: 'add' });
      expect(r.outcome!.event.response).toMatchObject({ status_code: 202, content: { total: 42 } });
    });

    it('returning nothing leaves returned undefined; platform.config and session are there', async () => {
      const r = await run(engine, "event.response.content = [platform.config.greeting, platform.session.user.name]", {
        config: { greeting: 'hi' },
        session: { user: { name: 'ada' } },
      });
      expect(r.outcome!.returned).toBeUndefined();
      expect(r.outcome!.event.response.content).toEqual(['hi', 'ada']);
    });

    it('platform.api: status_code, content and DreamFactory .read(); every verb; payload as JSON text', async () => {
      const script = [
        'import json',
        "r = platform.api.get('svc/a', {'parameters': {'x': 1}})",
        'body = json.loads(r.read())',
        "p = platform.api.post('svc/b', '{\"resource\": [1]}')",
        "u = platform.api.put('svc/c', {'a': 1}, {'headers': {'X-A': 'b'}})",
        "platform.api.patch('svc/d', {'b': 2})",
        "d = platform.api.delete('svc/e')",
        "return {'status': r.status_code, 'same': body == r.content, 'item': r['content']['echo']['method'],",
        "        'post': p.content['echo']['payload'], 'put': u.json()['echo']['options'], 'delete': d.status, 'header': d.getheader('X-Test')}",
      ].join('\n');
      const r = await run(engine, script);
      expect(r.failure).toBeUndefined();
      expect(r.outcome!.returned).toEqual({
        status: 200,
        same: true,
        item: 'GET',
        post: { resource: [1] },
        put: { headers: { 'X-A': 'b' } },
        delete: 200,
        header: '1',
      });
      expect(r.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET svc/a', 'POST svc/b', 'PUT svc/c', 'PATCH svc/d', 'DELETE svc/e']);
      expect(r.calls[0]!.options).toEqual({ parameters: { x: 1 } });
    });
  });
}

describe.skipIf(!INSTALLED.php)('php: DreamFactory conventions', () => {
  let engine: SubprocessEngine;
  beforeAll(async () => {
    engine = await startEngine('php');
  });
  afterAll(() => engine?.stop(2000));

  it('reports its type info', () => {
    expect(engine.info).toMatchObject({
      name: 'php',
      label: 'PHP',
      description: 'Script handler using native PHP.',
      sandboxed: true,
      supportsInlineExecution: true,
      engine: 'subprocess',
      available: true,
    });
    expect(engine.info.version).toMatch(/^\d+\.\d+/);
  });

  it('$event by reference, <?php and ?> ignored, return gives the value', async () => {
    const script = "<?php\n$event['response']['content'] = ['total' => $event['request']['parameters']['a'] + 2];\n$event['response']['status_code'] = 202;\nreturn ['method' => $event['request']['method']];\n?>\n";
    const r = await run(engine, script, { parameters: { a: 40 } });
    expect(r.failure).toBeUndefined();
    expect(r.outcome!.returned).toEqual({ method: 'GET' });
    expect(r.outcome!.event.response).toEqual({ status_code: 202, content: { total: 42 }, content_type: null, headers: {} });
  });

  it('returning nothing leaves returned undefined; $platform config and session are there', async () => {
    const r = await run(engine, "$event['response']['content'] = [$platform['config']['greeting'], $platform['session']['user']['name']];", {
      config: { greeting: 'hi' },
      session: { user: { name: 'ada' } },
    });
    expect(r.outcome!.returned).toBeUndefined();
    expect(r.outcome!.event.response.content).toEqual(['hi', 'ada']);
  });

  it("platform api: $platform['api']->get(), $get = $api->get, every verb", async () => {
    const script = [
      "$api = $platform['api'];",
      "$a = $api->get('svc/a');",
      '$get = $api->get;',
      "$b = $get('svc/b', null, ['parameters' => ['x' => 1]]);",
      "$api->post('svc/c', ['a' => 1]);",
      "$api->put('svc/d', '{\"b\": 2}');",
      "$patch = $api->patch; $patch('svc/e', ['c' => 3], ['headers' => ['X-A' => 'b']]);",
      "$d = $api->delete('svc/f');",
      "return ['status' => $a['status_code'], 'method' => $b['content']['echo']['method'], 'delete' => $d['content']['echo']['method']];",
    ].join('\n');
    const r = await run(engine, script);
    expect(r.failure).toBeUndefined();
    expect(r.outcome!.returned).toEqual({ status: 200, method: 'GET', delete: 'DELETE' });
    expect(r.calls).toEqual([
      { method: 'GET', path: 'svc/a' },
      { method: 'GET', path: 'svc/b', options: { parameters: { x: 1 } } },
      { method: 'POST', path: 'svc/c', payload: { a: 1 } },
      { method: 'PUT', path: 'svc/d', payload: { b: 2 } },
      { method: 'PATCH', path: 'svc/e', payload: { c: 3 }, options: { headers: { 'X-A': 'b' } } },
      { method: 'DELETE', path: 'svc/f' },
    ]);
  });

  it('a script declaring functions and classes runs again (PHP cannot declare them twice in one process)', async () => {
    const script = 'function helper() { return 2; }\nclass Box { public $v = 3; }\nreturn helper() + (new Box())->v;';
    expect((await run(engine, script)).outcome?.returned).toBe(5);
    expect((await run(engine, script)).outcome?.returned).toBe(5);
  });

  it('warnings go to the log with the script line', async () => {
    const r = await run(engine, '$a = [];\n$b = $a["missing"];\nreturn 1;');
    expect(r.outcome!.returned).toBe(1);
    expect(r.logs).toContainEqual(['STDERR', 'Warning: Undefined array key "missing" on line 2']);
  });
});

// ---- the same robustness checks for every language ---------------------------------------

for (const type of ALL_TYPES) {
  const s = scriptsFor(type);
  describe.skipIf(!INSTALLED[type])(`${type}: limits, failures and isolation`, () => {
    let engine: SubprocessEngine;
    beforeAll(async () => {
      engine = await startEngine(type, { poolSize: 1, maxPoolSize: 3 });
    });
    afterAll(() => engine?.stop(2000));

    it('syntax errors and exceptions say what and where', async () => {
      const syntax = await run(engine, s.syntaxErrorLine2);
      expect(syntax.failure?.kind).toBe('error');
      expect(syntax.failure?.message).toMatch(/syntax|unexpected/i);
      expect(syntax.failure?.details.line).toBe(2);
      const thrown = await run(engine, s.throwLine3);
      expect(thrown.failure?.kind).toBe('error');
      expect(thrown.failure?.message).toContain('boom');
      expect(thrown.failure?.details.line).toBe(3);
    });

    it('a return value JSON cannot hold says what could not be serialised', async () => {
      const r = await run(engine, s.unserialisable);
      expect(r.failure?.kind).toBe('error');
      expect(r.failure?.message).toMatch(/return value.*(BigInt|set|resource)/);
    });

    it('state does not leak: globals never reach the next call, and other services never share a process', async () => {
      expect((await run(engine, s.setGlobal)).outcome?.returned).toEqual({ ok: true });
      expect((await run(engine, s.readGlobal)).outcome?.returned).toEqual({ seen: false });
      expect((await run(engine, s.setModuleState, { key: 'service-a' })).outcome?.returned).toEqual({ ok: true });
      expect((await run(engine, s.readModuleState, { key: 'service-b' })).outcome?.returned).toEqual({ seen: false });
    });

    it('times out, and the next call works', async () => {
      for (const script of [s.busyLoop, s.sleepForever]) {
        // The time asserted is the run's, not a cold start's (the worker the last timeout ended is being replaced).
        await eventually(() => engine.workers().some((w) => w.state === 'idle' && (w.scriptKey ?? 'svc') === 'svc'), 'a warm worker');
        const r = await run(engine, script, { timeoutMs: 400 });
        expect(r.failure?.kind).toBe('timeout');
        expect(r.failure?.message).toContain('400 ms');
        expect(r.ms).toBeLessThan(1500);
      }
      expect((await run(engine, s.ok)).outcome?.returned).toEqual({ ok: true });
    });

    it('a memory bomb fails naming the limit, and the next call works', async () => {
      const r = await run(engine, s.memoryBomb, { memoryLimitMb: 64, timeoutMs: 10_000 });
      expect(r.failure?.kind).toBe('memory');
      expect(r.failure?.message).toContain('64 MB');
      expect((await run(engine, s.ok, { memoryLimitMb: 64 })).outcome?.returned).toEqual({ ok: true });
    }, 20_000);

    it('a process bomb is held to the per-worker process bound and stopped whole at the timeout; the next call works', async () => {
      let uid: number | null = null;
      let most = 0;
      const sampler = setInterval(() => {
        if (uid !== null) most = Math.max(most, processesOfUid(uid).length);
      }, 20);
      const r = await run(engine, s.processBomb, {
        key: 'bomb',
        timeoutMs: 1500,
        onLog: (_stream, message) => {
          if (/pid \d+/.test(message)) uid = workerOf(engine, 'bomb')?.uid ?? null;
        },
      });
      clearInterval(sampler);
      expect(['timeout', 'error']).toContain(r.failure?.kind);
      expect(uid).toBeGreaterThan(0);
      expect(most).toBeGreaterThan(5);
      expect(most).toBeLessThanOrEqual(SANDBOX_MAX_PROCESSES);
      // Every process of the worker's uid died with its namespace.
      await eventually(() => processesOfUid(uid!).length === 0, 'the processes to be gone');
      expect((await run(engine, s.ok, { key: 'bomb' })).outcome?.returned).toEqual({ ok: true });
    }, 15_000);

    it('a process the script leaves running is cleaned up after the call', async () => {
      const r = await run(engine, s.leaveChildBehind, { key: 'leaver' });
      expect((r.outcome?.returned as { pid: number }).pid).toBeGreaterThan(0);
      const worker = engine.workers().find((w) => w.scriptKey === 'leaver');
      // The worker was recycled, or lives on alone: either way nothing of the script's is left.
      if (worker?.uid) await eventually(() => processesOfUid(worker.uid!).every((pid) => pid === worker.runnerPid), 'the processes to be gone');
    });

    it('exit() mid-script: status 0 ends the script normally, another status is an error; the next call works', async () => {
      const clean = await run(engine, s.exit0);
      expect(clean.failure).toBeUndefined();
      expect(clean.outcome!.returned).toBeUndefined();
      expect(text(clean.logs)).toContain('before');
      expect(text(clean.logs)).not.toContain('after');
      const failed = await run(engine, s.exit4);
      expect(failed.failure?.kind).toBe('error');
      expect(failed.failure?.message).toContain('status 4');
      expect((await run(engine, s.ok)).outcome?.returned).toEqual({ ok: true });
    });

    it('a worker killed from outside mid-call fails that call as crashed; the next call works', async () => {
      let pid = 0;
      const running = run(engine, s.pidThenSleep, {
        key: 'victim',
        timeoutMs: 10_000,
        onLog: (_stream, message) => {
          if (/pid \d+/.test(message) && !pid) {
            pid = workerOf(engine, 'victim')?.runnerPid ?? 0;
            process.kill(pid, 'SIGKILL');
          }
        },
      });
      const r = await running;
      expect(pid).toBeGreaterThan(0);
      expect(r.failure?.kind).toBe('crashed');
      expect(r.failure?.message).toMatch(/died/);
      expect((await run(engine, s.ok)).outcome?.returned).toEqual({ ok: true });
    });

    it('huge output stops being forwarded just past the cap, and the result is intact', async () => {
      // Marking the truncation is the execution's job (see subprocess-services.test.ts).
      const r = await run(engine, s.hugeOutput, { maxLogBytes: 20_000, timeoutMs: 20_000 });
      expect(r.failure).toBeUndefined();
      expect(r.outcome!.returned).toEqual({ ok: true });
      const logged = r.logs.reduce((sum, [, m]) => sum + Buffer.byteLength(m), 0);
      expect(logged).toBeGreaterThan(20_000);
      expect(logged).toBeLessThan(21_000);
      expect(r.logs[0]![1]).toBe('line 0 of output');
    }, 20_000);

    it('binary and non-UTF-8 output become log lines and never corrupt the result', async () => {
      const binary = await run(engine, s.binaryOutput);
      expect(binary.failure).toBeUndefined();
      expect(binary.outcome!.returned).toEqual({ ok: true });
      expect(binary.logs.length).toBeGreaterThan(0);
      const latin1 = await run(engine, s.nonUtf8);
      expect(latin1.outcome!.returned).toEqual({ ok: true });
      expect(latin1.logs).toContainEqual(['STDOUT', 'caf\uFFFD ok']);
    });

    it('concurrent calls each get their own result and their own log lines', async () => {
      const runs = await Promise.all(
        Array.from({ length: 6 }, (_, i) => run(engine, s.echoParam, { parameters: { x: `v${i}` }, key: `svc-${i % 2}` })),
      );
      runs.forEach((r, i) => {
        expect(r.failure).toBeUndefined();
        expect(r.outcome!.returned).toEqual({ x: `v${i}` });
        expect(text(r.logs)).toBe(`param v${i}`);
      });
    });
  });

  describe.skipIf(!INSTALLED[type])(`${type}: overload and shutdown`, () => {
    it('calls beyond pool and queue are refused as overloaded with a retry hint', async () => {
      const engine = await startEngine(type, { poolSize: 1, maxPoolSize: 1, queueLimit: 1 });
      try {
        const first = run(engine, s.echoParam, { parameters: { x: 'a' } });
        const second = run(engine, s.echoParam, { parameters: { x: 'b' } });
        const third = await run(engine, s.echoParam, { parameters: { x: 'c' } });
        expect(third.failure?.kind).toBe('overloaded');
        expect(third.failure?.details.retryAfterSeconds).toBeGreaterThanOrEqual(1);
        expect((await first).outcome?.returned).toEqual({ x: 'a' });
        expect((await second).outcome?.returned).toEqual({ x: 'b' });
      } finally {
        await engine.stop(2000);
      }
    });

    it('stop() lets a running call finish, then leaves no process behind', async () => {
      const engine = await startEngine(type, { poolSize: 2 });
      const pids = engine.workerPids();
      const uids = engine.workers().map((worker) => worker.uid!);
      expect(pids.length).toBeGreaterThan(0);
      const running = run(engine, s.echoParam, { parameters: { x: 'last' } });
      await new Promise((resolve) => setTimeout(resolve, 10));
      await engine.stop(3000);
      expect((await running).outcome?.returned).toEqual({ x: 'last' });
      for (const pid of pids) {
        expect(alive(pid)).toBe(false);
        expect(groupMembers(pid)).toEqual([]);
      }
      for (const uid of uids) await eventually(() => processesOfUid(uid).length === 0, 'the processes to be gone');
      const after = await run(engine, s.ok);
      expect(after.failure?.kind).toBe('unavailable');
    });

    it('stop() past its deadline ends a call that would not finish', async () => {
      const engine = await startEngine(type, { poolSize: 1 });
      const pids = engine.workerPids();
      const running = run(engine, s.sleepForever, { timeoutMs: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const uids = engine.workers().map((worker) => worker.uid!);
      await engine.stop(100);
      const r = await running;
      expect(r.failure?.kind).toBe('unavailable');
      for (const pid of pids) expect(groupMembers(pid)).toEqual([]);
      for (const uid of uids) await eventually(() => processesOfUid(uid).length === 0, 'the processes to be gone');
    });
  });
}

// ---- what a runner sends back is bounded ---------------------------------------------------

describe.skipIf(!INSTALLED.nodejs)('nodejs: calls and messages a script floods the server with', () => {
  let engine: SubprocessEngine;
  beforeAll(async () => {
    engine = await startEngine('nodejs');
  });
  afterAll(() => engine?.stop(2000));

  it(`platform.api calls past ${MAX_API_CALLS_IN_FLIGHT} in flight are answered 503 at once, never reaching the dispatcher`, async () => {
    let reached = 0;
    const script = `const calls = []; for (let i = 0; i < 200; i++) calls.push(platform.api.get('svc/' + i));
      const results = await Promise.all(calls);
      const refused = results.filter((r) => r.status_code === 503);
      return { ok: results.length - refused.length, refused: refused.length, message: refused[0].content.error.message };`;
    const outcome = await engine.run({
      executionId: 'flood',
      scriptKey: 'flood',
      script,
      event: makeEvent(),
      platform: { config: {}, session: {} },
      limits: { timeoutMs: 5000, memoryLimitMb: 64, maxLogBytes: 100_000, maxResponseBytes: 1 << 20, network: true },
      // A slow dispatcher: all 200 calls are sent before the first answer.
      api: () => {
        reached++;
        return new Promise<ApiResult>((resolve) => setTimeout(() => resolve({ status_code: 200, content: null, content_type: null, headers: {} }), 200));
      },
      log: () => {},
    });
    expect(outcome.returned).toEqual({ ok: MAX_API_CALLS_IN_FLIGHT, refused: 200 - MAX_API_CALLS_IN_FLIGHT, message: expect.stringContaining(`at most ${MAX_API_CALLS_IN_FLIGHT}`) });
    expect(reached).toBe(MAX_API_CALLS_IN_FLIGHT);
  });

  it('a log message past what the log could keep is dropped with one SYSTEM line; the call succeeds', async () => {
    const r = await run(engine, "console.log('x'.repeat(5 * 1024 * 1024)); return { ok: true };", { maxLogBytes: 10_000 });
    expect(r.failure).toBeUndefined();
    expect(r.outcome!.returned).toEqual({ ok: true });
    expect(r.logs).toEqual([['SYSTEM', expect.stringMatching(/log message larger than \d+ bytes was dropped/)]]);
  });

  it('a result past the response limit fails naming the limit, and the worker serves the next call', async () => {
    const big = await engine.run({
      executionId: 'big',
      scriptKey: 'big',
      script: "return 'x'.repeat(3 * 1024 * 1024);",
      event: makeEvent(),
      platform: { config: {}, session: {} },
      limits: { timeoutMs: 5000, memoryLimitMb: 64, maxLogBytes: 100_000, maxResponseBytes: 1024 * 1024, network: true },
      api: echoApi([]),
      log: () => {},
    }).catch((error: ScriptFailure) => error);
    expect(big).toBeInstanceOf(ScriptFailure);
    expect((big as ScriptFailure).kind).toBe('output');
    expect((big as ScriptFailure).message).toContain(`${1024 * 1024} bytes`);
    expect((await run(engine, 'return { ok: true };', { key: 'big' })).outcome?.returned).toEqual({ ok: true });
  });
});

// ---- availability -------------------------------------------------------------------------

describe('availability', () => {
  it('a missing interpreter makes the type unavailable (503), with the reason', async () => {
    const engines = createSubprocessEngines({
      interpreterPaths: { php: '/nonexistent/bin/php', python3: '/nonexistent/bin/python3' },
      disabled: new Set(['nodejs', 'python']),
      });
    await Promise.all(engines.map((e) => e.start()));
    const php = engines.find((e) => e.info.name === 'php')!;
    expect(php.info.available).toBe(false);
    expect(php.info.version).toBeNull();
    expect(php.info.unavailableReason).toMatch(/not found/);
    const r = await run(php, "return 1;");
    expect(r.failure?.kind).toBe('unavailable');
    expect(r.failure?.message).toContain('php');
    await Promise.all(engines.map((e) => e.stop()));
  });

  it('without bubblewrap the types are unavailable, saying what to install or set', async () => {
    const engines = createSubprocessEngines({
      interpreterPaths: {},
      disabled: new Set(['nodejs', 'python']),
      bwrapPath: '/nonexistent/bin/bwrap',
      poolSize: 1,
    });
    await Promise.all(engines.map((e) => e.start()));
    for (const engine of engines.filter((e) => INSTALLED[e.info.name as SubprocessType] && !['nodejs', 'python'].includes(e.info.name))) {
      expect(engine.info.available).toBe(false);
      expect(engine.info.unavailableReason).toMatch(/bwrap not found at \/nonexistent\/bin\/bwrap/);
      expect(engine.info.unavailableReason).toMatch(/bubblewrap/);
      expect(engine.info.unavailableReason).toMatch(/SCRIPT_SANDBOX=off/);
      const r = await run(engine, scriptsFor(engine.info.name as SubprocessType).ok);
      expect(r.failure?.kind).toBe('unavailable');
      expect(engine.workerPids()).toEqual([]);
    }
    await Promise.all(engines.map((e) => e.stop()));
  });

  it.skipIf(!INSTALLED.python3)("SCRIPT_SANDBOX=off runs them as the server's user, shown as sandboxed: false with a warning to log", async () => {
    const engine = await startEngine('python3', { sandbox: 'off' });
    try {
      expect(engine.info).toMatchObject({ available: true, sandboxed: false });
      expect(engine.info.sandboxWarning).toMatch(/SCRIPT_SANDBOX=off/);
      // What the sandbox takes away: unsandboxed, a script reads the server's own environment.
      const r = await run(engine, `import os\nreturn {'uid': os.getuid(), 'environ': len(open('/proc/${process.pid}/environ', 'rb').read())}`);
      expect(r.outcome?.returned).toEqual({ uid: process.getuid!(), environ: expect.any(Number) });
    } finally {
      await engine.stop(2000);
    }
  });

  it('disabled types are matched by exact name', async () => {
    const engines = createSubprocessEngines({ interpreterPaths: {}, disabled: new Set(['python3', 'php', 'nodejs']), poolSize: 1 });
    await Promise.all(engines.map((e) => e.start()));
    const byName = Object.fromEntries(engines.map((e) => [e.info.name, e.info]));
    expect(byName.python3!.available).toBe(false);
    expect(byName.python3!.unavailableReason).toBe('disabled by configuration');
    expect(byName.python!.unavailableReason).not.toBe('disabled by configuration');
    await Promise.all(engines.map((e) => e.stop()));
  });
});

// Pool behaviour is the same for every language; one is enough to show it.
describe('a call waiting for a cold start', () => {
  it('waits out the start of a worker coming for it, even past its timeout, instead of being refused', async () => {
    // An interpreter that takes 0.7 s to start, as a cold start does on a loaded host.
    const dir = mkdtempSync(join(tmpdir(), 'slow-start-'));
    const slow = join(dir, 'node');
    writeFileSync(slow, `#!/bin/sh\nsleep 0.7\nexec ${process.execPath} "$@"\n`, { mode: 0o755 });
    const engine = await startEngine('nodejs', { poolSize: 1, maxPoolSize: 2, sandbox: 'off', interpreterPath: slow });
    try {
      const holding = run(engine, SCRIPTS.nodejs.sleepForever, { key: 'a', timeoutMs: 4000 }); // takes the warm worker; a spare starts
      const waiting = await run(engine, SCRIPTS.nodejs.ok, { key: 'b', timeoutMs: 300 });
      expect(waiting.failure).toBeUndefined();
      expect(waiting.outcome?.returned).toEqual({ ok: true });
      expect(waiting.ms).toBeGreaterThan(300);
      expect((await holding).failure?.kind).toBe('timeout');
    } finally {
      await engine.stop(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
