import type { GraphQLError } from 'graphql';
import { createYoga } from 'graphql-yoga';
import type { Db } from '../db/client.ts';
import type { Identity } from '../access/caller-identity.ts';
import { callerFor } from '../domain/caller.ts';
import { DomainError } from '../domain/errors.ts';
import type { Platform } from '../domain/platform.ts';
import type { GraphQLContext } from './builder.ts';
import { maskError } from './plugins/domain-errors.ts';
import { useOperationAccess } from './plugins/operation-access.ts';
import { useParameterErrors, useRequestLimits } from './plugins/limits.ts';
import { schema } from './schema.ts';
import { RequestScope } from './request-scope.ts';
import { renderGraphiQL } from './graphiql.ts';
import { useSubscriptionFanout } from './subscription-fanout.ts';
import { LiveSchema, useLiveSchema } from './service-fields/live-schema.ts';
import { ServiceSchemas } from './service-fields/schemas.ts';
import { TypedFieldPlans, useTypedFieldPlans } from './typed-field-plans.ts';

const GRAPHIQL_START = `# Scriptgate: paste the administrator key into the header below, then run.
query Overview {
  scriptTypes { name available version }
  services(first: 20) {
    edges { node { name type isActive } }
    pageInfo { hasNextPage endCursor }
  }
}

# mutation Try {
#   runScript(script: { type: "javascript", content: "return { hello: 'world' }" }) { statusCode content executionId }
# }
`;

/** `onUnexpected`: errors thrown by code rather than by the domain, masked for clients, logged here. */
export function createGraphQL(platform: Platform, db: Db, onUnexpected: (error: unknown) => void) {
  // The platform's schema plus every service's typed fields, rebuilt as services change (src/graphql/service-fields/).
  const live = new LiveSchema(new ServiceSchemas(schema), db, platform.bus, {
    onSkipped: (service, reason) => onUnexpected(new Error(`Service "${service}"'s GraphQL definition is left out of the schema: ${reason}`)),
    onError: onUnexpected,
  });
  platform.services.useGraphQL(live);
  // Every door authenticates before Yoga runs anything (src/graphql/http-route.ts, websocket.ts) and passes who it is.
  const contextOf = (identity: Identity | null | undefined): GraphQLContext => {
    if (!identity) throw new DomainError('UNAUTHENTICATED', 'No API key given: send X-DreamFactory-API-Key.');
    return { platform, db, scope: new RequestScope(), caller: callerFor(identity, 'graphql') };
  };
  const masked = (error: unknown, message: string, isDev?: boolean) => maskError(error, message, isDev, onUnexpected);
  const plans = new TypedFieldPlans();
  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    context: (initial): GraphQLContext => contextOf(initial.identity as Identity | null | undefined),
    maskedErrors: { maskError: masked },
    logging: false,
    // The route's bodyLimit bounds the body before Yoga sees it (http-route.ts); Yoga's own limit re-read every body
    // through a stream pipeline (a third of a __typename request's time), where the string body is read directly.
    maxRequestBodySize: false,
    graphiql: {
      title: 'Scriptgate',
      // Server-sent events carry the header editor's key; a browser WebSocket cannot send headers.
      subscriptionsProtocol: 'SSE',
      // Every operation needs the key: the header is there to fill in.
      headers: JSON.stringify({ 'X-DreamFactory-API-Key': '' }, null, 2),
      // The administrator key stays out of localStorage (it would outlive the tab); the settings dialog can opt in.
      shouldPersistHeaders: false,
      defaultQuery: GRAPHIQL_START,
    },
    // Assets from @graphql-yoga/graphiql served by us, not a CDN (src/graphql/graphiql.ts); `query` fills the first tab.
    renderGraphiQL: (options) => renderGraphiQL({ ...options, query: GRAPHIQL_START }),
    // CORS is one setting for every route, answered by @fastify/cors (src/server.ts); Yoga's reflects any origin.
    cors: false,
    // The fan-out last: it replaces the subscribe function once every check before it passed.
    plugins: [
      useLiveSchema(live),
      useParameterErrors(),
      ...useRequestLimits(),
      useOperationAccess(),
      useTypedFieldPlans(plans),
      useSubscriptionFanout((error, message) => masked(error, message)),
    ],
  });
  // Yoga's default message and isDev (unset), as its masked-errors plugin calls it.
  plannedOperations.set(yoga, { live, plans, contextOf, maskError: (error) => masked(error, 'Unexpected error.') as GraphQLError });
  return yoga;
}

export type GraphQLServer = ReturnType<typeof createGraphQL>;

/** The live schema, and what the JSON door needs to run a planned operation (src/graphql/typed-field-plans.ts) as Yoga would. */
export interface PlannedOperations {
  live: LiveSchema;
  plans: TypedFieldPlans;
  contextOf: (identity: Identity) => GraphQLContext;
  maskError: (error: GraphQLError) => GraphQLError;
}
const plannedOperations = new WeakMap<object, PlannedOperations>();

export function plannedOperationsOf(yoga: GraphQLServer): PlannedOperations | undefined {
  return plannedOperations.get(yoga);
}

/** Resolves once the server's first schema, with the services' fields, is built (before it takes requests). */
export function graphqlReady(yoga: GraphQLServer): Promise<void> {
  return plannedOperations.get(yoga)?.live.ready ?? Promise.resolve();
}

export { schema };
