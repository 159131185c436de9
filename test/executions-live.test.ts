import { request as httpRequest, type IncomingMessage } from 'node:http';
import { print } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, createService, startTestServer, type TestServer } from './helpers/server.ts';
import { readSse, subscribeSse } from './helpers/sse.ts';
import {
  ExecutionLogsDocument,
  ExecutionUpdatedDetailDocument,
  ExecutionUpdatedWithLogsDocument,
  type ExecutionLogsSubscription,
  type ExecutionUpdatedDetailSubscription,
} from './generated/graphql.ts';
import { eventually } from './helpers/eventually.ts';

/**
 * Live execution logs and updates over both subscription transports
 * (graphql-ws on WebSocket, and server-sent events) against a real server.
 * Timing assertions are deliberately loose: the machine may be loaded.
 */

type Transport = 'ws' | 'sse';
type LogLine = ExecutionLogsSubscription['executionLogs'];
type ExecutionUpdate = ExecutionUpdatedDetailSubscription['executionUpdated'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


/** What one subscription received, with arrival times. */
class Feed<T> {
  readonly items: { value: T; at: number }[] = [];
  readonly errors: unknown[] = [];
  ended = false;
  close: () => void = () => undefined;

  get values(): T[] {
    return this.items.map((item) => item.value);
  }

  push(result: { data?: Record<string, unknown> | null; errors?: readonly unknown[] }): void {
    if (result.errors?.length) this.errors.push(result.errors);
    if (result.data) this.items.push({ value: Object.values(result.data)[0] as T, at: performance.now() });
  }

  end(error?: unknown): void {
    if (error !== undefined) this.errors.push(error);
    this.ended = true;
  }

  until(count: number, timeoutMs = 20_000): Promise<void> {
    return eventually(() => this.items.length >= count || this.ended, `${count} items (have ${this.items.length})`, timeoutMs);
  }
}

describe('live executions', () => {
  let t: TestServer;
  let wsUrl: string;
  const clients: Client[] = [];
  const feeds: Feed<unknown>[] = [];
  const bus = () => t.server.platform.bus;

  const adminParams = { 'X-DreamFactory-API-Key': ADMIN_KEY };

  function wsClient(connectionParams: Record<string, unknown> | undefined): Client {
    const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true });
    clients.push(client);
    return client;
  }

  let sharedClient: Client | null = null;

  /** Opens a subscription and waits until the server has registered it on the bus. */
  async function open<R extends Record<string, unknown>, V extends Record<string, unknown>, T>(
    transport: Transport,
    document: TypedDocumentNode<R, V>,
    variables: V,
  ): Promise<Feed<T>> {
    const topic = document === (ExecutionLogsDocument as unknown) ? bus().logs : bus().executions;
    const before = topic.subscriberCount;
    const feed = new Feed<T>();
    feeds.push(feed as Feed<unknown>);
    const query = print(document);
    if (transport === 'ws') {
      sharedClient ??= wsClient(adminParams);
      feed.close = sharedClient.subscribe<Record<string, unknown>>(
        { query, variables },
        { next: (result) => feed.push(result), error: (error) => feed.end(error), complete: () => feed.end() },
      );
    } else {
      const subscription = await subscribeSse(t.url, { query, variables }, { 'x-dreamfactory-api-key': ADMIN_KEY });
      expect(subscription.status).toBe(200);
      feed.close = subscription.close;
      void (async () => {
        try {
          for await (const result of subscription.results) feed.push(result);
          feed.end();
        } catch (error) {
          feed.end(error);
        }
      })();
    }
    await eventually(() => topic.subscriberCount > before, 'the server to register the subscription');
    return feed;
  }

  async function call(path: string) {
    const response = await t.rest('GET', path);
    return { status: response.status, id: response.headers.get('x-execution-id')!, at: performance.now(), json: response.json };
  }

  beforeAll(async () => {
    t = await startTestServer({ SCRIPT_MAX_LOG_BYTES: String(64 * 1024 * 1024) });
    wsUrl = `ws://127.0.0.1:${t.server.port}/graphql`;
    await createService(
      t,
      'ordered',
      'javascript',
      `for (let i = 1; i <= 300; i++) { if (i % 50 === 0) console.warn('m' + i); else console.log('m' + i); } return 'ok';`,
    );
    await createService(
      t,
      'pausing',
      'javascript',
      `console.log('first'); await new Promise((r) => setTimeout(r, 1000)); console.log('second'); return 'ok';`,
    );
    await createService(t, 'svc-a', 'javascript', `console.log('a1'); console.log('a2'); return 'a';`);
    await createService(t, 'svc-b', 'javascript', `console.log('b1'); console.log('b2'); return 'b';`);
    await createService(
      t,
      'waits',
      'javascript',
      `const k = event.request.parameters.k;
       await new Promise((r) => setTimeout(r, 2000));
       console.log('tick ' + k);
       await new Promise((r) => setTimeout(r, 100));
       console.log('tock ' + k);
       return k;`,
    );
    await createService(
      t,
      'updates',
      'javascript',
      `console.log('hi'); if (event.request.parameters.fail) throw new Error('nope'); return 'ok';`,
    );
  });

  afterEach(async () => {
    for (const feed of feeds.splice(0)) feed.close();
    // Whatever a test opened, nothing may stay subscribed once it is closed.
    await eventually(() => bus().logs.subscriberCount === 0 && bus().executions.subscriberCount === 0, 'every subscriber to be gone', 10_000);
  });

  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await t?.stop();
  });

  describe.each<Transport>(['ws', 'sse'])('over %s', (transport) => {
    it('delivers one execution’s lines in order, numbered from 1', async () => {
      const feed = await open<any, any, LogLine>(transport, ExecutionLogsDocument, { service: 'ordered' });
      const run = await call('/api/v2/ordered');
      expect(run.status).toBe(200);
      await feed.until(300);
      expect(feed.errors).toEqual([]);
      const lines = feed.values;
      expect(lines).toHaveLength(300);
      expect(lines.map((l) => l.sequence)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      expect(lines.map((l) => l.message)).toEqual(Array.from({ length: 300 }, (_, i) => `m${i + 1}`));
      expect(lines.every((l) => l.executionId === run.id)).toBe(true);
      expect(lines.filter((l) => l.stream === 'STDERR').map((l) => l.sequence)).toEqual([50, 100, 150, 200, 250, 300]);
      expect(lines.filter((l) => l.stream === 'CONSOLE')).toHaveLength(294);
      const times = lines.map((l) => Date.parse(l.timestamp));
      expect(times.every((time, i) => i === 0 || time >= times[i - 1]!)).toBe(true);
    });

    it('delivers a line while the script is still running', async () => {
      const feed = await open<any, any, LogLine>(transport, ExecutionLogsDocument, { service: 'pausing' });
      const run = await call('/api/v2/pausing');
      expect(run.status).toBe(200);
      await feed.until(2);
      const [first, second] = feed.items;
      expect(first!.value.message).toBe('first');
      expect(second!.value.message).toBe('second');
      // The script waits a second between its lines; each must arrive as it is written.
      expect(second!.at - first!.at).toBeGreaterThanOrEqual(600);
      expect(run.at - first!.at).toBeGreaterThanOrEqual(600);
    });

    it('filters by service, and streams every service with neither argument', async () => {
      const onlyA = await open<any, any, LogLine>(transport, ExecutionLogsDocument, { service: 'svc-a' });
      const upperA = await open<any, any, LogLine>(transport, ExecutionLogsDocument, { service: 'SVC-A' });
      const everything = await open<any, any, LogLine>(transport, ExecutionLogsDocument, {});
      const b = await call('/api/v2/svc-b');
      const a = await call('/api/v2/svc-a');
      await onlyA.until(2);
      await upperA.until(2);
      await everything.until(4);
      expect(onlyA.values.map((l) => [l.executionId, l.message])).toEqual([
        [a.id, 'a1'],
        [a.id, 'a2'],
      ]);
      expect(upperA.values.map((l) => l.message)).toEqual(['a1', 'a2']);
      expect(everything.values.map((l) => [l.executionId, l.message])).toEqual([
        [b.id, 'b1'],
        [b.id, 'b2'],
        [a.id, 'a1'],
        [a.id, 'a2'],
      ]);
    });

    it('filters by execution', async () => {
      const updates = await open<any, any, ExecutionUpdate>(transport, ExecutionUpdatedDetailDocument, { service: 'waits' });
      const one = call('/api/v2/waits?k=1');
      const two = call('/api/v2/waits?k=2');
      await updates.until(2);
      const first = updates.values.find((u) => u.status === 'RUNNING')!;
      const byId = await open<any, any, LogLine>(transport, ExecutionLogsDocument, { executionId: first.id });
      const byIdAndService = await open<any, any, LogLine>(transport, ExecutionLogsDocument, { executionId: first.id, service: 'waits' });
      // An execution of another service: nothing, and done at once (no registration to wait for).
      const byIdWrongService = new Feed<LogLine>();
      feeds.push(byIdWrongService as Feed<unknown>);
      sharedClient ??= wsClient(adminParams);
      byIdWrongService.close = sharedClient.subscribe<Record<string, unknown>>(
        { query: print(ExecutionLogsDocument), variables: { executionId: first.id, service: 'svc-a' } },
        { next: (result) => byIdWrongService.push(result), error: (error) => byIdWrongService.end(error), complete: () => byIdWrongService.end() },
      );
      const runs = await Promise.all([one, two]);
      expect(runs.map((r) => r.status)).toEqual([200, 200]);
      const k = runs.find((r) => r.id === first.id) === runs[0] ? '1' : '2';
      await byId.until(2);
      await byIdAndService.until(2);
      await updates.until(4);
      expect(byId.values.map((l) => [l.executionId, l.sequence, l.message])).toEqual([
        [first.id, 1, `tick ${k}`],
        [first.id, 2, `tock ${k}`],
      ]);
      expect(byIdAndService.values.map((l) => l.message)).toEqual([`tick ${k}`, `tock ${k}`]);
      expect(byIdWrongService.items).toEqual([]);
      // Following one execution, the subscription completes when it ends.
      await eventually(() => byId.ended && byIdAndService.ended && byIdWrongService.ended, 'the per-execution subscriptions to complete');
      expect(byId.errors).toEqual([]);
    });

    it('announces executions when they start and when they end', async () => {
      const mine = await open<any, any, ExecutionUpdate>(transport, ExecutionUpdatedDetailDocument, { service: 'updates' });
      const all = await open<any, any, ExecutionUpdate>(transport, ExecutionUpdatedDetailDocument, {});
      await call('/api/v2/svc-a');
      const ok = await call('/api/v2/updates');
      const failed = await call('/api/v2/updates?fail=1');
      expect([ok.status, failed.status]).toEqual([200, 500]);
      await mine.until(4);
      await all.until(6);
      const events = mine.values;
      expect(events.map((e) => [e.id, e.status])).toEqual([
        [ok.id, 'RUNNING'],
        [ok.id, 'SUCCEEDED'],
        [failed.id, 'RUNNING'],
        [failed.id, 'FAILED'],
      ]);
      expect(events[0]).toMatchObject({ service: 'updates', scriptType: 'javascript', finishedAt: null, durationMs: null, statusCode: null, error: null });
      expect(events[1]).toMatchObject({ statusCode: 200, error: null });
      expect(events[1]!.durationMs).toBeGreaterThan(0);
      expect(Date.parse(events[1]!.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(events[1]!.startedAt));
      expect(events[3]).toMatchObject({ statusCode: 500, error: { kind: 'error' } });
      expect(events[3]!.error!.message).toContain('nope');
      expect(all.values.map((e) => `${e.service}:${e.status}`)).toEqual([
        'svc-a:RUNNING',
        'svc-a:SUCCEEDED',
        'updates:RUNNING',
        'updates:SUCCEEDED',
        'updates:RUNNING',
        'updates:FAILED',
      ]);
    });

    it('gives an updated execution’s log lines as recorded so far', async () => {
      const feed = await open<any, any, { id: string; status: string; logs: { edges: { node: { sequence: number; message: string } }[] } }>(
        transport,
        ExecutionUpdatedWithLogsDocument,
        { service: 'svc-a' },
      );
      const run = await call('/api/v2/svc-a');
      await feed.until(2);
      expect(feed.errors).toEqual([]);
      const [started, ended] = feed.values.map((e) => ({ ...e, lines: e.logs.edges.map((edge) => `${edge.node.sequence}:${edge.node.message}`) }));
      expect([started!.id, started!.status, ended!.id, ended!.status]).toEqual([run.id, 'RUNNING', run.id, 'SUCCEEDED']);
      // Read when delivered: at the start, whatever the script logged by then; at the end, all of it.
      expect(['1:a1', '2:a2'].slice(0, started!.lines.length)).toEqual(started!.lines);
      expect(ended!.lines).toEqual(['1:a1', '2:a2']);
    });
  });

  describe('following one execution', () => {
    /** A subscription to one execution over WebSocket, not waiting for a bus registration (a replay may end before one). */
    function followOne(executionId: string): Feed<LogLine> {
      sharedClient ??= wsClient(adminParams);
      const feed = new Feed<LogLine>();
      feeds.push(feed as Feed<unknown>);
      feed.close = sharedClient.subscribe<Record<string, unknown>>(
        { query: print(ExecutionLogsDocument), variables: { executionId } },
        { next: (result) => feed.push(result), error: (error) => feed.end(error), complete: () => feed.end() },
      );
      return feed;
    }

    it('replays an ended execution from its first line, then completes', async () => {
      const run = await call('/api/v2/svc-a');
      const feed = followOne(run.id);
      await eventually(() => feed.ended, 'the replay to complete');
      expect(feed.errors).toEqual([]);
      expect(feed.values.map((line) => `${line.sequence}:${line.message}`)).toEqual(['1:a1', '2:a2']);
    });

    it('joining mid-run gets the lines written before, then the live ones, each once', async () => {
      const running = call('/api/v2/pausing');
      let id = '';
      await eventually(async () => {
        const listed = await t.rest('GET', '/api/v2/system/execution?service=pausing&status=running');
        id = listed.json.resource[0]?.id ?? '';
        return id !== '';
      }, 'the run to start');
      const feed = followOne(id);
      await eventually(() => feed.ended, 'the run to end');
      expect((await running).status).toBe(200);
      expect(feed.values.map((line) => `${line.sequence}:${line.message}`)).toEqual(['1:first', '2:second']);
    });

    it('an unknown execution is NOT_FOUND', async () => {
      const feed = followOne('00000000-0000-7000-8000-000000000000');
      await eventually(() => feed.ended, 'the refusal');
      expect(JSON.stringify(feed.errors)).toContain('NOT_FOUND');
      expect(feed.values).toEqual([]);
    });
  });

  describe('authentication', () => {
    it('refuses a WebSocket without the key, or with a wrong one, and accepts Bearer', async () => {
      for (const params of [undefined, {}, { 'X-DreamFactory-API-Key': 'wrong' }, { Authorization: 'Bearer wrong' }]) {
        const client = wsClient(params);
        const feed = new Feed<LogLine>();
        client.subscribe({ query: print(ExecutionLogsDocument), variables: {} }, { next: (r) => feed.push(r), error: (e) => feed.end(e), complete: () => feed.end() });
        await eventually(() => feed.ended, 'the refusal');
        expect(feed.items).toEqual([]);
        expect((feed.errors[0] as { code?: number }).code).toBe(4403);
        // The reason says what was wrong, as REST and GraphQL over HTTP do.
        expect((feed.errors[0] as { reason?: string }).reason).toMatch(params && Object.keys(params).length ? /Invalid API key/ : /No API key given/);
        expect(bus().logs.subscriberCount).toBe(0);
        await client.dispose();
      }
      const bearer = wsClient({ authorization: `Bearer ${ADMIN_KEY}` });
      const feed = new Feed<LogLine>();
      feeds.push(feed as Feed<unknown>);
      feed.close = bearer.subscribe(
        { query: print(ExecutionLogsDocument), variables: { service: 'svc-a' } },
        { next: (r) => feed.push(r), error: (e) => feed.end(e), complete: () => feed.end() },
      );
      await eventually(() => bus().logs.subscriberCount === 1, 'the subscription');
      await call('/api/v2/svc-a');
      await feed.until(2);
      expect(feed.values.map((l) => l.message)).toEqual(['a1', 'a2']);
    });

    it('refuses server-sent events without the key, or with a wrong one, and accepts Bearer', async () => {
      const query = print(ExecutionLogsDocument);
      const refusedHeaders: Record<string, string>[] = [{}, { 'x-dreamfactory-api-key': 'wrong' }, { authorization: 'Bearer wrong' }];
      for (const headers of refusedHeaders) {
        const refused = await subscribeSse(t.url, { query }, headers);
        expect(refused.status).toBe(401);
        expect(JSON.parse(refused.refusal!).errors[0].extensions.code).toBe('UNAUTHENTICATED');
        expect(bus().logs.subscriberCount).toBe(0);
      }
      const accepted = await subscribeSse<{ executionLogs: LogLine }>(t.url, { query, variables: { service: 'svc-b' } }, { authorization: `Bearer ${ADMIN_KEY}` });
      expect(accepted.status).toBe(200);
      try {
        await eventually(() => bus().logs.subscriberCount === 1, 'the subscription');
        await call('/api/v2/svc-b');
        const first = await accepted.results.next();
        expect(first.value?.data?.executionLogs.message).toBe('b1');
      } finally {
        accepted.close();
      }
    });
  });

  describe('bad operations over WebSocket', () => {
    it('refuse that operation only; the socket and its other subscriptions live on', async () => {
      const good = await open<any, any, LogLine>('ws', ExecutionLogsDocument, { service: 'svc-a' });
      const refusals: unknown[] = [];
      for (const query of ['subscription {', 'subscription { nope }', 'subscription { executionLogs(service: 1) { message } }']) {
        const bad = new Feed<unknown>();
        sharedClient!.subscribe({ query }, { next: (r) => bad.push(r), error: (e) => bad.end(e), complete: () => bad.end() });
        await eventually(() => bad.ended, `the refusal of ${query}`);
        refusals.push(bad.errors[0]);
      }
      expect(refusals.map((errors) => (errors as { message: string }[])[0]!.message)).toEqual([
        expect.stringMatching(/Syntax Error/),
        expect.stringMatching(/Cannot query field "nope"/),
        expect.stringMatching(/String cannot represent/),
      ]);
      await call('/api/v2/svc-a');
      await good.until(2);
      expect(good.ended).toBe(false);
      expect(good.values.map((l) => l.message)).toEqual(['a1', 'a2']);
    });
  });

  describe('slow subscribers', () => {
    const LINES = 3000;
    const LINE_BYTES = 8000;

    beforeAll(async () => {
      // 24 MB of output in chunks: far more than a stalled socket's kernel buffers hold. A chunk (80 kB) is small
      // enough for the healthy subscribers, read by this same process between chunks, to keep up on a slow machine.
      await createService(
        t,
        'flood',
        'javascript',
        `const pad = 'z'.repeat(${LINE_BYTES});
         for (let i = 1; i <= ${LINES}; i++) {
           console.log(i + ' ' + pad);
           if (i % 10 === 0) await new Promise((r) => setTimeout(r, 0));
         }
         return { lines: ${LINES} };`,
        { max_log_bytes: 50 * 1024 * 1024 },
      );
    });

    /** Runs the flood while `stalled` (already subscribed) does not read; a healthy subscriber on each transport watches too. */
    async function flood(stalledGone: () => boolean) {
      const healthyWs = await open<any, any, LogLine>('ws', ExecutionLogsDocument, { service: 'flood' });
      const healthySse = await open<any, any, LogLine>('sse', ExecutionLogsDocument, { service: 'flood' });
      const subscribers = bus().logs.subscriberCount;
      const running = call('/api/v2/flood');
      // The server answers other requests while the flood runs and the stalled reader blocks.
      let slowest = 0;
      let done = false;
      void running.then(() => (done = true));
      while (!done) {
        const started = performance.now();
        const health = await fetch(`${t.url}/healthz`);
        expect(health.status).toBe(200);
        slowest = Math.max(slowest, performance.now() - started);
        await sleep(50);
      }
      const run = await running;
      expect(run.status).toBe(200);
      expect(slowest).toBeLessThan(2000);
      // The stalled subscriber was dropped by the server; the healthy ones were not, and got every line.
      await eventually(stalledGone, 'the stalled subscriber to be dropped');
      expect(bus().logs.subscriberCount).toBe(subscribers - 1);
      for (const healthy of [healthyWs, healthySse]) {
        await healthy.until(LINES, 60_000);
        expect(healthy.errors).toEqual([]);
        expect(healthy.ended).toBe(false);
        expect(healthy.values.map((l) => l.sequence)).toEqual(Array.from({ length: LINES }, (_, i) => i + 1));
      }
      return run;
    }

    /** What a dropped subscriber finally reads: a prefix of the lines in order, then the farewell. */
    function expectDropped(lines: LogLine[]) {
      expect(lines.length).toBeGreaterThan(1);
      expect(lines.length).toBeLessThan(LINES);
      const farewell = lines.at(-1)!;
      expect(farewell).toMatchObject({ stream: 'SYSTEM', sequence: 0 });
      // A stalled connection is dropped once more than 1 MiB waits unsent to it (src/graphql/subscription-fanout.ts).
      expect(farewell.message).toMatch(/Subscription closed: this subscriber fell more than 1 MiB behind/);
      const delivered = lines.slice(0, -1).map((l) => l.sequence);
      expect(delivered).toEqual(Array.from({ length: delivered.length }, (_, i) => i + 1));
    }

    /** A graphql-ws connection driven by hand, so the test can stop reading from its socket. */
    async function rawGraphqlWs() {
      const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
      const messages: { id?: string; type: string; payload?: any }[] = [];
      let closed = false;
      socket.on('message', (data) => messages.push(JSON.parse(String(data))));
      socket.on('close', () => (closed = true));
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      socket.send(JSON.stringify({ type: 'connection_init', payload: { 'X-DreamFactory-API-Key': ADMIN_KEY } }));
      await eventually(() => messages.some((m) => m.type === 'connection_ack'), 'connection_ack');
      const tcp = (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      return {
        messages,
        /** Subscribes, waits until the server holds the subscription (`subscribers` counts them), then stops reading. */
        async subscribeAndStall(id: string, document: TypedDocumentNode<any, any>, variables: Record<string, unknown>, subscribers: () => number) {
          const before = subscribers();
          socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: print(document), variables } }));
          await eventually(() => subscribers() === before + 1, 'the subscription');
          tcp.pause();
          return before;
        },
        resumeReading: () => tcp.resume(),
        /** The subscription's `next` payloads, once the server completed it. */
        async completed(id: string) {
          await eventually(() => messages.some((m) => m.type === 'complete' && m.id === id), `subscription ${id} to complete`, 60_000);
          expect(messages.filter((m) => m.type === 'error')).toEqual([]);
          return messages.filter((m) => m.type === 'next' && m.id === id).map((m) => m.payload);
        },
        /** The socket itself is still open and answering. */
        async expectUsable() {
          expect(closed).toBe(false);
          socket.send(JSON.stringify({ type: 'ping' }));
          await eventually(() => messages.some((m) => m.type === 'pong'), 'pong');
        },
        close: () => socket.terminate(),
      };
    }

    it('drops a WebSocket subscriber that stops reading, with a final SYSTEM line', async () => {
      const client = await rawGraphqlWs();
      try {
        await client.subscribeAndStall('slow', ExecutionLogsDocument, { service: 'flood' }, () => bus().logs.subscriberCount);
        const marker = bus().logs.subscriberCount;
        await flood(() => bus().logs.subscriberCount < marker + 2);

        client.resumeReading();
        const payloads = await client.completed('slow');
        expectDropped(payloads.map((payload) => payload.data.executionLogs as LogLine));
        await client.expectUsable();
      } finally {
        client.close();
      }
    }, 120_000);

    it('drops a stalled executionUpdated subscriber with a last SERVICE_UNAVAILABLE error', async () => {
      // Each failed run's event carries an 8 kB error: the stalled socket's buffers fill, then its queue.
      const RUNS = 2500;
      await createService(t, 'refuser', 'javascript', `return { error: 'e'.repeat(8000) }`);
      await createService(t, 'refuser-burst', 'javascript', `for (let i = 0; i < ${RUNS}; i++) await platform.api.get('refuser'); return { runs: ${RUNS} }`, {
        timeout_ms: 60_000,
      });
      const client = await rawGraphqlWs();
      try {
        const before = await client.subscribeAndStall('slow', ExecutionUpdatedDetailDocument, { service: 'refuser' }, () => bus().executions.subscriberCount);
        expect((await call('/api/v2/refuser-burst')).status).toBe(200);
        await eventually(() => bus().executions.subscriberCount === before, 'the stalled subscriber to be dropped');

        client.resumeReading();
        const payloads = await client.completed('slow');
        const last = payloads.at(-1);
        expect(last.data).toBeNull();
        expect(last.errors[0].message).toMatch(/Subscription closed: this subscriber fell more than 1000 events behind/);
        expect(last.errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
        const delivered = payloads.slice(0, -1).map((payload) => payload.data.executionUpdated as ExecutionUpdate);
        expect(delivered.length).toBeGreaterThan(0);
        expect(delivered.length).toBeLessThan(2 * RUNS);
        expect(delivered.every((execution) => execution.service === 'refuser')).toBe(true);
        await client.expectUsable();
      } finally {
        client.close();
      }
    }, 120_000);

    it('drops a server-sent events subscriber that stops reading, with a final SYSTEM line', async () => {
      const before = bus().logs.subscriberCount;
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const request = httpRequest(`${t.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-dreamfactory-api-key': ADMIN_KEY },
        });
        request.on('response', resolve).on('error', reject);
        request.end(JSON.stringify({ query: print(ExecutionLogsDocument), variables: { service: 'flood' } }));
      });
      try {
        expect(response.statusCode).toBe(200);
        response.pause();
        await eventually(() => bus().logs.subscriberCount === before + 1, 'the subscription');

        const marker = bus().logs.subscriberCount;
        await flood(() => bus().logs.subscriberCount < marker + 2);

        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            response.on('data', (chunk: Buffer) => controller.enqueue(new Uint8Array(chunk)));
            response.on('end', () => controller.close());
            response.on('error', (error) => controller.error(error));
          },
        });
        response.resume();
        const lines: LogLine[] = [];
        let completed = false;
        for await (const event of readSse(body)) {
          if (event.event === 'next') lines.push(JSON.parse(event.data).data.executionLogs);
          if (event.event === 'complete') {
            completed = true;
            break;
          }
        }
        expect(completed).toBe(true);
        expectDropped(lines);
      } finally {
        response.destroy();
      }
    }, 120_000);
  });

  describe('disconnects', () => {
    it('releases every subscription when clients unsubscribe, disconnect or vanish', async () => {
      const polite = wsClient(adminParams);
      const abrupt = wsClient(adminParams);
      const subscribe = (client: Client, document: TypedDocumentNode<any, any>, variables: Record<string, unknown>) => {
        const feed = new Feed<unknown>();
        feeds.push(feed);
        feed.close = client.subscribe({ query: print(document), variables }, { next: (r) => feed.push(r), error: (e) => feed.end(e), complete: () => feed.end() });
        return feed;
      };
      const politeFeeds = Array.from({ length: 10 }, (_, i) => subscribe(polite, ExecutionLogsDocument, i % 2 ? { service: 'svc-a' } : {}));
      const updateFeeds = Array.from({ length: 5 }, () => subscribe(polite, ExecutionUpdatedDetailDocument, { service: 'svc-a' }));
      Array.from({ length: 10 }, () => subscribe(abrupt, ExecutionLogsDocument, { service: 'svc-b' }));
      const sse = await Promise.all(
        Array.from({ length: 10 }, () => subscribeSse(t.url, { query: print(ExecutionLogsDocument), variables: { service: 'svc-a' } }, { 'x-dreamfactory-api-key': ADMIN_KEY })),
      );
      await eventually(() => bus().logs.subscriberCount === 30 && bus().executions.subscriberCount === 5, 'all subscriptions');

      // Lines flowing while clients go away.
      await call('/api/v2/svc-a');
      await eventually(() => politeFeeds.every((f) => f.items.length === 2) && updateFeeds.every((f) => f.items.length === 2), 'deliveries');

      politeFeeds[0]!.close(); // graphql-ws `complete` from the client: one subscription, socket stays
      await eventually(() => bus().logs.subscriberCount === 29, 'one unsubscribe');
      abrupt.terminate(); // socket gone without a close handshake
      await eventually(() => bus().logs.subscriberCount === 19, 'the terminated socket’s subscriptions');
      for (const subscription of sse) subscription.close();
      await eventually(() => bus().logs.subscriberCount === 9, 'the SSE subscriptions');
      await polite.dispose();
      await eventually(() => bus().logs.subscriberCount === 0 && bus().executions.subscriberCount === 0, 'everything');
      // And the bus still works for newcomers.
      const late = await open<any, any, LogLine>('sse', ExecutionLogsDocument, { service: 'svc-a' });
      await call('/api/v2/svc-a');
      await late.until(2);
      expect(late.values.map((l) => l.message)).toEqual(['a1', 'a2']);
    });
  });
});
