import { badInput } from '../domain/errors.ts';

/** DreamFactory list parameters: fields, ids, limit, offset, order, include_count. */
export type Query = Record<string, string | string[] | undefined>;

export function one(query: Query, name: string): string | undefined {
  const value = query[name];
  return Array.isArray(value) ? value[value.length - 1] : value;
}

export function wholeNumber(query: Query, name: string): number | undefined {
  const raw = one(query, name);
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw badInput(`Parameter "${name}" must be a whole number, got "${raw}".`, name);
  return value;
}

export function flag(query: Query, name: string): boolean {
  const raw = one(query, name);
  return raw !== undefined && ['true', '1', ''].includes(raw.toLowerCase());
}

export function list(query: Query, name: string): string[] | undefined {
  const raw = one(query, name);
  if (raw === undefined || raw === '') return undefined;
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

/** `fields=a,b` picks keys of each record; `*` or nothing keeps all. */
export function pickFields<T extends Record<string, unknown>>(record: T, fields: string[] | undefined): Partial<T> {
  if (!fields || fields.includes('*')) return record;
  return Object.fromEntries(fields.filter((f) => Object.hasOwn(record, f)).map((f) => [f, record[f]])) as Partial<T>;
}

/** `name desc` / `id ASC`, checked against the fields a resource can sort by. */
export function order<F extends string>(query: Query, allowed: Record<string, F>) {
  const raw = one(query, 'order');
  if (!raw) return undefined;
  const match = /^\s*([A-Za-z_]+)(?:\s+(asc|desc))?\s*$/i.exec(raw);
  const field = match ? allowed[match[1]!.toLowerCase()] : undefined;
  if (!match || !field) throw badInput(`Parameter "order" must be a field (${Object.keys(allowed).join(', ')}) with optional ASC or DESC.`, 'order');
  return { field, direction: (match[2]?.toLowerCase() ?? 'asc') as 'asc' | 'desc' };
}

/** The simple DreamFactory filters: `field=value`, `field = 'value'`, optionally in parentheses, joined by AND. */
export function filter(query: Query, allowed: readonly string[]): Record<string, string> {
  const raw = one(query, 'filter');
  if (!raw) return {};
  const result: Record<string, string> = {};
  for (const part of raw.split(/\s+and\s+/i)) {
    const match = /^\s*\(?\s*([A-Za-z_]+)\s*=\s*(?:'([^']*)'|"([^"]*)"|([^\s)]+))\s*\)?\s*$/.exec(part);
    if (!match || !allowed.includes(match[1]!.toLowerCase())) {
      throw badInput(`Parameter "filter" supports field=value on ${allowed.join(', ')}, joined by AND; got "${raw}".`, 'filter');
    }
    result[match[1]!.toLowerCase()] = match[2] ?? match[3] ?? match[4]!;
  }
  return result;
}
