// What a run becomes as a response: the contract's precedence between a
// returned value and `event.response`, and checks on what the script set
// (status, headers, content type) before any of it reaches HTTP.
import type { ScriptOutcome } from '../scripting/types.ts';
import { DomainError } from './errors.ts';
import type { InvokeResult } from './invoke.ts';

/** The contract's precedence: a returned value wins over `event.response`. */
export function responseFrom(outcome: ScriptOutcome): Omit<InvokeResult, 'executionId'> {
  const { returned } = outcome;
  if (returned !== undefined && returned !== null && returned !== '') {
    if (isObject(returned) && 'error' in returned) {
      const error = returned.error;
      const message = typeof error === 'string' ? error : isObject(error) && typeof error.message === 'string' ? error.message : JSON.stringify(error);
      throw new DomainError('SCRIPT_ERROR', message, isObject(error) ? error : null);
    }
    if (isObject(returned) && 'content' in returned && 'status_code' in returned) return descriptor(returned);
    return { statusCode: 200, content: returned, contentType: defaultContentType(returned, null), headers: {} };
  }
  return descriptor(outcome.event.response as unknown as Record<string, unknown>);
}

export function descriptor(response: Record<string, unknown>): Omit<InvokeResult, 'executionId'> {
  const status = response.status_code ?? 200;
  // 1xx are interim answers: sent as a final status they leave the client waiting (103) or break the connection (100).
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
    throw new DomainError('SCRIPT_ERROR', `The script set an invalid status code: ${JSON.stringify(status)} (a response status is 200 to 599).`);
  }
  const headers: Record<string, string> = {};
  if (isObject(response.headers)) {
    const entries = Object.entries(response.headers);
    if (entries.length > MAX_HEADERS) {
      throw new DomainError('SCRIPT_ERROR', `The script set ${entries.length} response headers; at most ${MAX_HEADERS} are allowed.`);
    }
    let bytes = 0;
    for (const [name, value] of entries) {
      const text = headerValue(name, String(value));
      bytes += name.length + text.length;
      if (bytes > MAX_HEADER_BYTES) {
        throw new DomainError('SCRIPT_ERROR', `The script's response headers are over ${MAX_HEADER_BYTES} bytes in all.`);
      }
      headers[name.toLowerCase()] = text;
    }
  }
  const contentType = typeof response.content_type === 'string' && response.content_type ? headerValue('content_type', response.content_type) : null;
  const content = response.content ?? null;
  return { statusCode: status, content, contentType: defaultContentType(content, contentType), headers };
}

/**
 * The content type the response is sent with, so every door reports the
 * same (REST's header, GraphQL's `Invocation.contentType`, `platform.api`):
 * strings as text, anything else as JSON, unless the script said otherwise.
 */
export function defaultContentType(content: unknown, given: string | null): string | null {
  if (given || content === null || content === undefined) return given;
  return typeof content === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
}

/** Bounds on what a script adds to the response head (Node itself sends any number, of any size). */
const MAX_HEADERS = 64;
const MAX_HEADER_BYTES = 32 * 1024;

/** RFC 9110 token characters: anything else would be refused by Node when the response is written. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Control characters (CR and LF among them) would let a script inject headers. */
const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

function headerValue(name: string, value: string): string {
  if (name !== 'content_type' && !HEADER_NAME.test(name)) {
    throw new DomainError('SCRIPT_ERROR', `The script set an invalid header name: ${JSON.stringify(name)}.`);
  }
  if (BAD_HEADER_VALUE.test(value)) {
    throw new DomainError('SCRIPT_ERROR', `The script set an invalid value for ${name}: ${JSON.stringify(value)} (control or non-Latin-1 characters).`);
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
