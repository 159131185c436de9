import type { TestServer } from '../helpers/server.ts';
import { createService } from '../helpers/server.ts';

/** The services the generated requests aim at: they answer any input without failing, so any 5xx is the server's. */
export async function createFuzzTargets(t: Pick<TestServer, 'rest'>): Promise<void> {
  await createService(t as TestServer, 'echo', 'javascript', 'return { method: event.request.method, resource: event.resource, payload: event.request.payload, parameters: event.request.parameters }');
  await createService(t as TestServer, 'fuzz-ok', 'javascript', 'return { ok: true }');
}

export function formatReport(report: { seed: number; count: number; byStatus: Record<number, number>; failures: { index: number; request: string; problem: string }[] }): string {
  const statuses = Object.entries(report.byStatus).map(([status, n]) => `${status}: ${n}`).join(', ');
  const lines = [`fuzz seed ${report.seed}: ${report.count} requests; by status ${statuses}; ${report.failures.length} failures`];
  for (const failure of report.failures.slice(0, 20)) lines.push(`  #${failure.index} ${failure.request}\n    -> ${failure.problem}`);
  return lines.join('\n');
}
