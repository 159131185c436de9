import { EXECUTION_STATUSES, NEWEST_FIRST, type ExecutionStatus } from '../../domain/executions.ts';
import type { ExecutionEvent, LogLineEvent } from '../../logs/bus.ts';
import { builder } from '../builder.ts';

export const ExecutionStatusEnum = builder.enumType('ExecutionStatus', {
  values: Object.fromEntries(EXECUTION_STATUSES.map((s) => [s.toUpperCase(), { value: s }])) as Record<
    Uppercase<ExecutionStatus>,
    { value: ExecutionStatus }
  >,
});

export const LogStreamEnum = builder.enumType('LogStream', {
  values: ['STDOUT', 'STDERR', 'CONSOLE', 'SYSTEM'] as const,
});

const ExecutionError = builder
  .objectRef<{ message: string; kind?: string; line?: number }>('ExecutionError')
  .implement({
    fields: (t) => ({
      message: t.exposeString('message'),
      kind: t.exposeString('kind', { nullable: true, description: 'error, timeout, memory, crashed, overloaded, unavailable...' }),
      line: t.exposeInt('line', { nullable: true, description: 'Line of the script, where the language gives one.' }),
    }),
  });

export const LogLineRef = builder.prismaObject('LogLine', {
  fields: (t) => ({
    executionId: t.exposeID('executionId'),
    sequence: t.exposeInt('sequence', { description: 'Position in its execution, from 1.' }),
    stream: t.field({ type: LogStreamEnum, resolve: (l) => l.stream as LogLineEvent['stream'] }),
    message: t.exposeString('message'),
    timestamp: t.expose('timestamp', { type: 'DateTime' }),
  }),
});

export const ExecutionRef = builder.prismaObject('Execution', {
  description: 'One run of a script, with its log.',
  fields: (t) => ({
    id: t.exposeID('id'),
    service: t.exposeString('service', { description: 'Service (or event script) name.' }),
    scriptType: t.exposeString('scriptType'),
    status: t.field({ type: ExecutionStatusEnum, resolve: (e) => e.status as ExecutionStatus }),
    trigger: t.exposeString('trigger'),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    durationMs: t.exposeFloat('durationMs', { nullable: true }),
    statusCode: t.exposeInt('statusCode', { nullable: true }),
    error: t.field({ type: ExecutionError, nullable: true, resolve: (e) => e.error as ExecutionEvent['error'] }),
    logBytes: t.exposeInt('logBytes'),
    logsTruncated: t.exposeBoolean('logsTruncated', { description: 'True when lines past the byte cap were dropped.' }),
    logs: t.relatedConnection('logs', { cursor: 'id', query: () => ({ orderBy: { sequence: 'asc' } }) }),
  }),
});

builder.queryFields((t) => ({
  executions: t.prismaConnection({
    type: 'Execution',
    cursor: 'id',
    description: 'Executions, newest first.',
    args: { service: t.arg.string(), status: t.arg({ type: ExecutionStatusEnum }) },
    resolve: async (query, _root, args, ctx) => {
      const where = await ctx.platform.executions.whereOf({ service: args.service, status: args.status });
      return ctx.db.execution.findMany({ ...query, where, orderBy: NEWEST_FIRST });
    },
  }),
  execution: t.prismaField({
    type: 'Execution',
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      await ctx.platform.executions.ready();
      return ctx.db.execution.findUnique({ ...query, where: { id: String(id) } });
    },
  }),
}));
