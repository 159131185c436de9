import { badInput, DomainError } from '../domain/errors.ts';

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

/** The simple DreamFactory filters: `field=value`, `field = 'value'`, optionally in parentheses, joined by AND. */
export function filter(query: Query, allowed: readonly string[]): Record<string, string> {
  const raw = one(query, 'filter');
  if (!raw) return {};
  const result: Record<string, string> = {};
  for (const part of raw.split(/\s+and\s+/i)) {
    const match = /^\s*\(?\s*([A-Za-z_]+)\s*=\s*(?:'([^']*)'|"([^"]*)"|([^\s)]+))\s*\)?\s*$/.exec(part);
    if (!match || !allowed.includes(match[1]!.toLowerCase())) {
      throw badInput(`Parameter "filter" supports field=value on ${allowed.join(', ')}, joined by AND; got "${clip(raw)}".`, 'filter');
    }
    result[match[1]!.toLowerCase()] = match[2] ?? match[3] ?? match[4]!;
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
