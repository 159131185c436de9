import type { Execution, LogLine } from '../../generated/prisma-sqlite/client.ts';
import { DomainError } from '../../domain/errors.ts';
import type { LogLineEvent } from '../../logs/bus.ts';
import type { FellBehind as Reason, LiveSource } from '../../logs/subscription.ts';
import { builder, type GraphQLContext } from '../builder.ts';
import { ExecutionRef, LogLineRef } from './execution.ts';
import { selects } from '../selection.ts';

/**
 * How far a subscription's source may fall behind its (shared) execution
 * before its clients are dropped; each client's own socket is bounded in
 * bytes by the fan-out (src/graphql/subscription-fanout.ts).
 */
const SUBSCRIBER_BUFFER = 1000;

/** "fell more than 1000 lines behind" / "fell more than 1 MiB behind". */
function behind(reason: Reason, items: string): string {
  if ('items' in reason) return `fell more than ${reason.items} ${items} behind`;
  return `fell more than ${reason.bytes >= 1024 * 1024 ? `${reason.bytes / (1024 * 1024)} MiB` : `${reason.bytes} bytes`} behind (unsent to its connection)`;
}

/** The last item of a dropped `executionUpdated` subscriber: it resolves to an error, then the subscription completes. */
class FellBehind {
  constructor(readonly reason: Reason) {}
}

/** Stored lines read per page while replaying an execution's log. */
const REPLAY_PAGE = 1000;

const fellBehind = (filter: { service?: string | null; executionId?: string | null }) => (reason: Reason): LogLineEvent => ({
  executionId: filter.executionId ?? '',
  service: filter.service ?? '',
  sequence: 0,
  stream: 'SYSTEM',
  message: `Subscription closed: this subscriber ${behind(reason, 'lines')}.`,
  timestamp: new Date(),
});

/** How long an execution another instance started may take to reach the shared database (its recorder writes every 50 ms). */
const ANOTHER_INSTANCE_GRACE_MS = 1000;

/** The execution, waiting briefly for one another instance has announced but not yet written; then NOT_FOUND. */
async function executionSoon(ctx: GraphQLContext, executionId: string) {
  const deadline = Date.now() + ANOTHER_INSTANCE_GRACE_MS;
  for (;;) {
    try {
      return await ctx.platform.executions.get(executionId);
    } catch (error) {
      if (!(error instanceof DomainError && error.kind === 'NOT_FOUND') || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * One execution's log from its first line: the stored lines, then live ones
 * (a line both stored and live is sent once, by sequence), then the end.
 * An execution that already ended completes after its replay; an unknown id
 * is NOT_FOUND.
 */
async function* followExecution(ctx: GraphQLContext, executionId: string, service: string | null): AsyncGenerator<LogLineEvent | LogLine> {
  // Live first, so nothing written between the replay and the follow is lost.
  const live = ctx.platform.bus.logs.subscribe({ executionId, service }, SUBSCRIBER_BUFFER, fellBehind({ executionId, service }));
  try {
    const execution = await executionSoon(ctx, executionId);
    // Both filters given: an execution of another service has no lines here.
    if (service && execution.service !== service) return;
    let last = 0;
    for (;;) {
      const page = await ctx.platform.executions.logs(executionId, { afterSequence: last, limit: REPLAY_PAGE });
      for (const line of page) {
        last = line.sequence;
        yield line;
      }
      if (page.length < REPLAY_PAGE) break;
    }
    if (execution.status !== 'running') return;
    for await (const line of live) if (line.sequence > last || line.sequence === 0) yield line;
  } finally {
    await live.return();
  }
}

builder.subscriptionFields((t) => ({
  executionLogs: t.field({
    type: LogLineRef,
    description:
      'Log lines as scripts write them; with neither argument, every service. Following one executionId, the lines it already wrote come first, then live ones, and the subscription completes when that execution ends (at once after the replay if it already ended); an unknown id is NOT_FOUND.',
    args: { service: t.arg.string(), executionId: t.arg.id() },
    subscribe: (_root, args, ctx) => {
      if (args.executionId) {
        // Replays from when it was opened, so it serves one client (not shareable); the fan-out still writes its frames.
        const filter = { executionId: String(args.executionId), service: args.service?.toLowerCase() ?? null };
        const source: AsyncIterable<LogLineEvent | LogLine> & LiveSource<LogLineEvent> = {
          [Symbol.asyncIterator]: () => followExecution(ctx, filter.executionId, filter.service),
          farewell: fellBehind(filter),
        };
        return source;
      }
      const filter = { service: args.service?.toLowerCase(), executionId: null };
      return ctx.platform.bus.logs.subscribe(filter, SUBSCRIBER_BUFFER, fellBehind(filter));
    },
    // Live lines have no row id yet; no field of LogLine reads it.
    resolve: (line) => line as unknown as LogLine,
  }),
  executionUpdated: t.field({
    type: ExecutionRef,
    description:
      'Fires when an execution starts and when it ends. A subscriber that falls too far behind gets a last SERVICE_UNAVAILABLE error and is closed.',
    args: { service: t.arg.string() },
    subscribe: (_root, args, ctx) =>
      ctx.platform.bus.executions.subscribe({ service: args.service?.toLowerCase() }, SUBSCRIBER_BUFFER, (reason) => new FellBehind(reason)),
    // `logs` reads the database, where the event's row and lines may still be
    // waiting in the recorder's batch: write them first so they are complete.
    resolve: async (execution, _args, ctx, info) => {
      if (execution instanceof FellBehind) {
        throw new DomainError(
          'SERVICE_UNAVAILABLE',
          `Subscription closed: this subscriber ${behind(execution.reason, 'events')}. Subscribe again; the executions query lists what was missed.`,
        );
      }
      if (selects(info, 'logs')) await ctx.platform.executions.ready();
      return execution as unknown as Execution;
    },
  }),
}));
