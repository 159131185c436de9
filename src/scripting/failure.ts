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
    readonly details: { line?: number; column?: number; stack?: string; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'ScriptFailure';
  }
}
