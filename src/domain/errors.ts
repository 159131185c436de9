/**
 * Domain errors carry a kind; each front end (REST, GraphQL) maps kinds to its
 * own shape exactly once.
 */
export type ErrorKind =
  | 'BAD_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'SCRIPT_ERROR'
  | 'LOOP_DETECTED'
  | 'SERVICE_UNAVAILABLE'
  | 'TIMEOUT'
  | 'INTERNAL';

const statusByKind: Record<ErrorKind, number> = {
  BAD_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  SCRIPT_ERROR: 500,
  INTERNAL: 500,
  LOOP_DETECTED: 508,
  SERVICE_UNAVAILABLE: 503,
  TIMEOUT: 504,
};

/** The kind an HTTP status stands for, where one kind owns it (500 is any of several: null). */
export function kindOfStatus(status: number): ErrorKind | null {
  for (const [kind, owned] of Object.entries(statusByKind) as [ErrorKind, number][]) {
    if (owned === status && status !== 500) return kind;
  }
  return null;
}

export class DomainError extends Error {
  readonly status: number;
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly context: Record<string, unknown> | null = null,
    /** Extra response headers (Retry-After) and the execution the error came from. */
    readonly extra: { headers?: Record<string, string>; executionId?: string; status?: number; code?: number } = {},
  ) {
    super(message);
    this.name = 'DomainError';
    this.status = extra.status ?? statusByKind[kind];
  }
}

export const badInput = (message: string, field?: string) =>
  new DomainError('BAD_INPUT', message, field ? { field } : null);
export const notFound = (message: string) => new DomainError('NOT_FOUND', message);
