import type { FastifyInstance } from 'fastify';
import type { GraphQLServer } from './yoga.ts';

/**
 * /graphql over HTTP and server-sent events. The body reaches Yoga as it was
 * sent: Yoga parses it and answers a bad one (invalid JSON, no query) with a
 * GraphQL-shaped error, where fastify's JSON parser would have answered its
 * own shape or handed Yoga an already-consumed stream.
 */
export async function graphqlRoute(app: FastifyInstance, yoga: GraphQLServer): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    scope.route({
      url: '/graphql',
      method: ['GET', 'POST', 'OPTIONS'],
      handler: async (request, reply) => {
        const response = await yoga.handleNodeRequestAndResponse(request, reply, {});
        response.headers.forEach((value, key) => reply.header(key, value));
        reply.status(response.status);
        reply.send(response.body);
        return reply;
      },
    });
  });
}
