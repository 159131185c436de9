import type { GraphQLResolveInfo } from 'graphql';
import { DomainError } from '../../domain/errors.ts';
import { parseEventName } from '../../domain/event-names.ts';
import type { EventScript } from '../../domain/event-scripts.ts';
import type { InvokeResult } from '../../domain/invoke.ts';
import { builder, type GraphQLContext } from '../builder.ts';
import { completedInTurns, MAX_ROWS_PER_OPERATION } from '../request-scope.ts';
import { selects } from '../selection.ts';
import { rowsOf, systemCall, valuesIn } from '../system-call.ts';

export const EventScriptRef = builder.prismaObject('EventScript', {
  description:
    'A script attached to an endpoint by name: {service}.{resource path with "/" as "."}.{verb}.{pre_process|post_process|queued}, e.g. "orders.items.{id}.get.pre_process".',
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.exposeString('type', { description: 'The script type (see scriptTypes).' }),
    content: t.exposeString('content', { description: 'The script.' }),
    isActive: t.exposeBoolean('isActive'),
    allowEventModification: t.exposeBoolean('allowEventModification', {
      description: 'Whether changes the script makes to the request or response apply (a throw always does).',
    }),
    config: t.field({ type: 'JSON', description: 'timeout_ms, memory_limit_mb, max_log_bytes, network, run_details, retries (queued), and any other keys.', resolve: (s) => s.config }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const EventScriptInput = builder.inputType('EventScriptInput', {
  description: 'The whole event script: fields not given take their defaults.',
  fields: (t) => ({
    type: t.string({ required: true, description: 'A script type name.' }),
    content: t.string({ description: 'The script; empty by default.' }),
    isActive: t.boolean({ description: 'Default true.' }),
    allowEventModification: t.boolean({ description: 'Default false.' }),
    skipSyntaxCheck: t.boolean({ description: 'Store the script even when it does not compile (work in progress); running it then fails.' }),
    config: t.field({ type: 'JSON', description: 'timeout_ms, memory_limit_mb, max_log_bytes, network, run_details (false: no request or figures recorded), retries (0 to 10, queued scripts).' }),
  }),
});

/** Script characters of a list, summed once however many aliases return it. */
const contentLengths = new WeakMap<readonly EventScript[], number>();

function contentLength(scripts: readonly EventScript[]): number {
  let total = contentLengths.get(scripts);
  if (total === undefined) {
    total = 0;
    for (const script of scripts) total += script.content.length;
    contentLengths.set(scripts, total);
  }
  return total;
}

/** Counts scripts (and their text when selected) toward the operation's budget. */
function charge(ctx: GraphQLContext, info: GraphQLResolveInfo, scripts: readonly EventScript[]): void {
  ctx.scope.charge(info.path.key.toString(), scripts.length, selects(info, 'content') ? contentLength(scripts) : 0);
}

/** A name as the system API's resource; "/" is not part of any name, so it is refused here naming the part. */
function resourceOf(name: string): string {
  return `event_script/${parseEventName(name).name}`;
}

/** The scripts a system answer lists, in its order (read again only when an event script replaced the answer). */
function scriptsIn(ctx: GraphQLContext, result: InvokeResult): Promise<EventScript[]> {
  return rowsOf(result, async (content) => {
    const names = valuesIn(content, 'name').filter((name): name is string => typeof name === 'string').slice(0, MAX_ROWS_PER_OPERATION + 1);
    const rows = await ctx.db.eventScript.findMany({ where: { name: { in: names } } });
    const byName = new Map(rows.map((row) => [row.name, row]));
    return names.flatMap((name) => byName.get(name) ?? []);
  });
}

function nullWhenMissing(error: unknown): null {
  if (error instanceof DomainError && error.kind === 'NOT_FOUND') return null;
  throw error;
}

builder.queryFields((t) => ({
  eventScripts: t.field({
    type: [EventScriptRef],
    description: `Event scripts by name, of one service or all; at most ${MAX_ROWS_PER_OPERATION} rows per operation.`,
    args: { service: t.arg.string({ description: 'The service part of their names.' }) },
    resolve: async (_root, { service }, ctx, info) => {
      const field = info.path.key.toString();
      // Rows are charged from the count before any are read, so a refused operation reads none.
      const count = await ctx.scope.once(`eventScripts:count:${service ?? ''}`, () => ctx.platform.eventScripts.count(service ?? undefined));
      ctx.scope.charge(field, count);
      await ctx.scope.afterOthersCharged();
      const parameters: Record<string, string> = { limit: String(MAX_ROWS_PER_OPERATION + 1) };
      if (service) parameters.service = service;
      // Aliases of the same list read it once.
      const scripts = await ctx.scope.once(`eventScripts:${service ?? ''}`, async () =>
        scriptsIn(ctx, await systemCall(ctx, { method: 'GET', resource: 'event_script', parameters })),
      );
      if (selects(info, 'content')) ctx.scope.charge(field, 0, contentLength(scripts));
      return completedInTurns(scripts);
    },
  }),
  eventScript: t.field({
    type: EventScriptRef,
    nullable: true,
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, ctx, info) => {
      const result = await systemCall(ctx, { method: 'GET', resource: resourceOf(name) }).catch(nullWhenMissing);
      const [script] = result ? await scriptsIn(ctx, result) : [];
      if (script) charge(ctx, info, [script]);
      return script ?? null;
    },
  }),
  events: t.stringList({
    description:
      'Scriptable event names: per service its root and config.paths templates, every verb and phase; the system API\'s; and names of existing event scripts that would fire (also of services not created yet).',
    args: { service: t.arg.string({ description: 'Only this service\'s names (for one that does not exist yet: those that would fire).' }) },
    resolve: async (_root, { service }, ctx) => {
      const parameters: Record<string, string> = { as_list: 'true' };
      if (service) parameters.service = service;
      const { content } = await systemCall(ctx, { method: 'GET', resource: 'event', parameters });
      const resource = (content as { resource?: unknown } | null)?.resource;
      return Array.isArray(resource) ? resource.filter((name): name is string => typeof name === 'string') : [];
    },
  }),
}));

builder.mutationFields((t) => ({
  upsertEventScript: t.field({
    type: EventScriptRef,
    description: 'Creates or replaces the event script (as POST system/event_script/{name}): fields not given take their defaults.',
    args: { name: t.arg.string({ required: true }), input: t.arg({ type: EventScriptInput, required: true }) },
    resolve: async (_root, { name, input }, ctx) => {
      const payload = {
        type: input.type,
        content: input.content ?? undefined,
        is_active: input.isActive ?? undefined,
        allow_event_modification: input.allowEventModification ?? undefined,
        config: input.config ?? undefined,
        skip_syntax_check: input.skipSyntaxCheck ?? undefined,
      };
      const [script] = await scriptsIn(ctx, await systemCall(ctx, { method: 'POST', resource: resourceOf(name), payload }));
      if (!script) throw new DomainError('NOT_FOUND', `No event script came back for "${name}" (an event script changed the answer?).`);
      return script;
    },
  }),
  deleteEventScript: t.boolean({
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, ctx) => {
      await systemCall(ctx, { method: 'DELETE', resource: resourceOf(name) });
      return true;
    },
  }),
}));
