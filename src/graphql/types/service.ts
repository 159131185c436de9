import type { Service } from '../../domain/services.ts';
import { DomainError } from '../../domain/errors.ts';
import { builder, type GraphQLContext } from '../builder.ts';
import { completedInTurns, MAX_ROWS_PER_OPERATION } from '../request-scope.ts';
import { selects } from '../selection.ts';
import type { GraphQLResolveInfo } from 'graphql';
import { idsIn, rowsOf, systemCall } from '../system-call.ts';

export const ServiceRef = builder.prismaObject('Service', {
  description: 'A scripted service: every HTTP verb on /api/v2/{name}/... runs its script.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    name: t.exposeString('name'),
    label: t.exposeString('label'),
    description: t.exposeString('description'),
    type: t.exposeString('type', { description: 'The script type (see scriptTypes).' }),
    isActive: t.exposeBoolean('isActive'),
    content: t.exposeString('content', { description: 'The script.' }),
    config: t.field({ type: 'JSON', description: 'Settings other than the script, as given.', resolve: (s) => s.config }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const serviceFields = {
  label: 'At most 80 characters; defaults to the name.',
  description: 'At most 255 characters.',
  content: 'The script.',
};

const CreateServiceInput = builder.inputType('CreateServiceInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'Letters, digits, "_" and "-"; at most 40; stored lower-case.' }),
    label: t.string({ description: serviceFields.label }),
    description: t.string({ description: serviceFields.description }),
    type: t.string({ required: true, description: 'A script type name.' }),
    content: t.string({ required: true, description: serviceFields.content }),
    isActive: t.boolean(),
    config: t.field({ type: 'JSON', description: 'Other settings, e.g. timeout_ms, memory_limit_mb.' }),
  }),
});

const UpdateServiceInput = builder.inputType('UpdateServiceInput', {
  fields: (t) => ({
    name: t.string(),
    label: t.string({ description: serviceFields.label }),
    description: t.string({ description: serviceFields.description }),
    type: t.string(),
    content: t.string({ description: serviceFields.content }),
    isActive: t.boolean(),
    config: t.field({ type: 'JSON', description: 'Keys to set; null removes a key; keys not given stay.' }),
  }),
});

const MAX_INT = 2 ** 31 - 1;

function pageArgument(name: string, value: number | null | undefined, max: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (value < 0 || value > max) throw new DomainError('BAD_INPUT', `Argument "${name}" must be from 0 to ${max}, got ${value}.`, { field: name });
  return value;
}

/** Script characters of a list, summed once however many aliases return it. */
const contentLengths = new WeakMap<readonly Service[], number>();

function contentLength(services: readonly Service[]): number {
  let total = contentLengths.get(services);
  if (total === undefined) {
    total = 0;
    for (const service of services) total += service.content.length;
    contentLengths.set(services, total);
  }
  return total;
}

/** Counts what a resolver is about to return toward the operation's budget, script bytes only when `content` is selected. */
function charge(ctx: GraphQLContext, info: GraphQLResolveInfo, services: readonly Service[]): void {
  ctx.scope.charge(info.path.key.toString(), services.length, selects(info, 'content') ? contentLength(services) : 0);
}

builder.queryFields((t) => ({
  services: t.field({
    type: [ServiceRef],
    description: `Services by id. Without first, all of them; one operation returns at most ${MAX_ROWS_PER_OPERATION} rows in total.`,
    args: {
      first: t.arg.int({ description: `At most this many (up to ${MAX_ROWS_PER_OPERATION}).` }),
      offset: t.arg.int({ description: 'Skip this many first.' }),
    },
    resolve: async (_root, args, ctx, info) => {
      const limit = pageArgument('first', args.first, MAX_ROWS_PER_OPERATION);
      const offset = pageArgument('offset', args.offset, MAX_INT);
      // Rows are charged from the count before any are read, so a refused operation reads none.
      const { count } = await ctx.scope.once('services:count', () => ctx.platform.services.list({ limit: 0 }));
      const field = info.path.key.toString();
      ctx.scope.charge(field, Math.max(0, Math.min(limit ?? Infinity, count - (offset ?? 0))));
      await ctx.scope.afterOthersCharged();
      // Aliases of the same list read it once.
      const services = await ctx.scope.once(`services:${limit}:${offset}`, async () =>
        servicesIn(ctx, await systemCall(ctx, { method: 'GET', resource: 'service', parameters: pageParameters(limit, offset) })),
      );
      if (selects(info, 'content')) ctx.scope.charge(field, 0, contentLength(services));
      return completedInTurns(services);
    },
  }),
  service: t.field({
    type: ServiceRef,
    nullable: true,
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, ctx, info) => {
      const service = await serviceAt(ctx, 'GET', name).catch((error: unknown) => {
        if (error instanceof DomainError && error.kind === 'NOT_FOUND') return null;
        throw error;
      });
      if (service) charge(ctx, info, [service]);
      return service;
    },
  }),
}));

builder.mutationFields((t) => ({
  createService: t.field({
    type: ServiceRef,
    args: { input: t.arg({ type: CreateServiceInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const [service] = await servicesIn(ctx, await systemCall(ctx, { method: 'POST', resource: 'service', payload: input }));
      return service ?? notReturned('createService');
    },
  }),
  updateService: t.field({
    type: ServiceRef,
    args: { name: t.arg.string({ required: true }), input: t.arg({ type: UpdateServiceInput, required: true }) },
    resolve: (_root, { name, input }, ctx) => serviceAt(ctx, 'PATCH', name, input),
  }),
  deleteService: t.boolean({
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, ctx) => {
      const { id } = await ctx.platform.services.byName(name);
      await systemCall(ctx, { method: 'DELETE', resource: `service/${id}` });
      return true;
    },
  }),
}));

function pageParameters(limit: number | undefined, offset: number | undefined): Record<string, string> {
  return { ...(limit !== undefined ? { limit: String(limit) } : {}), ...(offset !== undefined ? { offset: String(offset) } : {}) };
}

/** The services a system answer lists, in its order (read again only when an event script replaced the answer). */
function servicesIn(ctx: GraphQLContext, result: Awaited<ReturnType<typeof systemCall>>): Promise<Service[]> {
  return rowsOf(result, async (content) => {
    const ids = idsIn(content).filter((id): id is number => typeof id === 'number');
    const { services } = await ctx.platform.services.list({ ids });
    const byId = new Map(services.map((s) => [s.id, s]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  });
}

/** One service by name, as `system/service/{id}` (a name of digits would read as an id there). */
async function serviceAt(ctx: GraphQLContext, method: 'GET' | 'PATCH', name: string, payload?: unknown): Promise<Service> {
  const { id } = await ctx.platform.services.byName(name);
  const [service] = await servicesIn(ctx, await systemCall(ctx, { method, resource: `service/${id}`, payload }));
  return service ?? notReturned(name);
}

function notReturned(what: string): never {
  throw new DomainError('NOT_FOUND', `No service came back for ${what} (an event script changed the answer?).`);
}
