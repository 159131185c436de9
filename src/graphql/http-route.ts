import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Identity } from '../access/caller-identity.ts';
import { graphqlReady, type GraphQLServer } from './yoga.ts';
import { jsonOperations } from './json-operations.ts';
import { toDomainError } from '../http/error-reply.ts';
import { hasProtoKey } from '../http/proto-keys.ts';

/**
 * /graphql over HTTP and server-sent events. The body reaches Yoga as it was
 * sent: Yoga parses it and answers a bad one (invalid JSON, no query) with a
 * GraphQL-shaped error, where fastify's JSON parser would have answered its
 * own shape or handed Yoga an already-consumed stream. `bodyLimit` bounds it
 * here, before Yoga reads it.
 */
export async function graphqlRoute(
  app: FastifyInstance,
  yoga: GraphQLServer,
  bodyLimit: number,
  identify: (request: FastifyRequest) => Identity | Promise<Identity>,
  /** Rate limits (src/http/rate-limit.ts), run after authentication. */
  rateLimit?: onRequestHookHandler,
): Promise<void> {
  // Services' typed fields are in the schema from the first request on.
  await graphqlReady(yoga);
  const answerJsonOperation = jsonOperations(yoga);
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    // What fails before Yoga sees the request (a body over the limit, a broken upload) answers in GraphQL's shape too.
    scope.setErrorHandler((error, request, reply) => {
      const domainError = toDomainError(error, request.routeOptions.bodyLimit);
      if (domainError.kind === 'INTERNAL') reply.log.error({ err: error }, 'unhandled error');
      const code = domainError.status === 413 ? 'PAYLOAD_TOO_LARGE' : domainError.kind === 'INTERNAL' ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST';
      return reply
        .status(domainError.status)
        .type('application/json; charset=utf-8')
        .send(JSON.stringify({ errors: [{ message: domainError.message, extensions: { code, status: domainError.status } }] }));
    });
    scope.route({
      url: '/graphql',
      method: ['GET', 'POST', 'OPTIONS'],
      bodyLimit,
      // Who asks is decided before the body is read, as on REST, so the rate limit after it sees every operation's identity.
      onRequest: rateLimit ? [authenticateHook(identify), rateLimit] : [authenticateHook(identify)],
      handler: async (request, reply) => {
        if (typeof request.body === 'string' ? hasProtoKey(request.body) : queryHasProtoKey(request.url)) {
          return reply.status(400).type('application/json; charset=utf-8').send(
            JSON.stringify({ errors: [{ message: 'The request has a "__proto__" key in its JSON, which is not allowed.', extensions: { code: 'BAD_REQUEST', status: 400 } }] }),
          );
        }
        // Set by authenticateHook; only the GraphiQL page has none.
        const identity: Identity | null = request.identity ?? null;
        const serverContext = { req: request.raw, reply, identity };
        // The common request (a JSON query or mutation) skips Yoga's fetch-API layer; it answers the rest.
        const answer = await answerJsonOperation({ method: request.method, url: request.url, headers: request.headers, body: request.body, serverContext });
        if (answer) {
          for (const [name, value] of answer.headers) reply.header(name, value);
          return reply.status(answer.status).send(answer.body);
        }
        const response = await yoga.fetch(fetchRequest(yoga, request, reply), serverContext);
        copyHeaders(response.headers, reply);
        reply.status(response.status);
        if (response.body === null && response.status >= 400) return reply.type('application/json; charset=utf-8').send(bodilessError(request, response.status));
        // A result is one string (Yoga's JSON, the GraphiQL page): sent as it is. Piping it as a stream cost a
        // stream pipeline per request; only event streams (subscriptions, incremental delivery) are streamed.
        reply.send(isStreamed(response) ? response.body : await response.text());
        return reply;
      },
    });
  });
}

function copyHeaders(headers: Headers, reply: FastifyReply): void {
  headers.forEach((value, key) => {
    // Node owns the connection: Yoga's `Connection: keep-alive` on event streams overrode a client's `Connection: close`.
    const name = key.toLowerCase();
    if (name !== 'connection' && !(name === 'content-encoding' && value === 'none')) reply.header(key, value);
  });
}

/** An answer sent as it is produced: server-sent events, or multipart incremental delivery. */
function isStreamed(response: Response): boolean {
  const type = response.headers.get('content-type') ?? '';
  return type.startsWith('text/event-stream') || type.startsWith('multipart/');
}

/** The GraphiQL page (a browser asking for HTML) is static; every operation needs a key. */
function wantsGraphiQL(request: FastifyRequest): boolean {
  return request.method === 'GET' && (request.headers.accept ?? '').includes('text/html');
}

/**
 * Sets `request.identity`, or answers 401 in GraphQL's shape. A callback hook
 * that never calls `done` after answering: responses are written at the end
 * of the event-loop turn (coalesced-writes.ts), so `reply.sent` is still
 * false and an async hook's return would run the next hook and the handler.
 */
function authenticateHook(identify: (request: FastifyRequest) => Identity | Promise<Identity>): onRequestHookHandler {
  return function graphqlAuthenticate(request, reply, done) {
    if (wantsGraphiQL(request)) return done();
    const refuse = (error: unknown) => {
      const refused = toDomainError(error);
      reply
        .status(refused.status)
        .type('application/json; charset=utf-8')
        .send(JSON.stringify({ errors: [{ message: refused.message, extensions: { code: 'UNAUTHENTICATED', status: refused.status } }] }));
    };
    let identity: Identity | Promise<Identity>;
    try {
      identity = identify(request);
    } catch (error) {
      return refuse(error);
    }
    if (!(identity instanceof Promise)) {
      request.identity = identity;
      return done();
    }
    identity.then((found) => {
      request.identity = found;
      done();
    }, refuse);
  };
}

/** GET carries variables as JSON in a query parameter. */
function queryHasProtoKey(url: string): boolean {
  const start = url.indexOf('?');
  if (start < 0 || !url.includes('proto', start)) return false;
  for (const [, value] of new URLSearchParams(url.slice(start + 1))) if (hasProtoKey(value)) return true;
  return false;
}

/** Yoga answers some refusals with a status and no body (415 for a body that is not JSON): in GraphQL's shape, saying why. */
function bodilessError(request: FastifyRequest, status: number): string {
  const message =
    status === 415
      ? `Unsupported Content-Type "${String(request.headers['content-type'] ?? '').slice(0, 100)}": send application/json (or GET with query parameters).`
      : status === 405
        ? `Method ${request.method} is not supported on /graphql: use GET or POST.`
        : `The request was refused (${status}).`;
  const code = status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : status === 405 ? 'METHOD_NOT_ALLOWED' : 'BAD_REQUEST';
  return JSON.stringify({ errors: [{ message, extensions: { code, status } }] });
}

/**
 * The request as Yoga's fetch API takes it. Not handleNodeRequestAndResponse:
 * it calls Object.keys on a string body, one key per character (2.6 s of
 * blocked event loop for a 5 MB body).
 */
function fetchRequest(yoga: GraphQLServer, request: FastifyRequest, reply: FastifyReply): Request {
  const headers = new yoga.fetchAPI.Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  // Ends a server-sent events stream (and its subscription) when the client goes away.
  const aborted = new AbortController();
  const onClose = () => aborted.abort();
  reply.raw.once('close', onClose);
  reply.raw.once('finish', () => reply.raw.off('close', onClose));
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD' && typeof request.body === 'string';
  return new yoga.fetchAPI.Request(`http://localhost${request.url}`, {
    method: request.method,
    headers,
    body: hasBody ? (request.body as string) : undefined,
    signal: aborted.signal,
  });
}
