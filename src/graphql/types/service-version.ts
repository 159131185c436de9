import { resolveCursorConnection } from '@pothos/plugin-relay';
import { SYSTEM_SERVICE_ID } from '../../access/access-rules.ts';
import { forbidden, identityAllows } from '../../access/caller-identity.ts';
import { badInput, DomainError } from '../../domain/errors.ts';
import { serviceStats } from '../../domain/service-stats.ts';
import type { ServiceVersion } from '../../domain/service-versions.ts';
import type { Service } from '../../domain/services.ts';
import { builder } from '../builder.ts';
import { DEFAULT_PAGE_SIZE, pageSize } from '../paging.ts';
import { selects } from '../selection.ts';
import { rowsOf, systemCall } from '../system-call.ts';
import { ServiceRef } from './service.ts';

export const ServiceVersionRef = builder.prismaObject('ServiceVersion', {
  description: "A service's type, script and config as one save (or rollback) left them.",
  fields: (t) => ({
    version: t.exposeInt('version'),
    type: t.exposeString('type'),
    content: t.exposeString('content', { description: 'The script.' }),
    config: t.field({ type: 'JSON', description: 'Settings other than the script.', resolve: (v) => v.config }),
    message: t.exposeString('message', { nullable: true, description: "The save's message." }),
    savedAt: t.expose('savedAt', { type: 'DateTime' }),
    savedBy: t.exposeString('savedBy', { description: '"admin", or the app whose key saved it.' }),
  }),
});

const ServiceStatsRef = builder
  .objectRef<{ calls: number; failures: number; p50Ms: number | null; p95Ms: number | null; cpuMs: number }>('ServiceStats')
  .implement({
    description: "A service's own runs (not its event scripts) since a time, from its kept executions (EXECUTIONS_KEEP_PER_SERVICE).",
    fields: (t) => ({
      calls: t.exposeInt('calls', { description: 'Runs finished.' }),
      failures: t.exposeInt('failures', { description: 'Runs that failed or timed out.' }),
      p50Ms: t.exposeFloat('p50Ms', { nullable: true, description: 'Median duration, ms (null without runs).' }),
      p95Ms: t.exposeFloat('p95Ms', { nullable: true, description: '95th percentile duration, ms (nearest rank).' }),
      cpuMs: t.exposeFloat('cpuMs', { description: 'CPU time of those runs together, ms (runs without a figure count 0).' }),
    }),
  });

/** Opaque to clients; a version number inside. */
const toCursor = (version: ServiceVersion) => Buffer.from(`version:${version.version}`).toString('base64url');

function versionOfCursor(cursor: string, name: 'after' | 'before'): number {
  const match = /^version:(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw new DomainError('BAD_INPUT', `Argument "${name}" is not a cursor this field gave out.`, { field: name });
  return Number(match[1]);
}

builder.prismaObjectFields(ServiceRef, (t) => ({
  version: t.exposeInt('version', { description: 'The current version: 1 on create, one more for every save that changes type, script or config, and for a rollback.' }),
  versions: t.connection({
    type: ServiceVersionRef,
    description: 'Every version, newest first (first/after, last/before).',
    resolve: (service, args, ctx, info) => {
      const field = info.path.key.toString();
      if (args.after === '') versionOfCursor('', 'after');
      if (args.before === '') versionOfCursor('', 'before');
      return resolveCursorConnection<Promise<ServiceVersion[]>>(
        { args, toCursor, defaultSize: DEFAULT_PAGE_SIZE, maxSize: pageSize(args) },
        async ({ after, before, limit, inverted }): Promise<ServiceVersion[]> => {
          ctx.scope.charge(field, limit);
          await ctx.scope.afterOthersCharged();
          const version = {
            ...(after !== undefined ? { lt: versionOfCursor(after, 'after') } : {}),
            ...(before !== undefined ? { gt: versionOfCursor(before, 'before') } : {}),
          };
          const rows = await ctx.db.serviceVersion.findMany({
            where: { serviceId: service.id, ...(after !== undefined || before !== undefined ? { version } : {}) },
            orderBy: { version: inverted ? 'asc' : 'desc' },
            take: limit,
          });
          // Old scripts count toward the operation's content budget like current ones.
          if (selects(info, 'edges', 'node', 'content')) ctx.scope.charge(field, 0, rows.reduce((sum, row) => sum + row.content.length, 0));
          return rows;
        },
      ).then((connection) => connection!);
    },
  }),
  stats: t.field({
    type: ServiceStatsRef,
    description: "Calls, failures, duration percentiles and CPU time of the service's own runs since `since` (what its kept executions hold). Needs read access to executions.",
    args: { since: t.arg({ type: 'DateTime', required: true }) },
    resolve: async (service, { since }, ctx, info) => {
      if (!identityAllows(ctx.caller.identity, SYSTEM_SERVICE_ID, 'execution', 'GET', 'API')) {
        throw forbidden('GET', 'system', 'execution');
      }
      const stats = await serviceStats(ctx.platform.executions, ctx.db, service.name, since);
      ctx.scope.charge(info.path.key.toString(), stats.rowsRead);
      return stats;
    },
  }),
}));

builder.queryFields((t) => ({
  serviceVersion: t.field({
    type: ServiceVersionRef,
    nullable: true,
    description: 'One version of a service (null when it has no such version).',
    args: { name: t.arg.string({ required: true }), version: t.arg.int({ required: true }) },
    resolve: async (_root, { name, version }, ctx) => {
      const { id } = await ctx.platform.services.byName(name);
      try {
        const result = await systemCall(ctx, { method: 'GET', resource: `service/${id}/version/${version}` });
        const [row] = await rowsOf<ServiceVersion>(result, () => ctx.db.serviceVersion.findMany({ where: { serviceId: id, version } }));
        return row ?? null;
      } catch (error) {
        if (error instanceof DomainError && error.kind === 'NOT_FOUND') return null;
        throw error;
      }
    },
  }),
}));

builder.mutationFields((t) => ({
  rollbackService: t.field({
    type: ServiceRef,
    description: 'Makes a new version equal to `version` (history is never rewritten); the next call runs it, on every instance. Allowed to whoever may update the service.',
    args: { name: t.arg.string({ required: true }), version: t.arg.int({ required: true }), message: t.arg.string() },
    resolve: async (_root, { name, version, message }, ctx) => {
      // In this door's words: the system call below would name its REST field, rollback_to_version.
      if (version < 1) throw badInput('Argument "version" must be a version number (1 or more).', 'version');
      const { id } = await ctx.platform.services.byName(name);
      const result = await systemCall(ctx, { method: 'PATCH', resource: `service/${id}`, payload: { rollback_to_version: version, ...(message != null ? { message } : {}) } });
      const [service] = await rowsOf<Service>(result, async () => (await ctx.platform.services.list({ ids: [id] })).services);
      if (!service) throw new DomainError('NOT_FOUND', `No service came back for ${name} (an event script changed the answer?).`);
      return service;
    },
  }),
}));

