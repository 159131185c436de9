import type { Plugin } from 'graphql-yoga';
import { AdminKey } from '../../domain/admin-key.ts';
import { unauthenticatedError } from './domain-errors.ts';

/**
 * Every GraphQL operation needs the administrator key. The GraphiQL page
 * itself (a browser GET for HTML) is static and served without one; its
 * requests carry the key the user enters in its headers tab.
 */
export function useRequireAdminKey(adminKey: AdminKey): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      const wantsGraphiQL = request.method === 'GET' && (request.headers.get('accept') ?? '').includes('text/html');
      if (wantsGraphiQL) return;
      const key = AdminKey.fromHeaders(Object.fromEntries(request.headers));
      if (adminKey.matches(key)) return;
      endResponse(
        new fetchAPI.Response(JSON.stringify({ errors: [unauthenticatedError().toJSON()] }), {
          status: 401,
          headers: { 'content-type': 'application/json; charset=utf-8' },
        }),
      );
    },
  };
}
