import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionWriter } from '../src/db/execution-writer.ts';
import type { ExecutionEvent, LogLineEvent } from '../src/logs/bus.ts';
import { ExecutionRecorder } from '../src/logs/recorder.ts';
import { createService, startTestServer, type TestServer } from './helpers/server.ts';
import { ExecutionDocument, ExecutionLogPageDocument, ExecutionsPageDocument, type ExecutionStatus } from './generated/graphql.ts';
import { eventually } from './helpers/eventually.ts';

/**
 * Execution history over GraphQL and REST against a real server: what ran,
 * in what order, with which log lines, how pages and filters work, and what
 * retention and the log byte cap keep.
 */

const HIST = `
const n = Number(event.request.parameters.n || 3);
for (let i = 1; i <= n; i++) console.log('line ' + i);
if (event.request.parameters.fail) throw new Error('boom');
await new Promise((resolve) => setTimeout(resolve, 3));
return { n };
`;

async function call(t: TestServer, path: string) {
  const response = await t.rest('GET', path);
  const id = response.headers.get('x-execution-id');
  if (!id) throw new Error(`no x-execution-id from ${path}: ${response.status} ${response.text}`);
  return { status: response.status, id, json: response.json };
}

function data<T>(result: { data?: T | null; errors?: readonly unknown[] }): T {
  expect(result.errors).toBeUndefined();
  return result.data as T;
}

describe('execution history', () => {
  let t: TestServer;
  /** Ids of `hist` runs in call order; runs 3 and 6 (index 2 and 5) fail. */
  const ids: string[] = [];

  beforeAll(async () => {
    t = await startTestServer({ SCRIPT_LOG_BYTES: '4096' });
    await createService(t, 'hist', 'javascript', HIST);
    for (let i = 0; i < 7; i++) {
      const failing = i === 2 || i === 5;
      const run = await call(t, `/api/v2/hist?n=${i + 1}${failing ? '&fail=1' : ''}`);
      expect(run.status).toBe(failing ? 500 : 200);
      ids.push(run.id);
    }
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('lists executions newest first, with their fields', async () => {
    const { executions } = data(await t.gql(ExecutionsPageDocument, { service: 'hist' }));
    expect(executions.edges.map((e) => e.node.id)).toEqual([...ids].reverse());
    const newest = executions.edges[0]!.node;
    expect(newest).toMatchObject({ service: 'hist', scriptType: 'javascript', status: 'SUCCEEDED', statusCode: 200, logsTruncated: false, error: null });
    expect(newest.logBytes).toBe('line 1line 2line 3line 4line 5line 6line 7'.length);
    expect(newest.durationMs).toBeGreaterThan(0);
    expect(Date.parse(newest.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(newest.startedAt));
    // Service names match case-insensitively, as they do in URLs.
    const upper = data(await t.gql(ExecutionsPageDocument, { service: 'HIST', first: 1 }));
    expect(upper.executions.edges[0]!.node.id).toBe(ids[6]);
  });

  it('pages forward with first/after', async () => {
    const seen: string[] = [];
    let after: string | null | undefined;
    const pages: boolean[] = [];
    for (let page = 0; page < 5; page++) {
      const { executions } = data(await t.gql(ExecutionsPageDocument, { service: 'hist', first: 3, after }));
      seen.push(...executions.edges.map((e) => e.node.id));
      pages.push(executions.pageInfo.hasNextPage);
      if (!executions.pageInfo.hasNextPage) break;
      after = executions.pageInfo.endCursor;
      expect(after).toBe(executions.edges.at(-1)!.cursor);
    }
    expect(pages).toEqual([true, true, false]);
    expect(seen).toEqual([...ids].reverse());
  });

  it('pages backward with last/before', async () => {
    const seen: string[][] = [];
    let before: string | null | undefined;
    const pages: boolean[] = [];
    for (let page = 0; page < 5; page++) {
      const { executions } = data(await t.gql(ExecutionsPageDocument, { service: 'hist', last: 3, before }));
      seen.unshift(executions.edges.map((e) => e.node.id));
      pages.push(executions.pageInfo.hasPreviousPage);
      if (!executions.pageInfo.hasPreviousPage) break;
      before = executions.pageInfo.startCursor;
    }
    expect(pages).toEqual([true, true, false]);
    // Each page is itself newest first; the last page backward is the newest run.
    expect(seen).toEqual([[ids[6]], [ids[5], ids[4], ids[3]], [ids[2], ids[1], ids[0]]]);
  });

  it('filters by status, alone and with the service', async () => {
    const byStatus = async (status: ExecutionStatus, service?: string) =>
      data(await t.gql(ExecutionsPageDocument, { status, service })).executions.edges.map((e) => e.node);
    const failed = await byStatus('FAILED', 'hist');
    expect(failed.map((e) => e.id)).toEqual([ids[5], ids[2]]);
    for (const e of failed) {
      expect(e).toMatchObject({ status: 'FAILED', statusCode: 500, error: { kind: 'error' } });
      expect(e.error!.message).toContain('boom');
    }
    expect((await byStatus('SUCCEEDED', 'hist')).map((e) => e.id)).toEqual([ids[6], ids[4], ids[3], ids[1], ids[0]]);
    expect(await byStatus('TIMED_OUT', 'hist')).toEqual([]);
    expect(await byStatus('FAILED', 'nobody')).toEqual([]);
    // A status GraphQL does not know is refused by the schema.
    const wrong = await t.gql(`{ executions(status: DONE) { edges { node { id } } } }`);
    expect(wrong.errors?.[0]?.message).toMatch(/DONE/);
  });

  it('returns one execution with its log lines in order, paged both ways', async () => {
    const id = ids[6]!;
    const whole = data(await t.gql(ExecutionDocument, { id })).execution!;
    expect(whole).toMatchObject({ id, service: 'hist', scriptType: 'javascript', status: 'SUCCEEDED', statusCode: 200, logsTruncated: false });
    expect(whole.logs.edges.map((e) => e.node)).toEqual(
      [1, 2, 3, 4, 5, 6, 7].map((i) => expect.objectContaining({ executionId: id, sequence: i, stream: 'CONSOLE', message: `line ${i}` })),
    );
    for (const edge of whole.logs.edges) expect(Number.isNaN(Date.parse(edge.node.timestamp))).toBe(false);

    const forward: number[] = [];
    let after: string | null | undefined;
    for (let page = 0; page < 5; page++) {
      const { logs } = data(await t.gql(ExecutionLogPageDocument, { id, first: 3, after })).execution!;
      forward.push(...logs.edges.map((e) => e.node.sequence));
      if (!logs.pageInfo.hasNextPage) break;
      after = logs.pageInfo.endCursor;
    }
    expect(forward).toEqual([1, 2, 3, 4, 5, 6, 7]);

    const backward: number[][] = [];
    let before: string | null | undefined;
    for (let page = 0; page < 5; page++) {
      const { logs } = data(await t.gql(ExecutionLogPageDocument, { id, last: 3, before })).execution!;
      backward.unshift(logs.edges.map((e) => e.node.sequence));
      if (!logs.pageInfo.hasPreviousPage) break;
      before = logs.pageInfo.startCursor;
    }
    expect(backward).toEqual([[1], [2, 3, 4], [5, 6, 7]]);

    expect(data(await t.gql(ExecutionDocument, { id: 'no-such-execution' })).execution).toBeNull();
  });

  it('records a failure with its error and a SYSTEM line', async () => {
    const { execution } = data(await t.gql(ExecutionDocument, { id: ids[2]! }));
    expect(execution).toMatchObject({ status: 'FAILED', statusCode: 500, error: { kind: 'error' } });
    expect(execution!.error!.message).toContain('boom');
    const lines = execution!.logs.edges.map((e) => e.node);
    expect(lines.map((l) => l.stream)).toEqual(['CONSOLE', 'CONSOLE', 'CONSOLE', 'SYSTEM']);
    expect(lines.at(-1)!.message).toContain('boom');
    expect(lines.map((l) => l.sequence)).toEqual([1, 2, 3, 4]);
  });

  it('records a timeout as timed_out', async () => {
    await createService(t, 'spin', 'javascript', `console.log('spinning'); while (true) {}`, { timeout_ms: 200 });
    const run = await call(t, '/api/v2/spin');
    expect(run.status).toBe(504);
    const { execution } = data(await t.gql(ExecutionDocument, { id: run.id }));
    expect(execution).toMatchObject({ status: 'TIMED_OUT', statusCode: 504, error: { kind: 'timeout' } });
    expect(execution!.durationMs).toBeGreaterThanOrEqual(150);
    expect(execution!.finishedAt).not.toBeNull();
    const lines = execution!.logs.edges.map((e) => e.node);
    expect(lines[0]).toMatchObject({ sequence: 1, stream: 'CONSOLE', message: 'spinning' });
    expect(lines.at(-1)).toMatchObject({ sequence: 2, stream: 'SYSTEM' });
    expect(lines.at(-1)!.message).toMatch(/time limit/);
    const timedOut = data(await t.gql(ExecutionsPageDocument, { status: 'TIMED_OUT' })).executions.edges.map((e) => e.node.id);
    expect(timedOut).toEqual([run.id]);
  });

  it('shows a run in progress as running, then finished', async () => {
    await createService(t, 'sleepy', 'javascript', `console.log('start'); await new Promise((r) => setTimeout(r, 1500)); return 'done';`);
    const pending = call(t, '/api/v2/sleepy');
    let running: { id: string; finishedAt?: string | null; durationMs?: number | null; statusCode?: number | null } | undefined;
    await eventually(async () => {
      running = data(await t.gql(ExecutionsPageDocument, { service: 'sleepy', status: 'RUNNING' })).executions.edges[0]?.node;
      return Boolean(running);
    }, 'the run listed as running');
    expect(running).toMatchObject({ finishedAt: null, durationMs: null, statusCode: null });
    const run = await pending;
    expect(run.id).toBe(running!.id);
    const { execution } = data(await t.gql(ExecutionDocument, { id: run.id }));
    expect(execution).toMatchObject({ status: 'SUCCEEDED', statusCode: 200 });
    expect(execution!.durationMs).toBeGreaterThanOrEqual(1000);
    expect(data(await t.gql(ExecutionsPageDocument, { service: 'sleepy', status: 'RUNNING' })).executions.edges).toEqual([]);
  });

  it('caps log bytes per service and marks the truncation', async () => {
    await createService(
      t,
      'chatty',
      'javascript',
      `for (let i = 1; i <= 100; i++) console.log(String(i).padStart(3, '0') + ' ' + 'x'.repeat(46)); return { ok: true };`,
      { max_log_bytes: 2000 },
    );
    const run = await call(t, '/api/v2/chatty');
    expect(run.status).toBe(200);
    const { execution } = data(await t.gql(ExecutionLogPageDocument, { id: run.id, first: 500 }));
    expect(execution!.logsTruncated).toBe(true);
    const lines = execution!.logs.edges.map((e) => e.node);
    // 50-byte lines: 40 fit in 2000 bytes, then one SYSTEM line says the rest was dropped.
    expect(lines).toHaveLength(41);
    expect(lines.slice(0, 40).every((l, i) => l.stream === 'CONSOLE' && l.message.startsWith(String(i + 1).padStart(3, '0')))).toBe(true);
    expect(lines[40]).toMatchObject({ sequence: 41, stream: 'SYSTEM' });
    expect(lines[40]!.message).toMatch(/truncated.*2000 bytes/);
    const page = data(await t.gql(ExecutionsPageDocument, { service: 'chatty' })).executions.edges[0]!.node;
    expect(page).toMatchObject({ logsTruncated: true, logBytes: 2000 });
    const rest = await t.rest('GET', `/api/v2/system/execution/${run.id}`);
    expect(rest.json).toMatchObject({ logs_truncated: true, log_bytes: 2000 });
    expect(rest.json.logs.at(-1)).toMatchObject({ sequence: 41, stream: 'SYSTEM' });
  });

  it('applies SCRIPT_LOG_BYTES when the service sets no cap', async () => {
    await createService(t, 'default-cap', 'javascript', `for (let i = 0; i < 100; i++) console.log('y'.repeat(99)); return 1;`);
    const run = await call(t, '/api/v2/default-cap');
    const { execution } = data(await t.gql(ExecutionLogPageDocument, { id: run.id, first: 500 }));
    expect(execution!.logsTruncated).toBe(true);
    const lines = execution!.logs.edges.map((e) => e.node);
    expect(lines).toHaveLength(Math.floor(4096 / 99) + 1);
    expect(lines.at(-1)!.stream).toBe('SYSTEM');
  });

  it('keeps the platform’s SYSTEM lines after the cap', async () => {
    await createService(t, 'chatty-fails', 'javascript', `for (let i = 0; i < 100; i++) console.log('w'.repeat(99)); throw new Error('after the flood');`, {
      max_log_bytes: 1000,
    });
    const run = await call(t, '/api/v2/chatty-fails');
    expect(run.status).toBe(500);
    const { execution } = data(await t.gql(ExecutionLogPageDocument, { id: run.id, first: 500 }));
    expect(execution!.logsTruncated).toBe(true);
    const lines = execution!.logs.edges.map((e) => e.node);
    expect(lines.map((l) => l.stream)).toEqual([...Array(10).fill('CONSOLE'), 'SYSTEM', 'SYSTEM']);
    expect(lines[10]!.message).toMatch(/truncated/);
    expect(lines[11]!.message).toContain('after the flood');
    expect(lines.map((l) => l.sequence)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('does not truncate a log that fits', async () => {
    const { execution } = data(await t.gql(ExecutionDocument, { id: ids[0]! }));
    expect(execution!.logsTruncated).toBe(false);
    expect(execution!.logs.edges.every((e) => e.node.stream !== 'SYSTEM')).toBe(true);
  });

  it('links the runs a script\'s platform.api calls make to it: the call tree, over GraphQL and REST', async () => {
    await createService(t, 'tree-leaf', 'javascript', "console.log('leaf'); return 1");
    await createService(t, 'tree-mid', 'javascript', "await platform.api.get('tree-leaf'); return 2");
    await createService(t, 'tree-root', 'javascript', "await platform.api.get('tree-mid'); await platform.api.get('tree-leaf'); return 3");
    const root = await call(t, '/api/v2/tree-root');
    const tree = await t.gql<any, any>(
      'query($id: ID!) { execution(id: $id) { service parentExecutionId children { service parentExecutionId children { service } } } }',
      { id: root.id },
    );
    expect(tree.errors).toBeUndefined();
    expect(tree.data.execution).toEqual({
      service: 'tree-root',
      parentExecutionId: null,
      children: [
        { service: 'tree-mid', parentExecutionId: root.id, children: [{ service: 'tree-leaf' }] },
        { service: 'tree-leaf', parentExecutionId: root.id, children: [] },
      ],
    });
    const leaves = await t.rest('GET', '/api/v2/system/execution?service=tree-leaf&fields=parent_execution_id');
    expect(leaves.json.resource.map((r: any) => r.parent_execution_id)).toContain(root.id);
  });

  it('keeps each of many concurrent runs complete and numbered', async () => {
    await createService(t, 'burst', 'javascript', `for (let i = 1; i <= 20; i++) { console.log('n' + i); if (i % 5 === 0) await new Promise((r) => setTimeout(r, 1)); } return 1;`);
    const runs = await Promise.all(Array.from({ length: 20 }, () => call(t, '/api/v2/burst')));
    for (const run of runs) {
      const { execution } = data(await t.gql(ExecutionLogPageDocument, { id: run.id, first: 100 }));
      expect(execution!.logs.edges.map((e) => `${e.node.sequence}:${e.node.message}`)).toEqual(
        Array.from({ length: 20 }, (_, i) => `${i + 1}:n${i + 1}`),
      );
    }
    const listed = data(await t.gql(ExecutionsPageDocument, { service: 'burst', first: 100 })).executions.edges;
    expect(new Set(listed.map((e) => e.node.id))).toEqual(new Set(runs.map((r) => r.id)));
  });

  describe('REST', () => {
    it('lists executions newest first, filtered by service and status', async () => {
      const all = await t.rest('GET', '/api/v2/system/execution?filter=service%3Dhist&include_count=true');
      expect(all.status).toBe(200);
      expect(all.json.resource.map((e: { id: string }) => e.id)).toEqual([...ids].reverse());
      expect(all.json.meta).toEqual({ count: 7 });
      expect(all.json.resource[0]).toMatchObject({
        id: ids[6],
        service: 'hist',
        script_type: 'javascript',
        status: 'succeeded',
        trigger: 'service',
        status_code: 200,
        error: null,
        logs_truncated: false,
      });
      expect(all.json.resource[0]).not.toHaveProperty('logs');

      const failed = await t.rest('GET', `/api/v2/system/execution?filter=${encodeURIComponent("service = 'hist' AND status = failed")}`);
      expect(failed.json.resource.map((e: { id: string }) => e.id)).toEqual([ids[5], ids[2]]);
      expect(failed.json.resource[0].error).toMatchObject({ kind: 'error' });

      const timedOut = await t.rest('GET', `/api/v2/system/execution?filter=status%3Dtimed_out`);
      expect(timedOut.json.resource.length).toBeGreaterThan(0);
      expect(timedOut.json.resource.every((e: { status: string }) => e.status === 'timed_out')).toBe(true);
    });

    it('pages with limit and offset', async () => {
      const page = async (limit: number, offset: number) =>
        (await t.rest('GET', `/api/v2/system/execution?filter=service%3Dhist&limit=${limit}&offset=${offset}`)).json.resource.map(
          (e: { id: string }) => e.id,
        );
      expect(await page(3, 0)).toEqual([ids[6], ids[5], ids[4]]);
      expect(await page(3, 3)).toEqual([ids[3], ids[2], ids[1]]);
      expect(await page(3, 6)).toEqual([ids[0]]);
      expect(await page(3, 9)).toEqual([]);
    });

    it('returns one execution with its log lines', async () => {
      const one = await t.rest('GET', `/api/v2/system/execution/${ids[3]}`);
      expect(one.status).toBe(200);
      expect(one.json).toMatchObject({ id: ids[3], service: 'hist', status: 'succeeded', status_code: 200 });
      expect(one.json.logs.map((l: { sequence: number; stream: string; message: string }) => [l.sequence, l.stream, l.message])).toEqual(
        [1, 2, 3, 4].map((i) => [i, 'CONSOLE', `line ${i}`]),
      );
      expect(Number.isNaN(Date.parse(one.json.logs[0].timestamp))).toBe(false);

      expect(one.json.logs_more).toBe(false);

      // Long logs page by sequence, saying whether more follow.
      const page1 = await t.rest('GET', `/api/v2/system/execution/${ids[6]}?log_limit=3`);
      expect(page1.json.logs.map((l: { sequence: number }) => l.sequence)).toEqual([1, 2, 3]);
      expect(page1.json.logs_more).toBe(true);
      const page3 = await t.rest('GET', `/api/v2/system/execution/${ids[6]}?log_limit=3&log_after=6`);
      expect(page3.json.logs.map((l: { sequence: number }) => l.sequence)).toEqual([7]);
      expect(page3.json.logs_more).toBe(false);
      expect((await t.rest('GET', `/api/v2/system/execution/${ids[6]}?log_after=x`)).status).toBe(400);

      const failed = await t.rest('GET', `/api/v2/system/execution/${ids[2]}`);
      expect(failed.json).toMatchObject({ status: 'failed', status_code: 500, error: { kind: 'error' } });
      expect(failed.json.logs.at(-1)).toMatchObject({ sequence: 4, stream: 'SYSTEM' });
    });

    it('refuses unknown executions, bad filters and missing keys', async () => {
      expect((await t.rest('GET', '/api/v2/system/execution/not-an-execution')).status).toBe(404);
      expect((await t.rest('GET', '/api/v2/system/execution?filter=status%3Ddone')).status).toBe(400);
      expect((await t.rest('GET', '/api/v2/system/execution?filter=script%3Dx')).status).toBe(400);
      expect((await t.rest('GET', '/api/v2/system/execution?limit=-1')).status).toBe(400);
      const anonymous = await fetch(`${t.url}/api/v2/system/execution`);
      expect(anonymous.status).toBe(401);
    });
  });
});

describe('execution retention', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ EXECUTIONS_KEEP_PER_SERVICE: '3' });
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('keeps the newest N finished executions per service, with their lines, and never a running one', async () => {
    await createService(t, 'keep-a', 'javascript', HIST);
    await createService(t, 'keep-b', 'javascript', HIST);
    await createService(t, 'keep-slow', 'javascript', `console.log('working'); await new Promise((r) => setTimeout(r, 2000)); return 1;`);
    const a: string[] = [];
    for (let i = 0; i < 6; i++) a.push((await call(t, '/api/v2/keep-a?n=2')).id);
    const b: string[] = [];
    for (let i = 0; i < 2; i++) b.push((await call(t, '/api/v2/keep-b')).id);
    const slow: string[] = [];
    for (let i = 0; i < 3; i++) slow.push((await call(t, '/api/v2/keep-slow')).id);
    // One more slow run still going while pruning: it is the oldest's neighbour but must stay.
    const pending = call(t, '/api/v2/keep-slow');
    await eventually(
      async () => data(await t.gql(ExecutionsPageDocument, { service: 'keep-slow', status: 'RUNNING' })).executions.edges.length > 0,
      'the slow run listed as running',
    );

    const keep = t.server.platform.settings.executions.keepPerService;
    expect(keep).toBe(3);
    const removed = await t.server.platform.executions.prune(keep);
    expect(removed).toBe(3);

    const listed = async (service: string) =>
      data(await t.gql(ExecutionsPageDocument, { service, first: 50 })).executions.edges.map((e) => e.node);
    expect((await listed('keep-a')).map((e) => e.id)).toEqual([a[5], a[4], a[3]]);
    expect((await listed('keep-b')).map((e) => e.id)).toEqual([b[1], b[0]]);
    const slowListed = await listed('keep-slow');
    expect(slowListed).toHaveLength(4);
    expect(slowListed[0]!.status).toBe('RUNNING');
    expect(slowListed.slice(1).map((e) => e.id)).toEqual([slow[2], slow[1], slow[0]]);

    for (const id of a.slice(0, 3)) {
      expect(data(await t.gql(ExecutionDocument, { id })).execution).toBeNull();
      expect((await t.rest('GET', `/api/v2/system/execution/${id}`)).status).toBe(404);
      expect(await t.server.platform.executions.logs(id, { afterSequence: 0, limit: 100 })).toEqual([]);
    }
    for (const id of a.slice(3)) {
      const { execution } = data(await t.gql(ExecutionDocument, { id }));
      expect(execution!.logs.edges.map((e) => e.node.message)).toEqual(['line 1', 'line 2']);
    }

    const finished = await pending;
    expect(finished.status).toBe(200);
    // Now that it ended, the slow service is over its limit by one.
    expect(await t.server.platform.executions.prune(keep)).toBe(1);
    expect((await listed('keep-slow')).map((e) => e.id)).toEqual([finished.id, slow[2], slow[1]]);
    // Nothing more to remove.
    expect(await t.server.platform.executions.prune(keep)).toBe(0);
  });
});

/**
 * The recorder against a database that fails on demand (an in-memory stand-in
 * for its writer, with the same all-or-nothing batches and foreign keys).
 */
describe('recording while the database fails', () => {
  /** Stands in for ExecutionWriter: executions upserted, lines inserted, all or nothing, lines need their row. */
  function fakeDb() {
    const executions = new Map<string, ExecutionEvent>();
    const lines: { executionId: string; sequence: number }[] = [];
    const state = { down: false, poisoned: new Set<string>(), transactions: 0 };
    const writer = {
      async write(batch: ExecutionEvent[], batchLines: LogLineEvent[]) {
        state.transactions++;
        await Promise.resolve();
        if (state.down) throw new Error('database unavailable');
        const next = new Map(executions);
        for (const e of batch) {
          if (state.poisoned.has(e.id)) throw new Error(`cannot store ${e.id}`);
          next.set(e.id, e);
        }
        for (const l of batchLines) if (!next.has(l.executionId)) throw new Error(`foreign key: ${l.executionId}`);
        for (const [id, e] of next) executions.set(id, e);
        lines.push(...batchLines);
      },
    };
    return { db: writer as unknown as ExecutionWriter, executions, lines, state };
  }

  const execution = (id: string, status: ExecutionEvent['status']): ExecutionEvent => ({
    id,
    service: 'svc',
    eventName: null,
    parentExecutionId: null,
    scriptType: 'javascript',
    status,
    trigger: 'service',
    startedAt: new Date(),
    finishedAt: status === 'running' ? null : new Date(),
    durationMs: status === 'running' ? null : 1,
    statusCode: status === 'running' ? null : 200,
    error: null,
    logBytes: 0,
    logsTruncated: false,
    serviceId: null,
    serviceVersion: null,
    replayOf: null,
    request: null,
    cpuMs: null,
    peakMemoryBytes: null,
  });
  const line = (executionId: string, sequence: number): LogLineEvent => ({
    executionId,
    service: 'svc',
    sequence,
    stream: 'CONSOLE',
    message: `${executionId} ${sequence}`,
    timestamp: new Date(),
  });
  const linesOf = (lines: { executionId: string; sequence: number }[], id: string) => lines.filter((l) => l.executionId === id).map((l) => l.sequence);

  it('loses nothing when the database comes back', async () => {
    const fake = fakeDb();
    const errors: unknown[] = [];
    const recorder = new ExecutionRecorder(fake.db, 5, (error) => errors.push(error), 60_000);
    fake.state.down = true;
    recorder.execution(execution('a', 'running'));
    recorder.line(line('a', 1));
    await recorder.flush();
    recorder.line(line('a', 2));
    recorder.execution(execution('a', 'succeeded'));
    recorder.execution(execution('b', 'running'));
    await recorder.flush();
    expect(errors.length).toBeGreaterThanOrEqual(2);
    fake.state.down = false;
    await recorder.flush();
    expect(fake.executions.get('a')).toMatchObject({ status: 'succeeded' });
    expect(fake.executions.get('b')).toMatchObject({ status: 'running' });
    expect(linesOf(fake.lines, 'a')).toEqual([1, 2]);
    // And it goes on as usual: b's row exists, so its end is an update.
    recorder.line(line('b', 1));
    recorder.execution(execution('b', 'failed'));
    await recorder.flush();
    expect(fake.executions.get('b')).toMatchObject({ status: 'failed' });
    expect(linesOf(fake.lines, 'b')).toEqual([1]);
  });

  it('retries on its own, backing off, without anyone flushing', async () => {
    const fake = fakeDb();
    const recorder = new ExecutionRecorder(fake.db, 5, () => undefined, 60_000);
    fake.state.down = true;
    recorder.execution(execution('c', 'running'));
    recorder.line(line('c', 1));
    await eventually(() => fake.state.transactions >= 3, 'three transactions');
    fake.state.down = false;
    await eventually(() => fake.lines.length === 1, 'one line written');
    expect(fake.executions.get('c')).toMatchObject({ status: 'running' });
  });

  it('does not let one execution that cannot be stored hold back or poison the others', async () => {
    const fake = fakeDb();
    const errors: unknown[] = [];
    const recorder = new ExecutionRecorder(fake.db, 5, (error) => errors.push(error), 0);
    fake.state.poisoned.add('bad');
    recorder.execution(execution('bad', 'running'));
    recorder.line(line('bad', 1));
    recorder.execution(execution('good', 'running'));
    recorder.line(line('good', 1));
    await recorder.flush(); // fails whole, then split: good is written, bad is dropped
    expect(fake.executions.has('good')).toBe(true);
    expect(linesOf(fake.lines, 'good')).toEqual([1]);
    expect(fake.executions.has('bad')).toBe(false);
    expect(errors.length).toBeGreaterThan(0);

    // Later batches are not failed by bad's lines (which could only fail on its missing row).
    const before = errors.length;
    recorder.line(line('bad', 2));
    recorder.line(line('good', 2));
    recorder.execution(execution('good', 'succeeded'));
    recorder.execution(execution('new', 'succeeded'));
    await recorder.flush();
    expect(errors.length).toBe(before);
    expect(fake.executions.get('good')).toMatchObject({ status: 'succeeded' });
    expect(linesOf(fake.lines, 'good')).toEqual([1, 2]);
    expect(fake.executions.has('new')).toBe(true);

    // When bad's row can be stored after all, its end is recorded.
    fake.state.poisoned.delete('bad');
    recorder.execution(execution('bad', 'failed'));
    await recorder.flush();
    expect(fake.executions.get('bad')).toMatchObject({ status: 'failed' });
  });
});
