// The common GraphQL request, answered without Yoga's fetch-API layer: a POST
// of a JSON body, or a GET with the operation in its query string, asking for
// a JSON answer, for a query or a mutation (Yoga refuses one over GET).
//
// Yoga's own handling of such a request (a server adapter building a context,
// eight request-parser hooks, the body read through a Request, the result
// negotiated and wrapped in a Response) cost about as much again as a REST
// call of the same service. Here the body fastify already read (or the URL's
// query string) is parsed once, and the operation goes through Yoga's
// getResultForParams: the same params hooks, envelop (live schema, limits,
// access, masked errors, the parse and validation caches) and error handling
// as every other request; the answer is Yoga's processRegularResult, so its
// status codes and JSON are Yoga's. Anything else (another content type or
// Accept, parameters Yoga would refuse, a subscription) returns null and Yoga
// answers it as before.
// Plugin hooks that see these requests: onParams, onExecutionResult and every
// envelop hook; ones that do not: onRequest, onRequestParse, onResultProcess
// and onResponse (ours use them for malformed GET parameters, left to Yoga
// here, and for event streams only). A plugin that needs those on every
// request must be added here as well.
// test/graphql-door.test.ts sends each kind of request both ways.
import type { ExecutionResult } from 'graphql';
import { processRegularResult } from 'graphql-yoga';
import type { Identity } from '../access/caller-identity.ts';
import type { GraphQLContext } from './builder.ts';
import { plannedOperationsOf, type GraphQLServer } from './yoga.ts';

/** What the route needs to answer: Yoga's status, headers and body. */
export interface JsonAnswer {
  status: number;
  headers: readonly (readonly [string, string])[];
  body: string;
}

const JSON_HEADERS = [['content-type', 'application/json; charset=utf-8']] as const;

/** A result Yoga would answer with 200 and its plain JSON (graphql-yoga's processRegularResult and getResponseInitByRespectingErrors). */
function isPlainResult(result: unknown): result is ExecutionResult & { stringify?: (result: ExecutionResult) => string } {
  if (result === null || typeof result !== 'object' || Array.isArray(result) || Symbol.asyncIterator in result) return false;
  const { errors, extensions } = result as ExecutionResult;
  return !errors?.length && !extensions?.http;
}

export interface JsonOperationRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  /** What Yoga's context is built from (src/graphql/yoga.ts): the Node request and reply, and who asks. */
  serverContext: { req: unknown; reply: unknown; identity: Identity | null };
}

const PARAMS = new Set(['query', 'variables', 'operationName', 'extensions']);

/** The answerer for `yoga`: answers a request if it is a plain JSON operation, else null (for Yoga). */
export function jsonOperations(yoga: GraphQLServer): (request: JsonOperationRequest) => Promise<JsonAnswer | null> {
  // Read once: each read through Yoga's server adapter (a Proxy) binds a new function.
  const { fetchAPI } = yoga;
  const getResultForParams = yoga.getResultForParams;
  const planned = plannedOperationsOf(yoga);
  const answerOf = async (result: ExecutionResult): Promise<JsonAnswer> => {
    // Data and no errors (the common answer) is 200 and the result's JSON; Yoga decides every other status.
    if (isPlainResult(result)) return { status: 200, headers: JSON_HEADERS, body: (result.stringify ?? JSON.stringify)(result) };
    const response = await processRegularResult(result, fetchAPI, 'application/json');
    const headers: [string, string][] = [];
    response.headers.forEach((value, name) => headers.push([name, value]));
    return { status: response.status, headers, body: await response.text() };
  };
  return async (request) => {
    if (!answersJson(request.headers.accept)) return null;
    const params = request.method === 'POST' ? postParams(request) : request.method === 'GET' ? getParams(request.url) : null;
    if (!params) return null;
    // An object of its own, as Yoga's server adapter gives it (Yoga adds the request and params to it).
    const context = { ...request.serverContext, waitUntil: ignoreLater };
    // Calls of typed fields Yoga has run before on this schema: on its executor, without its pipeline (typed-field-plans.ts).
    const { identity } = request.serverContext;
    if (planned && identity && params.extensions == null) {
      const schema = planned.live.current;
      const plan = planned.plans.find(schema, params);
      // A mutation over GET is Yoga's to refuse (405).
      if (plan && (request.method === 'POST' || plan.operation.operation === 'query')) {
        const operationContext = { ...context, params, ...planned.contextOf(identity) } as GraphQLContext;
        const result = await planned.plans.run(schema, plan, params, operationContext, planned.maskError);
        if (result) return answerOf(result);
      }
    }
    const fetchRequest = new fetchAPI.Request(`http://localhost${request.url}`, { method: request.method, headers: headersOf(fetchAPI, request.headers) });
    return answerOf((await getResultForParams({ params, request: fetchRequest }, context)) as ExecutionResult);
  };
}

/** Work a plugin leaves running after the answer; nothing waits for it here (Yoga's adapter would only on disposal). */
function ignoreLater(promise: Promise<unknown> | void): void {
  void promise?.catch?.(() => undefined);
}

function isJsonType(value: string | string[] | undefined): boolean {
  if (typeof value !== 'string') return false;
  const semicolon = value.indexOf(';');
  return (semicolon < 0 ? value : value.slice(0, semicolon)).trim().toLowerCase() === 'application/json';
}

/**
 * Whether Yoga would answer `application/json` for a single result: its
 * negotiation (graphql-yoga's accept.js and use-result-processor.js) takes the
 * last match of the Accept types, read from last to first, against
 * application/graphql-response+json and application/json, utf-8 only.
 */
export function answersJson(accept: string | string[] | undefined): boolean {
  if (accept === undefined || accept === '*/*' || accept === 'application/json') return true;
  if (Array.isArray(accept)) return false;
  const types = (accept || '*/*').replace(/\s/g, '').toLowerCase().split(',');
  let chosen: string | null = null;
  for (let i = types.length - 1; i >= 0; i--) {
    const [type, ...parameters] = types[i]!.split(';');
    const charset = parameters.find((parameter) => parameter.includes('charset=')) ?? 'charset=utf-8';
    if (type === undefined || charset !== 'charset=utf-8') continue;
    for (const offered of ['application/graphql-response+json', 'application/json']) if (mediaTypeMatches(offered, type)) chosen = offered;
  }
  return chosen === 'application/json';
}

function mediaTypeMatches(offered: string, asked: string): boolean {
  const [askedMain, askedSub] = offered.split('/');
  const [main, sub] = asked.split('/');
  return (main === '*' || main === askedMain) && (sub === '*' || sub === askedSub);
}

type Params = { query: string; variables?: Record<string, unknown>; operationName?: string; extensions?: Record<string, unknown> };

function postParams(request: JsonOperationRequest): Params | null {
  if (typeof request.body !== 'string' || !isJsonType(request.headers['content-type'])) return null;
  try {
    return paramsOf(JSON.parse(request.body));
  } catch {
    return null;
  }
}

/**
 * A GET's parameters as Yoga reads them (request-parser/get.js): the four
 * known ones, variables and extensions as JSON, others ignored; with any
 * other parameter Yoga answers (the same, only slower).
 */
function getParams(url: string): Params | null {
  const start = url.indexOf('?');
  if (start < 0) return null;
  const search = new URLSearchParams(url.slice(start + 1));
  for (const name of search.keys()) if (!PARAMS.has(name)) return null;
  const fields: Record<string, unknown> = {};
  try {
    for (const name of PARAMS) {
      const value = search.get(name) || undefined;
      if (value !== undefined) fields[name] = name === 'variables' || name === 'extensions' ? JSON.parse(value) : value;
    }
  } catch {
    return null;
  }
  return paramsOf(fields);
}

/**
 * GraphQL parameters, only when Yoga's checks would pass them
 * (use-check-graphql-query-params.js) and it is no subscription: parameters
 * Yoga refuses are refused by Yoga, in its words.
 */
function paramsOf(params: unknown): Params | null {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) return null;
  const fields = params as Record<string, unknown>;
  for (const key in fields) if (fields[key] != null && !PARAMS.has(key)) return null;
  const { query, variables, operationName, extensions } = fields;
  if (typeof query !== 'string' || /\bsubscription\b/.test(query)) return null;
  if (!isObjectOrNothing(variables) || !isObjectOrNothing(extensions)) return null;
  if (operationName != null && typeof operationName !== 'string') return null;
  return fields as Params;
}

function isObjectOrNothing(value: unknown): boolean {
  return value == null || (typeof value === 'object' && !Array.isArray(value));
}

function headersOf(fetchAPI: GraphQLServer['fetchAPI'], from: JsonOperationRequest['headers']): Headers {
  const headers = new fetchAPI.Headers();
  for (const [name, value] of Object.entries(from)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return headers;
}
