/**
 * A tiny server-sent events client for GraphQL over SSE (Yoga's "distinct
 * connections" mode): POST /graphql with `Accept: text/event-stream`; the
 * response is `event: next` / `event: complete` messages, plus `:` pings.
 */

export interface SseEvent {
  /** `message` when the server named none. */
  event: string;
  data: string;
}

/** Splits a response body into SSE events (comments and pings skipped). */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line === '' || line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = value;
          else if (field === 'data') data.push(value);
        }
        if (event !== 'message' || data.length) yield { event, data: data.join('\n') };
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

export interface SseSubscription<T> {
  status: number;
  /** The body when the server refused (not an event stream). */
  refusal: string | null;
  /** Results of `event: next`, parsed; ends after `event: complete` or when the connection ends. */
  results: AsyncGenerator<{ data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] }>;
  /** Disconnects. */
  close(): void;
}

/** Opens one GraphQL subscription over SSE. */
export async function subscribeSse<T = any>(
  url: string,
  request: { query: string; variables?: Record<string, unknown>; operationName?: string },
  headers: Record<string, string>,
): Promise<SseSubscription<T>> {
  const abort = new AbortController();
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify(request),
    signal: abort.signal,
  });
  const isStream = (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
  const refusal = isStream ? null : await response.text();
  async function* results() {
    if (!response.body || !isStream) return;
    try {
      for await (const event of readSse(response.body)) {
        if (event.event === 'complete') return;
        if (event.event === 'next') yield JSON.parse(event.data);
      }
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
  }
  return { status: response.status, refusal, results: results(), close: () => abort.abort() };
}
