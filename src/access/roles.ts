import type { Db } from '../db/client.ts';
import { badInput, DomainError, notFound } from '../domain/errors.ts';
import type { EventBus } from '../logs/bus.ts';
import { ALL_VERBS, normalizeComponent, SYSTEM_SERVICE_ID, type AccessRule } from './access-rules.ts';
import { checkName, optionalDescription, optionalFlag, optionalRateLimit, plainObject } from './fields.ts';

export { allows, permissionMask, SYSTEM_SERVICE_ID, VERB_MASKS, REQUESTOR_MASKS, type AccessRule, type Requestor, type Verb } from './access-rules.ts';

/** Grants one role may hold: enough for any real role, and a check stays a few microseconds (a 1,000-row role is refused). */
export const MAX_ACCESS_ROWS = 200;
/** Roles one batch create may hold. */
export const MAX_ROLE_BATCH = 100;
const MAX_COMPONENT_LENGTH = 255;

export interface AccessRow extends AccessRule {
  id: number;
  roleId: number;
}

export interface Role {
  id: number;
  name: string;
  description: string;
  isActive: boolean;
  rateLimitPerMinute: number | null;
  createdAt: Date;
  updatedAt: Date;
  /** Ordered by id. */
  access: AccessRow[];
}

export interface RoleInput {
  name?: unknown;
  description?: unknown;
  isActive?: unknown;
  rateLimitPerMinute?: unknown;
  /** Given: the role's whole access list (replacing what it had). */
  access?: unknown;
}

export interface RoleQuery {
  ids?: number[];
  name?: string;
  limit?: number;
  offset?: number;
  order?: { field: 'id' | 'name' | 'createdAt' | 'updatedAt'; direction: 'asc' | 'desc' };
}

interface RoleData {
  name?: string;
  description?: string;
  isActive?: boolean;
  rateLimitPerMinute?: number | null;
  access?: AccessRule[];
}

const withAccess = { access: { orderBy: { id: 'asc' as const } } };

/**
 * Roles and their grants: validation (every service a row names must exist),
 * storage, and an id-keyed cache for the request path, dropped on every
 * instance through the bus (`access` notices `role:{id}`).
 */
export class RoleCatalog {
  private readonly cache = new Map<number, Role>();
  /** Bumped on every change: a read that overlapped one must not cache what it read. */
  private generation = 0;
  /** One name known missing (the guest role's), at the generation it was read. */
  private missing: { name: string; generation: number } | null = null;

  constructor(
    private readonly db: Db,
    private readonly bus: EventBus,
    /** The role GUEST_ROLE names: it cannot be deleted while configured. */
    private readonly guestRoleName: string | null = null,
  ) {
    bus.onAccessChanged((what) => {
      if (what !== null && !what.startsWith('role:')) return;
      this.generation++;
      if (what === null) this.cache.clear();
      else this.cache.delete(Number(what.slice(5)));
    });
  }

  /** The role for the request path: cached; null when there is none (deleted meanwhile). */
  async forRequest(id: number): Promise<Role | null> {
    const cached = this.cache.get(id);
    if (cached) return cached;
    const generation = this.generation;
    const role = await this.db.role.findUnique({ where: { id }, include: withAccess });
    if (role && generation === this.generation) this.cache.set(id, role);
    return role;
  }

  /**
   * The role with this name for the request path (the guest role): cached by
   * id after one read; a missing name is remembered until a role changes, so
   * requests without a key cannot make a read each.
   */
  async forRequestByName(name: string): Promise<Role | null> {
    for (const role of this.cache.values()) if (role.name === name) return role;
    if (this.missing?.name === name && this.missing.generation === this.generation) return null;
    const generation = this.generation;
    const row = await this.db.role.findUnique({ where: { name }, select: { id: true } });
    if (!row) {
      if (generation === this.generation) this.missing = { name, generation };
      return null;
    }
    return this.forRequest(row.id);
  }

  async list(query: RoleQuery = {}): Promise<{ roles: Role[]; count: number }> {
    const where = { ...(query.ids ? { id: { in: query.ids } } : {}), ...(query.name !== undefined ? { name: query.name } : {}) };
    const [roles, count] = await Promise.all([
      this.db.role.findMany({
        where,
        include: withAccess,
        orderBy: query.order ? { [query.order.field]: query.order.direction } : { id: 'asc' },
        take: query.limit,
        skip: query.offset,
      }),
      this.db.role.count({ where }),
    ]);
    return { roles, count };
  }

  async byId(id: number): Promise<Role> {
    const role = Number.isSafeInteger(id) ? await this.db.role.findUnique({ where: { id }, include: withAccess }) : null;
    if (!role) throw notFound(`Role with id ${id} not found.`);
    return role;
  }

  async byName(name: string): Promise<Role> {
    const role = await this.db.role.findUnique({ where: { name }, include: withAccess });
    if (!role) throw notFound(`Role "${name}" not found.`);
    return role;
  }

  /** All or none: every record is validated (services named must exist), then all are written in one transaction. */
  async createMany(inputs: RoleInput[]): Promise<Role[]> {
    if (inputs.length > MAX_ROLE_BATCH) throw badInput(`A batch may create at most ${MAX_ROLE_BATCH} roles; this one has ${inputs.length}.`, 'resource');
    const records = inputs.map((input, index) => this.validate(input, null, inputs.length > 1 ? index : null));
    const names = new Set<string>();
    for (const record of records) {
      if (names.has(record.name!)) throw new DomainError('CONFLICT', `Duplicate role name "${record.name}" in this batch.`, { field: 'name' });
      names.add(record.name!);
    }
    await this.checkServicesExist(records.flatMap((r) => r.access ?? []));
    const taken = await this.db.role.findMany({ where: { name: { in: [...names] } }, select: { name: true } });
    if (taken.length > 0) throw new DomainError('CONFLICT', `A role named "${taken[0]!.name}" already exists.`, { field: 'name' });
    try {
      const created = await this.db.$transaction(
        records.map(({ access, ...data }) =>
          this.db.role.create({
            data: { ...(data as Required<Omit<RoleData, 'access'>>), access: { create: access ?? [] } },
            include: withAccess,
          }),
        ),
      );
      for (const role of created) this.bus.accessChanged(`role:${role.id}`);
      return created;
    } catch (error) {
      throw storeError(error);
    }
  }

  /** PATCH: fields given change; `access` given replaces the whole list. */
  async update(existing: Role, input: RoleInput): Promise<Role> {
    const { access, ...data } = this.validate(input, existing, null);
    if (access) await this.checkServicesExist(access);
    try {
      const updated = await this.db.$transaction(async (tx) => {
        if (access) await tx.roleServiceAccess.deleteMany({ where: { roleId: existing.id } });
        return tx.role.update({
          where: { id: existing.id },
          data: { ...data, ...(access ? { access: { create: access } } : {}) },
          include: withAccess,
        });
      });
      this.bus.accessChanged(`role:${existing.id}`);
      return updated;
    } catch (error) {
      throw storeError(error);
    }
  }

  /** Refused (CONFLICT, naming them) while apps use the role, or when it is the guest role. */
  async delete(existing: Role): Promise<void> {
    if (this.guestRoleName !== null && existing.name === this.guestRoleName) {
      throw new DomainError('CONFLICT', `Role "${existing.name}" is the guest role (GUEST_ROLE); it cannot be deleted while configured.`);
    }
    const apps = await this.db.app.findMany({ where: { roleId: existing.id }, select: { name: true }, take: 6, orderBy: { id: 'asc' } });
    if (apps.length > 0) throw inUse(existing.name, apps.map((a) => a.name));
    try {
      await this.db.role.delete({ where: { id: existing.id } });
    } catch (error) {
      throw storeError(error);
    } finally {
      this.bus.accessChanged(`role:${existing.id}`);
    }
  }

  /** `index` names the record of a batch in errors. */
  private validate(input: RoleInput, existing: Role | null, index: number | null): RoleData {
    const at = index === null ? '' : `Record ${index}: `;
    const record = plainObject(input, `${at}A role must be an object.`);
    const data: RoleData = {};
    if (record.name !== undefined || !existing) data.name = checkName(record.name, 'role', at);
    const description = optionalDescription(record.description, at);
    if (description !== undefined) data.description = description;
    const isActive = optionalFlag(record.isActive, 'is_active', at);
    if (isActive !== undefined) data.isActive = isActive;
    const rateLimit = optionalRateLimit(record.rateLimitPerMinute, at);
    if (rateLimit !== undefined) data.rateLimitPerMinute = rateLimit;
    if (record.access !== undefined && record.access !== null) data.access = accessRows(record.access, at);
    else if (!existing) data.access = [];
    return data;
  }

  /** BAD_INPUT naming the first service id no service has (0, the system API, always exists). */
  private async checkServicesExist(rows: AccessRule[]): Promise<void> {
    const wanted = [...new Set(rows.flatMap((r) => (r.serviceId === null || r.serviceId === SYSTEM_SERVICE_ID ? [] : [r.serviceId])))];
    if (wanted.length === 0) return;
    const found = new Set((await this.db.service.findMany({ where: { id: { in: wanted } }, select: { id: true } })).map((s) => s.id));
    const missing = wanted.find((id) => !found.has(id));
    if (missing !== undefined) {
      throw new DomainError('BAD_INPUT', `No service with id ${missing}: a role can only grant access to existing services (0 is the system API, null all services).`, {
        field: 'service_id',
        service_id: missing,
      });
    }
  }
}

/** The access list of a role input: at most MAX_ACCESS_ROWS rows, each checked and normalized. */
function accessRows(raw: unknown, at: string): AccessRule[] {
  if (!Array.isArray(raw)) throw badInput(`${at}Field "role_service_access_by_role_id" must be a list of access rows.`, 'role_service_access_by_role_id');
  if (raw.length > MAX_ACCESS_ROWS) {
    throw badInput(`${at}A role may hold at most ${MAX_ACCESS_ROWS} access rows; this one has ${raw.length}.`, 'role_service_access_by_role_id');
  }
  return raw.map((row, i) => accessRow(row, `${at}Access row ${i}: `));
}

function accessRow(raw: unknown, at: string): AccessRule {
  const row = plainObject(raw, `${at}must be an object {service_id, component, verb_mask, requestor_mask}.`);
  const serviceId = row.serviceId ?? null;
  if (serviceId !== null && !(Number.isSafeInteger(serviceId) && (serviceId as number) >= 0 && (serviceId as number) <= 2 ** 31 - 1)) {
    throw badInput(`${at}"service_id" must be a service id (0: the system API) or null (every service), got ${short(serviceId)}.`, 'service_id');
  }
  const component = row.component ?? '';
  if (typeof component !== 'string' || component.length > MAX_COMPONENT_LENGTH || /[\u0000-\u001f\u007f]/.test(component)) {
    throw badInput(`${at}"component" must be a resource path of at most ${MAX_COMPONENT_LENGTH} characters, got ${short(component)}.`, 'component');
  }
  const normalized = normalizeComponent(component);
  const star = normalized.indexOf('*');
  if (star >= 0 && !(normalized === '*' || (star === normalized.length - 1 && normalized.endsWith('/*')))) {
    throw badInput(`${at}"component" may be '' (the service root), an exact path, "prefix/*" or "*"; got ${short(component)}.`, 'component');
  }
  const verbMask = row.verbMask;
  if (!(Number.isInteger(verbMask) && (verbMask as number) >= 0 && (verbMask as number) <= ALL_VERBS)) {
    throw badInput(`${at}"verb_mask" must be a whole number from 0 to ${ALL_VERBS} (GET 1, POST 2, PUT 4, PATCH 8, DELETE 16), got ${short(verbMask)}.`, 'verb_mask');
  }
  const requestorMask = row.requestorMask ?? 1;
  if (!(Number.isInteger(requestorMask) && (requestorMask as number) >= 1 && (requestorMask as number) <= 3)) {
    throw badInput(`${at}"requestor_mask" must be 1 (API), 2 (SCRIPT) or 3 (both), got ${short(requestorMask)}.`, 'requestor_mask');
  }
  return { serviceId: serviceId as number | null, component: normalized, verbMask: verbMask as number, requestorMask: requestorMask as number };
}

function short(value: unknown): string {
  return (JSON.stringify(value) ?? String(value)).slice(0, 60);
}

function inUse(role: string, apps: string[]): DomainError {
  const listed = apps.slice(0, 5).map((a) => `"${a}"`).join(', ');
  return new DomainError('CONFLICT', `Role "${role}" is used by apps ${listed}${apps.length > 5 ? ' and more' : ''}: give them another role first.`, {
    apps: apps.slice(0, 5),
  });
}

/** Unique names lost to a concurrent writer are CONFLICT; anything else goes up as is. */
export function storeError(error: unknown): unknown {
  const code = (error as { code?: string }).code;
  if (code === 'P2002') return new DomainError('CONFLICT', 'A record with that name already exists.', { field: 'name' });
  if (code === 'P2025') return notFound('The record no longer exists.');
  if (code === 'P2003') return new DomainError('CONFLICT', 'The record refers to one that no longer exists, or is still referred to.');
  return error;
}
