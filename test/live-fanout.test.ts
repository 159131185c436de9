// The shared fan-out of live subscriptions (src/graphql/subscription-fanout.ts)
// against a real server: 1,000 real subscribers over WebSocket and server-sent
// events on one source, each getting every line in order; other selection
// sets and variables get their own group and shape; access is still checked
// per subscriber. Slow readers are cut in test/executions-live.test.ts
// ("slow subscribers"), where the stalled and the healthy clients share a group.
import { request as httpRequest, Agent, type ClientRequest } from 'node:http';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, asAdmin, createService, startTestServer, type TestServer } from './helpers/server.ts';
import { eventually } from './helpers/eventually.ts';

const FULL = 'subscription Full($service: String) { executionLogs(service: $service) { executionId sequence stream message timestamp } }';
const SHORT = 'subscription Short($service: String) { executionLogs(service: $service) { message } }';

interface Payload {
  data?: { executionLogs: Record<string, unknown> } | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** One subscriber: what it received, in order, and how it ended. */
interface Received {
  payloads: Payload[];
  /** graphql-ws `error` messages (their payload), or SSE's refusal. */
  errors: unknown[];
  completed: boolean;
}

describe('live subscriptions share one execution per event', () => {
  let t: TestServer;
  const sockets: WebSocket[] = [];
  const requests: ClientRequest[] = [];
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const logs = () => t.server.platform.bus.logs;

  beforeAll(async () => {
    t = await startTestServer();
    await createService(t, 'ticker', 'javascript', `for (let i = 1; i <= 20; i++) console.log('line ' + i); return 'ok';`);
    await createService(t, 'other', 'javascript', `console.log('secret of other'); return 'ok';`);
  });

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.terminate();
    for (const request of requests.splice(0)) request.destroy();
    await eventually(() => logs().subscriberCount === 0 && logs().subscriptionCount === 0, 'every subscriber and shared source to be gone');
  });

  afterAll(async () => {
    await t?.stop();
  });

  /** A graphql-ws connection by hand (the protocol's raw messages), with `count` subscriptions of `query` on it. */
  async function webSocketSubscribers(count: number, query: string, variables: Record<string, unknown>, key = ADMIN_KEY): Promise<Received[]> {
    const socket = new WebSocket(`ws://127.0.0.1:${t.server.port}/graphql`, 'graphql-transport-ws');
    sockets.push(socket);
    const received: Received[] = Array.from({ length: count }, () => ({
      payloads: [],
      errors: [],
      completed: false,
    }));
    let acknowledged = false;
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as {
        type: string;
        id?: string;
        payload?: unknown;
      };
      if (message.type === 'connection_ack') acknowledged = true;
      const subscriber = message.id === undefined ? undefined : received[Number(message.id)];
      if (!subscriber) return;
      if (message.type === 'next') subscriber.payloads.push(message.payload as Payload);
      else if (message.type === 'error') subscriber.errors.push(message.payload);
      else if (message.type === 'complete') subscriber.completed = true;
    });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.send(
      JSON.stringify({
        type: 'connection_init',
        payload: { 'X-DreamFactory-API-Key': key },
      }),
    );
    await eventually(() => acknowledged, 'connection_ack');
    for (let id = 0; id < count; id++)
      socket.send(
        JSON.stringify({
          id: String(id),
          type: 'subscribe',
          payload: { query, variables },
        }),
      );
    return received;
  }

  /** One server-sent events subscriber on its own connection. */
  function eventStreamSubscriber(query: string, variables: Record<string, unknown>, key = ADMIN_KEY): Received & { status: Promise<number> } {
    const received: Received = { payloads: [], errors: [], completed: false };
    let settle: (status: number) => void = () => undefined;
    const status = new Promise<number>((resolve) => (settle = resolve));
    const request = httpRequest(`${t.url}/graphql`, {
      method: 'POST',
      agent,
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        'x-dreamfactory-api-key': key,
      },
    });
    requests.push(request);
    request.on('error', (error) => received.errors.push(error.message));
    request.on('response', (response) => {
      settle(response.statusCode ?? 0);
      response.setEncoding('utf8');
      let buffer = '';
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (response.statusCode !== 200) continue;
          if (block.startsWith('event: complete')) received.completed = true;
          else if (block.startsWith('event: next\ndata: ')) received.payloads.push(JSON.parse(block.slice('event: next\ndata: '.length)) as Payload);
        }
      });
      response.on('end', () => {
        if (response.statusCode !== 200) received.errors.push(JSON.parse(buffer));
      });
    });
    request.end(JSON.stringify({ query, variables }));
    return Object.assign(received, { status });
  }

  it('1,000 subscribers (500 WebSocket, 500 SSE) on one source: every line, in order, to each', async () => {
    // 50 sockets of 10 subscriptions each, and 500 event streams.
    const ws = (await Promise.all(Array.from({ length: 50 }, () => webSocketSubscribers(10, FULL, { service: 'ticker' })))).flat();
    const sse = Array.from({ length: 500 }, () => eventStreamSubscriber(FULL, { service: 'ticker' }));
    await eventually(() => logs().subscriberCount === 1000, `1,000 subscribers (have ${logs().subscriberCount})`);
    // One bus subscription serves them all: one execution per line.
    expect(logs().subscriptionCount).toBe(1);

    const started = Date.now();
    const response = await t.rest('GET', '/api/v2/ticker');
    expect(response.status).toBe(200);
    const all = [...ws, ...sse];
    await eventually(() => all.every((subscriber) => subscriber.payloads.length === 20), 'every subscriber to get 20 lines', 15_000);
    const executionId = response.headers.get('x-execution-id');
    const expected = Array.from({ length: 20 }, (_, i) => ({
      sequence: i + 1,
      message: `line ${i + 1}`,
      executionId,
      stream: 'CONSOLE',
    }));
    for (const subscriber of all) {
      expect(subscriber.errors).toEqual([]);
      expect(subscriber.payloads.map((payload) => payload.data?.executionLogs)).toEqual(expected.map((line) => expect.objectContaining(line)));
    }
    // Same bytes for all: the same timestamps too.
    const first = JSON.stringify(ws[0]!.payloads);
    expect(all.every((subscriber) => JSON.stringify(subscriber.payloads) === first)).toBe(true);
    console.log(`20 lines to 1,000 subscribers in ${Date.now() - started} ms`);
  }, 30_000);

  it('another selection set or other variables get a group, and a shape, of their own', async () => {
    const [full] = await webSocketSubscribers(1, FULL, { service: 'ticker' });
    const [short] = await webSocketSubscribers(1, SHORT, { service: 'ticker' });
    const shortSse = eventStreamSubscriber(SHORT, { service: 'ticker' });
    // The same variables in another order, and with another service: the latter must never see ticker's lines.
    const [reordered] = await webSocketSubscribers(1, FULL, {
      service: 'ticker',
    });
    const [other] = await webSocketSubscribers(1, FULL, { service: 'other' });
    await eventually(() => logs().subscriberCount === 5, 'five subscribers');
    expect(logs().subscriptionCount).toBe(3);

    expect((await t.rest('GET', '/api/v2/ticker')).status).toBe(200);
    await eventually(() => [full, short, shortSse, reordered].every((s) => s!.payloads.length === 20), 'the lines');
    expect(Object.keys(full!.payloads[0]!.data!.executionLogs).sort()).toEqual(['executionId', 'message', 'sequence', 'stream', 'timestamp']);
    for (const subscriber of [short!, shortSse])
      expect(subscriber.payloads.map((p) => p.data)).toEqual(
        Array.from({ length: 20 }, (_, i) => ({
          executionLogs: { message: `line ${i + 1}` },
        })),
      );
    expect(reordered!.payloads).toEqual(full!.payloads);
    expect(other!.payloads).toEqual([]);

    expect((await t.rest('GET', '/api/v2/other')).status).toBe(200);
    await eventually(() => other!.payloads.length === 1, 'the other service’s line');
    expect(other!.payloads[0]!.data!.executionLogs.message).toBe('secret of other');
    expect(full!.payloads).toHaveLength(20);
  });

  it('a subscriber whose role does not grant execution GET is refused and never joins the group', async () => {
    const denied = await asAdmin(t, 'POST', '/api/v2/system/role', {
      name: 'no-executions',
      role_service_access_by_role_id: [
        {
          service_id: 0,
          component: 'service',
          verb_mask: 1,
          requestor_mask: 1,
        },
      ],
    });
    const deniedApp = await asAdmin(t, 'POST', '/api/v2/system/app', {
      name: 'no-executions-app',
      role_id: denied.id,
    });
    const allowed = await asAdmin(t, 'POST', '/api/v2/system/role', {
      name: 'executions',
      role_service_access_by_role_id: [
        {
          service_id: 0,
          component: 'execution',
          verb_mask: 1,
          requestor_mask: 1,
        },
      ],
    });
    const allowedApp = await asAdmin(t, 'POST', '/api/v2/system/app', {
      name: 'executions-app',
      role_id: allowed.id,
    });

    const [member] = await webSocketSubscribers(1, FULL, { service: 'ticker' }, allowedApp.api_key);
    await eventually(() => logs().subscriberCount === 1, 'the allowed subscriber');
    // The same operation and variables as the open group: joining it is what an attacker would try.
    const [refusedWs] = await webSocketSubscribers(1, FULL, { service: 'ticker' }, deniedApp.api_key);
    const refusedSse = eventStreamSubscriber(FULL, { service: 'ticker' }, deniedApp.api_key);
    await eventually(() => refusedWs!.errors.length === 1 || refusedWs!.payloads.length > 0, 'the WebSocket refusal');
    // Yoga's answer over SSE: 200, one `next` with the error, then `complete` (as before the fan-out).
    expect(await refusedSse.status).toBe(200);
    await eventually(() => refusedSse.completed, 'the SSE refusal');

    expect(logs().subscriberCount).toBe(1);
    expect((await t.rest('GET', '/api/v2/ticker')).status).toBe(200);
    await eventually(() => member!.payloads.length === 20, 'the allowed subscriber’s lines');
    // graphql-ws's answer to a refused subscribe: one `next` with the error, then `complete`; never a line.
    const refusals = [...refusedWs!.payloads.flatMap((p) => p.errors ?? []), ...(refusedWs!.errors as { extensions?: { code?: string } }[][]).flat()];
    expect(refusals.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(refusedWs!.payloads.every((p) => !p.data)).toBe(true);
    expect(refusedSse.payloads.flatMap((p) => p.errors ?? []).map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(refusedSse.payloads.every((p) => !p.data)).toBe(true);
  });
});
