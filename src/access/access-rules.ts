/**
 * DreamFactory's role matching, as a pure function (df-core
 * src/Utility/Session.php getServicePermissions, and its tests in
 * tests/RoleServiceAccessTest.php):
 *
 * - A row whose requestor mask lacks the caller's requestor (API 1, SCRIPT 2)
 *   is ignored, as if absent: it neither grants nor denies.
 * - The remaining rows fall into four levels; the most specific level that
 *   has any row decides alone, and within it the verb masks are OR'd:
 *   1. exact: the row's component equals the asked one (or both are the
 *      service root, '');
 *   2. component wildcard: `prefix/*` covers `prefix` and everything under
 *      it; and, when a component is asked, a lone `*` too (DreamFactory's
 *      code lands `*` here, so it adds to `prefix/*` rows rather than
 *      losing to them);
 *   3. service-wide: `*` when the service root itself is asked;
 *   4. every service (service null): `*` for anything, '' for roots only.
 * - More specific replaces, never adds: `*` allowing everything plus `app`
 *   allowing GET gives exactly GET on `app`.
 * - Components compare case-insensitively, without leading or trailing '/'.
 * - No row at any level: nothing is allowed.
 *
 * Rows name services by id (0 is the system API); ids are never reused, so a
 * row left for a deleted service can match nothing.
 */

export const VERB_MASKS = { GET: 1, POST: 2, PUT: 4, PATCH: 8, DELETE: 16 } as const;
export type Verb = keyof typeof VERB_MASKS;
export const ALL_VERBS = 31;

export const REQUESTOR_MASKS = { API: 1, SCRIPT: 2 } as const;
export type Requestor = keyof typeof REQUESTOR_MASKS;

/** The built-in system API's id in role rows (it has no Service row). */
export const SYSTEM_SERVICE_ID = 0;

export interface AccessRule {
  /** null: every service. */
  serviceId: number | null;
  component: string;
  verbMask: number;
  requestorMask: number;
}

/** '' for the root, otherwise lower-case without surrounding slashes. */
export function normalizeComponent(component: string): string {
  let start = 0;
  let end = component.length;
  while (start < end && component.charCodeAt(start) === 47) start++;
  while (end > start && component.charCodeAt(end - 1) === 47) end--;
  return component.slice(start, end).toLowerCase();
}

/** Rules as matching reads them: components normalized once, grouped by service. */
interface Compiled {
  byService: Map<number | null, CompiledRule[]>;
}

interface CompiledRule {
  component: string;
  /** For `prefix/*` and `*`: what `{asked}/` must start with ('' for `*`); null for an exact component. */
  wildcardPrefix: string | null;
  verbMask: number;
  requestorMask: number;
}

/** Compiled once per rules array (roles keep theirs for as long as they are cached). */
const compiledRules = new WeakMap<readonly AccessRule[], Compiled>();

function compile(rules: readonly AccessRule[]): Compiled {
  let compiled = compiledRules.get(rules);
  if (!compiled) {
    compiled = { byService: new Map() };
    for (const rule of rules) {
      const list = compiled.byService.get(rule.serviceId) ?? [];
      const component = normalizeComponent(rule.component);
      const star = component.indexOf('*');
      // DreamFactory's `substr(c.'/', 0, star).'*'` only ever matches a trailing star; any other star matches nothing.
      const wildcardPrefix = star >= 0 && star === component.length - 1 ? component.slice(0, star) : null;
      list.push({ component, wildcardPrefix, verbMask: rule.verbMask, requestorMask: rule.requestorMask });
      compiled.byService.set(rule.serviceId, list);
    }
    compiledRules.set(rules, compiled);
  }
  return compiled;
}

/** The verbs a role's rows allow on one service's component, for one requestor. */
export function permissionMask(rules: readonly AccessRule[], serviceId: number, component: string, requestor: Requestor): number {
  const asked = normalizeComponent(component);
  const askedWithSlash = `${asked}/`;
  const requestorBit = REQUESTOR_MASKS[requestor];
  const { byService } = compile(rules);
  let exact = -1;
  let wildcard = -1;
  let serviceWide = -1;
  for (const rule of byService.get(serviceId) ?? NONE) {
    if ((rule.requestorMask & requestorBit) === 0) continue;
    const own = rule.component;
    if (asked !== '') {
      if (own === asked) exact = (exact < 0 ? 0 : exact) | rule.verbMask;
      else if (rule.wildcardPrefix !== null && askedWithSlash.startsWith(rule.wildcardPrefix)) wildcard = (wildcard < 0 ? 0 : wildcard) | rule.verbMask;
    } else if (own === '') exact = (exact < 0 ? 0 : exact) | rule.verbMask;
    else if (own === '*') serviceWide = (serviceWide < 0 ? 0 : serviceWide) | rule.verbMask;
  }
  if (exact >= 0) return exact;
  if (wildcard >= 0) return wildcard;
  if (serviceWide >= 0) return serviceWide;
  let everyService = -1;
  for (const rule of byService.get(null) ?? NONE) {
    if ((rule.requestorMask & requestorBit) === 0) continue;
    if (rule.component === '*' || (rule.component === '' && asked === '')) everyService = (everyService < 0 ? 0 : everyService) | rule.verbMask;
  }
  return everyService >= 0 ? everyService : 0;
}

const NONE: readonly never[] = [];

/** Whether the rows allow `verb` (DreamFactory's names; anything else is never allowed). */
export function allows(rules: readonly AccessRule[], serviceId: number, component: string, verb: string, requestor: Requestor): boolean {
  const bit = Object.hasOwn(VERB_MASKS, verb) ? VERB_MASKS[verb as Verb] : 0;
  return bit !== 0 && (permissionMask(rules, serviceId, component, requestor) & bit) !== 0;
}
