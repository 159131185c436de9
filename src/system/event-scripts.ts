import type { Caller } from '../domain/caller.ts';
import { badInput, DomainError } from '../domain/errors.ts';
import { parseEventName } from '../domain/event-names.ts';
import type { EventScript, EventScriptCatalog, EventScriptInput } from '../domain/event-scripts.ts';
import type { InvokeRequest } from '../domain/invoke.ts';
import type { SystemAnswer, SystemComponent } from './component.ts';
import { routeRecords } from './record-routes.ts';
import { flag, list, mapInTurns, one, pickFields, wholeNumber, type Query } from './query.ts';

/** An event script in DreamFactory's record shape. */
export function eventScriptRecord(script: EventScript) {
  return {
    name: script.name,
    type: script.type,
    content: script.content,
    is_active: script.isActive,
    allow_event_modification: script.allowEventModification,
    config: script.config,
    created_date: script.createdAt.toISOString(),
    last_modified_date: script.updatedAt.toISOString(),
  };
}

/**
 * DreamFactory's snake_case record (camelCase accepted too) into the domain's
 * input. One record, unwrapped; `{"resource":[record]}` is taken as well.
 * Unknown fields (DreamFactory's storage_path, scm_*) are ignored.
 */
function eventScriptInput(body: unknown, name: string): EventScriptInput {
  let record = body;
  if (record && typeof record === 'object' && !Array.isArray(record) && Array.isArray((record as { resource?: unknown }).resource)) {
    const resource = (record as { resource: unknown[] }).resource;
    if (resource.length !== 1) throw badInput(`Send one event script record, unwrapped; got ${resource.length} in "resource".`, 'resource');
    record = resource[0];
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) throw badInput('The event script record must be a JSON object.');
  const fields = record as Record<string, unknown>;
  if (fields.name !== undefined && fields.name !== null && parseEventName(fields.name).name !== parseEventName(name).name) {
    throw badInput(`Field "name" (${JSON.stringify(fields.name).slice(0, 100)}) differs from the name in the path ("${name}"); an event script is not renamed.`, 'name');
  }
  return {
    type: fields.type,
    content: fields.content,
    isActive: fields.is_active ?? fields.isActive,
    allowEventModification: fields.allow_event_modification ?? fields.allowEventModification,
    config: fields.config,
    skipSyntaxCheck: fields.skip_syntax_check ?? fields.skipSyntaxCheck,
  };
}

/**
 * `system/event_script[/{name}]`: list (`service=`, `fields`, `limit`,
 * `offset`, `include_count`), read, create or replace (POST on a name: 201
 * created, 200 replaced), edit (PATCH, PUT), remove (DELETE answers
 * `{name}`, or the record's `fields`).
 */
export class EventScriptsComponent implements SystemComponent {
  readonly name = 'event_script';
  readonly templates = ['event_script/{name}'];

  constructor(private readonly scripts: EventScriptCatalog) {}

  handle(request: InvokeRequest, rest: string[], _caller: Caller): Promise<SystemAnswer> {
    if (rest.length === 0 && request.method === 'POST') {
      throw new DomainError('BAD_INPUT', 'Name the event script in the path: POST system/event_script/{name} with one record.', { field: 'name' }, { status: 405 });
    }
    // Names use "." between their parts: a "/" in one is refused naming the part, as any malformed name is.
    if (rest.length > 1) parseEventName(rest.join('/'));
    return routeRecords(request, rest, 'event_script', {
      list: (query) => this.list(query),
      one: (name, query) => this.one(name, query),
      put: (name, payload, query) => this.put(name, payload, query),
      update: (name, payload, query) => this.update(name, payload, query),
      remove: (name, query) => this.delete(name, query),
    });
  }

  private async list(query: Query): Promise<SystemAnswer> {
    const service = one(query, 'service') || undefined;
    const page = { limit: wholeNumber(query, 'limit') || undefined, offset: wholeNumber(query, 'offset') };
    const [rows, count] = await Promise.all([
      this.scripts.list(service, page),
      flag(query, 'include_count') ? this.scripts.count(service) : Promise.resolve(null),
    ]);
    const fields = list(query, 'fields');
    const records = await mapInTurns(rows, (script) => pickFields(eventScriptRecord(script), fields));
    return { content: { resource: records, ...(count === null ? {} : { meta: { count } }) }, rows };
  }

  private async one(name: string, query: Query): Promise<SystemAnswer> {
    const script = await this.scripts.byName(name);
    if (!script) throw new DomainError('NOT_FOUND', `Event script "${parseEventName(name).name}" not found.`);
    return { content: pickFields(eventScriptRecord(script), list(query, 'fields')), rows: [script] };
  }

  private async put(name: string, body: unknown, query: Query): Promise<SystemAnswer> {
    const { script, created } = await this.scripts.put(name, eventScriptInput(body, name));
    return { statusCode: created ? 201 : 200, content: pickFields(eventScriptRecord(script), list(query, 'fields')), rows: [script] };
  }

  private async update(name: string, body: unknown, query: Query): Promise<SystemAnswer> {
    const script = await this.scripts.update(name, eventScriptInput(body, name));
    return { content: pickFields(eventScriptRecord(script), list(query, 'fields')), rows: [script] };
  }

  private async delete(name: string, query: Query): Promise<SystemAnswer> {
    const script = await this.scripts.delete(name);
    const fields = list(query, 'fields');
    return { content: fields ? pickFields(eventScriptRecord(script), fields) : { name: script.name }, rows: [script] };
  }
}
