import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { typesRunningOn } from './helpers/interpreters.ts';
import { createService, startTestServer, type TestServer } from './helpers/server.ts';

/** The subprocess engines end to end: REST in, the language runner, platform.api back through the domain. */
let t: TestServer;
let available: Record<string, boolean> = {};
beforeAll(async () => {
  t = await startTestServer();
  available = await typesRunningOn(t);
  await createService(t, 'target', 'javascript', 'return { got: event.request.parameters.v ?? null, method: event.request.method }');
});
afterAll(async () => {
  await t.stop();
});

const scripts: Record<string, string> = {
  nodejs: `console.log('from node');
const viaAwait = await platform.api.get('target?v=1');
platform.api.post('target', { x: 1 }, {}, (body, response) => {});
event.setResponse({ lang: 'node', method: event.request.method, param: event.request.parameters.q, target: viaAwait.content }, 201);`,
  python3: `print('from python')
r = platform.api.get('target?v=1')
event.response.status_code = 201
event['response']['content'] = {'lang': 'python', 'method': event.request.method, 'param': event['request']['parameters']['q'], 'target': r.content}`,
  php: `<?php
echo "from php\\n";
$r = $platform['api']->get('target?v=1');
$event['response']['status_code'] = 201;
$event['response']['content'] = ['lang' => 'php', 'method' => $event['request']['method'], 'param' => $event['request']['parameters']['q'], 'target' => $r['content']];
?>`,
};

for (const [type, script] of Object.entries(scripts)) {
  describe(type, () => {
    it('runs a DreamFactory-style script over REST and records its output as log lines', async ({ skip }) => {
      if (!available[type]) skip();
      await createService(t, `svc-${type}`, type, script);
      const response = await t.rest('GET', `/api/v2/svc-${type}?q=hello`);
      expect(response.status, response.text).toBe(201);
      expect(response.json).toMatchObject({ method: 'GET', param: 'hello', target: { got: '1', method: 'GET' } });
      const execution = await t.rest('GET', `/api/v2/system/execution/${response.headers.get('x-execution-id')}`);
      expect(execution.json).toMatchObject({ script_type: type, status: 'succeeded', status_code: 201 });
      expect(execution.json.logs.map((l: any) => l.message).join('\n')).toMatch(/from (node|python|php)/);
    });

    it('reports a script error with its line', async ({ skip }) => {
      if (!available[type]) skip();
      const failing = { nodejs: "\n\nthrow new Error('bad node')", python3: "\n\nraise ValueError('bad python')", php: "<?php\n\nthrow new Exception('bad php');" }[type]!;
      await createService(t, `fail-${type}`, type, failing);
      const response = await t.rest('GET', `/api/v2/fail-${type}`);
      expect(response.status).toBe(500);
      expect(response.json.error.message).toMatch(/bad (node|python|php)/);
      expect(response.json.error.message).toMatch(/line 3/);
    });

    it('marks a log cut at the cap as truncated', async ({ skip }) => {
      if (!available[type]) skip();
      const flood = { nodejs: "for (let i = 0; i < 1500; i++) console.log('a')", python3: "for i in range(1500):\n    print('a')", php: "<?php for ($i = 0; $i < 1500; $i++) echo \"a\\n\";" }[type]!;
      await createService(t, `flood-${type}`, type, flood, { max_log_bytes: 1000 });
      const response = await t.rest('GET', `/api/v2/flood-${type}`);
      const execution = await t.rest('GET', `/api/v2/system/execution/${response.headers.get('x-execution-id')}`);
      expect(execution.json.logs_truncated).toBe(true);
      expect(execution.json.log_bytes).toBeLessThanOrEqual(1000);
      expect(execution.json.logs.filter((l: any) => l.stream === 'SYSTEM').map((l: any) => l.message)).toEqual([expect.stringMatching(/truncated/)]);
    });

    it('a service calling itself stops at the call-depth limit, however few workers its share allows', async ({ skip }) => {
      if (!available[type]) skip();
      // Each level waits on the next holding a worker: nested calls must not queue behind the service's share.
      const recurse = {
        nodejs: "const r = await platform.api.get('self-nodejs'); return { depth: r.status_code };",
        python3: "r = platform.api.get('self-python3')\nreturn {'depth': r['status_code']}",
        php: "<?php $r = $platform['api']->get('self-php'); return ['depth' => $r['status_code']];",
      }[type]!;
      await createService(t, `self-${type}`, type, recurse, { timeout_ms: 30_000 });
      const started = performance.now();
      const response = await t.rest('GET', `/api/v2/self-${type}`);
      expect(response.status, response.text).toBe(200);
      expect(response.json).toEqual({ depth: 200 });
      // Stalled, it would end only at the 30 s timeout.
      expect(performance.now() - started).toBeLessThan(20_000);
    });

    it('answers 504 past the timeout, and the next call succeeds', async ({ skip }) => {
      if (!available[type]) skip();
      const spin = { nodejs: 'while (true) {}', python3: 'while True:\n    pass', php: '<?php while (true) {}' }[type]!;
      await createService(t, `spin-${type}`, type, spin, { timeout_ms: 500 });
      const timedOut = await t.rest('GET', `/api/v2/spin-${type}`);
      expect(timedOut.status).toBe(504);
      // Said once in the log, not by the worker and the domain both.
      const execution = await t.rest('GET', `/api/v2/system/execution/${timedOut.headers.get('x-execution-id')}`);
      expect(execution.json.logs.filter((l: any) => l.stream === 'SYSTEM')).toHaveLength(1);
      expect((await t.rest('GET', `/api/v2/svc-${type}?q=again`)).status).toBe(201);
    });
  });
}

describe('an interpreter that is not there', () => {
  it('shows the type unavailable and answers 503', async () => {
    const missing = await startTestServer({ PHP_PATH: '/nonexistent/php' });
    try {
      const php = (await missing.rest('GET', '/api/v2/system/script_type/php')).json;
      expect(php).toMatchObject({ available: false, unavailable_reason: expect.any(String) });
      const save = await missing.rest('POST', '/api/v2/system/service', { resource: [{ name: 'p', type: 'php', config: { content: '<?php' } }] });
      expect(save.json.error.context.resource[0].error.status_code).toBe(503);
    } finally {
      await missing.stop();
    }
  });
});
