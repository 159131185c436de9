import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { EventBus, ExecutionEvent, LogLineEvent } from './bus.ts';

type Relayed =
  | { kind: 'line'; line: LogLineEvent }
  | { kind: 'execution'; execution: ExecutionEvent }
  | { kind: 'ended'; executionId: string };

/** How often a Redis that stays unreachable is reported. */
const ERROR_REPORT_INTERVAL_MS = 30_000;
/** An instance with live subscribers says so this often; others send while they heard it recently. */
const WATCHING_EVERY_MS = 1_000;
const WATCHING_TTL_MS = 3_500;
const WATCHING = 'watching';

/**
 * The event bus across instances: each instance publishes its executions'
 * state changes and log lines on one Redis channel and hands the others' to
 * its own subscribers, so a live log shows the runs of every instance behind
 * a load balancer. One channel per database keeps one instance's events in
 * order (lines, then the final state, then the end) and deployments that
 * share a Redis apart. Events of one event-loop turn travel as one message,
 * and only while another instance has live subscribers (it says so every
 * second): relaying every run cost a busy server a fifth of its throughput.
 * Publishing never waits: while Redis is unreachable, live events for other
 * instances are dropped (history is in the database).
 */
export class RedisRelay {
  private readonly instance = randomUUID();
  private readonly channel: string;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private lastReported = 0;
  /** Events of this event-loop turn, sent as one message at its end. */
  private pending: Relayed[] = [];
  /** Until when another instance is known to have live subscribers. */
  private othersWatchUntil = 0;
  private watchingTimer: NodeJS.Timeout | null = null;
  private lastSaidWatching = 0;

  constructor(
    url: string,
    /** What the instances share (the database), so deployments sharing a Redis stay apart. */
    deployment: string,
    private readonly onError: (error: unknown) => void,
  ) {
    this.channel = `scriptgate:${createHash('sha256').update(deployment).digest('hex').slice(0, 16)}:events`;
    const options = { lazyConnect: true, maxRetriesPerRequest: 1 };
    // No offline queue: a publish while disconnected fails at once instead of piling up.
    this.publisher = new Redis(url, { ...options, enableOfflineQueue: false, enableAutoPipelining: true });
    this.subscriber = new Redis(url, options);
    for (const connection of [this.publisher, this.subscriber]) connection.on('error', (error) => this.report(error));
  }

  /** Connects both ways; events from other instances go to `bus` from then on. */
  async start(bus: EventBus): Promise<void> {
    const own = `${this.instance}|`;
    this.subscriber.on('message', (channel: string, text: string) => {
      // Each instance hears its own messages too: recognised without parsing them.
      if (channel !== this.channel || text.startsWith(own)) return;
      const body = text.slice(text.indexOf('|') + 1);
      if (body === WATCHING) {
        this.othersWatchUntil = Date.now() + WATCHING_TTL_MS;
        return;
      }
      try {
        for (const event of JSON.parse(body) as Relayed[]) deliver(bus, event);
      } catch (error) {
        this.report(error);
      }
    });
    await Promise.all([this.publisher.connect(), this.subscriber.connect()]);
    await this.subscriber.subscribe(this.channel);
    const subscribed = () => this.sayWatching();
    const watched = () => Date.now() <= this.othersWatchUntil;
    bus.logs.relayTo({
      item: (line) => this.publish({ kind: 'line', line }),
      ended: (executionId) => this.publish({ kind: 'ended', executionId }),
      subscribed,
      watched,
    });
    bus.executions.relayTo({ item: (execution) => this.publish({ kind: 'execution', execution }), ended: () => undefined, subscribed, watched });
    this.watchingTimer = setInterval(() => {
      if (bus.logs.subscriberCount + bus.executions.subscriberCount > 0) this.sayWatching();
    }, WATCHING_EVERY_MS);
    this.watchingTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.watchingTimer) clearInterval(this.watchingTimer);
    await Promise.all([this.publisher, this.subscriber].map((connection) => connection.quit().catch(() => connection.disconnect())));
  }

  private sayWatching(): void {
    // A thousand subscribers arriving together need saying once.
    const now = Date.now();
    if (now - this.lastSaidWatching < WATCHING_EVERY_MS / 4 || this.publisher.status !== 'ready') return;
    this.lastSaidWatching = now;
    this.publisher.publish(this.channel, `${this.instance}|${WATCHING}`).catch((error: unknown) => this.report(error));
  }

  private publish(event: Relayed): void {
    if (Date.now() > this.othersWatchUntil || this.publisher.status !== 'ready') return;
    if (this.pending.length === 0) setImmediate(this.flush);
    this.pending.push(event);
  }

  private readonly flush = (): void => {
    const events = this.pending;
    this.pending = [];
    if (this.publisher.status !== 'ready') return;
    this.publisher.publish(this.channel, `${this.instance}|${JSON.stringify(events)}`).catch((error: unknown) => this.report(error));
  };

  private report(error: unknown): void {
    const now = Date.now();
    if (now - this.lastReported < ERROR_REPORT_INTERVAL_MS) return;
    this.lastReported = now;
    this.onError(error);
  }
}

function deliver(bus: EventBus, event: Relayed): void {
  if (event.kind === 'line') bus.logs.deliver({ ...event.line, timestamp: new Date(event.line.timestamp) });
  else if (event.kind === 'execution') {
    const { execution } = event;
    bus.executions.deliver({ ...execution, startedAt: new Date(execution.startedAt), finishedAt: execution.finishedAt ? new Date(execution.finishedAt) : null });
  } else bus.logs.ended(event.executionId);
}
