import { badInput, notFound } from '../domain/errors.ts';
import type { InvokeRequest } from '../domain/invoke.ts';
import { saveMessage, type ServiceVersion, type ServiceVersions } from '../domain/service-versions.ts';
import type { Service } from '../domain/services.ts';
import type { SystemAnswer } from './component.ts';
import { flag, integerIn, list, MAX_INT32, methodNotAllowed, pickFields, wholeNumber, type Query } from './query.ts';

/** A version in DreamFactory's record style (snake_case; the script in config.content, as a service record has it). */
export function versionRecord(version: ServiceVersion) {
  return {
    version: version.version,
    type: version.type,
    config: { ...(version.config as Record<string, unknown>), content: version.content },
    message: version.message,
    saved_at: version.savedAt.toISOString(),
    saved_by: version.savedBy,
  };
}

function versionParam(raw: string): number {
  return integerIn(raw, 'version', 1, MAX_INT32, 'Version');
}

/**
 * `system/service/{id}/version`: the service's versions, newest first
 * (`limit`, `offset`, `fields`, `include_count`); `.../version/{n}`: one.
 * Read-only: a rollback is a save (PATCH `system/service/{id}` with `rollback_to_version`).
 */
export async function serviceVersionRequest(versions: ServiceVersions, request: InvokeRequest, service: Service, rest: string[]): Promise<SystemAnswer> {
  const query = request.parameters as Query;
  if (rest.length > 1) throw notFound(`No resource "${request.resource}" in system.`);
  if (request.method !== 'GET') throw methodNotAllowed(request.method, rest.length ? 'system/service/{id}/version/{version}' : 'system/service/{id}/version');
  const fields = list(query, 'fields');
  if (rest.length === 1) {
    const version = await versions.get(service, versionParam(rest[0]!));
    return { content: pickFields(versionRecord(version), fields), rows: [version] };
  }
  const { rows, count } = await versions.list(service.id, { limit: wholeNumber(query, 'limit') || 100, offset: wholeNumber(query, 'offset') ?? 0 });
  return { content: { resource: rows.map((row) => pickFields(versionRecord(row), fields)), ...(flag(query, 'include_count') ? { meta: { count } } : {}) }, rows };
}

/** A PATCH body asking for a rollback (`{"rollback_to_version": n, "message": "..."}`), or null for an ordinary update. */
export function rollbackOf(body: unknown): { version: number; message: string | null } | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !('rollback_to_version' in body)) return null;
  const { rollback_to_version: version, message, ...others } = body as Record<string, unknown>;
  if (Object.keys(others).length > 0) {
    throw badInput(`A rollback takes only "rollback_to_version" and "message"; got ${Object.keys(others).join(', ')} too.`, 'rollback_to_version');
  }
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || version > MAX_INT32) {
    throw badInput('Field "rollback_to_version" must be a version number (1 or more).', 'rollback_to_version');
  }
  return { version, message: saveMessage(message) };
}
