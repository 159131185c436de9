import type { FastifyReply } from 'fastify';
import { DomainError } from '../domain/errors.ts';
import { errorBody } from '../domain/error-body.ts';

/** Any error thrown while handling a request, as a domain error (fastify's own errors keep their 4xx status). */
export function toDomainError(error: unknown, bodyLimit?: number): DomainError {
  if (error instanceof DomainError) return error;
  const fastifyError = error as { statusCode?: number; code?: string; message?: string };
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const limit = bodyLimit ? ` of ${bodyLimit} bytes` : '';
    return new DomainError('BAD_INPUT', `The request body is larger than this route's limit${limit}.`, { field: 'body', ...(bodyLimit ? { max: bodyLimit } : {}) }, { status: 413 });
  }
  if (fastifyError.statusCode && fastifyError.statusCode < 500) {
    const kind = fastifyError.statusCode === 404 ? 'NOT_FOUND' : 'BAD_INPUT';
    return new DomainError(kind, fastifyError.message ?? 'Bad request.', null, { status: fastifyError.statusCode });
  }
  return new DomainError('INTERNAL', 'Internal server error.');
}

/** The contract's error shape, with the error's status and headers; every route but /graphql answers errors this way. */
export function sendError(reply: FastifyReply, error: DomainError): FastifyReply {
  for (const [name, value] of Object.entries(error.extra.headers ?? {})) reply.header(name, value);
  if (error.extra.executionId) reply.header('x-execution-id', error.extra.executionId);
  return reply.status(error.status).type('application/json').send(errorBody(error));
}
