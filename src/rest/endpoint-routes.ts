import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { callerFor } from '../domain/caller.ts';
import type { InvokeRequest } from '../domain/invoke.ts';
import type { Platform } from '../domain/platform.ts';
import { apiDocsHandler } from '../api-docs/route.ts';
import { sendResult } from './send.ts';

/** Credentials stay at the edge: scripts (and their logs) never see them. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'x-dreamfactory-api-key', 'x-dreamfactory-session-token', 'cookie']);
const VERBS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

type EndpointRequest = FastifyRequest<{ Params: { service?: string; '*'?: string } }>;

/** The query string without a key sent in it: credentials never reach scripts. */
function parametersOf(query: Record<string, unknown>): Record<string, unknown> {
  if (!('api_key' in query)) return query;
  const { api_key: _, ...rest } = query;
  return rest;
}

/** The HTTP request as the pipeline's request. */
function invokeRequest(request: EndpointRequest, service: string): InvokeRequest {
  const headers: Record<string, string> = {};
  for (const name in request.headers) {
    const value = request.headers[name];
    if (value !== undefined && !CREDENTIAL_HEADERS.has(name)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return {
    method: request.method,
    service,
    resource: (request.params['*'] ?? '').replace(/^\/+|\/+$/g, ''),
    parameters: parametersOf(request.query as Record<string, unknown>),
    headers,
    payload: request.body ?? null,
    content: request.rawBody ?? '',
    contentType: request.headers['content-type'] ?? null,
  };
}

/**
 * Every /api/v2 endpoint, the system API included, is one call of the
 * invocation pipeline: this is only the translation from and to HTTP.
 */
export function endpointRoutes(app: FastifyInstance, platform: Platform, systemBodyLimit: number): void {
  const call = (service: (request: EndpointRequest) => string) => async (request: EndpointRequest, reply: FastifyReply) => {
    const result = await platform.invoker.invoke(invokeRequest(request, service(request)), callerFor(request.identity!, 'service'));
    return sendResult(reply, result);
  };
  const system = call(() => 'system');
  const service = call((request) => request.params.service!.toLowerCase());
  const apiDocs = apiDocsHandler(platform);
  // `api_docs` is a reserved name: no service can take it.
  const scripted = (request: EndpointRequest, reply: FastifyReply) =>
    request.params.service!.toLowerCase() === 'api_docs' ? apiDocs(request, reply) : service(request, reply);
  // System writes carry records, not payloads: their own, smaller body limit.
  app.route({ method: [...VERBS], url: '/api/v2/system', handler: system, bodyLimit: systemBodyLimit });
  app.route({ method: [...VERBS], url: '/api/v2/system/*', handler: system, bodyLimit: systemBodyLimit });
  app.route({ method: [...VERBS], url: '/api/v2/:service', handler: scripted });
  app.route({ method: [...VERBS], url: '/api/v2/:service/*', handler: scripted });
}
