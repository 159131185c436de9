/**
 * Deepest nesting of arrays and objects a JSON body may have. Bodies are
 * handed to scripts, whose engines parse and copy them recursively: QuickJS
 * or a runner would overflow its stack on a 100,000-deep body and the
 * failure would be blamed on the script. Real payloads nest a few levels.
 */
export const MAX_JSON_DEPTH = 512;

/**
 * Whether `text` nests deeper than `max`, by one pass over its brackets
 * (strings skipped), before JSON.parse. A text shorter than `max` cannot,
 * so the small bodies of the request path cost nothing.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  if (text.length <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}
