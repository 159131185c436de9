import { randomUUID } from 'node:crypto';

/**
 * UUIDv7 (RFC 9562): time-ordered, so new executions append to the end of
 * the primary-key index instead of landing at random places in it, and ids
 * sort by start time. Built from randomUUID (whose entropy is pooled:
 * randomBytes per id cost 6% of a request) with the first 48 bits replaced
 * by the time in milliseconds and the version nibble set to 7.
 */
export function uuidv7(now = Date.now()): string {
  const random = randomUUID(); // xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx
  const time = now.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}
