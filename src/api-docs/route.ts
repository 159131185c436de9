import type { FastifyReply, FastifyRequest } from 'fastify';
import { SYSTEM_SERVICE_ID } from '../access/access-rules.ts';
import type { Identity } from '../access/caller-identity.ts';
import { DomainError, notFound } from '../domain/errors.ts';
import type { Platform } from '../domain/platform.ts';
import { canSeeService, operationFilter } from './access.ts';
import { serviceDocument, systemDocument, type OpenApiDocument } from './documents.ts';

/** The system service as DreamFactory lists it. */
const SYSTEM_ENTRY = { name: 'system', label: 'System Management', description: 'Service for managing system resources.', type: 'system' };
/** Service names as they are stored; anything else (`..`, encodings of `/`) names no document. */
const SERVICE_NAME = /^[a-z0-9_-]{1,40}$/;
/** Services read per page while listing (their scripts come along; pages bound the memory). */
const SERVICES_PER_PAGE = 200;

type DocsRequest = FastifyRequest<{ Params: { '*'?: string } }>;

/**
 * `/api/v2/api_docs`: GET lists the services whose documents the caller may
 * read (`{resource: [{name, label, description, type}]}`, system first);
 * GET `/api/v2/api_docs/{service}` answers that service's OpenAPI document.
 * Answered here rather than through the invocation pipeline: it documents
 * endpoints, it is not one (no event scripts, not reachable from
 * `platform.api`). The key hook and rate limits of /api/v2 apply as usual.
 */
export function apiDocsHandler(platform: Platform) {
  return async (request: DocsRequest, reply: FastifyReply): Promise<FastifyReply> => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      throw new DomainError('BAD_INPUT', `${request.method} is not supported on api_docs: it is read-only.`, null, { status: 405 });
    }
    const identity = request.identity!;
    const segments = (request.params['*'] ?? '').split('/').filter(Boolean);
    reply.header('cache-control', 'no-store');
    if (segments.length === 0) return reply.send({ resource: await listFor(platform, identity) });
    const name = segments[0]!.toLowerCase();
    if (segments.length > 1 || !SERVICE_NAME.test(name)) {
      // The path is not quoted back: it is whatever a client sent.
      throw notFound('No API docs there: ask for api_docs/{service}, with the name of a service.');
    }
    return reply.send(await documentFor(platform, identity, name));
  };
}

async function documentFor(platform: Platform, identity: Identity, name: string): Promise<OpenApiDocument> {
  if (name === 'system') {
    if (!canSeeService(identity, SYSTEM_SERVICE_ID)) throw noAccess(name);
    return systemDocument(operationFilter(identity, SYSTEM_SERVICE_ID));
  }
  const service = platform.services.cached(name) ?? (await platform.services.byName(name));
  // As calling it would answer: resolve, then the deactivated service, then access.
  if (!service.isActive) throw new DomainError('FORBIDDEN', `Service ${service.name} is deactivated.`);
  if (!canSeeService(identity, service.id)) throw noAccess(service.name);
  return serviceDocument(service, operationFilter(identity, service.id));
}

async function listFor(platform: Platform, identity: Identity) {
  const entries: (typeof SYSTEM_ENTRY)[] = canSeeService(identity, SYSTEM_SERVICE_ID) ? [SYSTEM_ENTRY] : [];
  for (let offset = 0; ; offset += SERVICES_PER_PAGE) {
    const { services } = await platform.services.list({ limit: SERVICES_PER_PAGE, offset });
    for (const service of services) {
      if (service.isActive && canSeeService(identity, service.id)) {
        entries.push({ name: service.name, label: service.label, description: service.description ?? '', type: service.type });
      }
    }
    if (services.length < SERVICES_PER_PAGE) return entries;
  }
}

function noAccess(service: string): DomainError {
  return new DomainError('FORBIDDEN', `This key's role has no access to service '${service}', so none to its API docs.`, { service });
}
