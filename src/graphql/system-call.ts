import { DomainError, kindOfStatus } from '../domain/errors.ts';
import type { InvokeResult } from '../domain/invoke.ts';
import { rowsBehind } from '../system/component.ts';
import type { GraphQLContext } from './builder.ts';

export interface SystemCall {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Under `system/`, e.g. `service/orders` or `event_script/orders.get.pre_process`. */
  resource: string;
  parameters?: Record<string, unknown>;
  payload?: unknown;
}

/**
 * A GraphQL operation as the same call on the system API, through the one
 * pipeline (access checks and event scripts apply alike). An error status
 * (also one an event script set) becomes a domain error.
 */
export async function systemCall(ctx: GraphQLContext, call: SystemCall): Promise<InvokeResult> {
  const hasPayload = call.payload !== undefined;
  const result = await ctx.platform.invoker.invoke(
    {
      method: call.method,
      service: 'system',
      resource: call.resource,
      parameters: call.parameters ?? {},
      headers: {},
      payload: hasPayload ? call.payload : null,
      content: hasPayload ? JSON.stringify(call.payload) : '',
      contentType: hasPayload ? 'application/json' : null,
    },
    ctx.caller,
  );
  if (result.statusCode >= 400) throw errorFromResponse(result);
  return result;
}

/**
 * The domain records behind a system answer: the handler's own when no
 * event script replaced the content, otherwise `reload` reads what the
 * final content lists (so GraphQL shows what REST would).
 */
export async function rowsOf<T>(result: InvokeResult, reload: (content: unknown) => Promise<T[]>): Promise<T[]> {
  const content = result.content;
  const rows = content !== null && typeof content === 'object' ? rowsBehind.get(content) : undefined;
  return rows ? (rows as T[]) : reload(content);
}

/** A key's values in the records of a DreamFactory body: `{resource: [{id}, ...]}` or one `{id}` record. */
export function valuesIn(content: unknown, key: string): unknown[] {
  if (content === null || typeof content !== 'object') return [];
  const resource = (content as { resource?: unknown }).resource;
  const records = Array.isArray(resource) ? resource : [content];
  return records.flatMap((record) => (record && typeof record === 'object' && key in record ? [(record as Record<string, unknown>)[key]] : []));
}

export const idsIn = (content: unknown): unknown[] => valuesIn(content, 'id');

function errorFromResponse(result: InvokeResult): DomainError {
  const error = (result.content as { error?: { message?: unknown; context?: unknown } } | null)?.error;
  const message = typeof error?.message === 'string' ? error.message : `The system API answered ${result.statusCode}.`;
  const context = error?.context && typeof error.context === 'object' ? (error.context as Record<string, unknown>) : null;
  return new DomainError(kindOf(result.statusCode), message, context, { status: result.statusCode, executionId: result.executionId ?? undefined });
}

function kindOf(status: number): DomainError['kind'] {
  return kindOfStatus(status) ?? (status >= 500 ? 'INTERNAL' : 'BAD_INPUT');
}
