import { ScriptFailure } from '../failure.ts';
import type { ScriptJob } from '../types.ts';

/** What the prelude's describe() reports of a thrown value (see guest-prelude.ts). */
export interface ThrownDescription {
  name?: string;
  message?: string;
  stack?: string;
  /** null or undefined was thrown: with the heap full, QuickJS may not manage to build an error. */
  nullish?: boolean;
  /** The prelude refused a result over this response cap, in bytes. */
  outputLimit?: number;
}

export function timeoutFailure(job: ScriptJob): ScriptFailure {
  return new ScriptFailure('timeout', `Script exceeded its time limit of ${job.limits.timeoutMs} ms and was stopped.`);
}

export function memoryFailure(job: ScriptJob): ScriptFailure {
  return new ScriptFailure('memory', `Script exceeded its memory limit of ${job.limits.memoryLimitMb} MB.`);
}

/**
 * The WebAssembly instance itself failed (an emscripten abort, an assertion,
 * a RuntimeError): the client learns only that; the detail is for the server
 * log (`details.internal`), and the instance is never used again.
 */
export function sandboxFailure(error: unknown): ScriptFailure {
  const internal = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  return new ScriptFailure('crashed', "The script's sandbox failed and was discarded.", { internal });
}

/** Any error out of the engine's own code becomes a ScriptFailure without engine internals. */
export function asScriptFailure(error: unknown): ScriptFailure {
  return error instanceof ScriptFailure ? error : sandboxFailure(error);
}

/**
 * A ScriptFailure for what the script threw. `prefixLength` is how far the
 * wrapper shifts line 1 (see script-source.ts), so columns there are the
 * user's own.
 */
export function thrownFailure(
  described: ThrownDescription | null,
  job: ScriptJob,
  where: { heapExhausted: boolean; prefixLength: number },
): ScriptFailure {
  if (!described) {
    if (where.heapExhausted) return memoryFailure(job);
    return new ScriptFailure('error', 'The script failed with a value that could not be read.');
  }
  const message = described.message ?? '';
  if (described.outputLimit !== undefined) {
    return new ScriptFailure('output', `The script's result is larger than the response limit of ${formatBytes(described.outputLimit)}.`);
  }
  if (/out of memory/i.test(message) || (described.nullish && where.heapExhausted)) return memoryFailure(job);
  if (described.name === 'InternalError' && /interrupted/i.test(message)) return timeoutFailure(job);
  const found = described.stack ? new RegExp(`${escapeRegExp(job.scriptKey)}\\.js:(\\d+)(?::(\\d+))?`).exec(described.stack) : null;
  const line = found ? Number(found[1]) : undefined;
  let column = found?.[2] ? Number(found[2]) : undefined;
  if (line === 1 && column !== undefined) column = Math.max(1, column - where.prefixLength);
  const name = described.name && described.name !== 'Error' ? `${described.name}: ` : '';
  return new ScriptFailure('error', `${name}${message}`, { line, column, stack: described.stack });
}

function formatBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return Number.isInteger(mib) ? `${mib} MiB` : `${bytes} bytes`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
