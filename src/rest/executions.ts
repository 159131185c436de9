import type { FastifyInstance } from 'fastify';
import type { Execution } from '../generated/prisma-sqlite/client.ts';
import type { ExecutionStatus } from '../domain/executions.ts';
import type { Platform } from '../domain/platform.ts';
import { filter, flag, wholeNumber, type Query } from './query.ts';

const MAX_LOG_LINES = 10_000;

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
      { limit: Math.min(wholeNumber(request.query, 'limit') || 100, 1000), offset: wholeNumber(request.query, 'offset') ?? 0 },
    );
    return { resource: rows.map(executionRecord), ...(flag(request.query, 'include_count') ? { meta: { count } } : {}) };
  });

  app.get<{ Params: { id: string } }>('/api/v2/system/execution/:id', async (request) => {
    const execution = await platform.executions.get(request.params.id);
    const logs = await platform.executions.logs(execution.id, { afterSequence: 0, limit: MAX_LOG_LINES });
    return {
      ...executionRecord(execution),
      logs: logs.map((l) => ({ sequence: l.sequence, stream: l.stream, message: l.message, timestamp: l.timestamp.toISOString() })),
    };
  });
}
