import type { Execution, LogLine } from '../../generated/prisma-sqlite/client.ts';
import { DomainError } from '../../domain/errors.ts';
import type { LogLineEvent } from '../../logs/bus.ts';
import { builder } from '../builder.ts';
import { ExecutionRef, LogLineRef } from './execution.ts';
import { selects } from '../selection.ts';

/** How far a live subscriber may fall behind before it is dropped. */
const SUBSCRIBER_BUFFER = 1000;

/** The last item of a dropped `executionUpdated` subscriber: it resolves to an error, then the subscription completes. */
class FellBehind {
  constructor(readonly dropped: number) {}
}

builder.subscriptionFields((t) => ({
  executionLogs: t.field({
    type: LogLineRef,
    description:
      'Log lines as scripts write them; with neither argument, every service. Following one executionId, the subscription completes when that execution ends.',
    args: { service: t.arg.string(), executionId: t.arg.id() },
    subscribe: (_root, args, ctx) => {
      const filter = { service: args.service?.toLowerCase(), executionId: args.executionId ? String(args.executionId) : null };
      return ctx.platform.bus.logs.subscribe(filter, SUBSCRIBER_BUFFER, (dropped): LogLineEvent => ({
        executionId: filter.executionId ?? '',
        service: filter.service ?? '',
        sequence: 0,
        stream: 'SYSTEM',
        message: `Subscription closed: this subscriber fell more than ${dropped} lines behind.`,
        timestamp: new Date(),
      }));
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
      ctx.platform.bus.executions.subscribe({ service: args.service?.toLowerCase() }, SUBSCRIBER_BUFFER, (dropped) => new FellBehind(dropped)),
    // `logs` reads the database, where the event's row and lines may still be
    // waiting in the recorder's batch: write them first so they are complete.
    resolve: async (execution, _args, ctx, info) => {
      if (execution instanceof FellBehind) {
        throw new DomainError(
          'SERVICE_UNAVAILABLE',
          `Subscription closed: this subscriber fell more than ${execution.dropped} events behind. Subscribe again; the executions query lists what was missed.`,
        );
      }
      if (selects(info, 'logs')) await ctx.platform.executions.ready();
      return execution as unknown as Execution;
    },
  }),
}));
