import cors, { type FastifyCorsOptions } from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import type { HttpSettings } from '../config.ts';

/**
 * Cross-origin access, one setting for REST and GraphQL (CORS_ORIGINS).
 * Empty: nothing is registered, so no Access-Control-* header is ever sent
 * and an OPTIONS request reaches its route (a scripted service may answer
 * it). Configured: preflights are answered here, before the key check
 * (browsers send them without credentials) and without running a script;
 * only listed origins are reflected, with credentials; `*` allows any
 * origin, without credentials. An OPTIONS that is not a preflight (no
 * Access-Control-Request-Method) still reaches its route.
 */
export async function registerCors(app: FastifyInstance, settings: HttpSettings): Promise<void> {
  if (settings.corsOrigins.length === 0) return;
  const anyOrigin = settings.corsOrigins.includes('*');
  const allowed: FastifyCorsOptions = {
    origin: anyOrigin ? '*' : [...settings.corsOrigins],
    credentials: !anyOrigin,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    exposedHeaders: ['X-Execution-Id', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'],
    maxAge: 600,
  };
  const notPreflight: FastifyCorsOptions = { origin: false };
  await app.register(cors, {
    delegator: (request, callback) => {
      const isPlainOptions = request.method === 'OPTIONS' && request.headers['access-control-request-method'] === undefined;
      callback(null, isPlainOptions ? notPreflight : allowed);
    },
  });
}
