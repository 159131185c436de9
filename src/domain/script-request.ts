// What a script is given: the event for a request, and the request a
// `platform.api` call's path and options stand for.
import type { ApiCall, ScriptEvent } from '../scripting/types.ts';
import { DomainError } from './errors.ts';
import type { InvokeRequest } from './invoke.ts';

/** The `event` a script receives for a request (contract section 3). */
export function eventFor(request: InvokeRequest): ScriptEvent {
  const entries = Object.entries(request.parameters);
  const query =
    entries.length === 0
      ? ''
      : new URLSearchParams(entries.flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, String(x)]) : [[k, String(v)]]))).toString();
  const path = `/api/v2/${request.service}${request.resource ? `/${request.resource}` : ''}`;
  return {
    request: {
      method: request.method,
      uri: query ? `${path}?${query}` : path,
      service: request.service,
      resource: request.resource,
      parameters: request.parameters,
      headers: request.headers,
      payload: request.payload ?? null,
      content: request.content,
      content_type: request.contentType,
      api_version: '2.0',
    },
    resource: request.resource,
    response: { status_code: 200, content: null, content_type: null, headers: {} },
  };
}

/** `svc/resource?x=1` (optionally with a leading `/api/v2/`) into a request. */
export function requestFromPath(call: ApiCall): InvokeRequest {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(call.path)) {
    throw new DomainError('BAD_INPUT', `platform.api calls services of this platform only ("service/resource"); "${call.path}" is an external URL.`);
  }
  const [pathPart, queryPart] = call.path.split('?', 2) as [string, string | undefined];
  const segments = pathPart.replace(/^\/+/, '').replace(/^api\/v2\//, '').split('/').filter(Boolean);
  const service = segments.shift();
  if (!service) throw new DomainError('BAD_INPUT', `platform.api needs a path like "service/resource", got "${call.path}".`);
  const parameters: Record<string, unknown> = { ...Object.fromEntries(new URLSearchParams(queryPart ?? '')), ...(call.options?.parameters ?? {}) };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(call.options?.headers ?? {})) headers[k.toLowerCase()] = String(v);
  const hasPayload = call.payload !== undefined && call.payload !== null;
  return {
    method: call.method.toUpperCase(),
    service: service.toLowerCase(),
    resource: segments.join('/'),
    parameters,
    headers,
    payload: hasPayload ? call.payload : null,
    content: hasPayload ? (typeof call.payload === 'string' ? call.payload : JSON.stringify(call.payload)) : '',
    contentType: hasPayload ? 'application/json' : null,
  };
}
