/**
 * Query strings as DreamFactory's PHP reads them: `y[]=3&y[]=4` is the
 * array `y: ["3", "4"]`; a repeated plain key is an array too; the last
 * `x=` wins only when it is not repeated. A `__proto__` key is dropped
 * (it would set the object's prototype).
 */
export function parseQueryString(text: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const isList = rawKey.endsWith('[]');
    const key = isList ? rawKey.slice(0, -2) : rawKey;
    if (key === '__proto__' || key === '') continue;
    const existing = Object.hasOwn(query, key) ? query[key] : undefined;
    if (existing === undefined) query[key] = isList ? [value] : value;
    else if (Array.isArray(existing)) existing.push(value);
    else query[key] = [existing, value];
  }
  return query;
}
