import { GraphQLError } from 'graphql';
import { DomainError, type ErrorKind } from '../../domain/errors.ts';

export const graphqlCodes: Record<ErrorKind, string> = {
  BAD_INPUT: 'BAD_USER_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  SCRIPT_ERROR: 'SCRIPT_ERROR',
  LOOP_DETECTED: 'LOOP_DETECTED',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  TIMEOUT: 'TIMEOUT',
  INTERNAL: 'INTERNAL_SERVER_ERROR',
};

/**
 * Yoga's `maskError`: domain errors become GraphQL errors whose
 * `extensions.code` names the kind; anything else stays masked, and is
 * handed to `onUnexpected` (the server log) so it is not lost.
 */
export function maskError(error: unknown, message: string, isDev: boolean | undefined, onUnexpected: (error: unknown) => void): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof DomainError) {
    const gqlError = error instanceof GraphQLError ? error : null;
    return new GraphQLError(original.message, {
      nodes: gqlError?.nodes,
      path: gqlError?.path,
      extensions: {
        code: graphqlCodes[original.kind],
        status: original.status,
        ...(original.context ? { context: original.context } : {}),
        ...(original.extra.executionId ? { executionId: original.extra.executionId } : {}),
      },
    });
  }
  // GraphQL's own errors (validation, bad variables) pass; anything thrown by code stays masked.
  const thrownByCode = original !== undefined && original !== null && !(original instanceof GraphQLError);
  if (error instanceof GraphQLError && !thrownByCode) return error;
  onUnexpected(original ?? error);
  return new GraphQLError(isDev ? (original as Error)?.message ?? message : message, {
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
}
