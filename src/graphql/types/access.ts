import type { GraphQLResolveInfo } from 'graphql';
import { SYSTEM_SERVICE_ID, VERB_MASKS, REQUESTOR_MASKS } from '../../access/access-rules.ts';
import type { App } from '../../access/apps.ts';
import type { AccessRow, Role } from '../../access/roles.ts';
import { DomainError } from '../../domain/errors.ts';
import type { InvokeResult } from '../../domain/invoke.ts';
import { builder, type GraphQLContext } from '../builder.ts';
import { completedInTurns, MAX_ROWS_PER_OPERATION } from '../request-scope.ts';
import { idsIn, rowsOf, systemCall } from '../system-call.ts';
import { ServiceRef } from './service.ts';

/*
 * Roles, apps and service secrets: thin adapters over system/role,
 * system/app and system/service/{id}/secret, so every operation passes the
 * same access checks and event scripts as its REST twin. Roles and apps are
 * addressed by name (a name is never only digits, so it never reads as an id).
 */

const RELATED = { related: 'role_service_access_by_role_id' };
const appFields = { id: true, name: true, description: true, isActive: true, roleId: true, apiKeyPrefix: true, rateLimitPerMinute: true, createdAt: true, updatedAt: true } as const;

const RoleAccessRef = builder.objectRef<AccessRow>('RoleAccess').implement({
  description: 'One grant of a role (DreamFactory precedence: exact component, then prefix/* and *, then the service root *, then all services).',
  fields: (t) => ({
    id: t.exposeInt('id'),
    serviceId: t.exposeInt('serviceId', { nullable: true, description: 'null: every service; 0: the system API.' }),
    service: t.string({
      nullable: true,
      description: 'The service\'s name; "system" for the system API; null for every service.',
      resolve: (row, _args, ctx) => serviceName(ctx, row.serviceId),
    }),
    component: t.exposeString('component', { description: "'' (the service root), an exact resource path, prefix/* or *." }),
    verbMask: t.exposeInt('verbMask', { description: 'GET 1, POST 2, PUT 4, PATCH 8, DELETE 16.' }),
    requestorMask: t.exposeInt('requestorMask', { description: 'API 1, SCRIPT 2.' }),
    verbs: t.stringList({ resolve: (row) => namesOf(VERB_MASKS, row.verbMask) }),
    requestors: t.stringList({ resolve: (row) => namesOf(REQUESTOR_MASKS, row.requestorMask) }),
  }),
});

export const RoleRef = builder.objectRef<Role>('Role').implement({
  description: 'What an app\'s key may do: per service and component, verbs and requestors.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    isActive: t.exposeBoolean('isActive', { description: 'An inactive role allows nothing.' }),
    rateLimitPerMinute: t.exposeInt('rateLimitPerMinute', { nullable: true }),
    access: t.field({ type: [RoleAccessRef], resolve: (role) => role.access }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

export const AppRef = builder.objectRef<App>('App').implement({
  description: 'A client of the API. Its key is shown once (AppKey), never read back; apiKeyPrefix tells keys apart.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    isActive: t.exposeBoolean('isActive', { description: 'An inactive app\'s key is refused (401).' }),
    role: t.field({ type: RoleRef, resolve: (app, _args, ctx) => roleById(ctx, app.roleId) }),
    apiKeyPrefix: t.exposeString('apiKeyPrefix'),
    rateLimitPerMinute: t.exposeInt('rateLimitPerMinute', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

interface AppKey {
  app: App;
  apiKey: string;
}

const AppKeyRef = builder.objectRef<AppKey>('AppKey').implement({
  description: 'The only place a key is ever shown: after createApp and rotateAppKey.',
  fields: (t) => ({
    app: t.field({ type: AppRef, resolve: (k) => k.app }),
    apiKey: t.exposeString('apiKey', { description: 'Send as X-DreamFactory-API-Key. Not shown again.' }),
  }),
});

const RoleAccessInput = builder.inputType('RoleAccessInput', {
  fields: (t) => ({
    service: t.string({ description: 'A service name, "system" for the system API; null or absent: every service.' }),
    component: t.string({ description: "'' (default: the service root), an exact resource path, prefix/* or *." }),
    verbMask: t.int({ required: true, description: 'GET 1, POST 2, PUT 4, PATCH 8, DELETE 16.' }),
    requestorMask: t.int({ description: 'API 1 (default), SCRIPT 2, both 3.' }),
  }),
});

const roleFields = (required: boolean) =>
  builder.inputType(required ? 'CreateRoleInput' : 'UpdateRoleInput', {
    fields: (t) => ({
      name: t.string({ required, description: '1 to 64 letters, digits, "_", "." or "-"; not only digits.' }),
      description: t.string(),
      isActive: t.boolean(),
      rateLimitPerMinute: t.int({ description: 'Requests per minute for each of its apps; null: no limit.' }),
      access: t.field({ type: [RoleAccessInput], description: `The whole access list (at most 200 rows)${required ? '' : '; given, it replaces the old one'}.` }),
    }),
  });
const CreateRoleInput = roleFields(true);
const UpdateRoleInput = roleFields(false);

const appFieldsInput = (required: boolean) =>
  builder.inputType(required ? 'CreateAppInput' : 'UpdateAppInput', {
    fields: (t) => ({
      name: t.string({ required, description: '1 to 64 letters, digits, "_", "." or "-"; not only digits.' }),
      description: t.string(),
      isActive: t.boolean(),
      role: t.string({ required, description: 'The role\'s name.' }),
      rateLimitPerMinute: t.int({ description: 'Requests per minute; null: no limit.' }),
    }),
  });
const CreateAppInput = appFieldsInput(true);
const UpdateAppInput = appFieldsInput(false);

builder.queryFields((t) => ({
  roles: t.field({
    type: [RoleRef],
    description: `Every role, by id, with its access (at most ${MAX_ROWS_PER_OPERATION} rows per operation).`,
    resolve: async (_root, _args, ctx, info) => {
      const roles = await ctx.scope.once('roles', async () =>
        rolesIn(ctx, await systemCall(ctx, { method: 'GET', resource: 'role', parameters: { ...RELATED, limit: String(MAX_ROWS_PER_OPERATION + 1) } })),
      );
      charge(ctx, info, roles.length);
      return completedInTurns(roles);
    },
  }),
  role: t.field({
    type: RoleRef,
    nullable: true,
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, ctx) => {
      const path = await pathOf(ctx, 'role', name).catch(nullWhenMissing);
      const result = path && (await systemCall(ctx, { method: 'GET', resource: path, parameters: RELATED }).catch(nullWhenMissing));
      return result ? ((await rolesIn(ctx, result))[0] ?? null) : null;
    },
  }),
  apps: t.field({
    type: [AppRef],
    description: `Every app, by id; keys are never shown (at most ${MAX_ROWS_PER_OPERATION} rows per operation).`,
    resolve: async (_root, _args, ctx, info) => {
      const apps = await ctx.scope.once('apps', async () =>
        appsIn(ctx, await systemCall(ctx, { method: 'GET', resource: 'app', parameters: { limit: String(MAX_ROWS_PER_OPERATION + 1) } })),
      );
      charge(ctx, info, apps.length);
      return completedInTurns(apps);
    },
  }),
  app: t.field({
    type: AppRef,
    nullable: true,
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, ctx) => {
      const path = await pathOf(ctx, 'app', name).catch(nullWhenMissing);
      const result = path && (await systemCall(ctx, { method: 'GET', resource: path }).catch(nullWhenMissing));
      return result ? ((await appsIn(ctx, result))[0] ?? null) : null;
    },
  }),
}));

builder.mutationFields((t) => ({
  createRole: t.field({
    type: RoleRef,
    args: { input: t.arg({ type: CreateRoleInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const payload = { resource: [await roleRecordOf(ctx, input)] };
      const [role] = await rolesIn(ctx, await systemCall(ctx, { method: 'POST', resource: 'role', payload, parameters: RELATED }));
      return role ?? notReturned('role', input.name);
    },
  }),
  updateRole: t.field({
    type: RoleRef,
    args: { name: t.arg.string({ required: true }), input: t.arg({ type: UpdateRoleInput, required: true }) },
    resolve: async (_root, { name, input }, ctx) => {
      const payload = await roleRecordOf(ctx, input);
      const [role] = await rolesIn(ctx, await systemCall(ctx, { method: 'PATCH', resource: await pathOf(ctx, 'role', name), payload, parameters: RELATED }));
      return role ?? notReturned('role', name);
    },
  }),
  deleteRole: t.boolean({
    description: 'Refused (CONFLICT) while apps use the role.',
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, ctx) => {
      await systemCall(ctx, { method: 'DELETE', resource: await pathOf(ctx, 'role', name) });
      return true;
    },
  }),
  createApp: t.field({
    type: AppKeyRef,
    args: { input: t.arg({ type: CreateAppInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const payload = { resource: [await appRecordOf(ctx, input)] };
      return appKeyFrom(ctx, await systemCall(ctx, { method: 'POST', resource: 'app', payload }), input.name);
    },
  }),
  updateApp: t.field({
    type: AppRef,
    args: { name: t.arg.string({ required: true }), input: t.arg({ type: UpdateAppInput, required: true }) },
    resolve: async (_root, { name, input }, ctx) => {
      const payload = await appRecordOf(ctx, input);
      const [app] = await appsIn(ctx, await systemCall(ctx, { method: 'PATCH', resource: await pathOf(ctx, 'app', name), payload }));
      return app ?? notReturned('app', name);
    },
  }),
  deleteApp: t.boolean({
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, ctx) => {
      await systemCall(ctx, { method: 'DELETE', resource: await pathOf(ctx, 'app', name) });
      return true;
    },
  }),
  rotateAppKey: t.field({
    type: AppKeyRef,
    description: 'A new key for the app; the old one stops working at once, on every instance.',
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, ctx) =>
      appKeyFrom(ctx, await systemCall(ctx, { method: 'PATCH', resource: await pathOf(ctx, 'app', name), parameters: { regenerate: 'true' } }), name),
  }),
  setServiceSecret: t.boolean({
    description: 'Creates or replaces a secret of the service; scripts read it as platform.secrets.NAME. Values are never returned.',
    args: { service: t.arg.string({ required: true }), name: t.arg.string({ required: true }), value: t.arg.string({ required: true }) },
    resolve: async (_root, { service, name, value }, ctx) => {
      const { id } = await ctx.platform.services.byName(service);
      await systemCall(ctx, { method: 'PUT', resource: `service/${id}/secret/${secretSegment(name)}`, payload: { value } });
      return true;
    },
  }),
  deleteServiceSecret: t.boolean({
    args: { service: t.arg.string({ required: true }), name: t.arg.string({ required: true }) },
    resolve: async (_root, { service, name }, ctx) => {
      const { id } = await ctx.platform.services.byName(service);
      await systemCall(ctx, { method: 'DELETE', resource: `service/${id}/secret/${secretSegment(name)}` });
      return true;
    },
  }),
}));

builder.prismaObjectField(ServiceRef, 'secretNames', (t) =>
  t.stringList({
    description: 'Names of the service\'s secrets (values are write-only).',
    // One read for every service of the operation: ids gather for one turn, then load together.
    resolve: (service, _args, ctx) => secretNames(ctx, service.id),
  }),
);

/** A GraphQL role input in system/role's record shape (service names to ids). */
async function roleRecordOf(
  ctx: GraphQLContext,
  input: { name?: string | null; description?: string | null; isActive?: boolean | null; rateLimitPerMinute?: number | null; access?: readonly { service?: string | null; component?: string | null; verbMask: number; requestorMask?: number | null }[] | null },
): Promise<Record<string, unknown>> {
  return {
    ...(input.name !== undefined && input.name !== null ? { name: input.name } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.isActive !== undefined ? { is_active: input.isActive } : {}),
    ...(input.rateLimitPerMinute !== undefined ? { rate_limit_per_minute: input.rateLimitPerMinute } : {}),
    ...(input.access
      ? {
          role_service_access_by_role_id: await Promise.all(
            input.access.map(async (row) => ({
              service_id: await serviceIdOf(ctx, row.service ?? null),
              component: row.component ?? '',
              verb_mask: row.verbMask,
              requestor_mask: row.requestorMask ?? 1,
            })),
          ),
        }
      : {}),
  };
}

async function appRecordOf(
  ctx: GraphQLContext,
  input: { name?: string | null; description?: string | null; isActive?: boolean | null; role?: string | null; rateLimitPerMinute?: number | null },
): Promise<Record<string, unknown>> {
  let roleId: number | undefined;
  if (input.role !== undefined && input.role !== null) {
    const role = await ctx.db.role.findUnique({ where: { name: input.role }, select: { id: true } });
    if (!role) throw new DomainError('BAD_INPUT', `No role named "${input.role.slice(0, 64)}".`, { field: 'role' });
    roleId = role.id;
  }
  return {
    ...(input.name !== undefined && input.name !== null ? { name: input.name } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.isActive !== undefined ? { is_active: input.isActive } : {}),
    ...(roleId !== undefined ? { role_id: roleId } : {}),
    ...(input.rateLimitPerMinute !== undefined ? { rate_limit_per_minute: input.rateLimitPerMinute } : {}),
  };
}

async function serviceIdOf(ctx: GraphQLContext, name: string | null): Promise<number | null> {
  if (name === null) return null;
  if (name === 'system') return SYSTEM_SERVICE_ID;
  const service = await ctx.platform.services.byNameOrNull(name);
  if (!service) throw new DomainError('BAD_INPUT', `No service named "${name.slice(0, 64)}".`, { field: 'service', service: name.slice(0, 64) });
  return service.id;
}

function serviceName(ctx: GraphQLContext, id: number | null): Promise<string | null> | string | null {
  if (id === null) return null;
  if (id === SYSTEM_SERVICE_ID) return 'system';
  return ctx.scope.once(`access:service:${id}`, async () => (await ctx.db.service.findUnique({ where: { id }, select: { name: true } }))?.name ?? null);
}

function roleById(ctx: GraphQLContext, id: number): Promise<Role> {
  return ctx.scope.once(`access:role:${id}`, async () => {
    const [role] = await rolesIn(ctx, await systemCall(ctx, { method: 'GET', resource: `role/${id}`, parameters: RELATED }));
    return role ?? notReturned('role', String(id));
  });
}

function rolesIn(ctx: GraphQLContext, result: InvokeResult): Promise<Role[]> {
  return rowsOf(result, async (content) => {
    const ids = numericIds(content);
    const rows = await ctx.db.role.findMany({ where: { id: { in: ids } }, include: { access: { orderBy: { id: 'asc' } } } });
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  });
}

function appsIn(ctx: GraphQLContext, result: InvokeResult): Promise<App[]> {
  return rowsOf(result, async (content) => {
    const ids = numericIds(content);
    const rows = await ctx.db.app.findMany({ where: { id: { in: ids } }, select: appFields });
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  });
}

async function appKeyFrom(ctx: GraphQLContext, result: InvokeResult, name: string | null | undefined): Promise<AppKey> {
  const content = result.content as { resource?: unknown[]; api_key?: unknown } | null;
  const record = (Array.isArray(content?.resource) ? content.resource[0] : content) as { api_key?: unknown } | undefined;
  const [app] = await appsIn(ctx, result);
  if (!app || typeof record?.api_key !== 'string') return notReturned('app key', name);
  return { app, apiKey: record.api_key };
}

function numericIds(content: unknown): number[] {
  return idsIn(content)
    .filter((id): id is number => typeof id === 'number')
    .slice(0, MAX_ROWS_PER_OPERATION + 1);
}

const pendingNames = new WeakMap<object, { ids: Set<number>; loaded: Promise<Map<number, string[]>> }>();

function secretNames(ctx: GraphQLContext, serviceId: number): Promise<string[]> {
  let batch = pendingNames.get(ctx.scope);
  if (!batch) {
    const ids = new Set<number>();
    const loaded = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      pendingNames.delete(ctx.scope);
      const rows = await ctx.db.serviceSecret.findMany({ where: { serviceId: { in: [...ids] } }, select: { serviceId: true, name: true }, orderBy: { name: 'asc' } });
      const byService = new Map<number, string[]>();
      for (const row of rows) byService.set(row.serviceId, [...(byService.get(row.serviceId) ?? []), row.name]);
      return byService;
    });
    batch = { ids, loaded };
    pendingNames.set(ctx.scope, batch);
  }
  batch.ids.add(serviceId);
  return batch.loaded.then((byService) => byService.get(serviceId) ?? []);
}

function charge(ctx: GraphQLContext, info: GraphQLResolveInfo, rows: number): void {
  ctx.scope.charge(info.path.key.toString(), rows);
}

function namesOf(masks: Record<string, number>, mask: number): string[] {
  return Object.entries(masks).flatMap(([name, bit]) => (mask & bit ? [name] : []));
}

function isName(name: string): boolean {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(name) && !/^\d+$/.test(name);
}

/** A name as a path segment: one that no role or app can have is NOT_FOUND, never read as an id or another path. */
/** A role or app by name, as its `system/{role|app}/{id}` path: roles grant by id, as REST addresses them. */
async function pathOf(ctx: GraphQLContext, what: 'role' | 'app', name: string): Promise<string> {
  if (!isName(name)) throw new DomainError('NOT_FOUND', `No ${what} named "${name.slice(0, 64)}".`);
  const { id } = what === 'role' ? await ctx.platform.roles.byName(name) : await ctx.platform.apps.byName(name);
  return `${what}/${id}`;
}

function secretSegment(name: string): string {
  if (name.includes('/')) throw new DomainError('BAD_INPUT', 'A secret\'s name must be a letter or "_" then letters, digits or "_".', { field: 'name' });
  return name;
}

function nullWhenMissing(error: unknown): null {
  if (error instanceof DomainError && error.kind === 'NOT_FOUND') return null;
  throw error;
}

function notReturned(what: string, name: string | null | undefined): never {
  throw new DomainError('NOT_FOUND', `No ${what} came back for "${name ?? ''}" (an event script changed the answer?).`);
}
