import type { ApiCall, ApiResult } from '../types.ts';

/**
 * Turns a `platform.api` call as a runner sent it into the call the domain
 * makes. Every engine (the subprocess runners and QuickJS's guest) sends the
 * script's own arguments after the path, unchanged (`args`, the callback
 * left out); which of them is the payload and which the options is decided
 * here, once, for every language:
 *
 * - `verb(path, payload, options)`: by position;
 * - `get(path, options)` and `delete(path, options)`, DreamFactory's
 *   Node.js and Python form: a single argument after the path that is an
 *   object holding only `parameters` and/or `headers` is the options.
 *
 * A payload given as JSON text (common in Python and PHP scripts) is parsed;
 * paths may carry a leading `/` or `/api/v2/`; credential headers are
 * dropped. A frame with `payload` and
 * `options` instead of `args` is taken as it is.
 */
export function normaliseApiCall(raw: unknown): ApiCall {
  const input = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const method = String(input.method ?? 'GET').toUpperCase();
  let path = String(input.path ?? '').trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) path = path.replace(/^\/+/, '').replace(/^api\/v2\//, '');
  const call: ApiCall = { method, path };
  const { payload: given, options } = Array.isArray(input.args) ? splitArguments(method, input.args) : { payload: input.payload, options: input.options };
  const payload = parseJsonString(given);
  if (payload !== undefined && payload !== null && payload !== '') call.payload = payload;
  if (isPlainObject(options)) {
    const { parameters, headers } = options;
    const picked: NonNullable<ApiCall['options']> = {};
    if (isPlainObject(parameters)) picked.parameters = parameters;
    if (isPlainObject(headers)) {
      const kept = Object.entries(headers).filter(([name]) => !CREDENTIAL_HEADERS.has(name.toLowerCase()));
      // Values as given: the domain takes strings, numbers and booleans and answers 400 naming any other.
      if (kept.length > 0) picked.headers = Object.fromEntries(kept) as Record<string, string>;
    }
    if (picked.parameters || picked.headers) call.options = picked;
  }
  return call;
}

/**
 * Scripts never see credentials (the REST door takes them out of every
 * request): a script cannot hand one to another service's script either.
 * The call runs as its caller whatever headers it carries.
 */
const CREDENTIAL_HEADERS = new Set(['authorization', 'x-dreamfactory-api-key', 'x-dreamfactory-session-token', 'cookie']);

/** Verbs whose single argument after the path may be the options (DreamFactory's `get(path, options)`). */
const OPTIONS_FIRST_VERBS = new Set(['GET', 'DELETE']);
const OPTION_KEYS = new Set(['parameters', 'headers']);

/** Which of a script's arguments after the path is the payload and which the options. */
export function splitArguments(method: string, args: readonly unknown[]): { payload: unknown; options: unknown } {
  if (args.length === 1 && OPTIONS_FIRST_VERBS.has(method) && looksLikeOptions(args[0])) return { payload: undefined, options: args[0] };
  return { payload: args[0], options: args[1] };
}

function looksLikeOptions(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((key) => OPTION_KEYS.has(key));
}

/** What a script sees when the dispatcher itself failed (it should not, but a script must never hang on it). */
export function dispatcherFailure(error: unknown): ApiResult {
  const message = error instanceof Error ? error.message : String(error);
  return {
    status_code: 500,
    content: { error: { code: 500, message: `Internal API call failed: ${message}` } },
    content_type: 'application/json',
    headers: {},
  };
}

/** The dispatcher's answer, reduced to the four fields scripts see. */
export function plainApiResult(result: ApiResult): ApiResult {
  return {
    status_code: Number(result?.status_code) || 200,
    content: result?.content === undefined ? null : result.content,
    content_type: result?.content_type ?? null,
    headers: result?.headers ?? {},
  };
}

function parseJsonString(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const trimmed = value.trim();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return value;
  try {
    return JSON.parse(trimmed);
  } catch {
    return value;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

/** The answer to a `platform.api` call past the per-run bound on calls in flight. */
export function tooManyApiCalls(limit: number): ApiResult {
  return {
    status_code: 503,
    content: { error: { code: 503, message: `Too many platform.api calls in flight: at most ${limit} per run.` } },
    content_type: 'application/json',
    headers: {},
  };
}
