import type { ScriptingSettings } from '../config.ts';
import type { Db } from '../db/client.ts';
import type { EventScript, Prisma } from '../generated/prisma-sqlite/client.ts';
import type { EventBus } from '../logs/bus.ts';
import type { EngineRegistry } from '../scripting/registry.ts';
import { badInput, DomainError, notFound } from './errors.ts';
import { parseEventName, type EventName } from './event-names.ts';
import { configObject, mergeConfig, validateConfigJson, validateContent, validateLimits, validateType } from './script-fields.ts';
import { SyntaxChecker } from './syntax-check.ts';

export type { EventScript };

export interface EventScriptInput {
  type?: unknown;
  content?: unknown;
  isActive?: unknown;
  allowEventModification?: unknown;
  config?: unknown;
  /** Store a script that does not compile (work in progress); it then fails when run. */
  skipSyntaxCheck?: unknown;
}

/** An active event script as the request path uses it: the row and its parsed name. */
export interface ActiveEventScript {
  script: EventScript;
  event: EventName;
}

interface EventScriptData {
  type?: string;
  content?: string;
  isActive?: boolean;
  allowEventModification?: boolean;
  config?: Prisma.InputJsonObject;
}

/**
 * Event scripts one service may have. Every request to the service walks its
 * active scripts to match names, so their number is the request path's cost.
 */
export const MAX_SCRIPTS_PER_SERVICE = 1000;

/**
 * Event scripts: validation, storage, and an in-memory index of the active
 * ones by service for the request path. Changes go through the event bus
 * (so every instance reloads the service's scripts), and a write returns
 * once this instance's index holds it.
 */
export class EventScriptCatalog {
  /** Services with at least one active script; a service without any has no entry (one failed lookup per request). */
  private readonly index = new Map<string, readonly ActiveEventScript[]>();
  /** Bumped per service on every change: a reload that overlapped a newer change must not apply what it read. */
  private readonly versions = new Map<string, number>();
  /** Bumped on every "anything may have changed" (start, a reconnect on PostgreSQL). */
  private allVersion = 0;
  /** The newest reload per service (`*`: of all), so a write can wait for its own. */
  private readonly reloading = new Map<string, Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly engines: EngineRegistry,
    private readonly bus: EventBus,
    private readonly limits: ScriptingSettings,
    /** A reload that failed (the database was away): the index keeps what it had until the next change. */
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {
    bus.onEventScriptChanged((service) => void this.reload(service));
  }

  /** Reads every active script into the index; call once at start. */
  async load(): Promise<void> {
    await this.reload(null);
  }

  /** The active scripts naming `service` (as stored: lower-case), or undefined when there are none. Hot path. */
  activeFor(service: string): readonly ActiveEventScript[] | undefined {
    return this.index.get(service);
  }

  /** Services that have active event scripts (for the `events` listing of services not created yet). */
  servicesWithScripts(): IterableIterator<string> {
    return this.index.keys();
  }

  async list(service?: string, page: { limit?: number; offset?: number } = {}): Promise<EventScript[]> {
    return this.db.eventScript.findMany({
      where: service === undefined ? {} : { service: service.toLowerCase() },
      orderBy: { name: 'asc' },
      take: page.limit,
      skip: page.offset,
    });
  }

  async count(service?: string): Promise<number> {
    return this.db.eventScript.count({ where: service === undefined ? {} : { service: service.toLowerCase() } });
  }

  /** Names of scripts that exist for `service`, active or not (the `events` listing). */
  async namesFor(service?: string): Promise<string[]> {
    const rows = await this.db.eventScript.findMany({
      where: service === undefined ? {} : { service: service.toLowerCase() },
      select: { name: true },
      orderBy: { name: 'asc' },
    });
    return rows.map((row) => row.name);
  }

  /** The script, or null; a malformed name is BAD_INPUT naming the part. */
  async byName(name: string): Promise<EventScript | null> {
    return this.db.eventScript.findUnique({ where: { name: parseEventName(name).name } });
  }

  /** Creates or replaces the script: fields not given take their defaults. */
  async put(name: string, input: EventScriptInput): Promise<{ script: EventScript; created: boolean }> {
    const event = parseEventName(name);
    const data = this.validate(input, null) as Required<EventScriptData>;
    await new SyntaxChecker(this.engines).assertCompiles(data.type, data.content, input.skipSyntaxCheck);
    const existing = await this.db.eventScript.findUnique({ where: { name: event.name }, select: { id: true } });
    let created = !existing;
    let script: EventScript;
    if (existing) {
      script = await this.db.eventScript.update({ where: { name: event.name }, data }).catch((error: unknown) => {
        throw storeError(error, event.name);
      });
    } else {
      await this.checkRoom(event.service);
      try {
        script = await this.db.eventScript.create({ data: { ...data, name: event.name, service: event.service } });
      } catch (error) {
        // Another writer created it meanwhile: this one replaces it, as if it had come second.
        if ((error as { code?: string }).code !== 'P2002') throw storeError(error, event.name);
        script = await this.db.eventScript.update({ where: { name: event.name }, data });
        created = false;
      }
    }
    await this.changed(event.service);
    return { script, created };
  }

  /** Changes the given fields (DreamFactory's PATCH: config keys merge, null removes one). */
  async update(name: string, input: EventScriptInput): Promise<EventScript> {
    const event = parseEventName(name);
    const existing = await this.db.eventScript.findUnique({ where: { name: event.name } });
    if (!existing) throw missing(event.name);
    const data = this.validate(input, existing);
    if (data.type !== undefined || data.content !== undefined) {
      await new SyntaxChecker(this.engines).assertCompiles(data.type ?? existing.type, data.content ?? existing.content, input.skipSyntaxCheck);
    }
    const script = await this.db.eventScript.update({ where: { name: event.name }, data }).catch((error: unknown) => {
      throw storeError(error, event.name);
    });
    await this.changed(event.service);
    return script;
  }

  /** Removes the script and answers what it was. */
  async delete(name: string): Promise<EventScript> {
    const event = parseEventName(name);
    const script = await this.db.eventScript.delete({ where: { name: event.name } }).catch((error: unknown) => {
      throw storeError(error, event.name);
    });
    await this.changed(event.service);
    return script;
  }

  /** Tells every instance; resolves once this one's index shows the change. */
  private async changed(service: string): Promise<void> {
    this.bus.eventScriptChanged(service);
    for (let pending = this.reloading.get(service); pending; pending = this.reloading.get(service)) await pending;
  }

  private async checkRoom(service: string): Promise<void> {
    const count = await this.db.eventScript.count({ where: { service } });
    if (count >= MAX_SCRIPTS_PER_SERVICE) {
      throw new DomainError('CONFLICT', `Service "${service}" already has ${count} event scripts, the most one service may have (${MAX_SCRIPTS_PER_SERVICE}).`, {
        field: 'name',
      });
    }
  }

  /** Re-reads one service's active scripts (`null`: every service's) into the index. Never throws. */
  private reload(service: string | null): Promise<void> {
    const key = service ?? '*';
    const pending = (service === null ? this.reloadAll() : this.reloadService(service))
      .catch(this.onError)
      .finally(() => {
        if (this.reloading.get(key) === pending) this.reloading.delete(key);
      });
    this.reloading.set(key, pending);
    return pending;
  }

  private async reloadService(service: string): Promise<void> {
    const version = (this.versions.get(service) ?? 0) + 1;
    this.versions.set(service, version);
    const rows = await this.db.eventScript.findMany({ where: { service, isActive: true } });
    if (this.versions.get(service) === version) this.apply(service, rows);
  }

  private async reloadAll(): Promise<void> {
    const all = ++this.allVersion;
    const before = new Map(this.versions);
    const rows = await this.db.eventScript.findMany({ where: { isActive: true } });
    if (this.allVersion !== all) return;
    const byService = new Map<string, EventScript[]>();
    for (const row of rows) {
      const list = byService.get(row.service) ?? [];
      list.push(row);
      byService.set(row.service, list);
    }
    for (const service of new Set([...this.index.keys(), ...byService.keys()])) {
      // A service changed since this read began has a newer reload of its own.
      if (this.versions.get(service) === before.get(service)) this.apply(service, byService.get(service) ?? []);
    }
  }

  /** Replaces a service's entry; engines drop warm state of scripts that changed or went. */
  private apply(service: string, rows: EventScript[]): void {
    const active: ActiveEventScript[] = [];
    for (const script of rows) {
      try {
        active.push({ script, event: parseEventName(script.name) });
      } catch (error) {
        // Only a row written around the catalog gets here; it must not stop the others.
        this.onError(error);
      }
    }
    const now = new Map(active.map((entry) => [entry.script.name, entry.script]));
    for (const { script } of this.index.get(service) ?? []) {
      const current = now.get(script.name);
      if (!current || current.updatedAt.getTime() !== script.updatedAt.getTime() || current.content !== script.content) {
        this.engines.forget(script.name);
      }
    }
    if (active.length) this.index.set(service, active);
    else this.index.delete(service);
  }

  /** `existing` is null for a create or a replace, where type is required and the rest default. */
  private validate(input: EventScriptInput, existing: EventScript | null): EventScriptData {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) throw badInput('An event script must be an object.');
    const data: EventScriptData = {};
    if (input.type !== undefined || !existing) data.type = validateType(this.engines, input.type);
    if (input.content !== undefined && input.content !== null) data.content = validateContent(input.content, this.limits);
    else if (!existing) data.content = '';
    data.isActive = flag(input.isActive, 'is_active', existing ? undefined : true);
    data.allowEventModification = flag(input.allowEventModification, 'allow_event_modification', existing ? undefined : false);
    if (input.config !== undefined && input.config !== null) {
      const merged = mergeConfig(configObject(input.config), existing ? (existing.config as Record<string, unknown>) : null);
      validateLimits(merged, this.limits, { retries: true });
      validateConfigJson(merged);
      data.config = merged as Prisma.InputJsonObject;
    } else if (!existing) data.config = {};
    for (const key of Object.keys(data) as (keyof EventScriptData)[]) if (data[key] === undefined) delete data[key];
    return data;
  }
}

function flag(value: unknown, field: string, fallback: boolean | undefined): boolean | undefined {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw badInput(`Field "${field}" must be a boolean.`, field);
  return value;
}

function missing(name: string): DomainError {
  return notFound(`Event script "${name}" not found.`);
}

function storeError(error: unknown, name: string): Error {
  const code = (error as { code?: string }).code;
  if (code === 'P2025') return missing(name);
  if (code === 'P2002') return new DomainError('CONFLICT', `An event script named "${name}" already exists.`, { field: 'name' });
  return error as Error;
}
