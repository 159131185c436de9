import type { FastifyRequest, onResponseHookHandler } from 'fastify';
import { Counter, type Metric, type Registry } from 'prom-client';
import type { ServiceCatalog } from '../domain/services.ts';

/**
 * The `service` label of a request that names no known service: unknown
 * names, paths outside /api/v2. Parentheses cannot occur in a service's name
 * (as with `(inline)`), so no service can be mistaken for these.
 */
export const OTHER = '(other)';
export const GRAPHQL = '(graphql)';

/** Upper bounds in seconds: from about one JavaScript call (0.5 ms) to the longest script timeout. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * One (service, status) pair's requests so far; buckets are not cumulative
 * here. A plain array of small integers: a Float64Array costs a buffer and a
 * native allocation more, about 300 bytes for each of 10,000 services.
 */
interface Tally {
  count: number;
  sum: number;
  buckets: number[];
}

const emptyBuckets = (): number[] => new Array<number>(LATENCY_BUCKETS.length).fill(0);

/**
 * Requests and their latency by service and status, recorded in one
 * onResponse hook. Every label value is bounded: a service's name only once
 * the service exists (it is in the catalog's cache, which holds existing
 * services only), otherwise `(other)`, so random URLs add no series.
 *
 * A request only adds to plain numbers (two map lookups, no allocation);
 * prom-client's metrics are filled from them when scraped. Through
 * prom-client's own counter and histogram, which hash their labels on every
 * call, the hook cost about ten times as much.
 */
export class RequestMetrics {
  private readonly tallies = new Map<string, Map<number, Tally>>();

  constructor(
    registry: Registry,
    private readonly services: ServiceCatalog,
  ) {
    const tallies = () => this.tallies;
    new Counter({
      name: 'scriptgate_http_requests_total',
      help: 'HTTP requests answered, by service (a service name, system, (graphql) or (other)) and status code.',
      labelNames: ['service', 'status'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [service, byStatus] of tallies()) for (const [status, tally] of byStatus) this.inc({ service, status }, tally.count);
      },
    });
    registry.registerMetric(new LatencyHistogram(tallies) as unknown as Metric);
  }

  /** Requests answered since start. */
  handled = 0;

  readonly onResponse: onResponseHookHandler = (request, reply, done) => {
    this.handled++;
    this.record(serviceOf(request, this.services), reply.statusCode, reply.elapsedTime / 1000);
    done();
  };

  record(service: string, status: number, seconds: number): void {
    let byStatus = this.tallies.get(service);
    if (!byStatus) this.tallies.set(service, (byStatus = new Map()));
    let tally = byStatus.get(status);
    if (!tally) byStatus.set(status, (tally = { count: 0, sum: 0, buckets: emptyBuckets() }));
    tally.count++;
    tally.sum += seconds;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]!) bucket++;
    if (bucket < LATENCY_BUCKETS.length) tally.buckets[bucket]!++;
  }
}

const LATENCY = 'scriptgate_http_request_duration_seconds';

/** One line of a metric as prom-client's registry prints it. */
interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * The latency histogram, read from the tallies by status class: prom-client
 * has no way to set a histogram's buckets, so this is a metric of its own,
 * in the shape its registry reads from every metric (`get()`).
 */
class LatencyHistogram {
  readonly name = LATENCY;
  readonly help = 'Time from receiving a request to its response, by service and status class (2xx, 3xx, 4xx, 5xx).';
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(private readonly tallies: () => Map<string, Map<number, Tally>>) {}

  async get() {
    const byClass = new Map<string, { service: string; statusClass: string; tally: Tally }>();
    for (const [service, byStatus] of this.tallies()) {
      for (const [status, tally] of byStatus) {
        const statusClass = `${Math.floor(status / 100)}xx`;
        const key = `${service} ${statusClass}`;
        const total = byClass.get(key) ?? { service, statusClass, tally: { count: 0, sum: 0, buckets: emptyBuckets() } };
        byClass.set(key, total);
        total.tally.count += tally.count;
        total.tally.sum += tally.sum;
        for (let i = 0; i < LATENCY_BUCKETS.length; i++) total.tally.buckets[i]! += tally.buckets[i]!;
      }
    }
    const values: Sample[] = [];
    for (const { service, statusClass, tally } of byClass.values()) {
      const labels = { service, status_class: statusClass };
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((bound, i) => {
        cumulative += tally.buckets[i]!;
        values.push({ metricName: `${LATENCY}_bucket`, labels: { ...labels, le: bound }, value: cumulative });
      });
      values.push({ metricName: `${LATENCY}_bucket`, labels: { ...labels, le: '+Inf' }, value: tally.count });
      values.push({ metricName: `${LATENCY}_sum`, labels, value: tally.sum });
      values.push({ metricName: `${LATENCY}_count`, labels, value: tally.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The tallies are the requests' record: only a restart clears them. */
  reset(): void {}
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
