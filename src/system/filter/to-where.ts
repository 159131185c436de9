import { badInput } from '../../domain/errors.ts';
import type { FilterNode, Literal, Predicate } from './syntax.ts';

/** What a filterable field holds, which decides the values and operators it accepts. */
export type FieldKind =
  | { kind: 'int' }
  | { kind: 'number' }
  /** `lowercase`: stored lowercased (names), so values are lowercased too and matching ignores case on every database. */
  | { kind: 'string'; lowercase?: boolean }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'boolean' }
  | { kind: 'datetime' };

/** A field a filter may name: its Prisma column, its kind, whether it can be null. */
export type FilterField<Column extends string = string> = FieldKind & { column: Column; nullable?: boolean };

/** Filterable fields by their DreamFactory (snake_case) name. */
export type FilterFields<Column extends string = string> = Readonly<Record<string, FilterField<Column>>>;

/**
 * Comparisons in one filter. Each becomes a predicate the database evaluates
 * on every candidate row, and the execution table is large: a bound keeps one
 * request from asking for thousands. Real filters use a handful.
 */
export const MAX_FILTER_TERMS = 50;
/** Values in one IN list (each a bound parameter); longer sets belong in `ids=`. */
export const MAX_IN_VALUES = 100;
/** AND / OR / NOT nesting: SQLite refuses expressions deeper than 1000, and no real filter needs more than a few. */
export const MAX_FILTER_NESTING = 32;

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };

type Where = Record<string, unknown>;

/**
 * The Prisma `where` for a parsed filter over `fields`. Unknown fields, values
 * of the wrong type and operators a field cannot take are BAD_INPUT naming
 * the field.
 */
export function toWhere<W = Where>(tree: FilterNode, fields: FilterFields): W {
  const state = { terms: 0 };
  return build(tree, fields, state, 0) as W;
}

function build(node: FilterNode, fields: FilterFields, state: { terms: number }, depth: number): Where {
  if (depth > MAX_FILTER_NESTING) throw badInput(`Parameter "filter" nests AND, OR and NOT more than ${MAX_FILTER_NESTING} deep.`, 'filter');
  switch (node.type) {
    case 'and':
      return { AND: node.items.map((item) => build(item, fields, state, depth + 1)) };
    case 'or':
      return { OR: node.items.map((item) => build(item, fields, state, depth + 1)) };
    case 'not':
      return { NOT: build(node.item, fields, state, depth + 1) };
    default:
      if (++state.terms > MAX_FILTER_TERMS) throw badInput(`Parameter "filter" has more than ${MAX_FILTER_TERMS} comparisons.`, 'filter');
      return predicate(node, fields);
  }
}

function lookup(fields: FilterFields, name: string): FilterField {
  const key = name.toLowerCase();
  // Own keys only: `__proto__`, `constructor` and friends are unknown fields like any other.
  if (!Object.hasOwn(fields, key)) {
    throw badInput(`Filter field "${clip(name)}" is not known; filter on ${Object.keys(fields).join(', ')}.`, 'filter');
  }
  return fields[key]!;
}

function predicate(node: Predicate, fields: FilterFields): Where {
  const field = lookup(fields, node.field);
  const name = node.field.toLowerCase();
  const on = (condition: unknown): Where => ({ [field.column]: condition });
  const value = (literal: Literal) => convert(literal, field, name);
  switch (node.type) {
    case 'null':
      return isNull(field, node.negated);
    case 'compare': {
      if (node.value.kind === 'null') {
        if (node.operator === '=' || node.operator === '!=') return isNull(field, node.operator === '!=');
        throw badInput(`Filter field "${name}" cannot be compared with ${node.operator} null; use IS NULL.`, name);
      }
      if (node.operator === '=') return on({ equals: value(node.value) });
      if (node.operator === '!=') return on({ not: value(node.value) });
      if (field.kind === 'boolean' || field.kind === 'enum') {
        throw badInput(`Filter field "${name}" takes =, !=, IN and IS NULL, not ${node.operator}.`, name);
      }
      return on({ [RANGE[node.operator]]: value(node.value) });
    }
    case 'in': {
      if (node.values.length > MAX_IN_VALUES) throw badInput(`Filter field "${name}": an IN list may hold at most ${MAX_IN_VALUES} values.`, name);
      const values = node.values.map(value);
      return on(node.negated ? { notIn: values } : { in: values });
    }
    case 'between': {
      if (field.kind === 'boolean' || field.kind === 'enum') throw badInput(`Filter field "${name}" cannot take BETWEEN.`, name);
      const range = on({ gte: value(node.low), lte: value(node.high) });
      return node.negated ? { NOT: range } : range;
    }
    case 'like': {
      const match = on(likePattern(text(node.value, field, name, 'LIKE'), name));
      return node.negated ? { NOT: match } : match;
    }
    // LIKE underneath, as in DreamFactory: % and _ in the value are wildcards (see likePattern).
    case 'contains':
      return on({ contains: text(node.value, field, name, 'CONTAINS') });
    case 'starts with':
      return on({ startsWith: text(node.value, field, name, 'STARTS WITH') });
    case 'ends with':
      return on({ endsWith: text(node.value, field, name, 'ENDS WITH') });
  }
}

const RANGE = { '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' } as const;

/**
 * A field that is never null matches no row on IS NULL and every row on IS
 * NOT NULL, as in SQL (Prisma refuses null tests on such fields). An empty
 * OR is Prisma's "false" for any field type.
 */
function isNull(field: FilterField, negated: boolean): Where {
  if (field.nullable) return { [field.column]: negated ? { not: null } : null };
  return negated ? {} : { OR: [] };
}

/**
 * SQL LIKE as Prisma can say it exactly. Prisma has no LIKE, but its
 * startsWith, endsWith and contains are LIKE 'x%', '%x', '%x%' without
 * escaping the operand (prisma/prisma#19506), so `_` inside stays a
 * one-character wildcard on SQLite and PostgreSQL alike, as in SQL. What
 * that cannot express (a `%` inside the pattern, or `_` with no `%` at
 * either end) is refused rather than approximated.
 */
function likePattern(pattern: string, name: string) {
  const leading = pattern.startsWith('%');
  const trailing = pattern.length > (leading ? 1 : 0) && pattern.endsWith('%');
  const inner = pattern.slice(leading ? 1 : 0, trailing ? -1 : undefined);
  if (inner.includes('%')) {
    throw badInput(`Filter field "${name}": LIKE takes % only at the start or end of the pattern, got "${clip(pattern)}".`, name);
  }
  if (leading && trailing) return { contains: inner };
  if (leading) return { endsWith: inner };
  if (trailing) return { startsWith: inner };
  if (inner.includes('_')) {
    throw badInput(`Filter field "${name}": a LIKE pattern with _ needs a % at its start or end; use = to match the text exactly.`, name);
  }
  return { equals: inner };
}

/** The text a string operator matches against; only string fields take one. */
function text(literal: Literal, field: FilterField, name: string, operator: string): string {
  if (field.kind !== 'string' && field.kind !== 'enum') throw badInput(`Filter field "${name}" is not text; ${operator} needs text.`, name);
  if (literal.kind === 'null') throw badInput(`Filter field "${name}": ${operator} needs a value, not null.`, name);
  return field.kind === 'string' && field.lowercase ? literal.text.toLowerCase() : literal.text;
}

/** A literal as the field's type. Quoted numbers are numbers, as DreamFactory reads them; words are text. */
function convert(literal: Literal, field: FilterField, name: string): unknown {
  if (literal.kind === 'null') throw badInput(`Filter field "${name}": null is only for =, != and IS NULL.`, name);
  const raw = literal.text;
  switch (field.kind) {
    case 'string':
      return field.lowercase ? raw.toLowerCase() : raw;
    case 'enum': {
      const known = field.values.find((v) => v === raw.toLowerCase());
      if (!known) throw badInput(`Filter field "${name}" is one of ${field.values.join(', ')}; got "${clip(raw)}".`, name);
      return known;
    }
    case 'int': {
      const number = /^-?\d{1,10}$/.test(raw) ? Number(raw) : NaN;
      if (!(number >= INT32.min && number <= INT32.max)) {
        throw badInput(`Filter field "${name}" is a whole number from ${INT32.min} to ${INT32.max}; got "${clip(raw)}".`, name);
      }
      return number;
    }
    case 'number': {
      const number = /^-?\d{1,15}(\.\d{1,15})?$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isFinite(number)) throw badInput(`Filter field "${name}" is a number; got "${clip(raw)}".`, name);
      return number;
    }
    case 'boolean': {
      const lower = raw.toLowerCase();
      if (lower === 'true' || lower === '1') return true;
      if (lower === 'false' || lower === '0') return false;
      throw badInput(`Filter field "${name}" is true or false; got "${clip(raw)}".`, name);
    }
    case 'datetime':
      return dateTime(raw, name);
  }
}

const DATE_TIME = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:\d{2})?)?$/i;

/** ISO 8601 (`2024-05-01`, `2024-05-01T10:00:00Z`, or DreamFactory's `2024-05-01 10:00:00`); without a zone, UTC. */
function dateTime(raw: string, name: string): Date {
  const match = DATE_TIME.exec(raw);
  // A real calendar day survives the round trip; 2024-02-31 would roll over to March.
  const day = match ? new Date(`${match[1]}T00:00:00Z`) : null;
  const date = match && day && !Number.isNaN(day.getTime()) && day.toISOString().startsWith(match[1]!)
    ? new Date(`${match[1]}T${match[2] ?? '00:00'}${match[3] ?? 'Z'}`)
    : null;
  if (!date || Number.isNaN(date.getTime())) {
    throw badInput(`Filter field "${name}" is a date and time (ISO 8601, e.g. 2024-05-01T10:00:00Z); got "${clip(raw)}".`, name);
  }
  return date;
}

function clip(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
