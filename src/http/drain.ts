import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { errorBody } from '../domain/error-body.ts';
import { DomainError } from '../domain/errors.ts';

const POLL_MS = 10;
/** A balancer retries on another instance at once; a restart takes about a second. */
const RETRY_AFTER_SECONDS = 1;

/** Node's own field for the response a connection is writing (null between requests and on upgraded sockets). */
type TrackedSocket = Socket & { _httpMessage?: ServerResponse | null };

/**
 * The HTTP side of a graceful shutdown. Connections are tracked as they open
 * (one Set entry per connection, nothing per request, so serving costs the
 * same); `stopAccepting` closes the listener and answers every later request
 * on a kept-alive connection 503 with `Connection: close` and `Retry-After`. A call is in flight while its connection writes a response
 * that is not an event stream: subscriptions are not calls, they end when the
 * bus ends them (`settled(…, { streams: true })` waits for those too).
 *
 * Hand-written rather than http-terminator or @godaddy/terminus: neither
 * refuses new requests in the contract's shape nor tells subscriptions apart.
 */
export class HttpDrain {
  private readonly sockets = new Set<TrackedSocket>();
  private draining = false;

  constructor(private readonly server: Server) {
    server.on('connection', (socket: TrackedSocket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Stops accepting connections and requests; calls in flight go on, and end their connection when answered. */
  stopAccepting(): void {
    if (this.draining) return;
    this.draining = true;
    // net's close, not http's: http's also drops idle kept-alive connections, and a request
    // a client sends on one as it closes fails without an answer. Kept, it is told 503.
    NetServer.prototype.close.call(this.server);
    this.server.removeAllListeners('request');
    this.server.on('request', refuse);
    for (const response of this.responses()) if (!response.headersSent) response.setHeader('connection', 'close');
  }

  /** Calls in flight (with `streams`, event streams too), each with its URL, for the log. */
  inFlight(options: { streams?: boolean } = {}): string[] {
    const urls: string[] = [];
    for (const response of this.responses()) {
      if (!options.streams && isEventStream(response)) continue;
      urls.push(`${response.req.method} ${(response.req.url ?? '').split('?')[0]}`);
    }
    return urls;
  }

  /** Resolves true once nothing is in flight, false when `deadline` (epoch ms) comes first. */
  async settled(deadline: number, options: { streams?: boolean } = {}): Promise<boolean> {
    for (;;) {
      if (this.inFlight(options).length === 0) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))));
    }
  }

  /** The end: every connection still open is closed. */
  closeAll(): void {
    this.server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
  }

  private *responses(): Generator<ServerResponse> {
    for (const socket of this.sockets) {
      const response = socket._httpMessage;
      if (response && !response.writableFinished) yield response;
    }
  }
}

function isEventStream(response: ServerResponse): boolean {
  return String(response.getHeader('content-type') ?? '').startsWith('text/event-stream');
}

const REFUSAL = JSON.stringify(
  errorBody(new DomainError('SERVICE_UNAVAILABLE', 'The server is shutting down: send the request again (another instance, or this one once it restarted, will answer).')),
);

function refuse(request: IncomingMessage, response: ServerResponse): void {
  // The body, if any, is not read: the connection closes after this answer.
  request.on('error', () => undefined);
  response.writeHead(503, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(REFUSAL),
    connection: 'close',
    'retry-after': String(RETRY_AFTER_SECONDS),
  });
  response.end(REFUSAL);
}
