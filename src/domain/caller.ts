/** Who is calling, as the pipeline sees it (authentication happens at the edge). */
export interface Caller {
  requestor: 'API' | 'SCRIPT';
  /** How many `platform.api` hops led here (0 for an outside call). */
  depth: number;
  /** What started the run: "service" (REST), "graphql", "inline". */
  trigger: string;
  /** What scripts see as `platform.session`: never keys or tokens. */
  session: Record<string, unknown>;
}

/** One shared, frozen object, so the platform object scripts get can be reused across calls. */
const ADMIN_SESSION = Object.freeze({ user: Object.freeze({ is_sys_admin: true, name: 'administrator' }), app: null, role: null });

export function adminCaller(trigger: string): Caller {
  return { requestor: 'API', depth: 0, trigger, session: ADMIN_SESSION };
}
