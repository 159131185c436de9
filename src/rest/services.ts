import type { FastifyInstance } from 'fastify';
import { badInput } from '../domain/errors.ts';
import type { Platform } from '../domain/platform.ts';
import type { Service, ServiceInput } from '../domain/services.ts';
import { resourceJson } from './resource-json.ts';
import { filter, flag, integerIn, list, MAX_INT32, order, pickFields, wholeNumber, type Query } from './query.ts';

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
    config: { ...(service.config as Record<string, unknown>), content: service.content },
  };
}

/** DreamFactory's snake_case record into the domain's input. */
function serviceInput(body: unknown): ServiceInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badInput('Each service record must be a JSON object.');
  const record = body as Record<string, unknown>;
  return {
    name: record.name,
    label: record.label,
    description: record.description,
    type: record.type,
    isActive: record.is_active ?? record.isActive,
    content: record.content,
    config: record.config,
  };
}

const sortable = { id: 'id', name: 'name', label: 'label', type: 'type', created_date: 'createdAt', last_modified_date: 'updatedAt' } as const;

/** A service id is the database's 32-bit INTEGER. */
function idParam(raw: string): number {
  return integerIn(raw, 'id', 1, MAX_INT32, 'Service id');
}

export function serviceRoutes(app: FastifyInstance, platform: Platform, writeBodyLimit: number): void {
  const { services } = platform;

  app.get<{ Querystring: Query }>('/api/v2/system/service', async (request, reply) => {
    const query = request.query;
    const ids = list(query, 'ids')?.map(idParam);
    const where = filter(query, ['name', 'type', 'id']);
    const { services: rows, count } = await services.list({
      ids: where.id ? [idParam(where.id), ...(ids ?? [])] : ids,
      name: where.name,
      type: where.type,
      limit: wholeNumber(query, 'limit') || undefined,
      offset: wholeNumber(query, 'offset'),
      order: order(query, sortable),
    });
    const fields = list(query, 'fields');
    const body = await resourceJson(rows, (s) => pickFields(serviceRecord(s), fields), flag(query, 'include_count') ? { meta: { count } } : {});
    return reply.type('application/json; charset=utf-8').send(body);
  });

  app.post<{ Querystring: Query }>('/api/v2/system/service', { bodyLimit: writeBodyLimit }, async (request, reply) => {
    const body = request.body as unknown;
    const records =
      body && typeof body === 'object' && !Array.isArray(body) && 'resource' in body ? (body as { resource: unknown }).resource : body;
    const batch = Array.isArray(records) ? records : [records];
    if (batch.length === 0) throw badInput('No records given: send {"resource":[{...}]}.', 'resource');
    if (batch.length > MAX_BATCH_RECORDS) {
      throw badInput(`A batch may create at most ${MAX_BATCH_RECORDS} services; this one has ${batch.length}. Send it in parts.`, 'resource');
    }
    const created = await services.createMany(batch.map(serviceInput));
    const fields = list(request.query, 'fields');
    reply.status(201);
    return { resource: created.map((s) => (fields ? pickFields(serviceRecord(s), fields) : { id: s.id })) };
  });

  app.get<{ Params: { id: string }; Querystring: Query }>('/api/v2/system/service/:id', async (request) => {
    const service = await services.byId(idParam(request.params.id));
    return pickFields(serviceRecord(service), list(request.query, 'fields'));
  });

  const update = async (request: { params: { id: string }; body: unknown }) => {
    const existing = await services.byId(idParam(request.params.id));
    return serviceRecord(await services.update(existing, serviceInput(request.body)));
  };
  app.patch<{ Params: { id: string } }>('/api/v2/system/service/:id', { bodyLimit: writeBodyLimit }, update);
  app.put<{ Params: { id: string } }>('/api/v2/system/service/:id', { bodyLimit: writeBodyLimit }, update);

  app.delete<{ Params: { id: string } }>('/api/v2/system/service/:id', async (request) => {
    const existing = await services.byId(idParam(request.params.id));
    await services.delete(existing);
    return { id: existing.id };
  });
}
