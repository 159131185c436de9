import { badInput } from '../../domain/errors.ts';
import { parse, SyntaxError as GeneratedSyntaxError } from './parser.ts';

/** A literal as written: `text` is the decoded content of a quoted string, or the word, number, true/false/null as typed. */
export interface Literal {
  kind: 'text' | 'word' | 'number' | 'boolean' | 'null';
  text: string;
}

/** One test on one field. */
export type Predicate = { field: string } & (
  | { type: 'compare'; operator: '=' | '!=' | '>' | '>=' | '<' | '<='; value: Literal }
  | { type: 'like'; negated: boolean; value: Literal }
  | { type: 'contains' | 'starts with' | 'ends with'; value: Literal }
  | { type: 'in'; negated: boolean; values: Literal[] }
  | { type: 'between'; negated: boolean; low: Literal; high: Literal }
  | { type: 'null'; negated: boolean }
);

export type FilterNode = Predicate | { type: 'and' | 'or'; items: FilterNode[] } | { type: 'not'; item: FilterNode };

/**
 * Hand-written filters are tens of characters; 2 KB leaves room for long IN
 * lists while bounding the parse (linear here, measured at well under a
 * millisecond) and every message that quotes the filter back.
 */
export const MAX_FILTER_LENGTH = 2048;
/**
 * Parentheses nest no deeper: the parser recurses once per level, and no
 * real filter needs more than a few.
 */
export const MAX_FILTER_DEPTH = 16;

const clip = (text: string) => (text.length > 100 ? `${text.slice(0, 100)}…` : text);

/** The filter's tree; a BAD_INPUT on `filter` saying where and what is wrong. */
export function parseFilter(text: string): FilterNode {
  if (text.length > MAX_FILTER_LENGTH) {
    throw badInput(`Parameter "filter" is ${text.length} characters long; at most ${MAX_FILTER_LENGTH} are allowed.`, 'filter');
  }
  try {
    return parse(text, { maxDepth: MAX_FILTER_DEPTH }) as FilterNode;
  } catch (error) {
    if (error instanceof GeneratedSyntaxError) {
      const column = (error as { location?: { start: { column: number } } }).location?.start.column;
      throw badInput(`Parameter "filter" is not a valid filter${column ? ` at column ${column}` : ''}: ${error.message} Filter: "${clip(text)}".`, 'filter');
    }
    // Only a grammar fault could recurse this far within the length bound; still the client's filter, not a crash.
    if (error instanceof RangeError) throw badInput(`Parameter "filter" nests too deeply.`, 'filter');
    throw error;
  }
}
