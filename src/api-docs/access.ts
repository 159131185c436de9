import { ALL_VERBS, permissionMask, REQUESTOR_MASKS, VERB_MASKS, type Verb } from '../access/access-rules.ts';
import type { Identity } from '../access/caller-identity.ts';

/**
 * Who sees which docs, as DreamFactory's api_docs service decides it
 * (df-apidoc Swagger.php): a service's document and its place in the list
 * need some grant on that service (any verb, any component, for API calls);
 * the document then holds only the operations the caller's role allows.
 * The administrator sees everything. No grant on `api_docs` itself is
 * needed: it has no service row here.
 */
export function canSeeService(identity: Identity, serviceId: number): boolean {
  if (identity.kind === 'admin') return true;
  if (!identity.role.isActive) return false;
  return identity.role.access.some(
    (row) => (row.serviceId === serviceId || row.serviceId === null) && (row.requestorMask & REQUESTOR_MASKS.API) !== 0 && (row.verbMask & ALL_VERBS) !== 0,
  );
}

/** Whether an operation shows: the role allows its verb on the path as a component (`service/{id}` matches `service/*` and `*` rows). */
export type OperationFilter = (path: string, method: string) => boolean;

export function operationFilter(identity: Identity, serviceId: number): OperationFilter | null {
  if (identity.kind === 'admin') return null;
  const rules = identity.role.access;
  return (path, method) => {
    const verb = method.toUpperCase();
    if (!Object.hasOwn(VERB_MASKS, verb)) return false;
    return (permissionMask(rules, serviceId, path, 'API') & VERB_MASKS[verb as Verb]) !== 0;
  };
}
