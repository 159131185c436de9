import type { Identity } from '../access/caller-identity.ts';
import { ADMIN_IDENTITY } from '../access/caller-identity.ts';
import { AdminKey } from '../domain/admin-key.ts';
import type { Platform } from '../domain/platform.ts';

/**
 * The key a request carries: `X-DreamFactory-API-Key`, `Authorization:
 * Bearer`, `X-DreamFactory-Session-Token`, or the `api_key` query parameter
 * (as DreamFactory allows; it never reaches scripts or the request log).
 */
export function keyOf(headers: Record<string, string | string[] | undefined>, query?: unknown): string | null {
  const fromHeaders = AdminKey.fromHeaders(headers);
  if (fromHeaders) return fromHeaders;
  const apiKey = (query as { api_key?: unknown } | undefined)?.api_key;
  return typeof apiKey === 'string' && apiKey ? apiKey : null;
}

/**
 * The one `authenticate` of every door (REST, GraphQL over HTTP and
 * WebSocket): known app keys and the administrator key are answered
 * synchronously (no promise on the hot path), anything else through the app
 * catalog and the guest role.
 */
export function authenticate(platform: Platform, adminKey: AdminKey, key: string | null): Identity | Promise<Identity> {
  if (!key) return platform.authenticator.authenticate(null);
  // A known app key first: it was compared with the administrator's when it became known.
  const known = platform.authenticator.knownIdentity(key);
  if (known) return known;
  if (adminKey.matches(key)) return ADMIN_IDENTITY;
  return platform.authenticator.authenticate(key, true);
}

/** `api_key=...` out of a URL, for the request log. */
export function withoutApiKey(url: string): string {
  return url.includes('api_key=') ? url.replace(/([?&]api_key=)[^&]*/g, '$1[hidden]') : url;
}
