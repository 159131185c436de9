// The schema this instance serves, rebuilt when services change (here or on
// another instance: the bus carries both) and swapped in one assignment.
import type { GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Db } from '../../db/client.ts';
import type { EventBus } from '../../logs/bus.ts';
import type { ServiceGraphQL } from '../../domain/services.ts';
import type { ServiceSchemas, StoredDefinition } from './schemas.ts';

export interface LiveSchemaEvents {
  /** A stored definition was left out of the schema (it no longer fits). */
  onSkipped: (service: string, reason: string) => void;
  /** Reading the definitions failed: the schema stays as it was. */
  onError: (error: unknown) => void;
}

export class LiveSchema implements ServiceGraphQL {
  private schema: GraphQLSchema;
  /** The definitions the served schema was built from, by service name, with the service's id (its place in the order). */
  private served = new Map<string, { id: number; graphql: string }>();
  /** Services changed since the last rebuild read them; `all` after a start or a lost notice connection. */
  private pending = new Set<string>();
  private pendingAll = true;
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  readonly ready: Promise<void>;

  constructor(
    private readonly schemas: ServiceSchemas,
    private readonly db: Db,
    bus: EventBus,
    private readonly events: LiveSchemaEvents,
  ) {
    this.schema = schemas.base;
    // Every service change, here or on another instance: only that row is read again.
    bus.onServiceChanged((name) => {
      if (name === null) this.pendingAll = true;
      else this.pending.add(name);
      void this.refresh();
    });
    this.ready = this.refresh();
  }

  /** The schema a request starting now runs on, to its end. */
  get current(): GraphQLSchema {
    return this.schema;
  }

  check(service: string, sdl: string, stored: readonly StoredDefinition[], replacing: string | null): void {
    this.schemas.check(service, sdl, stored, replacing);
  }

  applied(): Promise<void> {
    return this.refresh();
  }

  /**
   * A rebuild that starts after this call (so it reads every change
   * committed and notified before it). Calls during a rebuild share the one after it.
   */
  refresh(): Promise<void> {
    if (!this.running) {
      this.running = this.rebuild().finally(() => {
        this.running = null;
      });
      return this.running;
    }
    this.queued ??= this.running.then(() => {
      this.queued = null;
      return this.refresh();
    });
    return this.queued;
  }

  private async rebuild(): Promise<void> {
    // Never in the turn of the save that asked for it (its check and write already took that turn's time).
    await new Promise<void>((resolve) => setImmediate(resolve));
    const all = this.pendingAll;
    const names = [...this.pending];
    this.pendingAll = false;
    this.pending.clear();
    if (!all && names.length === 0) return;
    try {
      const select = { id: true, name: true, graphql: true } as const;
      const rows = all
        ? await this.db.service.findMany({ where: { graphql: { not: null } }, select })
        : await this.db.service.findMany({ where: { name: { in: names } }, select });
      const next = all ? new Map<string, { id: number; graphql: string }>() : new Map(this.served);
      for (const name of names) next.delete(name);
      for (const row of rows) if (row.graphql !== null) next.set(row.name, { id: row.id, graphql: row.graphql });
      if (next.size === this.served.size && [...next].every(([name, { graphql }]) => this.served.get(name)?.graphql === graphql)) return;
      const ordered = [...next].sort((a, b) => a[1].id - b[1].id).map(([name, { graphql }]) => ({ name, graphql }));
      this.schema = await this.schemas.build(ordered, this.events.onSkipped);
      this.served = next;
    } catch (error) {
      // Read again in full next time: this change may have been missed.
      this.pendingAll = true;
      this.events.onError(error);
    }
  }
}

/**
 * Gives each request the schema current when it starts (over HTTP, SSE and
 * graphql-ws alike: all of them envelop through Yoga), so a request in
 * flight finishes on the schema it began with, and a rebuild never touches
 * it. A schema *function* would break graphql-ws, which reads `schema`.
 */
export function useLiveSchema(live: LiveSchema): Plugin {
  return {
    onEnveloped({ setSchema }) {
      setSchema(live.current);
    },
  };
}
