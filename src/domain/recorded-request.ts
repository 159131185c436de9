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
 * Lengths of the credential header names: a header name of another length
 * cannot be one in any case, so most names are passed over without being
 * lower-cased and compared (a request's headers are scanned on every run).
 */
const CREDENTIAL_HEADER_LENGTHS = new Set(CREDENTIAL_HEADERS.map((name) => name.length));

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
    parameters: withoutParameters(request.parameters ?? {}),
    headers: withoutHeaders(request.headers ?? {}),
    contentType: request.content_type ?? null,
    payload,
    payloadTruncated,
  };
}

/** The parameters themselves when none carries a credential; otherwise a copy without those. */
function withoutParameters(parameters: Record<string, unknown>): Record<string, unknown> {
  if (!CREDENTIAL_PARAMETERS.some((name) => name in parameters)) return parameters;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parameters)) if (!CREDENTIAL_PARAMETERS.includes(key)) copy[key] = value;
  return copy;
}

/** The headers themselves when none carries a credential (names in any case); otherwise a copy without those. */
function withoutHeaders(headers: Record<string, string>): Record<string, string> {
  let found = false;
  for (const name in headers) if (isCredentialHeader(name)) found = true;
  if (!found) return headers;
  const copy: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (!isCredentialHeader(name)) copy[name] = value;
  return copy;
}

function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_HEADER_LENGTHS.has(name.length) && CREDENTIAL_HEADERS.includes(name.toLowerCase());
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
