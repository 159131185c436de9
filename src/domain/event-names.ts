// Event script names (contract section 4):
// `{service}.{resource segments}.{verb}.{phase}`, e.g. `orders.items.{id}.get.pre_process`.
import { badInput } from './errors.ts';

export const EVENT_VERBS = ['get', 'post', 'put', 'patch', 'delete'] as const;
export const EVENT_PHASES = ['pre_process', 'post_process', 'queued'] as const;
export type EventVerb = (typeof EVENT_VERBS)[number];
export type EventPhase = (typeof EVENT_PHASES)[number];

export interface EventName {
  /** The name as stored: service part lower-cased. */
  name: string;
  service: string;
  /** Resource segments; `{x}` is a template segment. */
  path: string[];
  verb: EventVerb;
  phase: EventPhase;
}

const SERVICE = /^[a-z0-9_-]{1,40}$/;
const LITERAL = /^[A-Za-z0-9_-]{1,100}$/;
const TEMPLATE = /^\{[A-Za-z_][A-Za-z0-9_]{0,39}\}$/;
const MAX_NAME = 400;

export const isTemplate = (segment: string) => segment.startsWith('{');

/** Parses a name, or refuses it naming the part that is wrong. */
export function parseEventName(raw: unknown): EventName {
  if (typeof raw !== 'string' || raw === '') {
    throw badInput('An event script name is required: {service}.{resource path with "/" as "."}.{verb}.{phase}, e.g. "orders.get.pre_process".', 'name');
  }
  if (raw.length > MAX_NAME) throw badInput(`An event script name has at most ${MAX_NAME} characters.`, 'name');
  const parts = raw.split('.');
  if (parts.length < 3) {
    throw badInput(`Event script name "${raw}" must be {service}.{resource...}.{verb}.{phase}, e.g. "orders.get.pre_process".`, 'name');
  }
  const phase = parts.pop()!.toLowerCase();
  const verb = parts.pop()!.toLowerCase();
  const service = parts.shift()!.toLowerCase();
  if (!(EVENT_PHASES as readonly string[]).includes(phase)) {
    throw badInput(`Event script name "${raw}": unknown phase "${phase}" (one of ${EVENT_PHASES.join(', ')}).`, 'name');
  }
  if (!(EVENT_VERBS as readonly string[]).includes(verb)) {
    throw badInput(`Event script name "${raw}": unknown verb "${verb}" (one of ${EVENT_VERBS.join(', ')}).`, 'name');
  }
  if (!SERVICE.test(service)) {
    throw badInput(`Event script name "${raw}": the service part "${service}" must be 1 to 40 letters, digits, "_" or "-".`, 'name');
  }
  for (const segment of parts) {
    if (!LITERAL.test(segment) && !TEMPLATE.test(segment)) {
      throw badInput(
        `Event script name "${raw}": resource segment "${segment}" must be letters, digits, "_" or "-", or a template like "{id}".`,
        'name',
      );
    }
  }
  return { name: [service, ...parts, verb, phase].join('.'), service, path: parts, verb: verb as EventVerb, phase: phase as EventPhase };
}

/** `items/{id}` into segments; templates a service declares in `config.paths`. */
export function templateSegments(template: string): string[] {
  return template.split('/').filter(Boolean);
}

/**
 * Whether a name's path matches the start of a request's resource segments
 * (a name fires for its resource and everything under it). A template
 * segment matches any one segment; its value lands in `params`.
 */
export function matchPath(pattern: readonly string[], resource: readonly string[], params: Record<string, string>): boolean {
  if (pattern.length > resource.length) return false;
  for (let i = 0; i < pattern.length; i++) {
    const segment = pattern[i]!;
    if (isTemplate(segment)) params[segment.slice(1, -1)] = resource[i]!;
    else if (segment !== resource[i]) return false;
  }
  return true;
}

/**
 * Generic before specific: shorter paths first, and at one length the more
 * templated first (`items.{id}` before `items.7`).
 */
export function genericFirst(a: { path: readonly string[] }, b: { path: readonly string[] }): number {
  if (a.path.length !== b.path.length) return a.path.length - b.path.length;
  const templates = (p: readonly string[]) => p.filter(isTemplate).length;
  return templates(b.path) - templates(a.path);
}

/** Every name a request on `templates` could fire, for the `events` listing. */
export function eventNamesFor(service: string, templates: readonly string[][]): string[] {
  const paths = new Map<string, string[]>([['', []]]);
  for (const template of templates) {
    for (let i = 1; i <= template.length; i++) paths.set(template.slice(0, i).join('.'), template.slice(0, i));
  }
  const names: string[] = [];
  for (const path of paths.values()) {
    for (const verb of EVENT_VERBS) for (const phase of EVENT_PHASES) names.push([service, ...path, verb, phase].join('.'));
  }
  return names;
}
