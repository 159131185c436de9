import type { SecretStore } from '../access/secrets.ts';
import { badInput } from '../domain/errors.ts';
import type { InvokeRequest } from '../domain/invoke.ts';
import type { SystemAnswer } from './component.ts';
import { methodNotAllowed } from './query.ts';

/**
 * `system/service/{id}/secret[/{name}]`, called by ServicesComponent for
 * `rest = [id, 'secret', ...names]` once it found the service:
 * GET lists names (`{resource: [{name}]}`), `PUT .../secret/{name}` with
 * `{value}` sets one (201 created, 200 replaced), DELETE removes one.
 * Values are write-only: nothing here ever answers one.
 */
export async function serviceSecretRequest(
  secrets: SecretStore,
  request: InvokeRequest,
  service: { id: number; name: string },
  names: string[],
): Promise<SystemAnswer> {
  const at = `system/service/${service.id}/secret`;
  if (names.length === 0) {
    if (request.method !== 'GET') throw methodNotAllowed(request.method, at);
    const list = await secrets.names(service.id);
    return { content: { resource: list.map((name) => ({ name })) } };
  }
  if (names.length > 1) throw badInput(`No resource "${request.resource}" in system.`);
  const name = names[0]!;
  switch (request.method) {
    case 'PUT':
    case 'POST': {
      const body = request.payload;
      if (body === null || typeof body !== 'object' || Array.isArray(body) || !('value' in body)) {
        throw badInput('Send the secret as {"value": "..."}.', 'value');
      }
      const created = await secrets.set(service.id, name, (body as { value: unknown }).value);
      return { statusCode: created ? 201 : 200, content: { name } };
    }
    case 'DELETE':
      await secrets.delete(service.id, name);
      return { content: { name } };
    case 'GET':
      throw methodNotAllowed('GET', `${at}/{name} (secret values are write-only; GET ${at} lists names)`);
    default:
      throw methodNotAllowed(request.method, `${at}/{name}`);
  }
}
