// A typed field's call: the service's endpoint through the invocation
// pipeline, exactly as REST would call it (GET for a Query field, POST for a
// Mutation field, the field's name as the resource), recorded with the
// trigger `graphql-field`.
import { GraphQLError, isLeafType, isListType, isNonNullType, type GraphQLFieldResolver, type GraphQLOutputType } from 'graphql';
import { DomainError, kindOfStatus } from '../../domain/errors.ts';
import { graphqlCodes } from '../plugins/domain-errors.ts';
import type { InvokeRequest } from '../../domain/invoke.ts';
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
    return checked(result.content, info.returnType, `${info.parentType.name}.${field}`, result.executionId);
  };
}

/** The run each object of a script's result came from, for errors found deeper in it. */
const executionOf = new WeakMap<object, string>();

/**
 * JSON from a script: a field is the object's own property, never one
 * inherited from Object.prototype; checked against its type.
 */
export const ownPropertyResolver: GraphQLFieldResolver<unknown, unknown> = (source, _args, _ctx, info) => {
  const value = source !== null && typeof source === 'object' && Object.hasOwn(source, info.fieldName) ? (source as Record<string, unknown>)[info.fieldName] : null;
  const executionId = source !== null && typeof source === 'object' ? executionOf.get(source) : undefined;
  return checked(value, info.returnType, `${info.parentType.name}.${info.fieldName}`, executionId);
};

/**
 * A script's value against the field's declared type, down to its leaves
 * and list items (objects are checked by their own fields). Yoga's executor
 * reports these mismatches as plain errors, which would be masked as the
 * server's own: they are the script's, said as such.
 */
function checked(value: unknown, type: GraphQLOutputType, where: string, executionId: string | null | undefined): unknown {
  const mismatch = (why: string) =>
    new GraphQLError(`The service's result does not match the schema at ${where}: ${why}`, {
      extensions: { code: 'SCRIPT_ERROR', status: 500, ...(executionId ? { executionId } : {}) },
    });
  const visit = (item: unknown, itemType: GraphQLOutputType): void => {
    if (item === null || item === undefined) {
      if (isNonNullType(itemType)) throw mismatch(`null where ${String(itemType)} is required.`);
      return;
    }
    const inner = isNonNullType(itemType) ? itemType.ofType : itemType;
    if (isListType(inner)) {
      if (!Array.isArray(item)) throw mismatch(`expected a list (${String(inner)}), got ${typeof item}.`);
      for (const element of item) visit(element, inner.ofType);
    } else if (isLeafType(inner)) {
      try {
        inner.serialize(item);
      } catch (error) {
        throw mismatch((error as Error).message);
      }
    } else if (typeof item === 'object') {
      if (executionId) executionOf.set(item, executionId);
    } else throw mismatch(`expected an object (${inner.name}), got ${typeof item}.`);
  };
  visit(value, type);
  return value;
}
