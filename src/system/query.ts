import { badInput, DomainError } from '../domain/errors.ts';
import { parseFilter } from './filter/syntax.ts';
import { toWhere, type FilterFields } from './filter/to-where.ts';

/** DreamFactory list parameters: fields, ids, limit, offset, order, include_count. */
export type Query = Record<string, string | string[] | undefined>;

export function one(query: Query, name: string): string | undefined {
  const value = query[name];
  return Array.isArray(value) ? value[value.length - 1] : value;
}

/** The largest value an integer parameter or id may take: the databases' 32-bit INTEGER (PostgreSQL refuses more). */
export const MAX_INT32 = 2 ** 31 - 1;

/** A whole number from `min` to `max` (digits only: "1e3", "0x10" and " 7" are refused, not read as numbers). */
export function integerIn(raw: string, name: string, min: number, max: number, what = `Parameter "${name}"`): number {
  const value = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) throw badInput(`${what} must be a whole number from ${min} to ${max}, got "${clip(raw)}".`, name);
  return value;
}

export function wholeNumber(query: Query, name: string, max = MAX_INT32): number | undefined {
  const raw = one(query, name);
  if (raw === undefined || raw === '') return undefined;
  return integerIn(raw, name, 0, max);
}

/** Client text quoted back in an error, kept short. */
export function clip(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export function flag(query: Query, name: string): boolean {
  const raw = one(query, name);
  return raw !== undefined && ['true', '1', ''].includes(raw.toLowerCase());
}

/** A comma list of at most `max` items. */
export function list(query: Query, name: string, max = 1000): string[] | undefined {
  const raw = one(query, name);
  if (raw === undefined || raw === '') return undefined;
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length > max) throw badInput(`Parameter "${name}" lists ${items.length} items; at most ${max} are allowed.`, name);
  return items;
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
  const field = match && Object.hasOwn(allowed, match[1]!.toLowerCase()) ? allowed[match[1]!.toLowerCase()] : undefined;
  if (!match || !field) throw badInput(`Parameter "order" must be a field (${Object.keys(allowed).join(', ')}) with optional ASC or DESC, got "${clip(raw)}".`, 'order');
  return { field, direction: (match[2]?.toLowerCase() ?? 'asc') as 'asc' | 'desc' };
}

/**
 * `filter=` in DreamFactory's grammar (src/system/filter/filter.peggy) as a
 * Prisma `where` over `fields`; undefined when there is no filter.
 */
export function filterWhere<W>(query: Query, fields: FilterFields): W | undefined {
  const raw = one(query, 'filter');
  if (raw === undefined || raw.trim() === '') return undefined;
  return toWhere<W>(parseFilter(raw), fields);
}

/**
 * The equality-only form some resources still take: `field=value` on
 * `allowed` fields, joined by AND. Parsed by the full grammar, so quoted
 * values may hold spaces and "and".
 */
export function filter(query: Query, allowed: readonly string[]): Record<string, string> {
  const raw = one(query, 'filter');
  if (!raw) return {};
  const refuse = () => badInput(`Parameter "filter" supports field=value on ${allowed.join(', ')}, joined by AND; got "${clip(raw)}".`, 'filter');
  const tree = parseFilter(raw);
  const result: Record<string, string> = {};
  for (const term of tree.type === 'and' ? tree.items : [tree]) {
    const field = 'field' in term ? term.field.toLowerCase() : '';
    if (term.type !== 'compare' || term.operator !== '=' || term.value.kind === 'null' || !allowed.includes(field)) throw refuse();
    result[field] = term.value.text;
  }
  return result;
}

/** Records mapped per event-loop turn: 9,000 services in one go held the loop for 60 to 130 ms. */
const RECORDS_PER_TURN = 500;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Maps a long list a chunk per event-loop turn, so it never blocks other requests for long. */
export async function mapInTurns<T, R>(rows: readonly T[], toRecord: (row: T) => R): Promise<R[]> {
  const records: R[] = [];
  for (let start = 0; start < rows.length; start += RECORDS_PER_TURN) {
    if (start > 0) await nextTurn();
    const end = Math.min(rows.length, start + RECORDS_PER_TURN);
    for (let i = start; i < end; i++) records.push(toRecord(rows[i]!));
  }
  return records;
}

export function methodNotAllowed(method: string, resource: string): DomainError {
  return new DomainError('BAD_INPUT', `${method} is not supported on ${resource}.`, null, { status: 405 });
}
