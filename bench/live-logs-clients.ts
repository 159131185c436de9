/**
 * The subscribers of bench/live-logs.ts, run in a child process so they use
 * the machine's other core rather than the server's event loop. WebSocket
 * subscribers use graphql-ws clients; server-sent events ones use plain
 * node:http requests (Yoga's "distinct connections" SSE mode).
 */
import { request as httpRequest, Agent } from 'node:http';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface ClientOptions {
  url: string;
  key: string;
  service: string;
  wsSubscribers: number;
  /** WebSocket connections the WebSocket subscribers share (graphql-ws multiplexes). */
  wsSockets: number;
  sseSubscribers: number;
}

export type ToClients = { type: 'start'; options: ClientOptions } | { type: 'mark' } | { type: 'report' } | { type: 'close' };
export type FromClients =
  | { type: 'failed'; error: string }
  | { type: 'progress'; received: number }
  | { type: 'report'; ws: number[]; sse: number[]; errors: string[]; cpuMs: number };

let options: ClientOptions;
const parent = {
  postMessage(message: FromClients): void {
    process.send?.(message);
  },
};
const query = `subscription Bench($service: String) { executionLogs(service: $service) { executionId sequence stream message timestamp } }`;
const samples = { ws: [] as number[], sse: [] as number[] };
const errors: string[] = [];
let received = 0;
let mark = process.cpuUsage();

/** Lines are `tick <n> <Date.now()>` (measured) or `warm <n> <Date.now()>` (ignored). */
function record(transport: 'ws' | 'sse', message: string): void {
  const now = Date.now();
  received++;
  if (!message.startsWith('tick ')) return;
  const written = Number(message.slice(message.lastIndexOf(' ') + 1));
  samples[transport].push(now - written);
}

const clients: Client[] = [];
const requests: { destroy(): void }[] = [];

function openWebSockets(): void {
  for (let s = 0; s < (options.wsSubscribers ? options.wsSockets : 0); s++) {
    clients.push(
      createClient({
        url: options.url.replace(/^http/, 'ws') + '/graphql',
        webSocketImpl: WebSocket,
        connectionParams: { 'X-DreamFactory-API-Key': options.key },
        lazy: false,
        retryAttempts: 0,
        onNonLazyError: (error) => errors.push(`ws: ${String((error as Error).message ?? error)}`),
      }),
    );
  }
  for (let i = 0; i < options.wsSubscribers; i++) {
    const client = clients[i % clients.length]!;
    client.subscribe<{ executionLogs: { message: string } }>(
      { query, variables: { service: options.service } },
      {
        next: (result) => {
          if (result.data) record('ws', result.data.executionLogs.message);
          else errors.push(`ws: ${JSON.stringify(result.errors)}`);
        },
        error: (error) => errors.push(`ws: ${String((error as Error).message ?? (error as { code?: number }).code ?? error)}`),
        complete: () => undefined,
      },
    );
  }
  // graphql-ws gives no "subscribed" signal: the bench waits for the server's subscriber count.
}

function openEventStreams(): void {
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const body = JSON.stringify({ query, variables: { service: options.service } });
  for (let i = 0; i < options.sseSubscribers; i++) {
    const req = httpRequest(`${options.url}/graphql`, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-dreamfactory-api-key': options.key },
    });
    requests.push(req);
    req.on('error', (error) => errors.push(`sse: ${error.message}`));
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        errors.push(`sse: status ${res.statusCode}`);
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.indexOf('data: ');
          if (data < 0 || !block.startsWith('event: next')) continue;
          const result = JSON.parse(block.slice(data + 6)) as { data?: { executionLogs: { message: string } } };
          if (result.data) record('sse', result.data.executionLogs.message);
          else errors.push(`sse: ${JSON.stringify(result)}`);
        }
      });
      res.on('error', () => undefined);
    });
    req.end(body);
  }
}

const progress = setInterval(() => parent.postMessage({ type: 'progress', received } satisfies FromClients), 250);
progress.unref();

process.on('message', async (message: ToClients) => {
  if (message.type === 'start') {
    options = message.options;
    try {
      openWebSockets();
      openEventStreams();
    } catch (error) {
      parent.postMessage({ type: 'failed', error: String(error) } satisfies FromClients);
    }
  } else if (message.type === 'mark') {
    mark = process.cpuUsage();
  } else if (message.type === 'report') {
    const cpu = process.cpuUsage(mark);
    parent.postMessage({ type: 'report', ws: samples.ws, sse: samples.sse, errors: errors.slice(0, 20), cpuMs: (cpu.user + cpu.system) / 1000 } satisfies FromClients);
  } else if (message.type === 'close') {
    clearInterval(progress);
    for (const req of requests) req.destroy();
    await Promise.all(clients.map((client) => client.dispose()));
    process.disconnect?.();
    process.exit(0);
  }
});
