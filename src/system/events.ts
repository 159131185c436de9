import type { Caller } from '../domain/caller.ts';
import { badInput, DomainError } from '../domain/errors.ts';
import { eventNamesFor, isTemplate, parseEventName, templateSegments } from '../domain/event-names.ts';
import type { EventScriptCatalog } from '../domain/event-scripts.ts';
import type { InvokeRequest } from '../domain/invoke.ts';
import type { Service, ServiceCatalog } from '../domain/services.ts';
import type { SystemAnswer, SystemComponent } from './component.ts';
import { clip, flag, methodNotAllowed, one, type Query } from './query.ts';

const SYSTEM = 'system';
const SERVICE_NAME = /^[a-z0-9_-]{1,40}$/;
/** Services read per page while listing every service's names (their scripts come along; pages bound the memory). */
const SERVICES_PER_PAGE = 200;

/**
 * `system/event`: the scriptable event names. Per service, every name a
 * request could fire: the service root's and, for each template in its
 * `config.paths`, each prefix's (`orders.items.{id}.get.pre_process`), for
 * every verb and phase; the system API's own; and names of existing scripts
 * that would fire (a literal path under a template, or a service that does
 * not exist yet, whose root names are listed too).
 *
 * `service=x` limits the list to one service; `as_list=true` answers
 * `{resource: [name, ...]}`, otherwise names are grouped by service:
 * `{resource: [{name: service, events: [name, ...]}, ...]}`, services by name.
 */
export class EventsComponent implements SystemComponent {
  readonly name = 'event';
  readonly templates: readonly string[] = [];

  constructor(
    private readonly services: ServiceCatalog,
    private readonly scripts: EventScriptCatalog,
    private readonly systemTemplates: () => string[],
  ) {}

  async handle(request: InvokeRequest, rest: string[], _caller: Caller): Promise<SystemAnswer> {
    if (request.method !== 'GET') throw methodNotAllowed(request.method, 'system/event');
    if (rest.length > 0) throw new DomainError('NOT_FOUND', `No resource "${request.resource}" in system: list names with GET system/event?service=...`);
    const query = request.parameters as Query;
    const service = one(query, 'service')?.toLowerCase() || undefined;
    if (service !== undefined && !SERVICE_NAME.test(service)) {
      throw badInput(`Parameter "service" must be a service name (1 to 40 letters, digits, "_" or "-"), got "${clip(service)}".`, 'service');
    }
    const groups = service === undefined ? await this.all() : [{ name: service, events: await this.namesOf(service) }];
    if (flag(query, 'as_list')) return { content: { resource: groups.flatMap((group) => group.events) } };
    return { content: { resource: groups } };
  }

  private async namesOf(service: string): Promise<string[]> {
    const templates = service === SYSTEM ? this.systemTemplates() : pathsOf(await this.services.byNameOrNull(service));
    return withScripts(service, templates, await this.scripts.namesFor(service));
  }

  private async all(): Promise<{ name: string; events: string[] }[]> {
    const scripts = new Map<string, string[]>();
    for (const name of await this.scripts.namesFor()) {
      const service = name.slice(0, name.indexOf('.'));
      scripts.set(service, [...(scripts.get(service) ?? []), name]);
    }
    const templates = new Map<string, string[]>([[SYSTEM, this.systemTemplates()]]);
    for (let offset = 0; ; offset += SERVICES_PER_PAGE) {
      const { services } = await this.services.list({ limit: SERVICES_PER_PAGE, offset });
      for (const service of services) templates.set(service.name, pathsOf(service));
      if (services.length < SERVICES_PER_PAGE) break;
    }
    // Services that do not exist yet but have scripts: their root names.
    for (const service of scripts.keys()) if (!templates.has(service)) templates.set(service, []);
    return [...templates.keys()]
      .sort()
      .map((service) => ({ name: service, events: withScripts(service, templates.get(service)!, scripts.get(service) ?? []) }));
  }
}

/** A service's `config.paths`, as the request path reads them. */
function pathsOf(service: Service | null): string[] {
  const paths = (service?.config as { paths?: unknown } | undefined)?.paths;
  return Array.isArray(paths) ? paths.filter((path): path is string => typeof path === 'string') : [];
}

/** The names a service's templates give, then names of its existing scripts that would fire and are not among them. */
function withScripts(service: string, paths: readonly string[], scriptNames: readonly string[]): string[] {
  const templates = paths.map(templateSegments).filter((segments) => nameable(service, segments));
  const names = eventNamesFor(service, templates);
  const listed = new Set(names);
  for (const name of scriptNames) {
    if (listed.has(name)) continue;
    const path = pathOf(name);
    if (!path) continue;
    // A templated name fires only where the service declares that template (as the request path matches them).
    const fires = !path.some(isTemplate) || templates.some((t) => t.length >= path.length && path.every((s, i) => s === t[i]));
    if (fires) {
      names.push(name);
      listed.add(name);
    }
  }
  return names;
}

/** A stored name's resource segments (null for a name written around the catalog that does not parse). */
function pathOf(name: string): string[] | null {
  try {
    return parseEventName(name).path;
  } catch {
    return null;
  }
}

/** Whether a template's segments can be part of an event name at all (`config.paths` is free text). */
function nameable(service: string, segments: readonly string[]): boolean {
  // A "." inside a segment would read as two segments in the name (`a.b` is the path a/b).
  if (segments.some((segment) => segment.includes('.'))) return false;
  try {
    parseEventName([service, ...segments, 'get', 'queued'].join('.'));
    return true;
  } catch {
    return false;
  }
}
