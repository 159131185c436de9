import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import type { Identity } from '../access/caller-identity.ts';
import type { AdminKey } from '../domain/admin-key.ts';
import type { Platform } from '../domain/platform.ts';
import { authenticate, keyOf } from '../http/credentials.ts';
import { sendError, toDomainError } from '../http/error-reply.ts';
import type { BodyLimits } from '../http/body-limits.ts';
import { endpointRoutes } from './endpoint-routes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body as received, for scripts' `event.request.content`. */
    rawBody?: string;
    /** Who the request is, decided by the key it carries. */
    identity?: Identity;
  }
}

/** The DreamFactory-compatible REST layer under /api/v2. */
export async function registerRest(
  app: FastifyInstance,
  platform: Platform,
  adminKey: AdminKey,
  limits: BodyLimits,
  /** Rate limits (src/http/rate-limit.ts): runs after the key hook, which it needs. */
  rateLimit?: onRequestHookHandler,
): Promise<void> {
  await app.register(async (api) => {
    // A callback hook, not an async one: it runs on every request, and the administrator's costs no promise.
    api.addHook('onRequest', (request, reply, done) => {
      const identity = authenticate(platform, adminKey, keyOf(request.headers, request.query));
      if (!(identity instanceof Promise)) {
        request.identity = identity;
        return done();
      }
      identity.then(
        (found) => {
          request.identity = found;
          done();
        },
        (error: unknown) => sendError(reply, toDomainError(error)),
      );
    });
    // After the key hook (same scope, registration order): a wrong key is 401 and never counted; a 429 comes before the body is parsed.
    if (rateLimit) api.addHook('onRequest', rateLimit);
    endpointRoutes(api, platform, limits.serviceWrite);
  });
}
