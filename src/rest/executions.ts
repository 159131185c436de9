import type { FastifyInstance } from 'fastify';
import type { Execution } from '../generated/prisma-sqlite/client.ts';
import type { ExecutionStatus } from '../domain/executions.ts';
import type { Platform } from '../domain/platform.ts';
import { filter, flag, wholeNumber, type Query } from './query.ts';

/** Log lines in one response; `log_after` (a sequence) and `log_limit` page through longer logs. */
const MAX_LOG_LINES = 10_000;
/** Executions in one page; a larger limit gets this many, as DreamFactory caps its records per request. */
const MAX_PAGE = 1000;

function executionRecord(e: Execution) {
  return {
    id: e.id,
    service: e.service,
    script_type: e.scriptType,
    status: e.status,
    trigger: e.trigger,
    started_at: e.startedAt.toISOString(),
    finished_at: e.finishedAt?.toISOString() ?? null,
    duration_ms: e.durationMs,
    status_code: e.statusCode,
    error: e.error,
    log_bytes: e.logBytes,
    logs_truncated: e.logsTruncated,
  };
}

/** Execution history for DreamFactory-style clients. */
export function executionRoutes(app: FastifyInstance, platform: Platform): void {
  app.get<{ Querystring: Query }>('/api/v2/system/execution', async (request) => {
    const where = filter(request.query, ['service', 'status']);
    const { rows, count } = await platform.executions.list(
      { service: where.service, status: where.status as ExecutionStatus | undefined },
      { limit: Math.min(wholeNumber(request.query, 'limit') || 100, MAX_PAGE), offset: wholeNumber(request.query, 'offset') ?? 0 },
    );
    return { resource: rows.map(executionRecord), ...(flag(request.query, 'include_count') ? { meta: { count } } : {}) };
  });

  app.get<{ Params: { id: string }; Querystring: Query }>('/api/v2/system/execution/:id', async (request) => {
    const execution = await platform.executions.get(request.params.id);
    const limit = Math.min(wholeNumber(request.query, 'log_limit') ?? MAX_LOG_LINES, MAX_LOG_LINES);
    const afterSequence = wholeNumber(request.query, 'log_after') ?? 0;
    // One more than asked says whether the log goes on, so a long log is never cut silently.
    const logs = await platform.executions.logs(execution.id, { afterSequence, limit: limit + 1 });
    const more = logs.length > limit;
    return {
      ...executionRecord(execution),
      logs: logs.slice(0, limit).map((l) => ({ sequence: l.sequence, stream: l.stream, message: l.message, timestamp: l.timestamp.toISOString() })),
      logs_more: more,
    };
  });
}
