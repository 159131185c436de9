import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** App keys: `sga_` and 24 random bytes in base64url (192 bits). */
const KEY_PREFIX = 'sga_';
const KEY_BYTES = 24;
/** Characters of a key shown in listings: the tag and 6 of the 32 random ones (36 of 192 bits). */
const DISPLAY_CHARS = KEY_PREFIX.length + 6;
/** Longer candidates are refused before hashing: a key is 36 characters; nobody needs to hash a megabyte header. */
export const MAX_KEY_LENGTH = 256;

export interface NewKey {
  /** Shown once, to whoever created or rotated the app; never stored. */
  key: string;
  hash: string;
  prefix: string;
}

export function generateAppKey(): NewKey {
  const key = `${KEY_PREFIX}${randomBytes(KEY_BYTES).toString('base64url')}`;
  return { key, hash: hashKey(key), prefix: displayPrefix(key) };
}

/** Hex SHA-256: what the database stores and the cache is keyed by. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function displayPrefix(key: string): string {
  return key.slice(0, DISPLAY_CHARS);
}

/**
 * Constant-time comparison of a candidate's hash with a stored one. Lookups
 * go by the hash (a map, an index); this check after a hit is what decides,
 * and it takes the same time wherever two digests differ.
 */
export function sameHash(candidateHash: string, storedHash: string): boolean {
  const a = Buffer.from(candidateHash, 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === 32 && b.length === 32 && timingSafeEqual(a, b);
}
