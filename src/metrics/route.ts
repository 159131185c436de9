import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AdminKey } from '../domain/admin-key.ts';
import { DomainError } from '../domain/errors.ts';
import type { Platform } from '../domain/platform.ts';
import { authenticate, keyOf } from '../http/credentials.ts';
import type { ServerMetrics } from './registry.ts';

export interface MetricsAccess {
  platform: Platform;
  adminKey: AdminKey;
  /** METRICS_PUBLIC=true: no key needed. */
  public: boolean;
}

/**
 * GET /metrics in Prometheus' text format. It tells an outsider what runs
 * here and how busy it is, so it takes the administrator key (header,
 * Bearer or `api_key=`) unless METRICS_PUBLIC=true; an app key is 403 whatever
 * its role: no role grants it.
 */
export function metricsRoute(app: FastifyInstance, metrics: ServerMetrics, access: MetricsAccess): void {
  app.get('/metrics', async (request, reply) => {
    if (!access.public) await requireAdmin(request, access);
    const text = await metrics.scrape();
    return reply.type(metrics.contentType).header('cache-control', 'no-store').send(text);
  });
}

async function requireAdmin(request: FastifyRequest, { platform, adminKey }: MetricsAccess): Promise<void> {
  const key = keyOf(request.headers, request.query);
  // Not the guest role: keyless callers are told to send the key.
  if (!key) throw new DomainError('UNAUTHENTICATED', 'Metrics need the administrator key: send X-DreamFactory-API-Key or Authorization: Bearer.');
  const identity = await authenticate(platform, adminKey, key);
  if (identity.kind !== 'admin')
    throw new DomainError('FORBIDDEN', 'Metrics need the administrator key; an app key does not grant them (set METRICS_PUBLIC=true to open them).');
}
