import type { Service } from '../../domain/services.ts';
import { DomainError } from '../../domain/errors.ts';
import { builder, type GraphQLContext } from '../builder.ts';

import { selects } from '../selection.ts';
import type { GraphQLResolveInfo } from 'graphql';
import { idsIn, rowsOf, systemCall } from '../system-call.ts';
import { resolveCursorConnection } from '@pothos/plugin-relay';
import { parseFilter } from '../../system/filter/syntax.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, pageSize } from '../paging.ts';

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
    graphql: t.exposeString('graphql', { nullable: true, description: serviceFields.graphql }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const serviceFields = {
  label: 'At most 80 characters; defaults to the name.',
  description: 'At most 255 characters.',
  message: 'Kept with the version this save makes (when it changes type, script or config); at most 500 characters.',
  content: 'The script.',
  graphql: 'GraphQL SDL: "extend type Query { ... }" and/or "extend type Mutation { ... }" with the object, input and enum types those fields use; each field calls this service (docs/GRAPHQL-FIELDS.md).',
};

const CreateServiceInput = builder.inputType('CreateServiceInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'Letters, digits, "_" and "-"; at most 40; stored lower-case.' }),
    label: t.string({ description: serviceFields.label }),
    description: t.string({ description: serviceFields.description }),
    type: t.string({ required: true, description: 'A script type name.' }),
    content: t.string({ required: true, description: serviceFields.content }),
    message: t.string({ description: serviceFields.message }),
    isActive: t.boolean(),
    config: t.field({ type: 'JSON', description: 'Other settings, e.g. timeout_ms, memory_limit_mb, run_details (false: no request or figures recorded).' }),
    graphql: t.string({ description: serviceFields.graphql }),
    skipSyntaxCheck: t.boolean({ description: 'Store the script even when it does not compile (work in progress); running it then fails.' }),
  }),
});

const UpdateServiceInput = builder.inputType('UpdateServiceInput', {
  fields: (t) => ({
    name: t.string(),
    label: t.string({ description: serviceFields.label }),
    description: t.string({ description: serviceFields.description }),
    type: t.string(),
    content: t.string({ description: serviceFields.content }),
    message: t.string({ description: serviceFields.message }),
    isActive: t.boolean(),
    config: t.field({ type: 'JSON', description: 'Keys to set; null removes a key; keys not given stay.' }),
    graphql: t.string({ description: `${serviceFields.graphql} null or "" removes it.` }),
    skipSyntaxCheck: t.boolean({ description: 'Store the script even when it does not compile (work in progress); running it then fails.' }),
  }),
});


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

/** Opaque to clients; a service's id inside. */
const toCursor = (service: Service) => Buffer.from(`service:${service.id}`).toString('base64url');

function idOfCursor(cursor: string, name: 'after' | 'before'): number {
  const match = /^service:(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw new DomainError('BAD_INPUT', `Argument "${name}" is not a cursor this field gave out.`, { field: name });
  return Number(match[1]);
}

/** The system list's filter for one page: the caller's filter, narrowed to ids past the cursor. */
function pageFilter(filter: string | null | undefined, after: string | undefined, before: string | undefined): string | undefined {
  // Parsed alone first: a filter that only parses inside the parentheses (`a = 1) OR (1 = 1`) would escape them.
  if (filter) parseFilter(filter);
  const parts = [
    filter ? `(${filter})` : null,
    after !== undefined ? `id > ${idOfCursor(after, 'after')}` : null,
    before !== undefined ? `id < ${idOfCursor(before, 'before')}` : null,
  ].filter((part): part is string => part !== null);
  return parts.length ? parts.join(' AND ') : undefined;
}

interface ServicePage {
  filter: string | null | undefined;
}

builder.queryFields((t) => ({
  services: t.connection(
    {
      type: ServiceRef,
      description: `Services by id, a page at a time (first/after, last/before; pages of at most ${MAX_PAGE_SIZE}, ${DEFAULT_PAGE_SIZE} by default). filter takes the REST API's filter grammar (e.g. "type = 'python3' AND name LIKE 'orders%'"). A page costs the same whatever the total.`,
      args: { filter: t.arg.string({ description: 'DreamFactory filter grammar over id, name, label, description, type, is_active, created_date, last_modified_date.' }) },
      resolve: async (_root, args, ctx, info) => {
        const field = info.path.key.toString();
        // Pothos reads an empty cursor as none: refused like any other cursor it did not give out.
        if (args.after === '') idOfCursor('', 'after');
        if (args.before === '') idOfCursor('', 'before');
        const connection = await resolveCursorConnection<Promise<Service[]>>(
          { args, toCursor, defaultSize: DEFAULT_PAGE_SIZE, maxSize: pageSize(args) },
          async ({ after, before, limit, inverted }): Promise<Service[]> => {
            // The page is charged before it is read, so a refused operation reads nothing.
            ctx.scope.charge(field, limit);
            await ctx.scope.afterOthersCharged();
            const parameters: Record<string, string> = { limit: String(limit), order: inverted ? 'id DESC' : 'id ASC' };
            const filter = pageFilter(args.filter, after, before);
            if (filter) parameters.filter = filter;
            // Aliases of the same page read it once.
            const services = await ctx.scope.once<Service[]>(`services:${JSON.stringify(parameters)}`, async () =>
              servicesIn(ctx, await systemCall(ctx, { method: 'GET', resource: 'service', parameters })),
            );
            if (selects(info, 'edges', 'node', 'content')) ctx.scope.charge(field, 0, contentLength(services));
            return services;
          },
        );
        // totalCount counts under the same filter.
        return Object.assign(connection!, { filter: args.filter } satisfies ServicePage);
      },
    },
    {
      name: 'ServiceConnection',
      fields: (t) => ({
        totalCount: t.int({
          description: 'Services matching the filter, on every page (a count over the whole table: select it only when shown).',
          resolve: async (page, _args, ctx) => {
            const parameters: Record<string, string> = { limit: '1', fields: 'id', include_count: 'true' };
            const { filter } = page as unknown as ServicePage;
            if (filter) parameters.filter = filter;
            const { content } = await systemCall(ctx, { method: 'GET', resource: 'service', parameters });
            return (content as { meta?: { count?: number } }).meta?.count ?? 0;
          },
        }),
      }),
    },
    { name: 'ServiceEdge' },
  ),
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
