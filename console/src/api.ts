import { createClient, type Client } from 'graphql-ws';
import type { TypedDocumentString } from './graphql/generated/graphql';
import { session } from './session';

/** A GraphQL error as the server's domain-errors plugin names it (extensions.code). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly httpStatus: number,
  ) {
    super(message);
  }
}

const unauthenticatedListeners = new Set<() => void>();
/** Called when the server refuses the key (it was wrong, or revoked). */
export function onUnauthenticated(listener: () => void): void {
  unauthenticatedListeners.add(listener);
}

/** One operation over HTTP with the session's key. */
export async function request<Result, Variables>(document: TypedDocumentString<Result, Variables>, variables?: Variables, key = session.key()): Promise<Result> {
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', 'x-dreamfactory-api-key': key },
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  let body: { data?: Result; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered ${response.status} without GraphQL.`, undefined, response.status);
  }
  const error = body.errors?.[0];
  if (error) {
    const code = error.extensions?.code;
    if (code === 'UNAUTHENTICATED' || response.status === 401) for (const listener of unauthenticatedListeners) listener();
    throw new ApiError(error.message, code, response.status);
  }
  return body.data as Result;
}

// ------------------------------------------------------------- live (WebSocket)

export type LiveState = 'connecting' | 'connected' | 'reconnecting' | 'closed';
let client: Client | null = null;
let state: LiveState = 'closed';
const stateListeners = new Set<(state: LiveState) => void>();

function setState(next: LiveState): void {
  state = next;
  for (const listener of stateListeners) listener(next);
}

/** Follows the WebSocket's state; called at once with the current one. Returns the unfollow. */
export function onLiveState(listener: (state: LiveState) => void): () => void {
  stateListeners.add(listener);
  listener(state);
  return () => stateListeners.delete(listener);
}

function liveClient(): Client {
  if (client) return client;
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/graphql`;
  let everConnected = false;
  client = createClient({
    url,
    // The key goes in connection_init, never in the URL.
    connectionParams: () => ({ 'X-DreamFactory-API-Key': session.key() }),
    lazy: true,
    lazyCloseTimeout: 2000,
    retryAttempts: Infinity,
    shouldRetry: () => true,
    keepAlive: 15_000,
    on: {
      connecting: () => setState(everConnected ? 'reconnecting' : 'connecting'),
      connected: () => {
        everConnected = true;
        setState('connected');
      },
      closed: () => setState('closed'),
    },
  });
  return client;
}

/** A live subscription; returns its end. Errors of the operation are passed on, the socket retries by itself. */
export function subscribe<Result, Variables>(
  document: TypedDocumentString<Result, Variables>,
  variables: Variables,
  onData: (data: Result) => void,
  onError: (message: string) => void = () => {},
): () => void {
  return liveClient().subscribe<Result>(
    { query: document.toString(), variables: variables as Record<string, unknown> },
    {
      next: (result) => {
        if (result.errors?.length) onError(result.errors.map((error) => error.message).join('; '));
        else if (result.data) onData(result.data);
      },
      error: (error) => onError(error instanceof Error ? error.message : error instanceof CloseEvent ? `connection closed (${error.code} ${error.reason})` : String(error)),
      complete: () => {},
    },
  );
}

/** Closes the socket (sign out): a new key opens a new one. */
export function closeLive(): void {
  client?.dispose();
  client = null;
  setState('closed');
}
