import { badInput } from '../domain/errors.ts';

/** Role and app names: safe in a path segment and a header; never only digits (a number there is an id). */
const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** Requests per minute an app or role may be given. */
export const MAX_RATE_LIMIT = 1_000_000;

export function plainObject(value: unknown, message: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badInput(message);
  return value as Record<string, unknown>;
}

export function checkName(value: unknown, what: 'role' | 'app', at = ''): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value) || /^\d+$/.test(value)) {
    throw badInput(
      `${at}Field "name" of a ${what} must be 1 to 64 letters, digits, "_", "." or "-", not only digits; got ${(JSON.stringify(value) ?? String(value)).slice(0, 60)}.`,
      'name',
    );
  }
  return value;
}

export function optionalDescription(value: unknown, at = ''): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > 255) throw badInput(`${at}Field "description" must be a string of at most 255 characters.`, 'description');
  return value;
}

export function optionalFlag(value: unknown, field: string, at = ''): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw badInput(`${at}Field "${field}" must be a boolean.`, field);
  return value;
}

/** undefined: not given; null: no limit. */
export function optionalRateLimit(value: unknown, at = ''): number | null | undefined {
  if (value === undefined || value === null) return value as undefined | null;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_RATE_LIMIT) {
    throw badInput(`${at}Field "rate_limit_per_minute" must be a whole number from 1 to ${MAX_RATE_LIMIT}, or null for no limit.`, 'rate_limit_per_minute');
  }
  return value as number;
}
