import type { Caller } from '../domain/caller.ts';
import { badInput, DomainError } from '../domain/errors.ts';
import type { InvokeRequest } from '../domain/invoke.ts';
import type { Service, ServiceCatalog, ServiceInput } from '../domain/services.ts';
import type { SecretStore } from '../access/secrets.ts';
import { SYSTEM_SERVICE_ID } from '../access/access-rules.ts';
import type { SystemAnswer, SystemComponent } from './component.ts';
import { routeRecords } from './record-routes.ts';
import { serviceSecretRequest } from './service-secrets.ts';
import { rollbackOf, serviceVersionRequest } from './service-versions.ts';
import { savedByOf, type ServiceVersions } from '../domain/service-versions.ts';
import type { Prisma } from '../generated/prisma-sqlite/client.ts';
import type { FilterFields } from './filter/to-where.ts';
import { filterWhere, flag, integerIn, list, mapInTurns, MAX_INT32, order, pickFields, wholeNumber, type Query } from './query.ts';

/** Records in one batch create. They are validated and written in one statement that holds the event loop throughout: 1,000 took 170 ms, 500 about 85. */
export const MAX_BATCH_RECORDS = 500;

/** A service in DreamFactory's record shape (the script sits in config.content). */
export function serviceRecord(service: Service) {
  return {
    id: service.id,
    name: service.name,
    label: service.label,
    description: service.description,
    is_active: service.isActive,
    type: service.type,
    mutable: true,
    deletable: true,
    created_date: service.createdAt.toISOString(),
    last_modified_date: service.updatedAt.toISOString(),
    created_by_id: null,
    last_modified_by_id: null,
    version: service.version,
    config: { ...(service.config as Record<string, unknown>), content: service.content },
    graphql: service.graphql,
  };
}

/** DreamFactory's snake_case record into the domain's input. */
function serviceInput(body: unknown): ServiceInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badInput('Each service record must be a JSON object.');
  const record = body as Record<string, unknown>;
  return {
    name: record.name,
    message: record.message,
    label: record.label,
    description: record.description,
    type: record.type,
    isActive: record.is_active ?? record.isActive,
    content: record.content,
    config: record.config,
    skipSyntaxCheck: record.skip_syntax_check ?? record.skipSyntaxCheck,
    graphql: record.graphql,
  };
}

/** What `filter=` may test, by record field. Names and types are stored lowercased, so they match in any case. */
const filterable: FilterFields<keyof Prisma.ServiceWhereInput> = {
  id: { column: 'id', kind: 'int' },
  name: { column: 'name', kind: 'string', lowercase: true },
  label: { column: 'label', kind: 'string' },
  description: { column: 'description', kind: 'string' },
  type: { column: 'type', kind: 'string', lowercase: true },
  is_active: { column: 'isActive', kind: 'boolean' },
  created_date: { column: 'createdAt', kind: 'datetime' },
  last_modified_date: { column: 'updatedAt', kind: 'datetime' },
};

const sortable = { id: 'id', name: 'name', label: 'label', type: 'type', created_date: 'createdAt', last_modified_date: 'updatedAt' } as const;

/** A service id is the database's 32-bit INTEGER. */
function idParam(raw: string): number {
  return integerIn(raw, 'id', 1, MAX_INT32, 'Service id');
}

/**
 * The built-in `system` service, as DreamFactory lists it: the first record
 * of an unfiltered list and `system/service/0`, never editable or deletable.
 */
const SYSTEM_RECORD = Object.freeze({
  id: SYSTEM_SERVICE_ID,
  name: 'system',
  label: 'System Management',
  description: 'Service for managing system resources.',
  is_active: true,
  type: 'system',
  mutable: false,
  deletable: false,
  created_date: null,
  last_modified_date: null,
  created_by_id: null,
  last_modified_by_id: null,
  config: {},
  graphql: null,
});

const isSystem = (key: string) => key === String(SYSTEM_SERVICE_ID);

function builtIn(): never {
  throw new DomainError('FORBIDDEN', 'The system service is built in: it cannot be changed or deleted.');
}

/** `system/service`: DreamFactory's service records, addressed by id. */
export class ServicesComponent implements SystemComponent {
  readonly name = 'service';
  readonly templates = ['service/{id}', 'service/{id}/secret', 'service/{id}/secret/{name}', 'service/{id}/version', 'service/{id}/version/{version}'];

  constructor(
    private readonly services: ServiceCatalog,
    private readonly secrets: SecretStore,
    private readonly versions: ServiceVersions,
  ) {}

  async handle(request: InvokeRequest, rest: string[], caller: Caller): Promise<SystemAnswer> {
    if (rest[1] === 'secret') return serviceSecretRequest(this.secrets, request, await this.services.byId(idParam(rest[0]!)), rest.slice(2));
    if (rest[1] === 'version') return serviceVersionRequest(this.versions, request, await this.services.byId(idParam(rest[0]!)), rest.slice(2));
    const savedBy = savedByOf(caller.identity);
    return routeRecords(request, rest, 'service', {
      list: (query) => this.list(query),
      create: (payload, query) => this.create(payload, query, savedBy),
      one: (key, query) => (isSystem(key) ? Promise.resolve({ content: pickFields(SYSTEM_RECORD, list(query, 'fields')) }) : this.one(key, query)),
      update: (key, payload) => (isSystem(key) ? builtIn() : this.update(key, payload, savedBy)),
      remove: (key) => (isSystem(key) ? builtIn() : this.delete(key)),
    });
  }

  private async list(query: Query): Promise<SystemAnswer> {
    const ids = list(query, 'ids')?.map(idParam);
    const { services: rows, count } = await this.services.list({
      ids,
      where: filterWhere<Prisma.ServiceWhereInput>(query, filterable),
      limit: wholeNumber(query, 'limit') || undefined,
      offset: wholeNumber(query, 'offset'),
      order: order(query, sortable),
      withCount: flag(query, 'include_count'),
    });
    const fields = list(query, 'fields');
    const records: Record<string, unknown>[] = await mapInTurns(rows, (s) => pickFields(serviceRecord(s), fields));
    // The built-in service heads the first page of an unfiltered, unordered list, as in DreamFactory.
    const withSystem = !ids && !query.filter && !query.order && !wholeNumber(query, 'offset');
    if (withSystem) {
      records.unshift(pickFields(SYSTEM_RECORD, fields));
      const limit = wholeNumber(query, 'limit');
      if (limit && records.length > limit) records.length = limit;
    }
    return { content: { resource: records, ...(flag(query, 'include_count') ? { meta: { count: (count ?? 0) + (withSystem ? 1 : 0) } } : {}) }, rows };
  }

  /** `{resource: [...]}` (or an array) is a batch, all or none; one unwrapped record answers for itself, as in DreamFactory. */
  private async create(body: unknown, query: Query, savedBy: string): Promise<SystemAnswer> {
    const saved = (record: unknown): ServiceInput => ({ ...serviceInput(record), savedBy });
    const fields = list(query, 'fields');
    const created = (s: Service) => (fields ? pickFields(serviceRecord(s), fields) : { id: s.id });
    if (body && typeof body === 'object' && !Array.isArray(body) && !('resource' in body)) {
      const service = await this.services.create(saved(body));
      return { statusCode: 201, content: created(service), rows: [service] };
    }
    const records = body && typeof body === 'object' && !Array.isArray(body) ? (body as { resource: unknown }).resource : body;
    const batch = Array.isArray(records) ? records : [records];
    if (batch.length === 0 || records === null || records === undefined) throw badInput('No records given: send {"resource":[{...}]}.', 'resource');
    if (batch.length > MAX_BATCH_RECORDS) {
      throw badInput(`A batch may create at most ${MAX_BATCH_RECORDS} services; this one has ${batch.length}. Send it in parts.`, 'resource');
    }
    const services = await this.services.createMany(batch.map(saved));
    return { statusCode: 201, content: { resource: services.map(created) }, rows: services };
  }

  private async one(key: string, query: Query): Promise<SystemAnswer> {
    const service = await this.services.byId(idParam(key));
    return { content: pickFields(serviceRecord(service), list(query, 'fields')), rows: [service] };
  }

  private async update(key: string, body: unknown, savedBy: string): Promise<SystemAnswer> {
    const existing = await this.services.byId(idParam(key));
    const rollback = rollbackOf(body);
    const updated = rollback
      ? await this.versions.rollback(existing, rollback.version, { savedBy, message: rollback.message })
      : await this.services.update(existing, { ...serviceInput(body), savedBy });
    return { content: serviceRecord(updated), rows: [updated] };
  }

  private async delete(key: string): Promise<SystemAnswer> {
    const existing = await this.services.byId(idParam(key));
    await this.services.delete(existing);
    return { content: { id: existing.id }, rows: [existing] };
  }
}
