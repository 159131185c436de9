import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badInput } from '../domain/errors.ts';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.ts';
import { hasProtoKey } from './proto-keys.ts';

/**
 * Request bodies: JSON and forms are parsed for `event.request.payload`, and
 * every body is also kept as received for `event.request.content`.
 */
export function parseBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const keep = (request: FastifyRequest, body: string) => {
    request.rawBody = body;
  };
  app.addContentTypeParser(/^application\/([\w.-]+\+)?json/, { parseAs: 'string' }, (request, body, done) => {
    const text = String(body);
    keep(request, text);
    if (text.trim() === '') return done(null, null);
    if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
      return done(badInput(`The request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep.`, 'body'), undefined);
    }
    if (hasProtoKey(text)) return done(badInput('The request body has a "__proto__" key, which is not allowed.', 'body'), undefined);
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      done(badInput(`The request body is not valid JSON: ${(error as Error).message}`, 'body'), undefined);
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (request, body, done) => {
    keep(request, String(body));
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    keep(request, String(body));
    done(null, null);
  });
}
