import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { adminCaller } from '../domain/caller.ts';
import type { InvokeResult } from '../domain/invoke.ts';
import type { Platform } from '../domain/platform.ts';
import { notFound } from '../domain/errors.ts';

const RESERVED = new Set(['system', 'api_docs']);
/** Credentials stay at the edge: scripts (and their logs) never see them. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'x-dreamfactory-api-key', 'x-dreamfactory-session-token', 'cookie']);
const VERBS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/** Any verb on /api/v2/{service}/{resource...} runs that service's script. */
export function callServiceRoutes(app: FastifyInstance, platform: Platform): void {
  const handler = async (request: FastifyRequest<{ Params: { service: string; '*'?: string } }>, reply: FastifyReply) => {
    const service = request.params.service.toLowerCase();
    if (RESERVED.has(service)) throw notFound(`Resource "${request.params['*'] ?? ''}" not found in ${service}.`);
    const headers: Record<string, string> = {};
    for (const name in request.headers) {
      const value = request.headers[name];
      if (value !== undefined && !CREDENTIAL_HEADERS.has(name)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const raw = request.rawBody ?? '';
    const result = await platform.invoker.invoke(
      {
        method: request.method,
        service,
        resource: (request.params['*'] ?? '').replace(/^\/+|\/+$/g, ''),
        parameters: request.query as Record<string, unknown>,
        headers,
        payload: request.body ?? null,
        content: raw,
        contentType: request.headers['content-type'] ?? null,
      },
      adminCaller('service'),
    );
    return send(reply, result);
  };
  app.route({ method: [...VERBS], url: '/api/v2/:service', handler });
  app.route({ method: [...VERBS], url: '/api/v2/:service/*', handler });
}

/** Strings go out as they are; anything else as JSON (contract section 3). */
function send(reply: FastifyReply, result: InvokeResult): FastifyReply {
  reply.status(result.statusCode);
  for (const [name, value] of Object.entries(result.headers)) {
    if (name !== 'content-length' && name !== 'transfer-encoding') reply.header(name, value);
  }
  if (result.executionId) reply.header('x-execution-id', result.executionId);
  const { content, contentType } = result;
  if (content === null || content === undefined) {
    if (contentType) reply.type(contentType);
    return reply.send();
  }
  if (typeof content === 'string') {
    reply.type(contentType ?? 'text/plain; charset=utf-8');
    return reply.send(content);
  }
  reply.type(contentType ?? 'application/json');
  return reply.send(JSON.stringify(content));
}
