import { DomainError } from '../domain/errors.ts';
import type { StoredRun } from './queue-store.ts';
import type { QueuedRunInput } from './run-queue.ts';

/** Retries one run may ask for; with doubling backoff more would span days. */
export const MAX_RETRIES = 100;
const MAX_EVENT_NAME_LENGTH = 255;

/**
 * A run checked and turned into what the table stores. Refused here, before
 * anything is written: a payload JSON cannot carry (cycles, BigInt), one past
 * the size limit, a missing name, a retry count out of range.
 */
export function toStoredRun(input: QueuedRunInput, maxPayloadBytes: number): StoredRun {
  const { eventName, payload, retries } = input ?? ({} as QueuedRunInput);
  if (typeof eventName !== 'string' || eventName === '' || eventName.length > MAX_EVENT_NAME_LENGTH) {
    throw new DomainError('BAD_INPUT', `A queued run needs an event script name of 1 to ${MAX_EVENT_NAME_LENGTH} characters.`, { field: 'eventName' });
  }
  if (!Number.isInteger(retries) || retries < 0 || retries > MAX_RETRIES) {
    throw new DomainError('BAD_INPUT', `Queued run ${eventName}: retries must be a whole number from 0 to ${MAX_RETRIES}, got ${String(retries)}.`, {
      field: 'retries',
      eventName,
    });
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(payload);
  } catch (error) {
    // V8 throws RangeError when the text would pass its string length limit.
    if (error instanceof RangeError) throw tooLarge(eventName, null, maxPayloadBytes);
    throw new DomainError('BAD_INPUT', `Queued run ${eventName}: its event cannot be stored as JSON (${(error as Error).message}).`, { eventName });
  }
  if (text === undefined) {
    throw new DomainError('BAD_INPUT', `Queued run ${eventName}: its event cannot be stored as JSON (${typeof payload} has no JSON form).`, { eventName });
  }
  // UTF-8 is at most 3 bytes a UTF-16 unit: skip measuring when it surely fits.
  const bytes = text.length * 3 <= maxPayloadBytes ? text.length : Buffer.byteLength(text);
  if (bytes > maxPayloadBytes) throw tooLarge(eventName, bytes, maxPayloadBytes);
  return { eventName, payload: text, retries };
}

function tooLarge(eventName: string, bytes: number | null, limit: number): DomainError {
  const size = bytes === null ? 'larger than a string can hold' : `${bytes} bytes`;
  return new DomainError(
    'BAD_INPUT',
    `Queued run ${eventName}: its event as JSON is ${size}, over the limit of ${limit} bytes (QUEUE_MAX_PAYLOAD_BYTES).`,
    { eventName, bytes, limit },
    { status: 413 },
  );
}
