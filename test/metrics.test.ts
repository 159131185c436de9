import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './helpers/eventually.ts';
import { typeRunsHere } from './helpers/interpreters.ts';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.ts';
import { ADMIN_KEY, asAdmin, createService, restAs, restTo, startTestServer, type TestServer } from './helpers/server.ts';

// ---------------------------------------------------------------- a strict reader of Prometheus' text format (0.0.4)

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  type: string;
  help: string | null;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** Throws on anything Prometheus' parser would refuse: bad names, escapes or values, a family split up, a sample before its TYPE, a duplicate series, a histogram whose buckets do not add up. */
function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the text must end with a newline');
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const seen = new Set<string>();
  let current: string | null = null;
  const familyOf = (name: string): string => {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const base = name.slice(0, -suffix.length);
      if (
        name.endsWith(suffix) &&
        ['histogram', 'summary'].includes(families.get(base)?.type ?? '') &&
        (suffix !== '_bucket' || families.get(base)!.type === 'histogram')
      )
        return base;
    }
    return name;
  };
  const enter = (name: string) => {
    if (current === name) return;
    if (closed.has(name)) throw new Error(`family ${name} is split up`);
    if (current) closed.add(current);
    current = name;
  };
  for (const [index, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${index + 1}: ${line}`;
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, keyword, name, rest] = meta as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name, ${where}`);
      enter(name);
      const family = families.get(name) ?? { type: 'untyped', help: null, samples: [] };
      families.set(name, family);
      if (keyword === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`bad type, ${where}`);
        if (family.samples.length) throw new Error(`TYPE after samples, ${where}`);
        family.type = rest;
      } else {
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`bad escape in HELP, ${where}`);
        family.help = rest;
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const sample = /^([^\s{]+)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!sample) throw new Error(`not a sample, ${where}`);
    const [, name, labelText, valueText] = sample as unknown as [string, string, string | undefined, string];
    if (!METRIC_NAME.test(name)) throw new Error(`bad metric name, ${where}`);
    const labels: Record<string, string> = {};
    let rest = labelText ?? '';
    while (rest.length) {
      const pair = /^([^=]+)="((?:[^"\\]|\\[\\"n])*)"(,|$)/.exec(rest);
      if (!pair) throw new Error(`bad labels, ${where}`);
      const [whole, labelName, raw] = pair as unknown as [string, string, string];
      if (!LABEL_NAME.test(labelName) || labelName in labels) throw new Error(`bad or repeated label ${labelName}, ${where}`);
      labels[labelName] = raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(whole.length);
    }
    // As Go's ParseFloat reads it (Prometheus' parser): NaN and Inf in any case.
    if (!/^(nan|[+-]?inf(inity)?|[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?)$/i.test(valueText)) throw new Error(`bad value, ${where}`);
    const value = /^nan$/i.test(valueText) ? NaN : /inf/i.test(valueText) ? (valueText.startsWith('-') ? -Infinity : Infinity) : Number(valueText);
    const base = familyOf(name);
    enter(base);
    const family = families.get(base);
    if (!family) throw new Error(`sample before its TYPE, ${where}`);
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(series)) throw new Error(`duplicate series, ${where}`);
    seen.add(series);
    family.samples.push({ name, labels, value });
  }
  for (const [name, family] of families) if (family.type === 'histogram') checkHistogram(name, family);
  return families;
}

function checkHistogram(name: string, family: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const group = groups.get(key) ?? { buckets: [] };
    groups.set(key, group);
    if (sample.name === `${name}_bucket`) group.buckets.push([le === '+Inf' ? Infinity : Number(le), sample.value]);
    else if (sample.name === `${name}_count`) group.count = sample.value;
    else if (sample.name === `${name}_sum`) group.sum = sample.value;
  }
  for (const [key, group] of groups) {
    const sorted = [...group.buckets].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) if (sorted[i]![1] < sorted[i - 1]![1]) throw new Error(`${name}${key}: buckets decrease`);
    const inf = sorted.at(-1);
    if (!inf || inf[0] !== Infinity || inf[1] !== group.count || group.sum === undefined)
      throw new Error(`${name}${key}: no +Inf bucket equal to _count, or no _sum`);
  }
}

/** One sample's value (0 when the series is absent). */
function valueOf(families: Map<string, Family>, sampleName: string, labels: Record<string, string>): number {
  const base = [...families.keys()].find((name) => sampleName === name || sampleName.startsWith(`${name}_`)) ?? sampleName;
  const found = families.get(base)?.samples.find((s) => s.name === sampleName && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found?.value ?? 0;
}

// ---------------------------------------------------------------- the server

async function scrape(t: TestServer, key: string | null = ADMIN_KEY): Promise<Map<string, Family>> {
  const response = await restAs(t, key, 'GET', '/metrics');
  if (response.status !== 200) throw new Error(`/metrics: ${response.status} ${response.text}`);
  return parseExposition(response.text);
}

describe('/metrics', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
    await createService(t, 'hello', 'javascript', "return { hello: 'world' }");
    await createService(t, 'broken', 'javascript', "throw new Error('boom')");
    await createService(t, 'stuck', 'javascript', 'for (;;) {}', { timeout_ms: 50 });
  });
  afterAll(() => t.stop());

  it('answers in the Prometheus text format, with prom-client content type, process metrics and every platform metric', async () => {
    const response = await restAs(t, ADMIN_KEY, 'GET', '/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
    const families = parseExposition(response.text);
    for (const name of [
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'process_resident_memory_bytes',
      'scriptgate_http_requests_total',
      'scriptgate_http_request_duration_seconds',
      'scriptgate_executions_total',
      'scriptgate_executions_running',
      'scriptgate_engine_available',
      'scriptgate_engine_workers',
      'scriptgate_engine_queued',
      'scriptgate_engine_rejected_total',
      'scriptgate_quickjs_memory_bytes',
      'scriptgate_queue_runs',
      'scriptgate_queue_running',
      'scriptgate_queue_attempts_total',
      'scriptgate_subscribers',
    ]) {
      expect(families.get(name)?.help, name).toBeTruthy();
    }
    expect(families.get('scriptgate_http_request_duration_seconds')!.type).toBe('histogram');
    expect(families.get('scriptgate_executions_total')!.type).toBe('counter');
    expect(valueOf(families, 'scriptgate_engine_available', { engine: 'javascript' })).toBe(1);
    // Spare contexts are made ahead of need at start (QUICKJS_SPARE_CONTEXTS, 2).
    await eventually(async () => valueOf(await scrape(t), 'scriptgate_engine_workers', { engine: 'javascript', state: 'spare' }) > 0, 'spare contexts');
    // Scratch contexts (services outside the warm set) are a state of their own, reported even when there are none.
    const scratch = families.get('scriptgate_engine_workers')?.samples.find((s) => s.labels.engine === 'javascript' && s.labels.state === 'scratch');
    expect(scratch?.value).toBeGreaterThanOrEqual(0);
    expect(valueOf(families, 'scriptgate_queue_runs', { state: 'due' })).toBe(0);
    expect(valueOf(families, 'scriptgate_subscribers', { topic: 'logs' })).toBe(0);
  });

  it('counts calls to a javascript service by service and status, with their latency and their executions', async () => {
    const before = await scrape(t);
    for (let i = 0; i < 3; i++) expect((await t.rest('GET', '/api/v2/hello')).status).toBe(200);
    // The name as a client spells it, the label as the service is named.
    expect((await t.rest('GET', '/api/v2/HELLO/some/resource')).status).toBe(200);
    const requests = (families: Map<string, Family>) => valueOf(families, 'scriptgate_http_requests_total', { service: 'hello', status: '200' });
    const latencyCount = (families: Map<string, Family>) =>
      valueOf(families, 'scriptgate_http_request_duration_seconds_count', { service: 'hello', status_class: '2xx' });
    const succeeded = (families: Map<string, Family>) => valueOf(families, 'scriptgate_executions_total', { engine: 'javascript', status: 'succeeded' });
    // onResponse runs once the response is written: the client may ask before it did.
    let after = await scrape(t);
    await eventually(async () => requests((after = await scrape(t))) - requests(before) === 4, 'four requests counted');
    expect(latencyCount(after) - latencyCount(before)).toBe(4);
    expect(valueOf(after, 'scriptgate_http_request_duration_seconds_bucket', { service: 'hello', status_class: '2xx', le: '60' })).toBe(latencyCount(after));
    expect(valueOf(after, 'scriptgate_http_request_duration_seconds_sum', { service: 'hello', status_class: '2xx' })).toBeGreaterThan(0);
    expect(succeeded(after) - succeeded(before)).toBe(4);
    expect(valueOf(after, 'scriptgate_executions_running', { engine: 'javascript' })).toBe(0);
    // The system API is a service of its own; GraphQL a door of its own.
    await t.gql('{ services { edges { node { name } } } }');
    await eventually(async () => {
      const families = await scrape(t);
      return (
        valueOf(families, 'scriptgate_http_requests_total', { service: 'system', status: '201' }) >= 3 &&
        valueOf(families, 'scriptgate_http_requests_total', { service: '(graphql)', status: '200' }) >= 1
      );
    }, 'system and GraphQL requests counted');
  });

  it('counts a failing script as failed and a script past its timeout as timed_out, with their statuses', async () => {
    const before = await scrape(t);
    expect((await t.rest('GET', '/api/v2/broken')).status).toBe(500);
    expect((await t.rest('GET', '/api/v2/stuck')).status).toBe(504);
    const executions = (families: Map<string, Family>, status: string) => valueOf(families, 'scriptgate_executions_total', { engine: 'javascript', status });
    let after = before;
    await eventually(
      async () => valueOf((after = await scrape(t)), 'scriptgate_http_requests_total', { service: 'stuck', status: '504' }) === 1,
      'the 504 counted',
    );
    expect(executions(after, 'failed') - executions(before, 'failed')).toBe(1);
    expect(executions(after, 'timed_out') - executions(before, 'timed_out')).toBe(1);
    expect(executions(after, 'succeeded')).toBe(executions(before, 'succeeded'));
    expect(valueOf(after, 'scriptgate_http_requests_total', { service: 'broken', status: '500' })).toBe(1);
    expect(valueOf(after, 'scriptgate_http_request_duration_seconds_count', { service: 'broken', status_class: '5xx' })).toBe(1);
  });

  it('shows a subprocess pool by worker state, and its runs by engine', async (context) => {
    const available = valueOf(await scrape(t), 'scriptgate_engine_available', { engine: 'python3' }) === 1;
    if (!typeRunsHere('python3', available)) return context.skip();
    await createService(t, 'py', 'python3', "return {'ok': True}");
    expect((await t.rest('GET', '/api/v2/py')).status).toBe(200);
    let families = await scrape(t);
    const workers = (state: string) => valueOf(families, 'scriptgate_engine_workers', { engine: 'python3', state });
    // Its worker turns idle once it has answered and been checked: soon after the response.
    await eventually(async () => {
      families = await scrape(t);
      return workers('busy') === 0 && workers('idle') >= 1;
    }, 'the python3 worker idle again');
    expect(valueOf(families, 'scriptgate_engine_queued', { engine: 'python3' })).toBe(0);
    expect(families.get('scriptgate_engine_rejected_total')!.samples.some((s) => s.labels.engine === 'python3' && s.value === 0)).toBe(true);
    expect(valueOf(families, 'scriptgate_executions_total', { engine: 'python3', status: 'succeeded' })).toBe(1);
  });

  it('needs the administrator key: 401 without or with a wrong key, 403 for an app key, in the contract shape', async () => {
    const missing = await restAs(t, null, 'GET', '/metrics');
    expect(missing.status).toBe(401);
    expect(missing.json.error).toMatchObject({ code: 401, status_code: 401 });
    expect(missing.text).not.toContain('scriptgate_');
    const wrong = await restAs(t, 'not-the-key', 'GET', '/metrics');
    expect(wrong.status).toBe(401);
    expect(wrong.json.error.message).toMatch(/invalid api key/i);
    // An app whose role may do everything is still not the administrator.
    const role = await asAdmin(t, 'POST', '/api/v2/system/role', {
      name: 'everything',
      role_service_access_by_role_id: [{ service_id: null, component: '*', verb_mask: 31, requestor_mask: 3 }],
    });
    const app = await asAdmin(t, 'POST', '/api/v2/system/app', { name: 'scraper', role_id: role.id });
    const forbidden = await restAs(t, app.api_key, 'GET', '/metrics');
    expect(forbidden.status).toBe(403);
    expect(forbidden.json.error).toMatchObject({ code: 403, status_code: 403 });
    expect(forbidden.json.error.message).toMatch(/administrator key/);
    // Every way the platform takes the key: header, Bearer, api_key=.
    expect((await restTo(t.url, 'GET', '/metrics', undefined, { authorization: `Bearer ${ADMIN_KEY}` })).status).toBe(200);
    expect((await restTo(t.url, 'GET', `/metrics?api_key=${ADMIN_KEY}`)).status).toBe(200);
  });

  it('hostile: 1,000 requests to random unknown paths add no label values', async () => {
    const randomName = () => randomBytes(6).toString('hex');
    const paths = [
      () => `/api/v2/${randomName()}`,
      () => `/api/v2/${randomName()}/${randomName()}`,
      () => `/${randomName()}`,
      () => `/api/v2/system/${randomName()}`,
      () => `/graphql/${randomName()}`,
    ];
    // Fifty requests covering every mix of path, verb and key (admin, none, wrong), each path new.
    const batch = () =>
      Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          const path = paths[i % 5]!();
          return i % 2 ? t.rest(i % 4 === 1 ? 'POST' : 'GET', path) : restAs(t, i % 4 === 0 ? null : randomName(), 'GET', path);
        }),
      );
    const seriesOf = (families: Map<string, Family>) =>
      ['scriptgate_http_requests_total', 'scriptgate_http_request_duration_seconds']
        .flatMap((name) => families.get(name)!.samples.map((s) => `${s.name}${JSON.stringify(s.labels)}`))
        .sort();
    const total = (families: Map<string, Family>) => families.get('scriptgate_http_requests_total')!.samples.reduce((sum, s) => sum + s.value, 0);
    // Every status these answer is seen once first: after it, only counts may change.
    const start = total(await scrape(t));
    await batch();
    let before = await scrape(t);
    await eventually(async () => total((before = await scrape(t))) - start >= 50, 'the first batch counted');
    const sent = 1000;
    for (let i = 0; i < sent / 50; i++) await batch();
    let after = before;
    // Scrapes are requests too: at least `sent` more.
    await eventually(async () => total((after = await scrape(t))) - total(before) >= sent, 'every request counted');
    expect(seriesOf(after)).toEqual(seriesOf(before));
    const allowed = ['(graphql)', '(other)', 'broken', 'hello', 'py', 'stuck', 'system'];
    for (const sample of after.get('scriptgate_http_requests_total')!.samples) expect(allowed).toContain(sample.labels.service);
  });
});

/** Three queued runs stored by an instance that never runs them (QUEUE_CONCURRENCY=0): they stay due. */
async function expectThreeDueRuns(t: TestServer, key: string | null): Promise<void> {
  await createService(t, 'orders', 'javascript', 'return 1');
  const attached = await t.rest('POST', '/api/v2/system/event_script/orders.get.queued', { type: 'javascript', content: 'return 1', is_active: true });
  expect(attached.status).toBe(201);
  for (let i = 0; i < 3; i++) expect((await t.rest('GET', '/api/v2/orders')).status).toBe(200);
  const families = await scrape(t, key);
  expect(valueOf(families, 'scriptgate_queue_runs', { state: 'due' })).toBe(3);
  expect(valueOf(families, 'scriptgate_queue_runs', { state: 'claimed' })).toBe(0);
  expect(valueOf(families, 'scriptgate_queue_running', {})).toBe(0);
}

describe('/metrics with METRICS_PUBLIC=true', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ METRICS_PUBLIC: 'true', QUEUE_CONCURRENCY: '0' });
  });
  afterAll(() => t.stop());

  it('answers without a key, and shows stored queued runs by state', async () => {
    await expectThreeDueRuns(t, null);
  });
});

const postgres = await postgresAvailable();

describe.skipIf(!postgres)('/metrics on PostgreSQL', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestServer;
  beforeAll(async () => {
    database = await createTestDatabase();
    t = await startTestServer({ DATABASE_URL: database.url, QUEUE_CONCURRENCY: '0' });
  });
  afterAll(async () => {
    await t?.stop();
    await database?.drop();
  });

  it('counts stored queued runs by state with the same query', async () => {
    await expectThreeDueRuns(t, ADMIN_KEY);
  });
});

describe('queued runs in /metrics', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.stop());

  it('counts attempts by outcome', async () => {
    await createService(t, 'jobs', 'javascript', 'return 1');
    await createService(t, 'doomed', 'javascript', 'return 1');
    await t.rest('POST', '/api/v2/system/event_script/jobs.get.queued', { type: 'javascript', content: 'return 1', is_active: true });
    await t.rest('POST', '/api/v2/system/event_script/doomed.get.queued', {
      type: 'javascript',
      content: "throw new Error('no')",
      is_active: true,
      config: { retries: 0 },
    });
    await t.rest('GET', '/api/v2/jobs');
    await t.rest('GET', '/api/v2/doomed');
    await eventually(async () => {
      const families = await scrape(t);
      return (
        valueOf(families, 'scriptgate_queue_attempts_total', { outcome: 'succeeded' }) === 1 &&
        valueOf(families, 'scriptgate_queue_attempts_total', { outcome: 'failed' }) === 1
      );
    }, 'one succeeded and one failed attempt');
    const families = await scrape(t);
    expect(valueOf(families, 'scriptgate_queue_attempts_total', { outcome: 'retried' })).toBe(0);
    expect(valueOf(families, 'scriptgate_queue_runs', { state: 'due' }) + valueOf(families, 'scriptgate_queue_runs', { state: 'claimed' })).toBe(0);
  });
});
