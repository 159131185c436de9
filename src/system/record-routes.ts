import { badInput } from '../domain/errors.ts';
import type { InvokeRequest } from '../domain/invoke.ts';
import type { SystemAnswer } from './component.ts';
import { methodNotAllowed, type Query } from './query.ts';

type Answer = Promise<SystemAnswer>;

/** What a records resource (`system/{name}[/{key}]`) does per verb; a verb without a handler is 405. */
export interface RecordRoutes {
  list?: (query: Query) => Answer;
  create?: (payload: unknown, query: Query) => Answer;
  one?: (key: string, query: Query) => Answer;
  /** POST on a key: create or replace that record. */
  put?: (key: string, payload: unknown, query: Query) => Answer;
  /** PATCH, and PUT (which DreamFactory treats as PATCH). */
  update?: (key: string, payload: unknown, query: Query) => Answer;
  remove?: (key: string, query: Query) => Answer;
}

/** DreamFactory's verbs on a collection and on one record of it, for every system component alike. */
export function routeRecords(request: InvokeRequest, rest: string[], resource: string, routes: RecordRoutes): Answer {
  const query = request.parameters as Query;
  if (rest.length === 0) {
    if (request.method === 'GET' && routes.list) return routes.list(query);
    if (request.method === 'POST' && routes.create) return routes.create(request.payload, query);
    throw methodNotAllowed(request.method, `system/${resource}`);
  }
  if (rest.length > 1) throw badInput(`No resource "${request.resource}" in system.`);
  const key = rest[0]!;
  const handler =
    request.method === 'GET'
      ? routes.one && (() => routes.one!(key, query))
      : request.method === 'POST'
        ? routes.put && (() => routes.put!(key, request.payload, query))
        : request.method === 'PATCH' || request.method === 'PUT'
          ? routes.update && (() => routes.update!(key, request.payload, query))
          : request.method === 'DELETE'
            ? routes.remove && (() => routes.remove!(key, query))
            : undefined;
  if (!handler) throw methodNotAllowed(request.method, `system/${resource}/{key}`);
  return handler();
}
