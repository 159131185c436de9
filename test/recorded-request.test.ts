import { describe, expect, it } from 'vitest';
import { MAX_RECORDED_PAYLOAD_BYTES, recordedRequest } from '../src/domain/recorded-request.ts';
import type { ScriptRequest } from '../src/scripting/types.ts';

/**
 * What an execution keeps of its request: credentials never, the body up to
 * the cap, and (on the hot path) the request's own objects when nothing has
 * to be removed from them.
 */

function request(overrides: Partial<ScriptRequest> = {}): ScriptRequest {
  return {
    method: 'POST',
    uri: '/api/v2/svc/items',
    service: 'svc',
    resource: 'items',
    parameters: { a: '1' },
    headers: { accept: 'application/json', 'x-request-id': 'r-1' },
    payload: null,
    content: '',
    content_type: null,
    api_version: '2.0',
    ...overrides,
  };
}

describe('recordedRequest', () => {
  it('keeps the request’s own parameters and headers when neither holds a credential', () => {
    const given = request();
    const recorded = recordedRequest(given);
    expect(recorded.parameters).toBe(given.parameters);
    expect(recorded.headers).toBe(given.headers);
    expect(recorded).toEqual({
      method: 'POST',
      resource: 'items',
      parameters: { a: '1' },
      headers: { accept: 'application/json', 'x-request-id': 'r-1' },
      contentType: null,
      payload: null,
      payloadTruncated: false,
    });
  });

  it('removes every credential header, whatever the case of its name, and nothing else', () => {
    const given = request({
      headers: {
        Authorization: 'Bearer k',
        'X-DreamFactory-Api-Key': 'k',
        'x-dreamfactory-session-token': 't',
        COOKIE: 'c=1',
        'Proxy-Authorization': 'Basic x',
        // Same lengths as credential names, not credentials.
        accept: 'text/plain',
        'authorizations': 'x',
        'x-dreamfactory-api-kez': 'y',
      },
    });
    const recorded = recordedRequest(given);
    expect(recorded.headers).toEqual({ accept: 'text/plain', authorizations: 'x', 'x-dreamfactory-api-kez': 'y' });
    expect(given.headers.Authorization).toBe('Bearer k'); // the run's own request is left as it was
  });

  it('removes credential query parameters (exact names) and nothing else', () => {
    const recorded = recordedRequest(request({ parameters: { api_key: 'k', session_token: 't', API_KEY: 'kept', b: '2' } }));
    expect(recorded.parameters).toEqual({ API_KEY: 'kept', b: '2' });
  });

  it('keeps a body up to the cap and cuts a longer one at a character boundary, marked', () => {
    const small = recordedRequest(request({ content: '{"x":1}', content_type: 'application/json' }));
    expect(small).toMatchObject({ payload: '{"x":1}', payloadTruncated: false, contentType: 'application/json' });

    const atCap = 'a'.repeat(MAX_RECORDED_PAYLOAD_BYTES);
    expect(recordedRequest(request({ content: atCap }))).toMatchObject({ payload: atCap, payloadTruncated: false });

    // 'é' is two bytes in UTF-8: one more than the cap cuts the last one whole.
    const over = 'é'.repeat(MAX_RECORDED_PAYLOAD_BYTES / 2 + 1);
    const cut = recordedRequest(request({ content: over }));
    expect(cut.payloadTruncated).toBe(true);
    expect(cut.payload).toBe('é'.repeat(MAX_RECORDED_PAYLOAD_BYTES / 2));
    expect(Buffer.byteLength(cut.payload!)).toBeLessThanOrEqual(MAX_RECORDED_PAYLOAD_BYTES);
  });
});
