import { ScriptFailure } from './failure.ts';

/**
 * What a syntax check says about a script, without running it: where (1-based
 * line and column, in the user's own text) and what. ERROR means the script
 * would not compile; WARNING (Python's SyntaxWarning, PHP's compile-time
 * deprecations) means it would, with a note.
 */
export interface Diagnostic {
  severity: 'ERROR' | 'WARNING';
  message: string;
  line: number;
  column: number;
}

/** A check reports at most this many; a runner's answer is bounded by it too. */
export const MAX_DIAGNOSTICS = 20;
/** Longer messages are cut: a diagnostic is not a way to move data. */
export const MAX_DIAGNOSTIC_CHARS = 2000;

/** A compile failure as a diagnostic (a failure without a position is placed at 1:1). */
export function diagnosticOf(failure: ScriptFailure): Diagnostic {
  return error(failure.message, failure.details.line, failure.details.column);
}

export function error(message: string, line?: number | null, column?: number | null): Diagnostic {
  return {
    severity: 'ERROR',
    message: message.slice(0, MAX_DIAGNOSTIC_CHARS),
    line: whole(line),
    column: whole(column),
  };
}

/** Diagnostics as a runner sent them: untrusted, so re-shaped and bounded. */
export function diagnosticsFrom(raw: unknown): Diagnostic[] {
  if (!Array.isArray(raw)) return [];
  return raw.slice(0, MAX_DIAGNOSTICS).map((item) => {
    const entry = (item !== null && typeof item === 'object' ? item : {}) as Record<string, unknown>;
    return {
      severity: entry.severity === 'WARNING' ? 'WARNING' : 'ERROR',
      message: String(entry.message ?? 'unknown error').slice(0, MAX_DIAGNOSTIC_CHARS),
      line: whole(entry.line),
      column: whole(entry.column),
    };
  });
}

function whole(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 ? value : 1;
}
