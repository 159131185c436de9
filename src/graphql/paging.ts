import { DomainError } from '../domain/errors.ts';

/** Largest page of a connection; a bigger `first` or `last` is BAD_USER_INPUT naming it, never silently cut. */
export const MAX_PAGE_SIZE = 1000;
export const DEFAULT_PAGE_SIZE = 20;

export function pageSize(args: { first?: number | null; last?: number | null }): number {
  for (const name of ['first', 'last'] as const) {
    const value = args[name];
    if (value !== null && value !== undefined && (value < 0 || value > MAX_PAGE_SIZE)) {
      throw new DomainError('BAD_INPUT', `Argument "${name}" must be from 0 to ${MAX_PAGE_SIZE}, got ${value}.`, { field: name });
    }
  }
  return MAX_PAGE_SIZE;
}

