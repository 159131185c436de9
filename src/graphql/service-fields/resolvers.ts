// A typed field's call: the service's endpoint through the invocation
// pipeline, exactly as REST would call it (GET for a Query field, POST for a
// Mutation field, the field's name as the resource), recorded with the
// trigger `graphql-field`.
import { GraphQLError, isLeafType, isListType, isNonNullType, type GraphQLFieldResolver, type GraphQLOutputType, type GraphQLResolveInfo } from 'graphql';
import { DomainError, kindOfStatus } from '../../domain/errors.ts';
import { graphqlCodes } from '../plugins/domain-errors.ts';
import type { InvokeRequest, InvokeResult } from '../../domain/invoke.ts';
import type { GraphQLContext } from '../builder.ts';

export const FIELD_TRIGGER = 'graphql-field';

/** The code a call's status stands for, as domain errors are coded; any other failure (a loop's 508 included) is the script's. */
function codeOf(status: number): string {
  const kind = kindOfStatus(status);
  return kind && kind !== 'LOOP_DETECTED' ? graphqlCodes[kind] : 'SCRIPT_ERROR';
}

/** The error on one field (the request's other fields are unaffected), shaped as the domain's errors are. */
export function fieldError(status: number, message: string, executionId: string | null | undefined): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: codeOf(status), status, ...(executionId ? { executionId } : {}) },
  });
}

/** What an error answer says: the contract's `{error: {message}}`, a text, or the status alone. */
function messageOf(content: unknown, service: string, status: number): string {
  if (typeof content === 'string' && content !== '') return content.slice(0, 2000);
  if (content !== null && typeof content === 'object') {
    const { error, message } = content as { error?: unknown; message?: unknown };
    const inner = error !== null && typeof error === 'object' ? (error as { message?: unknown }).message : error;
    const text = typeof inner === 'string' ? inner : typeof message === 'string' ? message : null;
    if (text) return text.slice(0, 2000);
  }
  return `Service "${service}" answered status ${status}.`;
}

export function serviceFieldResolver(service: string, operation: 'query' | 'mutation'): GraphQLFieldResolver<unknown, GraphQLContext> {
  const method = operation === 'query' ? 'GET' : 'POST';
  return async (_root, args: Record<string, unknown>, ctx, info) => {
    const field = info.fieldName;
    const body = operation === 'mutation' ? JSON.stringify(args) : '';
    const request: InvokeRequest = {
      method,
      service,
      resource: field,
      parameters: operation === 'query' ? args : {},
      headers: {},
      payload: operation === 'mutation' ? args : null,
      content: body,
      contentType: operation === 'mutation' ? 'application/json' : null,
      graphql: { field, operation, args },
    };
    let result;
    try {
      result = await ctx.platform.invoker.invoke(request, { ...ctx.caller, trigger: FIELD_TRIGGER });
    } catch (error) {
      if (error instanceof DomainError) throw fieldError(error.status, error.message, error.extra.executionId);
      throw error;
    }
    if (result.statusCode >= 400) throw fieldError(result.statusCode, messageOf(result.content, service, result.statusCode), result.executionId);
    return checked(result.content, info, result);
  };
}

/** What a field's value came from: the run, and how to tell it its answer was refused. */
type Answered = Pick<InvokeResult, 'executionId' | 'refuseAnswer'>;

/** The answer each object of a script's result came from, for mismatches found deeper in it. */
const answerOf = new WeakMap<object, Answered>();

/**
 * JSON from a script: a field is the object's own property, never one
 * inherited from Object.prototype; checked against its type.
 */
export const ownPropertyResolver: GraphQLFieldResolver<unknown, unknown> = (source, _args, _ctx, info) => {
  if (source === null || typeof source !== 'object') return checked(null, info, undefined);
  const value = Object.hasOwn(source, info.fieldName) ? (source as Record<string, unknown>)[info.fieldName] : null;
  return checked(value, info, answerOf.get(source));
};

/**
 * A script's value against the field's declared type, down to its leaves
 * and list items (objects are checked by their own fields). Yoga's executor
 * reports these mismatches as plain errors, which would be masked as the
 * server's own: they are the script's, said as such, and the run's record
 * says its answer was refused.
 */
function checked(value: unknown, info: GraphQLResolveInfo, answered: Answered | undefined): unknown {
  const why = mismatchOf(value, info.returnType, answered);
  if (why === null) return value;
  const message = `The service's result does not match the schema at ${info.parentType.name}.${info.fieldName}: ${why}`;
  answered?.refuseAnswer?.(message);
  throw new GraphQLError(message, {
    extensions: { code: 'SCRIPT_ERROR', status: 500, ...(answered?.executionId ? { executionId: answered.executionId } : {}) },
  });
}

/** Why `value` does not fit `type`, or null; the objects in it are remembered as `answered`'s. */
function mismatchOf(value: unknown, type: GraphQLOutputType, answered: Answered | undefined): string | null {
  if (value === null || value === undefined) return isNonNullType(type) ? `null where ${String(type)} is required.` : null;
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner)) {
    if (!Array.isArray(value)) return `expected a list (${String(inner)}), got ${typeof value}.`;
    for (const element of value) {
      const why = mismatchOf(element, inner.ofType, answered);
      if (why !== null) return why;
    }
    return null;
  }
  if (isLeafType(inner)) {
    try {
      inner.serialize(value);
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  }
  if (typeof value !== 'object') return `expected an object (${inner.name}), got ${typeof value}.`;
  if (answered) answerOf.set(value, answered);
  return null;
}
