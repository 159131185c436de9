import type { App, AppCatalog, AppInput } from '../access/apps.ts';
import type { Caller } from '../domain/caller.ts';
import { badInput } from '../domain/errors.ts';
import type { InvokeRequest } from '../domain/invoke.ts';
import type { SystemAnswer, SystemComponent } from './component.ts';
import { routeRecords } from './record-routes.ts';
import { filter, flag, integerIn, list, mapInTurns, MAX_INT32, order, pickFields, wholeNumber, type Query } from './query.ts';
import { bodyRecords, relatedIn } from './roles.ts';

/** An app in DreamFactory's record shape, without its key: only `api_key_prefix` tells keys apart. */
export function appRecord(app: App) {
  return {
    id: app.id,
    name: app.name,
    description: app.description,
    is_active: app.isActive,
    role_id: app.roleId,
    api_key_prefix: app.apiKeyPrefix,
    rate_limit_per_minute: app.rateLimitPerMinute,
    created_date: app.createdAt.toISOString(),
    last_modified_date: app.updatedAt.toISOString(),
    created_by_id: null,
    last_modified_by_id: null,
  };
}

function appInput(body: unknown): AppInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badInput('Each app record must be a JSON object.');
  const record = body as Record<string, unknown>;
  return {
    name: record.name,
    description: record.description,
    isActive: record.is_active,
    roleId: record.role_id,
    rateLimitPerMinute: record.rate_limit_per_minute,
    ...('api_key' in record ? { apiKey: record.api_key } : {}),
  } as AppInput;
}

const sortable = { id: 'id', name: 'name', created_date: 'createdAt', last_modified_date: 'updatedAt' } as const;

/**
 * `system/app`: apps and their keys, addressed by id (or, beyond
 * DreamFactory, by name). A key is shown once: in the 201 of a create, and in
 * the answer of `PATCH system/app/{id}?regenerate=true`, which rotates it.
 */
export class AppsComponent implements SystemComponent {
  readonly name = 'app';
  readonly templates = ['app/{id}'];

  constructor(private readonly apps: AppCatalog) {}

  handle(request: InvokeRequest, rest: string[], _caller: Caller): Promise<SystemAnswer> {
    return routeRecords(request, rest, 'app', {
      list: (query) => this.list(query),
      create: (payload) => this.create(payload),
      one: (key, query) => this.one(key, query),
      update: (key, payload, query) => this.update(key, payload, query),
      remove: (key) => this.delete(key),
    });
  }

  private byKey(key: string): Promise<App> {
    return /^\d+$/.test(key) ? this.apps.byId(integerIn(key, 'id', 1, MAX_INT32, 'App id')) : this.apps.byName(key);
  }

  private async list(query: Query): Promise<SystemAnswer> {
    relatedIn(query, []);
    const ids = list(query, 'ids')?.map((id) => integerIn(id, 'ids', 1, MAX_INT32, 'App id'));
    const where = filter(query, ['name', 'id', 'role_id']);
    const { apps, count } = await this.apps.list({
      ids: where.id ? [integerIn(where.id, 'filter', 1, MAX_INT32, 'App id'), ...(ids ?? [])] : ids,
      name: where.name,
      roleId: where.role_id ? integerIn(where.role_id, 'filter', 1, MAX_INT32, 'Role id') : undefined,
      limit: wholeNumber(query, 'limit') || undefined,
      offset: wholeNumber(query, 'offset'),
      order: order(query, sortable),
    });
    const fields = list(query, 'fields');
    const records = await mapInTurns(apps, (app) => pickFields(appRecord(app), fields));
    return { content: { resource: records, ...(flag(query, 'include_count') ? { meta: { count } } : {}) }, rows: apps };
  }

  private async create(body: unknown): Promise<SystemAnswer> {
    const { single, records } = bodyRecords(body);
    const created = await this.apps.createMany(records.map(appInput));
    const shown = created.map(({ app, key }) => ({ id: app.id, name: app.name, api_key: key }));
    return { statusCode: 201, content: single ? shown[0] : { resource: shown }, rows: created.map((c) => c.app) };
  }

  private async one(key: string, query: Query): Promise<SystemAnswer> {
    relatedIn(query, []);
    const app = await this.byKey(key);
    return { content: pickFields(appRecord(app), list(query, 'fields')), rows: [app] };
  }

  private async update(key: string, body: unknown, query: Query): Promise<SystemAnswer> {
    let app = await this.byKey(key);
    const hasChanges = body !== null && body !== undefined && !(typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0);
    if (hasChanges) app = await this.apps.update(app, appInput(body));
    if (!flag(query, 'regenerate')) return { content: appRecord(app), rows: [app] };
    const rotated = await this.apps.rotate(app);
    return { content: { ...appRecord(rotated.app), api_key: rotated.key }, rows: [rotated.app] };
  }

  private async delete(key: string): Promise<SystemAnswer> {
    const existing = await this.byKey(key);
    await this.apps.delete(existing);
    return { content: { id: existing.id }, rows: [existing] };
  }
}
