/** Why a script run failed; the domain maps each kind to one HTTP status. */
export type ScriptFailureKind =
  | 'error' // syntax error, exception, non-zero exit, unserialisable result: 500
  | 'timeout' // past its wall-clock limit: 504
  | 'memory' // past its memory limit: 500 naming the limit
  | 'output' // past the output cap in a way that cannot be truncated: 500
  | 'crashed' // worker died mid-call: 500
  | 'unavailable' // interpreter missing or disabled: 503
  | 'overloaded'; // queue full: 503 with Retry-After

export class ScriptFailure extends Error {
  constructor(
    readonly kind: ScriptFailureKind,
    message: string,
    readonly details: {
      line?: number;
      column?: number;
      stack?: string;
      retryAfterSeconds?: number;
      /** Engine internals (an aborted WebAssembly instance, a runner's own failure): for the server log, never the client. */
      internal?: string;
    } = {},
  ) {
    super(message);
    this.name = 'ScriptFailure';
  }
}

/** Refused because the engine is full: 503, with a Retry-After from the expected wait. */
export function overloaded(message: string, expectedWaitMs: number): ScriptFailure {
  const retryAfterSeconds = Math.min(60, Math.max(1, Math.ceil(expectedWaitMs / 1000)));
  return new ScriptFailure('overloaded', `${message} Try again in ${retryAfterSeconds} s.`, { retryAfterSeconds });
}
