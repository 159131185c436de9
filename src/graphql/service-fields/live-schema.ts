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
  /** The definitions the served schema was built from, by service name. */
  private served = new Map<string, string>();
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
    bus.onServiceChanged((name) => void this.changed(name));
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
   * committed before it). Calls during a rebuild share the one after it.
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

  /** A change notice: only services that have, or had, a definition change the schema. */
  private async changed(name: string | null): Promise<void> {
    try {
      if (name !== null && !this.served.has(name)) {
        const row = await this.db.service.findUnique({ where: { name }, select: { graphql: true } });
        if (!row?.graphql) return;
      }
      await this.refresh();
    } catch (error) {
      this.events.onError(error);
    }
  }

  private async rebuild(): Promise<void> {
    try {
      const rows = (await this.db.service.findMany({
        where: { graphql: { not: null } },
        select: { name: true, graphql: true },
        orderBy: { id: 'asc' },
      })) as StoredDefinition[];
      if (rows.length === this.served.size && rows.every((row) => this.served.get(row.name) === row.graphql)) return;
      const schema = await this.schemas.build(rows, this.events.onSkipped);
      this.schema = schema;
      this.served = new Map(rows.map((row) => [row.name, row.graphql]));
    } catch (error) {
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
