import type { Db } from '../db/client.ts';
import type { ExecutionLog } from './executions.ts';

export interface ServiceStats {
  calls: number;
  failures: number;
  p50Ms: number | null;
  p95Ms: number | null;
  cpuMs: number;
  /** Executions read to count them (for the caller's read budget). */
  rowsRead: number;
}

/**
 * A service's own finished runs since `since`, from its kept executions (at
 * most EXECUTIONS_KEEP_PER_SERVICE of them, so reading their durations is
 * bounded): percentiles by nearest rank, computed here the same way on
 * SQLite and PostgreSQL.
 */
export async function serviceStats(executions: ExecutionLog, db: Db, service: string, since: Date): Promise<ServiceStats> {
  await executions.ready();
  const rows = await db.execution.findMany({
    where: { service, eventName: null, startedAt: { gte: since }, status: { not: 'running' } },
    select: { status: true, durationMs: true, cpuMs: true },
  });
  const durations = rows.map((row) => row.durationMs ?? 0).sort((a, b) => a - b);
  const rank = (p: number) => (durations.length ? durations[Math.max(0, Math.ceil(p * durations.length) - 1)]! : null);
  let cpuMs = 0;
  let failures = 0;
  for (const row of rows) {
    cpuMs += row.cpuMs ?? 0;
    if (row.status === 'failed' || row.status === 'timed_out') failures++;
  }
  return { calls: rows.length, failures, p50Ms: rank(0.5), p95Ms: rank(0.95), cpuMs: Math.round(cpuMs * 1000) / 1000, rowsRead: rows.length };
}
