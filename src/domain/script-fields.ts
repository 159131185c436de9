// Validation every saved script shares (services, event scripts): its type,
// its content and its config. Messages name the field that is wrong.
import type { ScriptingSettings } from '../config.ts';
import { ScriptFailure } from '../scripting/failure.ts';
import type { EngineRegistry } from '../scripting/registry.ts';
import { badInput, DomainError } from './errors.ts';

/** `config` is sent to every run as `platform.config`; settings, not data, belong there. */
export const MAX_CONFIG_BYTES = 64 * 1024;
/** Retries of a failed queued event script (with backoff). */
export const MAX_RETRIES = 10;
const CONFIG_LIMITS = { timeout_ms: 'maxTimeoutMs', memory_limit_mb: 'maxMemoryLimitMb', max_log_bytes: 'maxLogBytes' } as const;

/** `network`: false keeps subprocess scripts off the network; `run_details`: false keeps the script's executions from recording requests and figures. */
const CONFIG_SWITCHES = ['network', 'run_details'] as const;

type Limits = Pick<ScriptingSettings, 'maxTimeoutMs' | 'maxMemoryLimitMb' | 'maxLogBytes' | 'maxScriptBytes'>;

/** A known script type, lower-cased; an unavailable one is SERVICE_UNAVAILABLE (saving it could never run). */
export function validateType(engines: EngineRegistry, raw: unknown): string {
  if (typeof raw !== 'string' || raw === '') throw badInput('Field "type" is required: a script type name.', 'type');
  const type = raw.toLowerCase();
  if (!engines.find(type)) {
    const known = engines.list().map((t) => t.name).join(', ');
    throw badInput(`Field "type": unknown script type "${raw}" (known: ${known}).`, 'type');
  }
  try {
    engines.available(type);
  } catch (error) {
    if (error instanceof ScriptFailure) throw new DomainError('SERVICE_UNAVAILABLE', error.message, { field: 'type' });
    throw error;
  }
  return type;
}

export function validateContent(content: unknown, limits: Limits): string {
  if (typeof content !== 'string') throw badInput('Field "content" (the script) must be a string.', 'content');
  // Length first: a string's UTF-8 size is at most three bytes per UTF-16 unit, so most scripts skip the count.
  const max = limits.maxScriptBytes;
  if (content.length * 3 > max && Buffer.byteLength(content) > max) {
    throw badInput(`Field "content": the script is ${Buffer.byteLength(content)} bytes, over the limit of ${max} (SCRIPT_MAX_BYTES).`, 'content');
  }
  return content;
}

/** Must be a plain object (checked before merging). */
export function configObject(config: unknown): Record<string, unknown> {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw badInput('Field "config" must be an object.', 'config');
  return config as Record<string, unknown>;
}

/**
 * DreamFactory's PATCH of `config`: given keys replace, null removes a key,
 * the others stay. Without `existing` (a create) the given keys are the config.
 */
export function mergeConfig(given: Record<string, unknown>, existing: Record<string, unknown> | null): Record<string, unknown> {
  // Assigning a `__proto__` key would set the prototype, hiding it from the JSON check below.
  if (Object.hasOwn(given, '__proto__')) throw badInput('Field "config" may not contain a "__proto__" key.', 'config');
  const merged: Record<string, unknown> = existing ? { ...existing } : {};
  for (const [key, value] of Object.entries(given)) {
    if (value === null && existing) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

/** Limits within the platform maxima, the switches booleans; with `retries`, also that (event scripts). */
export function validateLimits(config: Record<string, unknown>, limits: Limits, options: { retries?: boolean } = {}): void {
  for (const key of CONFIG_SWITCHES) {
    const value = config[key];
    if (value !== undefined && value !== null && typeof value !== 'boolean') throw badInput(`Field "config.${key}" must be true or false.`, `config.${key}`);
  }
  for (const [key, maxKey] of Object.entries(CONFIG_LIMITS)) {
    const value = config[key];
    if (value === undefined || value === null) continue;
    const max = limits[maxKey];
    if (!isWholeIn(value, 1, max)) throw badInput(`Field "config.${key}" must be a whole number from 1 to ${max}.`, `config.${key}`);
  }
  if (options.retries && config.retries !== undefined && config.retries !== null && !isWholeIn(config.retries, 0, MAX_RETRIES)) {
    throw badInput(`Field "config.retries" must be a whole number from 0 to ${MAX_RETRIES}.`, 'config.retries');
  }
}

/**
 * `config` travels to every run as `platform.config`: keep it small, and free
 * of `__proto__` keys (an own `__proto__` from JSON breaks the database
 * client's JSON encoding and means nothing to a script).
 */
export function validateConfigJson(config: Record<string, unknown>): void {
  const text = JSON.stringify(config, (key, value: unknown) => {
    if (key === '__proto__') throw badInput('Field "config" may not contain a "__proto__" key.', 'config');
    return value;
  });
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_CONFIG_BYTES) {
    throw badInput(`Field "config" is ${bytes} bytes as JSON, over the limit of ${MAX_CONFIG_BYTES}.`, 'config');
  }
}

function isWholeIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * `config.openapi`, a service's own OpenAPI document (served at
 * /api/v2/api_docs/{service}): an object naming OpenAPI 3.x with `paths`.
 * Its `$ref`s must stay inside it and its paths under the service: a viewer's
 * browser follows both with the viewer's key.
 */
export function validateOpenApi(config: Record<string, unknown>): void {
  const doc = config.openapi;
  if (doc === undefined || doc === null) return;
  const refuse = (why: string) => badInput(`Field "config.openapi" ${why}`, 'config.openapi');
  if (typeof doc !== 'object' || Array.isArray(doc)) throw refuse('must be an OpenAPI document (an object).');
  const { openapi, paths } = doc as Record<string, unknown>;
  if (typeof openapi !== 'string' || !openapi.startsWith('3.')) throw refuse('must name its version in "openapi", a string starting with "3.".');
  if (paths === null || typeof paths !== 'object' || Array.isArray(paths)) throw refuse('must have "paths", an object.');
  for (const path of Object.keys(paths)) {
    if (!/^\/[^?#\\]*$/.test(path) || path.split('/').some((segment) => segment === '.' || segment === '..')) {
      throw refuse(`path "${path.slice(0, 60)}" must start with "/" and stay under the service (no "." or ".." segments, "?", "#" or "\\").`);
    }
  }
  // Iterative: a deep document must not overflow the stack.
  const pending: unknown[] = [doc];
  while (pending.length > 0) {
    const value = pending.pop();
    if (value === null || typeof value !== 'object') continue;
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && (typeof inner !== 'string' || !inner.startsWith('#'))) {
        throw refuse(`may only use "$ref"s inside the document ("#/..."), got ${JSON.stringify(inner).slice(0, 60)}.`);
      }
      pending.push(inner);
    }
  }
}
