import type { AdminKey } from '../domain/admin-key.ts';
import type { EventBus } from '../logs/bus.ts';
import { DomainError } from '../domain/errors.ts';
import { allows, type Requestor } from './access-rules.ts';
import type { AppCatalog, AppIdentity } from './apps.ts';
import type { Role, RoleCatalog } from './roles.ts';

/** Who a request is, decided once at the edge from its key. */
export type Identity = { kind: 'admin' } | { kind: 'app'; app: AppIdentity; role: Role } | { kind: 'guest'; role: Role };

export const ADMIN_IDENTITY: Identity = Object.freeze({ kind: 'admin' });

/** An identity as a queued run stores it: ids only, resolved again when the run starts. */
export type SavedIdentity = { kind: 'admin' } | { kind: 'app'; appId: number } | { kind: 'guest'; roleId: number };

export function saveIdentity(identity: Identity): SavedIdentity {
  if (identity.kind === 'app') return { kind: 'app', appId: identity.app.id };
  if (identity.kind === 'guest') return { kind: 'guest', roleId: identity.role.id };
  return { kind: 'admin' };
}

/**
 * Resolves a key (or none) to an identity: the administrator key, an app's
 * key (its role), or, without a key, the guest role when GUEST_ROLE names an
 * existing, active role. A wrong key is 401 even with a guest role: a client
 * that sends a key wants that key checked.
 */
/** App keys whose identity is kept for the request path; past it, keys are resolved each time. */
const MAX_KNOWN_KEYS = 10_000;

export class Authenticator {
  /**
   * Valid app keys and who they are, so a known key costs one map lookup and
   * no promise. Dropped whole on any app or role change (on every instance,
   * through the change notices), so rotation and deactivation cut off at once.
   * Wrong keys are never kept.
   */
  private readonly known = new Map<string, Identity>();

  constructor(
    private readonly adminKey: AdminKey,
    private readonly apps: AppCatalog,
    private readonly roles: RoleCatalog,
    private readonly guestRoleName: string | null,
    bus: EventBus,
  ) {
    bus.onAccessChanged(() => this.known.clear());
  }

  /** A key's identity when it is known: the request path's synchronous case. */
  knownIdentity(key: string): Identity | undefined {
    return this.known.get(key);
  }

  /** `adminChecked`: the caller already compared the key with the administrator's (spares a second hash). */
  async authenticate(key: string | null, adminChecked = false): Promise<Identity> {
    if (!key) return this.guest();
    if (!adminChecked && this.adminKey.matches(key)) return ADMIN_IDENTITY;
    const app = await this.apps.byKey(key);
    if (!app) throw unauthenticated('Invalid API key.');
    if (!app.isActive) throw unauthenticated(`App "${app.name}" is deactivated.`);
    const role = await this.roles.forRequest(app.roleId);
    // Apps cannot lose their role (Restrict), but a role deleted between the two reads must not open anything.
    if (!role) throw unauthenticated(`App "${app.name}" has no role.`);
    const identity: Identity = { kind: 'app', app, role };
    if (this.known.size < MAX_KNOWN_KEYS) this.known.set(key, identity);
    return identity;
  }

  /**
   * A stored identity as it is now (a queued run starts later): null when the
   * app or role is gone or inactive, so the run's calls get no rights.
   */
  async restore(saved: SavedIdentity): Promise<Identity | null> {
    if (saved.kind === 'admin') return ADMIN_IDENTITY;
    if (saved.kind === 'guest') {
      const role = await this.roles.forRequest(saved.roleId);
      return role && role.isActive ? { kind: 'guest', role } : null;
    }
    const app = await this.apps.identityById(saved.appId);
    const role = app && app.isActive ? await this.roles.forRequest(app.roleId) : null;
    return app && role ? { kind: 'app', app, role } : null;
  }

  private async guest(): Promise<Identity> {
    const role = this.guestRoleName === null ? null : await this.roles.forRequestByName(this.guestRoleName);
    if (!role || !role.isActive) throw unauthenticated('No API key given: send X-DreamFactory-API-Key.');
    return { kind: 'guest', role };
  }
}

/**
 * Whether an identity may call `verb` on a service's component. The
 * administrator may do anything; a role must be active and grant it
 * (see access-rules.ts for DreamFactory's precedence).
 */
export function identityAllows(identity: Identity, serviceId: number, component: string, verb: string, requestor: Requestor): boolean {
  if (identity.kind === 'admin') return true;
  return identity.role.isActive && allows(identity.role.access, serviceId, component, verb, requestor);
}

/** DreamFactory's 403 message, naming the verb, component and service. */
export function forbidden(verb: string, serviceName: string, component: string): DomainError {
  const what = component ? `component '${component}' of service '${serviceName}'` : `service '${serviceName}'`;
  return new DomainError('FORBIDDEN', `${verb} access to ${what} is not allowed by this key's role.`, {
    verb,
    service: serviceName,
    component,
  });
}

function unauthenticated(message: string): DomainError {
  return new DomainError('UNAUTHENTICATED', message);
}
