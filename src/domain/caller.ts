import { ADMIN_IDENTITY, type Identity } from '../access/caller-identity.ts';

/** Who is calling, as the pipeline sees it (authentication happens at the edge). */
export interface Caller {
  /** Decided once at the edge from the request's key: admin, an app with its role, or the guest role. */
  identity: Identity;
  requestor: 'API' | 'SCRIPT';
  /** How many `platform.api` hops led here (0 for an outside call). */
  depth: number;
  /** What started the run: "service" (REST), "graphql", "inline", "event", "queued". */
  trigger: string;
  /** What scripts see as `platform.session`: never keys or tokens. */
  session: Record<string, unknown>;
  /** The run whose `platform.api` call this is (its execution id); absent for a call from outside. */
  parentExecutionId?: string | null;
}

type Session = Readonly<Record<string, unknown>>;

/**
 * One frozen session object per identity and requestor, so the platform
 * object a script gets can be reused across calls (engines skip re-sending it).
 */
const sessions = new WeakMap<object, { role: object | null; API: Session; SCRIPT: Session }>();

function sessionOf(identity: Identity, requestor: Caller['requestor']): Session {
  const owner = identity.kind === 'app' ? identity.app : identity.kind === 'guest' ? identity.role : identity;
  const role = identity.kind === 'admin' ? null : identity.role;
  let known = sessions.get(owner);
  if (!known || known.role !== role) {
    const make = (requestor: Caller['requestor']): Session =>
      Object.freeze({
        user: identity.kind === 'admin' ? Object.freeze({ is_sys_admin: true, name: 'administrator' }) : null,
        app: identity.kind === 'app' ? Object.freeze({ id: identity.app.id, name: identity.app.name }) : null,
        role: identity.kind === 'admin' ? null : Object.freeze({ id: identity.role.id, name: identity.role.name }),
        requestor,
      });
    known = { role, API: make('API'), SCRIPT: make('SCRIPT') };
    sessions.set(owner, known);
  }
  return known[requestor];
}

export function callerFor(identity: Identity, trigger: string): Caller {
  return { identity, requestor: 'API', depth: 0, trigger, session: sessionOf(identity, 'API') };
}

/** The same caller one `platform.api` hop further: checked as requestor SCRIPT. */
export function scriptCallerOf(caller: Caller): Caller {
  return { ...caller, requestor: 'SCRIPT', depth: caller.depth + 1, session: sessionOf(caller.identity, 'SCRIPT') };
}

export function adminCaller(trigger: string): Caller {
  return callerFor(ADMIN_IDENTITY, trigger);
}
