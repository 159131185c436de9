import type { ScriptingSettings } from '../config.ts';

const MiB = 1024 * 1024;

/**
 * Request body sizes, per kind of route. Scripted service calls take up to
 * 10 MiB (a script may accept uploads). Service writes (REST and /graphql,
 * whose mutations carry scripts) take 4 MiB, or room for two
 * SCRIPT_MAX_BYTES scripts when that is set higher: a script escaped into
 * JSON grows (quotes, backslashes, newlines), and a batch carries several.
 * Past a limit: 413 naming it, before the body is parsed.
 */
export function bodyLimits(scripting: Pick<ScriptingSettings, 'maxScriptBytes'>) {
  return {
    serviceCall: 10 * MiB,
    serviceWrite: Math.max(4 * MiB, 2 * scripting.maxScriptBytes + MiB),
  };
}

export type BodyLimits = ReturnType<typeof bodyLimits>;
