import type { DomainError } from './errors.ts';

/** The contract's error shape: {"error":{"code","context","message","status_code"}}. */
export function errorBody(error: DomainError, code: number = error.extra.code ?? error.status) {
  return { error: { code, context: error.context, message: error.message, status_code: error.status } };
}
