import type { Caller } from '../domain/caller.ts';
import { notFound } from '../domain/errors.ts';
import { EXECUTION_STATUSES, type ExecutionLog, type ExecutionStatus } from '../domain/executions.ts';
import type { InvokeRequest } from '../domain/invoke.ts';
import type { Execution, Prisma } from '../generated/prisma-sqlite/client.ts';
import type { SystemAnswer, SystemComponent } from './component.ts';
import type { FilterFields } from './filter/to-where.ts';
import { filterWhere, flag, list, methodNotAllowed, one, pickFields, wholeNumber, type Query } from './query.ts';

/** Log lines in one response; `log_after` (a sequence) and `log_limit` page through longer logs. */
const MAX_LOG_LINES = 10_000;
/** Executions in one page; a larger limit gets this many, as DreamFactory caps its records per request. */
const MAX_PAGE = 1000;

/** What `filter=` may test, by record field. Service names are stored lowercased, so they match in any case. */
const filterable: FilterFields<keyof Prisma.ExecutionWhereInput> = {
  id: { column: 'id', kind: 'string' },
  service: { column: 'service', kind: 'string', lowercase: true },
  event_name: { column: 'eventName', kind: 'string', nullable: true },
  parent_execution_id: { column: 'parentExecutionId', kind: 'string', nullable: true },
  script_type: { column: 'scriptType', kind: 'string' },
  status: { column: 'status', kind: 'enum', values: EXECUTION_STATUSES },
  trigger: { column: 'trigger', kind: 'string' },
  started_at: { column: 'startedAt', kind: 'datetime' },
  finished_at: { column: 'finishedAt', kind: 'datetime', nullable: true },
  duration_ms: { column: 'durationMs', kind: 'number', nullable: true },
  status_code: { column: 'statusCode', kind: 'int', nullable: true },
  log_bytes: { column: 'logBytes', kind: 'int' },
  logs_truncated: { column: 'logsTruncated', kind: 'boolean' },
  service_id: { column: 'serviceId', kind: 'int', nullable: true },
  service_version: { column: 'serviceVersion', kind: 'int', nullable: true },
  replay_of: { column: 'replayOf', kind: 'string', nullable: true },
  cpu_ms: { column: 'cpuMs', kind: 'number', nullable: true },
  peak_memory_bytes: { column: 'peakMemoryBytes', kind: 'number', nullable: true },
};

function executionRecord(e: Execution) {
  return {
    id: e.id,
    service: e.service,
    event_name: e.eventName,
    parent_execution_id: e.parentExecutionId,
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
    service_id: e.serviceId,
    service_version: e.serviceVersion,
    replay_of: e.replayOf,
    cpu_ms: e.cpuMs,
    peak_memory_bytes: e.peakMemoryBytes,
    request: e.request,
  };
}

/** `system/execution`: execution history for DreamFactory-style clients (read-only). */
export class ExecutionsComponent implements SystemComponent {
  readonly name = 'execution';
  readonly templates = ['execution/{id}'];

  constructor(private readonly executions: ExecutionLog) {}

  async handle(request: InvokeRequest, rest: string[], _caller: Caller): Promise<SystemAnswer> {
    if (request.method !== 'GET') throw methodNotAllowed(request.method, 'system/execution');
    const query = request.parameters as Query;
    if (rest.length === 0) return this.list(query);
    if (rest.length > 1) throw notFound(`No resource "${request.resource}" in system.`);
    return this.one(rest[0]!, query);
  }

  private async list(query: Query): Promise<SystemAnswer> {
    const filtered = filterWhere<Prisma.ExecutionWhereInput>(query, filterable);
    // `service=` and `status=` as parameters too, as DreamFactory clients send them.
    const parameters = await this.executions.whereOf({ service: one(query, 'service'), status: one(query, 'status') as ExecutionStatus | undefined });
    const { rows, count } = await this.executions.list(filtered ? { AND: [parameters, filtered] } : parameters, {
      limit: Math.min(wholeNumber(query, 'limit') || 100, MAX_PAGE),
      offset: wholeNumber(query, 'offset') ?? 0,
    });
    const fields = list(query, 'fields');
    return { content: { resource: rows.map((row) => pickFields(executionRecord(row), fields)), ...(flag(query, 'include_count') ? { meta: { count } } : {}) }, rows };
  }

  private async one(id: string, query: Query): Promise<SystemAnswer> {
    const execution = await this.executions.get(id);
    const limit = Math.min(wholeNumber(query, 'log_limit') ?? MAX_LOG_LINES, MAX_LOG_LINES);
    const afterSequence = wholeNumber(query, 'log_after') ?? 0;
    // One more than asked says whether the log goes on, so a long log is never cut silently.
    const logs = await this.executions.logs(execution.id, { afterSequence, limit: limit + 1 });
    const more = logs.length > limit;
    return {
      content: {
        ...executionRecord(execution),
        logs: logs.slice(0, limit).map((l) => ({ sequence: l.sequence, stream: l.stream, message: l.message, timestamp: l.timestamp.toISOString() })),
        logs_more: more,
      },
      rows: [execution],
    };
  }
}
