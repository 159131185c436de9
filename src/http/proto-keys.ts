/**
 * Whether JSON text has an object key `__proto__` anywhere. JSON.parse makes
 * it an own property, but code that copies objects key by key turns it into
 * a prototype: Prisma's JSON protocol then fails on it (a nested
 * `{"__proto__": null}` in a service's config answered 500). Refused at the
 * door, as fastify's own parser does (onProtoPoisoning: 'error'); the
 * substring test keeps ordinary bodies free of the second pass.
 */
export function hasProtoKey(text: string): boolean {
  if (!text.includes('__proto__')) return false;
  let found = false;
  try {
    JSON.parse(text, (key, value) => {
      if (key === '__proto__') found = true;
      return value;
    });
  } catch {
    return false;
  }
  return found;
}
