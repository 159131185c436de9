import type { FastifyRequest, onResponseHookHandler } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { ServiceCatalog } from '../domain/services.ts';

/**
 * The `service` label of a request that names no known service: unknown
 * names, paths outside /api/v2. Parentheses cannot occur in a service's name
 * (as with `(inline)`), so no service can be mistaken for these.
 */
export const OTHER = '(other)';
export const GRAPHQL = '(graphql)';

/** From about one JavaScript call (0.5 ms) to the longest script timeout. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

interface Series {
  count: { inc(): void };
  latency: { observe(seconds: number): void };
}

/**
 * Requests and their latency by service and status, recorded in one
 * onResponse hook. Every label value is bounded: a service's name only once
 * the service exists (it is in the catalog's cache, which holds existing
 * services only), otherwise `(other)`, so random URLs add no series.
 */
export class RequestMetrics {
  private readonly requests: Counter<'service' | 'status'>;
  private readonly latency: Histogram<'service' | 'status_class'>;
  /** prom-client hashes labels on every call: its bound children are kept, one per label pair. */
  private readonly series = new Map<string, Series>();

  constructor(
    registry: Registry,
    private readonly services: ServiceCatalog,
  ) {
    this.requests = new Counter({
      name: 'scriptgate_http_requests_total',
      help: 'HTTP requests answered, by service (a service name, system, (graphql) or (other)) and status code.',
      labelNames: ['service', 'status'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'scriptgate_http_request_duration_seconds',
      help: 'Time from receiving a request to its response, by service and status class (2xx, 4xx, 5xx).',
      labelNames: ['service', 'status_class'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
  }

  readonly onResponse: onResponseHookHandler = (request, reply, done) => {
    this.record(serviceOf(request, this.services), reply.statusCode, reply.elapsedTime / 1000);
    done();
  };

  record(service: string, status: number, seconds: number): void {
    const key = `${service} ${status}`;
    let series = this.series.get(key);
    if (!series) {
      series = {
        count: this.requests.labels(service, String(status)),
        latency: this.latency.labels(service, `${Math.floor(status / 100)}xx`),
      };
      this.series.set(key, series);
    }
    series.count.inc();
    series.latency.observe(seconds);
  }
}

/** The service a request called, as a bounded label value (see RequestMetrics). */
function serviceOf(request: FastifyRequest, services: ServiceCatalog): string {
  switch (request.routeOptions.url) {
    case '/api/v2/:service':
    case '/api/v2/:service/*': {
      const name = (request.params as { service?: string }).service;
      return (name && services.cached(name)?.name) || OTHER;
    }
    case '/api/v2/system':
    case '/api/v2/system/*':
      return 'system';
    case '/graphql':
      return GRAPHQL;
    default:
      return OTHER;
  }
}
