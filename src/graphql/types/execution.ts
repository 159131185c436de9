import { EXECUTION_STATUSES, NEWEST_FIRST, type ExecutionStatus } from '../../domain/executions.ts';
import type { ExecutionEvent, LogLineEvent } from '../../logs/bus.ts';
import { DomainError } from '../../domain/errors.ts';
import { builder } from '../builder.ts';
import { answered, Invocation, RunScriptInput } from './invocation.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, pageSize } from '../paging.ts';

/** Rows a Prisma query built by Pothos will read: its page, times the page of nested logs when selected. */
function rowsOf(query: { take?: number; include?: unknown; select?: unknown }, pageRows: number): number {
  const nested = (query.include ?? query.select) as { logs?: { take?: number } | boolean } | undefined;
  const logs = typeof nested?.logs === 'object' ? Math.abs(nested.logs.take ?? DEFAULT_PAGE_SIZE) : 0;
  return pageRows * (1 + logs);
}

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

/** Children read per run: a script has at most 64 platform.api calls in flight, but may make many in turn. */
const MAX_CHILDREN = 1000;

export const ExecutionRef = builder.prismaObject('Execution', {
  description: 'One run of a script, with its log.',
  fields: (t) => ({
    id: t.exposeID('id'),
    service: t.exposeString('service', { description: 'The service the run belongs to (for an event script, the service its name hooks).' }),
    eventName: t.exposeString('eventName', { nullable: true, description: "The event script's name; null for a service's own run." }),
    parentExecutionId: t.exposeID('parentExecutionId', { nullable: true, description: 'The run whose platform.api call made this one; null for a call from outside.' }),
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
    serviceId: t.exposeInt('serviceId', { nullable: true, description: "The service's id; null for event scripts and unsaved scripts." }),
    serviceVersion: t.exposeInt('serviceVersion', { nullable: true, description: 'The version of the service that ran (see Service.versions).' }),
    replayOf: t.exposeID('replayOf', { nullable: true, description: 'The execution this run replayed (replayExecution).' }),
    request: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The request it ran with: method, resource, parameters, headers (no credentials), contentType, payload (the body as text, at most 64 KiB), payloadTruncated.',
      resolve: (e) => e.request,
    }),
    cpuMs: t.exposeFloat('cpuMs', { nullable: true, description: 'CPU time of the run, ms, as its engine measures it (docs/AUTHORING.md); null while running or when unknown.' }),
    peakMemoryBytes: t.exposeFloat('peakMemoryBytes', { nullable: true, description: 'Peak memory of the run, bytes, as its engine measures it (docs/AUTHORING.md).' }),
    logs: t.relatedConnection('logs', { cursor: 'id', maxSize: pageSize, defaultSize: DEFAULT_PAGE_SIZE, query: () => ({ orderBy: { sequence: 'asc' } }) }),
  }),
});

builder.prismaObjectField(ExecutionRef, 'children', (t) =>
  t.field({
    type: [ExecutionRef],
    description: "The runs made by this run's platform.api calls (and their event scripts), oldest first: with theirs, the call tree.",
    resolve: async (execution, _args, ctx, info) => {
      await ctx.platform.executions.ready();
      const children = await ctx.db.execution.findMany({ where: { parentExecutionId: execution.id }, orderBy: { id: 'asc' }, take: MAX_CHILDREN });
      ctx.scope.charge(info.path.key.toString(), children.length);
      return children;
    },
  }),
);

builder.queryFields((t) => ({
  executions: t.prismaConnection({
    type: 'Execution',
    cursor: 'id',
    description: `Executions, newest first; pages of at most ${MAX_PAGE_SIZE}.`,
    maxSize: pageSize,
    defaultSize: DEFAULT_PAGE_SIZE,
    args: { service: t.arg.string(), status: t.arg({ type: ExecutionStatusEnum }) },
    resolve: async (query, _root, args, ctx, info) => {
      ctx.scope.charge(info.path.key.toString(), rowsOf(query, Math.abs(query.take)));
      const where = await ctx.platform.executions.whereOf({ service: args.service, status: args.status });
      return ctx.db.execution.findMany({ ...query, where, orderBy: NEWEST_FIRST });
    },
  }),
  execution: t.prismaField({
    type: 'Execution',
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx, info) => {
      ctx.scope.charge(info.path.key.toString(), rowsOf(query, 1));
      await ctx.platform.executions.ready();
      return ctx.db.execution.findUnique({ ...query, where: { id: String(id) } });
    },
  }),
}));

builder.mutationFields((t) => ({
  replayExecution: t.field({
    type: Invocation,
    description:
      "Runs an execution's recorded request again, as a new execution with `replayOf` set: against its service's current script, or against `script` (unsaved, to check a fix against the call that failed; it gets no secrets, as runScript). Only the service's handler runs, not its event scripts. Answers as invokeService does.",
    args: { id: t.arg.id({ required: true }), script: t.arg({ type: RunScriptInput }) },
    resolve: (_root, { id, script }, ctx) => answered(ctx.platform.replays.replay(String(id), script ?? null, ctx.caller)),
  }),
}));
