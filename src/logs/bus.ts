import { BoundedSubscription, type FellBehind, type Subscriber } from './subscription.ts';

/**
 * The one path for execution events: engines' log lines and execution state
 * changes are published here; the recorder and live subscriptions read them.
 * In-process fan-out; subscribers are indexed by service and execution so a
 * line costs only the subscribers that want it.
 */
export interface LogLineEvent {
  executionId: string;
  service: string;
  sequence: number;
  stream: 'STDOUT' | 'STDERR' | 'CONSOLE' | 'SYSTEM';
  message: string;
  timestamp: Date;
}

export interface ExecutionEvent {
  id: string;
  service: string;
  /** The event script's name; null for a service's own run. */
  eventName: string | null;
  /** The run whose platform.api call made this one; null for a call from outside. */
  parentExecutionId: string | null;
  scriptType: string;
  status: 'running' | 'succeeded' | 'failed' | 'timed_out';
  trigger: string;
  startedAt: Date;
  finishedAt: Date | null;
  durationMs: number | null;
  statusCode: number | null;
  error: { message: string; line?: number; kind?: string } | null;
  logBytes: number;
  logsTruncated: boolean;
  /** The service's id and version that ran; null for event scripts and unsaved scripts. */
  serviceId: number | null;
  serviceVersion: number | null;
  /** The execution this run replays. */
  replayOf: string | null;
  /** The request it ran with, credentials removed, payload cut at 64 KiB (see domain/recorded-request.ts). */
  request: RecordedRequest | null;
  /** What the run cost, as its engine measured it (null until it ended, or when the engine could not tell). */
  cpuMs: number | null;
  peakMemoryBytes: number | null;
}

/** A run's request as recorded for its execution (and replay). */
export interface RecordedRequest {
  method: string;
  resource: string;
  parameters: Record<string, unknown>;
  headers: Record<string, string>;
  contentType: string | null;
  /** The body as sent (text), null without one. */
  payload: string | null;
  /** True when the body was longer than 64 KiB and `payload` holds only its start. */
  payloadTruncated: boolean;
}

export interface SubscribeFilter {
  service?: string | null;
  executionId?: string | null;
}

const ALL = '*';

/** Where a topic's items also go: other instances (see logs/redis-relay.ts). */
export interface TopicRelay<T> {
  item(item: T): void;
  ended(executionId: string): void;
  /** A subscriber arrived here: other instances should start sending. */
  subscribed(): void;
  /** Whether another instance has live subscribers now. */
  watched(): boolean;
}

class Topic<T extends { service: string }> {
  private readonly byKey = new Map<string, Set<Subscriber<T>>>();
  private relay: TopicRelay<T> | null = null;

  constructor(private readonly executionIdOf: (item: T) => string) {}

  /** An item of this instance: its subscribers, and other instances' through the relay. */
  publish(item: T): void {
    this.deliver(item);
    this.relay?.item(item);
  }

  /** An item from another instance: this instance's subscribers only. */
  deliver(item: T): void {
    if (this.byKey.size === 0) return;
    this.deliverTo(ALL, item);
    this.deliverTo(`s:${item.service}`, item);
    this.deliverTo(`e:${this.executionIdOf(item)}`, item);
  }

  relayTo(relay: TopicRelay<T>): void {
    this.relay = relay;
  }

  /** `farewell` makes the last item a dropped subscriber reads (see BoundedSubscription). */
  subscribe<F = never>(filter: SubscribeFilter, capacity: number, farewell?: (reason: FellBehind) => F | undefined): BoundedSubscription<T, F> {
    // Filter by the narrowest key; the other filter (if any) is checked per item.
    const key = filter.executionId ? `e:${filter.executionId}` : filter.service ? `s:${filter.service}` : ALL;
    const set = this.byKey.get(key) ?? new Set();
    this.byKey.set(key, set);
    const subscription: BoundedSubscription<T, F> = new BoundedSubscription<T, F>(
      capacity,
      () => {
        set.delete(subscription);
        if (set.size === 0 && this.byKey.get(key) === set) this.byKey.delete(key);
      },
      farewell,
    );
    if (filter.executionId && filter.service) {
      const wanted = filter.service;
      const push = subscription.push.bind(subscription);
      subscription.push = (item: T) => (item.service === wanted ? push(item) : undefined);
    }
    set.add(subscription);
    this.relay?.subscribed();
    return subscription;
  }

  /** Completes the subscriptions that follow one execution, once its last item is published. */
  endExecution(executionId: string): void {
    this.ended(executionId);
    this.relay?.ended(executionId);
  }

  /** An execution of this or another instance ended: complete this instance's subscriptions to it. */
  ended(executionId: string): void {
    const set = this.byKey.get(`e:${executionId}`);
    if (set) for (const subscription of [...set]) subscription.end();
  }

  /** Ends every subscription here (shutdown): each completes after the items it has queued. */
  endAll(): void {
    for (const set of [...this.byKey.values()]) for (const subscription of [...set]) subscription.end();
  }

  /** Whether publishing can reach anyone: subscribers here, or other instances. */
  get hasSubscribers(): boolean {
    return this.byKey.size > 0 || (this.relay?.watched() ?? false);
  }

  /** Subscriptions on this topic here: a shared one counts once, however many clients it serves. */
  get subscriptionCount(): number {
    let count = 0;
    for (const set of this.byKey.values()) count += set.size;
    return count;
  }

  /** Clients following this topic here (a shared subscription counts each client it serves). */
  get subscriberCount(): number {
    let count = 0;
    for (const set of this.byKey.values()) for (const subscription of set) count += subscription.listeners;
    return count;
  }

  private deliverTo(key: string, item: T): void {
    const set = this.byKey.get(key);
    if (!set) return;
    for (const subscription of set) subscription.push(item);
  }
}

/**
 * What a change notice is about: a service (by name), the event scripts of a
 * service (by the service part of their names), access (`role:{id}` or
 * `app:{id}`, see src/access/) or a service's secrets (by service id).
 */
export const CHANGE_KINDS = ['service', 'event_script', 'access', 'secret'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** Carries this instance's changes to the other instances (see db/postgres-service-changes.ts). */
export interface ServiceChangeRelay {
  publish(name: string, kind: ChangeKind): void;
}

type ChangeListener = (name: string | null) => void;

export class EventBus {
  readonly logs = new Topic<LogLineEvent>((line) => line.executionId);
  readonly executions = new Topic<ExecutionEvent>((execution) => execution.id);
  private readonly listeners: Record<ChangeKind, Set<ChangeListener>> = { service: new Set(), event_script: new Set(), access: new Set(), secret: new Set() };
  private relay: ServiceChangeRelay | null = null;

  /** Shutdown: every live subscription completes (its transport sends its final message). */
  endSubscriptions(): void {
    this.logs.endAll();
    this.executions.endAll();
  }

  /** Services changed (cache invalidation). `null`: any service may have changed. */
  onServiceChanged(listener: ChangeListener): () => void {
    return this.listen('service', listener);
  }

  /** A service's event scripts changed (by the service part of their names). `null`: any may have changed. */
  onEventScriptChanged(listener: ChangeListener): () => void {
    return this.listen('event_script', listener);
  }

  /** A role or app changed (`role:{id}`, `app:{id}`). `null`: anything may have changed. */
  onAccessChanged(listener: ChangeListener): () => void {
    return this.listen('access', listener);
  }

  /** A service's secrets changed (by service id). `null`: any may have changed. */
  onSecretChanged(listener: ChangeListener): () => void {
    return this.listen('secret', listener);
  }

  /** A role or app changed here: this instance's caches, then the other instances'. */
  accessChanged(what: string): void {
    this.changed(what, 'access');
  }

  /** A secret of the service with this id changed here. */
  secretChanged(serviceId: number): void {
    this.changed(String(serviceId), 'secret');
  }

  /** A service changed here: this instance's listeners, then the other instances. */
  serviceChanged(name: string): void {
    this.changed(name, 'service');
  }

  /** An event script of `service` changed here: this instance's listeners, then the other instances. */
  eventScriptChanged(service: string): void {
    this.changed(service, 'event_script');
  }

  /**
   * A change on another instance. `null`: changes may have been missed, so
   * every kind's listeners hear it; a notice without a kind (an older
   * instance) is about a service.
   */
  remoteServiceChanged(name: string | null, kind: ChangeKind = 'service'): void {
    if (name === null) for (const each of Object.keys(this.listeners) as ChangeKind[]) this.notify(each, null);
    else this.notify(kind, name);
  }

  relayServiceChanges(relay: ServiceChangeRelay): void {
    this.relay = relay;
  }

  private changed(name: string, kind: ChangeKind): void {
    this.notify(kind, name);
    this.relay?.publish(name, kind);
  }

  private listen(kind: ChangeKind, listener: ChangeListener): () => void {
    this.listeners[kind].add(listener);
    return () => this.listeners[kind].delete(listener);
  }

  private notify(kind: ChangeKind, name: string | null): void {
    for (const listener of this.listeners[kind]) listener(name);
  }
}
