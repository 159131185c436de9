import { createYoga } from 'graphql-yoga';
import type { Db } from '../db/client.ts';
import type { AdminKey } from '../domain/admin-key.ts';
import type { Platform } from '../domain/platform.ts';
import type { GraphQLContext } from './builder.ts';
import { maskError } from './plugins/domain-errors.ts';
import { useRequireAdminKey } from './plugins/require-admin-key.ts';
import { schema } from './schema.ts';

export function createGraphQL(platform: Platform, db: Db, adminKey: AdminKey) {
  const context: GraphQLContext = { platform, db };
  return createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    context: () => context,
    maskedErrors: { maskError },
    logging: false,
    graphiql: { title: 'Scriptgate', subscriptionsProtocol: 'WS' },
    plugins: [useRequireAdminKey(adminKey)],
  });
}

export type GraphQLServer = ReturnType<typeof createGraphQL>;

export { schema };
