import type { FastifyInstance } from 'fastify';
import { AdminKey } from '../domain/admin-key.ts';
import { DomainError } from '../domain/errors.ts';
import type { Platform } from '../domain/platform.ts';
import { sendError } from '../http/error-reply.ts';
import type { BodyLimits } from '../http/body-limits.ts';
import { endpointRoutes } from './endpoint-routes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body as received, for scripts' `event.request.content`. */
    rawBody?: string;
  }
}

/** The DreamFactory-compatible REST layer under /api/v2. */
export async function registerRest(app: FastifyInstance, platform: Platform, adminKey: AdminKey, limits: BodyLimits): Promise<void> {
  await app.register(async (api) => {
    // A callback hook, not an async one: it runs on every request.
    api.addHook('onRequest', (request, reply, done) => {
      if (adminKey.matches(AdminKey.fromHeaders(request.headers))) return done();
      sendError(reply, new DomainError('UNAUTHENTICATED', 'An API key is required: send X-DreamFactory-API-Key or Authorization: Bearer.'));
    });
    endpointRoutes(api, platform, limits.serviceWrite);
  });
}
