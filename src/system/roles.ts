import type { Role, RoleCatalog, RoleInput } from '../access/roles.ts';
import type { Caller } from '../domain/caller.ts';
import { badInput } from '../domain/errors.ts';
import type { InvokeRequest } from '../domain/invoke.ts';
import type { SystemAnswer, SystemComponent } from './component.ts';
import { routeRecords } from './record-routes.ts';
import { filter, flag, integerIn, list, mapInTurns, MAX_INT32, order, pickFields, wholeNumber, type Query } from './query.ts';

const ACCESS_RELATION = 'role_service_access_by_role_id';

/** A role in DreamFactory's record shape; its grants only when asked for with `related`. */
export function roleRecord(role: Role, withAccess: boolean) {
  return {
    id: role.id,
    name: role.name,
    description: role.description,
    is_active: role.isActive,
    rate_limit_per_minute: role.rateLimitPerMinute,
    created_date: role.createdAt.toISOString(),
    last_modified_date: role.updatedAt.toISOString(),
    created_by_id: null,
    last_modified_by_id: null,
    ...(withAccess
      ? {
          [ACCESS_RELATION]: role.access.map((row) => ({
            id: row.id,
            role_id: row.roleId,
            service_id: row.serviceId,
            component: row.component,
            verb_mask: row.verbMask,
            requestor_mask: row.requestorMask,
            filters: [],
            filter_op: 'AND',
          })),
        }
      : {}),
  };
}

/** DreamFactory's snake_case role into the domain's input. Access rows with `role_id: null` are dropped: DreamFactory's admin app unlinks a row that way. */
function roleInput(body: unknown): RoleInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badInput('Each role record must be a JSON object.');
  const record = body as Record<string, unknown>;
  const rows = record[ACCESS_RELATION];
  return {
    name: record.name,
    description: record.description,
    isActive: record.is_active,
    rateLimitPerMinute: record.rate_limit_per_minute,
    access: Array.isArray(rows)
      ? rows
          .filter((row) => !(row && typeof row === 'object' && 'role_id' in row && (row as { role_id: unknown }).role_id === null))
          .map((row) =>
            row && typeof row === 'object' && !Array.isArray(row)
              ? {
                  serviceId: (row as Record<string, unknown>).service_id,
                  component: (row as Record<string, unknown>).component,
                  verbMask: (row as Record<string, unknown>).verb_mask,
                  requestorMask: (row as Record<string, unknown>).requestor_mask,
                }
              : row,
          )
      : rows,
  };
}

/** The records of a create body: one unwrapped record (answered unwrapped) or `{resource: [...]}`. */
export function bodyRecords(body: unknown): { single: boolean; records: unknown[] } {
  if (body && typeof body === 'object' && !Array.isArray(body) && !('resource' in body)) return { single: true, records: [body] };
  const records = body && typeof body === 'object' && !Array.isArray(body) ? (body as { resource: unknown }).resource : body;
  if (records === null || records === undefined || (Array.isArray(records) && records.length === 0)) {
    throw badInput('No records given: send {"resource":[{...}]}.', 'resource');
  }
  return { single: false, records: Array.isArray(records) ? records : [records] };
}

/** `related=` names; only `known` ones (or `*`) are accepted. */
export function relatedIn(query: Query, known: readonly string[]): Set<string> {
  const asked = list(query, 'related', 10) ?? [];
  const unknown = asked.find((name) => name !== '*' && !known.includes(name));
  if (unknown) throw badInput(`Parameter "related": no relation "${unknown.slice(0, 60)}"; known: ${known.join(', ') || 'none'}.`, 'related');
  return new Set(asked.includes('*') ? known : asked);
}

const sortable = { id: 'id', name: 'name', created_date: 'createdAt', last_modified_date: 'updatedAt' } as const;

/** `system/role`: roles and their grants, addressed by id (or, beyond DreamFactory, by name). */
export class RolesComponent implements SystemComponent {
  readonly name = 'role';
  readonly templates = ['role/{id}'];

  constructor(private readonly roles: RoleCatalog) {}

  handle(request: InvokeRequest, rest: string[], _caller: Caller): Promise<SystemAnswer> {
    return routeRecords(request, rest, 'role', {
      list: (query) => this.list(query),
      create: (payload, query) => this.create(payload, query),
      one: (key, query) => this.one(key, query),
      update: (key, payload, query) => this.update(key, payload, query),
      remove: (key) => this.delete(key),
    });
  }

  private byKey(key: string): Promise<Role> {
    return /^\d+$/.test(key) ? this.roles.byId(integerIn(key, 'id', 1, MAX_INT32, 'Role id')) : this.roles.byName(key);
  }

  private async list(query: Query): Promise<SystemAnswer> {
    const withAccess = relatedIn(query, [ACCESS_RELATION]).has(ACCESS_RELATION);
    const ids = list(query, 'ids')?.map((id) => integerIn(id, 'ids', 1, MAX_INT32, 'Role id'));
    const where = filter(query, ['name', 'id']);
    const { roles, count } = await this.roles.list({
      ids: where.id ? [integerIn(where.id, 'filter', 1, MAX_INT32, 'Role id'), ...(ids ?? [])] : ids,
      name: where.name,
      limit: wholeNumber(query, 'limit') || undefined,
      offset: wholeNumber(query, 'offset'),
      order: order(query, sortable),
    });
    const fields = list(query, 'fields');
    const records = await mapInTurns(roles, (role) => pickFields(roleRecord(role, withAccess), fields));
    return { content: { resource: records, ...(flag(query, 'include_count') ? { meta: { count } } : {}) }, rows: roles };
  }

  private async create(body: unknown, query: Query): Promise<SystemAnswer> {
    const { single, records } = bodyRecords(body);
    const roles = await this.roles.createMany(records.map(roleInput));
    const fields = list(query, 'fields');
    const withAccess = relatedIn(query, [ACCESS_RELATION]).has(ACCESS_RELATION);
    const shown = (role: Role) => (fields || withAccess ? pickFields(roleRecord(role, withAccess), fields) : { id: role.id });
    return { statusCode: 201, content: single ? shown(roles[0]!) : { resource: roles.map(shown) }, rows: roles };
  }

  private async one(key: string, query: Query): Promise<SystemAnswer> {
    const role = await this.byKey(key);
    const withAccess = relatedIn(query, [ACCESS_RELATION]).has(ACCESS_RELATION);
    return { content: pickFields(roleRecord(role, withAccess), list(query, 'fields')), rows: [role] };
  }

  private async update(key: string, body: unknown, query: Query): Promise<SystemAnswer> {
    const updated = await this.roles.update(await this.byKey(key), roleInput(body));
    const withAccess = relatedIn(query, [ACCESS_RELATION]).has(ACCESS_RELATION);
    return { content: roleRecord(updated, withAccess), rows: [updated] };
  }

  private async delete(key: string): Promise<SystemAnswer> {
    const existing = await this.byKey(key);
    await this.roles.delete(existing);
    return { content: { id: existing.id }, rows: [existing] };
  }
}
