import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Platform } from '../domain/platform.ts';
import type { RunQueue } from '../queue/run-queue.ts';
import type { QueueDepth } from '../queue/queue-store.ts';
import { QuickJsEngine } from '../scripting/quickjs/engine.ts';
import { SubprocessEngine } from '../scripting/subprocess/engine.ts';
import { RequestMetrics } from './requests.ts';

export interface MetricSources {
  platform: Platform;
  queue: RunQueue;
  /** A scrape-time read that failed (the queue's table): its metric is left out of that scrape. */
  onError: (error: unknown) => void;
}

export interface ServerMetrics {
  /** This server's metrics, and the process's (CPU, memory, GC, event-loop lag). */
  scrape(): Promise<string>;
  contentType: string;
  requests: RequestMetrics;
}

/** Queue depth is a query over every instance's runs: scrapes within this long share one. */
const QUEUE_DEPTH_MAX_AGE_MS = 1000;

/**
 * Process metrics (prom-client's defaults: CPU, memory, handles, GC and
 * `nodejs_eventloop_lag_*`) belong to the process, not to a server: they are
 * registered once, since their event-loop monitor and GC observer are never
 * released, and merged into each server's scrape.
 */
let processRegistry: Registry | null = null;

function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * A registry of one server's own (tests run several servers in one process).
 * Everything but requests is read when scraped, from the parts' own counts:
 * nothing here costs a script run or a request anything.
 */
export function createMetrics({ platform, queue, onError }: MetricSources): ServerMetrics {
  const registry = new Registry();
  const requests = new RequestMetrics(registry, platform.services);
  const registers = [registry];

  const executions = () => platform.executions.counts.snapshot();
  new Counter({
    name: 'scriptgate_executions_total',
    help: 'Script runs finished, by engine (script type) and status (succeeded, failed, timed_out).',
    labelNames: ['engine', 'status'],
    registers,
    collect() {
      this.reset();
      for (const [engine, counts] of executions()) {
        for (const status of ['succeeded', 'failed', 'timed_out'] as const) this.inc({ engine, status }, counts[status]);
      }
    },
  });
  new Gauge({
    name: 'scriptgate_executions_running',
    help: 'Script runs in progress, by engine.',
    labelNames: ['engine'],
    registers,
    collect() {
      this.reset();
      for (const [engine, counts] of executions()) this.set({ engine }, counts.running - counts.succeeded - counts.failed - counts.timed_out);
    },
  });

  const engines = () => platform.engines.list().map((info) => ({ info, engine: platform.engines.find(info.name) }));
  new Gauge({
    name: 'scriptgate_engine_available',
    help: 'Whether a script type can run (1) or is unavailable (0): disabled, interpreter or sandbox missing.',
    labelNames: ['engine'],
    registers,
    collect() {
      this.reset();
      for (const { info } of engines()) this.set({ engine: info.name }, info.available ? 1 : 0);
    },
  });
  new Gauge({
    name: 'scriptgate_engine_workers',
    help: 'Warm pools by engine and state. javascript: QuickJS contexts idle (warm for a service), scratch (restored for each call to a service outside the warm set), spare (made ahead of need) and busy (running). Subprocess types: workers starting, idle, busy and closing.',
    labelNames: ['engine', 'state'],
    registers,
    collect() {
      this.reset();
      for (const { info, engine } of engines()) {
        if (engine instanceof QuickJsEngine) {
          const stats = engine.stats;
          this.set({ engine: info.name, state: 'idle' }, stats.idle);
          this.set({ engine: info.name, state: 'scratch' }, stats.scratch);
          this.set({ engine: info.name, state: 'spare' }, stats.spares);
          this.set({ engine: info.name, state: 'busy' }, stats.running);
        } else if (engine instanceof SubprocessEngine) {
          const workers = engine.poolStats?.workers;
          if (!workers) continue;
          for (const state of ['starting', 'idle', 'busy', 'closing'] as const) this.set({ engine: info.name, state }, workers[state]);
        }
      }
    },
  });
  const queueing = () => {
    const rows: { engine: string; queued: number; rejected: number }[] = [];
    for (const { info, engine } of engines()) {
      if (engine instanceof QuickJsEngine) {
        const { waiting, refused } = engine.stats;
        rows.push({ engine: info.name, queued: waiting, rejected: refused });
      } else if (engine instanceof SubprocessEngine) {
        const pool = engine.poolStats;
        if (pool) rows.push({ engine: info.name, queued: pool.queued, rejected: pool.rejected });
      }
    }
    return rows;
  };
  new Gauge({
    name: 'scriptgate_engine_queued',
    help: 'Calls waiting for a context or worker, by engine.',
    labelNames: ['engine'],
    registers,
    collect() {
      this.reset();
      for (const row of queueing()) this.set({ engine: row.engine }, row.queued);
    },
  });
  new Counter({
    name: 'scriptgate_engine_rejected_total',
    help: 'Calls refused as overloaded (503 with Retry-After): the wait queue was full or no context or worker became free in time, by engine.',
    labelNames: ['engine'],
    registers,
    collect() {
      this.reset();
      for (const row of queueing()) this.inc({ engine: row.engine }, row.rejected);
    },
  });
  new Gauge({
    name: 'scriptgate_quickjs_memory_bytes',
    help: 'QuickJS WebAssembly memory by kind: reserved (worst case of the runs in progress), idle (idle and spare contexts), limit (QUICKJS_TOTAL_MEMORY_MB).',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      const engine = platform.engines.find('javascript');
      if (!(engine instanceof QuickJsEngine)) return;
      const { reservedBytes, idleBytes, totalBytes } = engine.stats;
      this.set({ kind: 'reserved' }, reservedBytes);
      this.set({ kind: 'idle' }, idleBytes);
      this.set({ kind: 'limit' }, totalBytes);
    },
  });

  const depth = sharedFor(QUEUE_DEPTH_MAX_AGE_MS, () => queue.depth());
  new Gauge({
    name: 'scriptgate_queue_runs',
    help: 'Stored queued event-script runs, over every instance sharing the database, by state: due (waiting for a slot), delayed (a retry not yet due), claimed (running under a live lease).',
    labelNames: ['state'],
    registers,
    async collect() {
      this.reset();
      let now: QueueDepth;
      try {
        now = await depth();
      } catch (error) {
        onError(error);
        return;
      }
      for (const state of ['due', 'delayed', 'claimed'] as const) this.set({ state }, now[state]);
    },
  });
  new Gauge({
    name: 'scriptgate_queue_running',
    help: 'Queued runs this instance is running now (at most QUEUE_CONCURRENCY).',
    registers,
    collect() {
      this.set(queue.stats.running);
    },
  });
  new Counter({
    name: 'scriptgate_queue_attempts_total',
    help: 'Queued-run attempts this instance made, by outcome: succeeded; retried (failed, a retry follows); failed (failed, no retries left); dropped (never run: unreadable, or its instances kept dying).',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      for (const [outcome, count] of Object.entries(queue.stats.attempts)) this.inc({ outcome }, count);
    },
  });

  new Gauge({
    name: 'scriptgate_subscribers',
    help: 'Live subscribers on this instance, by topic: logs (executionLogs) and executions (executionUpdated).',
    labelNames: ['topic'],
    registers,
    collect() {
      this.set({ topic: 'logs' }, platform.bus.logs.subscriberCount);
      this.set({ topic: 'executions' }, platform.bus.executions.subscriberCount);
    },
  });

  return {
    requests,
    contentType: registry.contentType,
    scrape: () => Registry.merge([processMetrics(), registry]).metrics(),
  };
}

/** `read` at most once per `maxAgeMs`: calls meanwhile share its answer (or the read in flight). */
function sharedFor<T>(maxAgeMs: number, read: () => Promise<T>): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | null = null;
  return () => {
    const now = Date.now();
    if (last && now - last.at < maxAgeMs) return last.value;
    const value = read();
    last = { at: now, value };
    // A failed read is not kept: the next scrape asks again.
    value.catch(() => {
      if (last?.value === value) last = null;
    });
    return value;
  };
}
