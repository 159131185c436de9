// What a script is given: the event for a request, and the request a
// `platform.api` call's path and options stand for.
import type { ApiCall, ScriptEvent } from '../scripting/types.ts';
import { DomainError } from './errors.ts';
import type { InvokeRequest } from './invoke.ts';

/** The `event` a script receives for a request (contract section 3). */
export function eventFor(request: InvokeRequest): ScriptEvent {
  const query = queryStringOf(request.parameters);
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
    ...(request.graphql ? { graphql: request.graphql } : {}),
  };
}

/** Characters URLSearchParams writes as they are (the form-urlencoded set leaves these alone). */
const WRITTEN_AS_IS = /^[\w.*-]*$/;

/**
 * The parameters as a query string, exactly as URLSearchParams writes them.
 * Every call builds one for `event.request.uri`: through URLSearchParams it
 * cost 3 to 5 µs in the server, so plain names and values are joined as they
 * are and only the rest goes through URLSearchParams.
 */
export function queryStringOf(parameters: Record<string, unknown>): string {
  let query = '';
  for (const name of Object.keys(parameters)) {
    const value = parameters[name];
    const text = Array.isArray(value) ? null : String(value);
    if (text === null || !WRITTEN_AS_IS.test(name) || !WRITTEN_AS_IS.test(text)) return encodedQueryOf(parameters);
    query += `${query ? '&' : ''}${name}=${text}`;
  }
  return query;
}

function encodedQueryOf(parameters: Record<string, unknown>): string {
  const pairs = Object.entries(parameters).flatMap(([name, value]) => (Array.isArray(value) ? value.map((one) => [name, String(one)]) : [[name, String(value)]]));
  return new URLSearchParams(pairs).toString();
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
  const parameters = { ...Object.fromEntries(new URLSearchParams(queryPart ?? '')), ...requestParameters(call.options?.parameters, 'options.parameters') };
  const headers = requestHeaders(call.options?.headers, 'options.headers');
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

/** Query parameters given as an object (GraphQL `invokeService`, `platform.api` options). */
export function requestParameters(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new DomainError('BAD_INPUT', `"${field}" must be an object of query parameters.`, { field });
  return { ...value };
}

/** Request headers given as an object: names lower-cased, values strings, numbers or booleans. */
export function requestHeaders(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new DomainError('BAD_INPUT', `"${field}" must be an object of header names and values.`, { field });
  const headers: Record<string, string> = {};
  for (const [name, header] of Object.entries(value)) {
    if (typeof header !== 'string' && typeof header !== 'number' && typeof header !== 'boolean') {
      throw new DomainError('BAD_INPUT', `"${field}.${name}" must be a string, a number or a boolean.`, { field: `${field}.${name}` });
    }
    headers[name.toLowerCase()] = String(header);
  }
  return headers;
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The request a pre_process script left in `event.request` (it may change
 * method, parameters, headers and payload); anything else stays. What it
 * set wrong is the script's error.
 */
export function requestFromEvent(changed: unknown, before: InvokeRequest): InvokeRequest {
  if (changed === null || typeof changed !== 'object' || Array.isArray(changed)) return before;
  const given = changed as Record<string, unknown>;
  try {
    const method = given.method === undefined ? before.method : String(given.method).toUpperCase();
    if (!METHODS.has(method)) throw new DomainError('BAD_INPUT', `"event.request.method" must be one of ${[...METHODS].join(', ')}, got ${JSON.stringify(given.method)}.`);
    const request: InvokeRequest = {
      ...before,
      method,
      parameters: given.parameters === undefined ? before.parameters : requestParameters(given.parameters, 'event.request.parameters'),
      headers: given.headers === undefined ? before.headers : requestHeaders(given.headers, 'event.request.headers'),
    };
    if (given.payload !== undefined) {
      const text = JSON.stringify(given.payload ?? null);
      // Engines hand back a copy: only a payload that differs replaces the body the client sent.
      if (text !== JSON.stringify(before.payload ?? null)) {
        request.payload = given.payload;
        request.content = given.payload === null ? '' : text;
        request.contentType = given.payload === null ? null : 'application/json';
      }
    }
    return request;
  } catch (error) {
    const message = (error as Error).message;
    throw new DomainError('SCRIPT_ERROR', `A pre_process script changed the request wrongly: ${message}`);
  }
}
