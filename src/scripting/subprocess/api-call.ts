import type { ApiCall, ApiResult } from '../types.ts';

/**
 * Tidies a `platform.api` call as a runner sent it: DreamFactory scripts pass
 * paths with or without `/api/v2/`, and Python and PHP scripts often pass the
 * payload as a JSON string.
 */
export function normaliseApiCall(raw: unknown): ApiCall {
  const input = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const method = String(input.method ?? 'GET').toUpperCase();
  let path = String(input.path ?? '').trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) path = path.replace(/^\/+/, '').replace(/^api\/v2\//, '');
  const call: ApiCall = { method, path };
  const payload = parseJsonString(input.payload);
  if (payload !== undefined && payload !== null && payload !== '') call.payload = payload;
  const options = input.options;
  if (options && typeof options === 'object' && !Array.isArray(options)) {
    const { parameters, headers } = options as Record<string, unknown>;
    const picked: NonNullable<ApiCall['options']> = {};
    if (isPlainObject(parameters)) picked.parameters = parameters;
    if (isPlainObject(headers)) picked.headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]));
    if (picked.parameters || picked.headers) call.options = picked;
  }
  return call;
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
