import type { RecordedRequest } from '../logs/bus.ts';
import type { ScriptRequest } from '../scripting/types.ts';

export type { RecordedRequest };

/** Body bytes kept with an execution; a longer body is cut and marked. */
export const MAX_RECORDED_PAYLOAD_BYTES = 64 * 1024;

/**
 * Headers that carry credentials (src/http/credentials.ts reads these). The
 * REST door already keeps them from scripts; a GraphQL `invokeService` may
 * still pass any header, so they are removed again before anything is stored.
 */
const CREDENTIAL_HEADERS = ['authorization', 'x-dreamfactory-api-key', 'x-dreamfactory-session-token', 'cookie', 'proxy-authorization'];
/** Query parameters that carry credentials. */
const CREDENTIAL_PARAMETERS = ['api_key', 'session_token'];

/**
 * What an execution keeps of the request it ran with. Cheap on the hot path:
 * the parameters and headers objects are reused as they are unless one holds
 * a credential, and the body is only measured when it could be over the cap.
 */
export function recordedRequest(request: ScriptRequest): RecordedRequest {
  const body = request.content;
  let payload: string | null = body === '' || body === undefined || body === null ? null : String(body);
  let payloadTruncated = false;
  // Three bytes a UTF-16 unit is the most UTF-8 needs: shorter bodies are never measured.
  if (payload !== null && payload.length * 3 > MAX_RECORDED_PAYLOAD_BYTES && Buffer.byteLength(payload) > MAX_RECORDED_PAYLOAD_BYTES) {
    payload = cutToBytes(payload, MAX_RECORDED_PAYLOAD_BYTES);
    payloadTruncated = true;
  }
  return {
    method: request.method,
    resource: request.resource,
    parameters: without(request.parameters ?? {}, CREDENTIAL_PARAMETERS, false),
    headers: without(request.headers ?? {}, CREDENTIAL_HEADERS, true) as Record<string, string>,
    contentType: request.content_type ?? null,
    payload,
    payloadTruncated,
  };
}

/** The object itself when it holds none of `names`; otherwise a copy without them (header names in any case). */
function without(values: Record<string, unknown>, names: readonly string[], anyCase: boolean): Record<string, unknown> {
  let found = false;
  for (const name of names) if (name in values) found = true;
  if (!found && anyCase) for (const key in values) if (names.includes(key.toLowerCase())) found = true;
  if (!found) return values;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) if (!names.includes(anyCase ? key.toLowerCase() : key)) copy[key] = value;
  return copy;
}

/** The longest prefix of `text` within `maxBytes` of UTF-8, never splitting a character. */
function cutToBytes(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8').subarray(0, maxBytes);
  // A character cut in two decodes as U+FFFD at the end: drop it.
  return bytes.toString('utf8').replace(/\uFFFD$/, '');
}

/** The body a replay sends: parsed as the REST door parses JSON and forms, raw text for `event.request.content`. */
export function replayBody(recorded: RecordedRequest): { payload: unknown; content: string } {
  const content = recorded.payload ?? '';
  if (content === '') return { payload: null, content };
  const type = (recorded.contentType ?? '').toLowerCase();
  if (/^application\/([\w.-]+\+)?json/.test(type)) {
    try {
      return { payload: JSON.parse(content), content };
    } catch {
      return { payload: null, content };
    }
  }
  if (type.startsWith('application/x-www-form-urlencoded')) return { payload: Object.fromEntries(new URLSearchParams(content)), content };
  return { payload: null, content };
}
