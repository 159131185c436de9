// Object literals that start with a spread and go on, `{ ...base, more }`,
// rewritten in the server's bundle to start with `__proto__: <Object.prototype>`.
//
// Why: on Node 20 (V8 11.3) such a literal is cloned from `base` and every
// property after the clone is added the slow way: about 1 µs and a new
// hidden class for the collector each time, `{ ...a, b, ...c }` about 7 µs.
// A literal that starts with a property of its own takes the fast path
// (0.1 µs). The bundle (our code, graphql-js, Yoga, fastify, pino...) had
// 300 of them, several on every request: rewriting them took 4 to 13% off a
// typed field's call and 0 to 13% off a REST call's (`npm run bench --
// fast-spreads`; docs/MEASUREMENTS.md, session 12).
//
// Same result: `__proto__:` in a literal sets the prototype, which is
// Object.prototype anyway, and defines no property; the spread and the rest
// follow as written. The prototype is read once at the bundle's start (the
// caller's banner), so a local `Object` cannot change it. A literal with a
// `__proto__:` of its own is left alone (two would be a syntax error), and so
// is `{ ...base }` alone, which is fast as it is.
import remapping from '@jridgewell/remapping';
import { parse } from 'acorn';
import MagicString from 'magic-string';

/**
 * `code` rewritten, with its source map composed onto `map` (esbuild's, from
 * the sources) when one is given; `prototypeName` is a variable holding
 * Object.prototype.
 */
export function fastSpreads(code, prototypeName, map = null) {
  const ast = parse(code, { ecmaVersion: 'latest', sourceType: 'script', allowReturnOutsideFunction: true, allowHashBang: true });
  const rewritten = new MagicString(code);
  let count = 0;
  forEachNode(ast, (node) => {
    if (node.type !== 'ObjectExpression' || !startsWithSpreadAndGoesOn(node) || node.properties.some(setsPrototype)) return;
    rewritten.appendLeft(node.properties[0].start, `__proto__:${prototypeName},`);
    count++;
  });
  if (!map) return { code: rewritten.toString(), map: null, count };
  const ownMap = rewritten.generateMap({ source: 'bundle', hires: 'boundary' });
  const composed = remapping(ownMap, (file) => (file === 'bundle' ? map : null));
  return { code: rewritten.toString(), map: composed.toString(), count };
}

function startsWithSpreadAndGoesOn(node) {
  return node.properties.length > 1 && node.properties[0].type === 'SpreadElement';
}

/** `__proto__: value` (not computed, not shorthand, not a method): the one form that sets the prototype. */
function setsPrototype(property) {
  if (property.type !== 'Property' || property.computed || property.shorthand || property.method || property.kind !== 'init') return false;
  const { key } = property;
  return (key.type === 'Identifier' && key.name === '__proto__') || (key.type === 'Literal' && key.value === '__proto__');
}

function forEachNode(node, visit) {
  // An explicit stack: a 5 MB bundle nests deeper than recursion would like.
  const stack = [node];
  while (stack.length) {
    const current = stack.pop();
    visit(current);
    for (const key in current) {
      const value = current[key];
      if (Array.isArray(value)) {
        for (const child of value) if (child && typeof child.type === 'string') stack.push(child);
      } else if (value && typeof value.type === 'string' && key !== 'loc') stack.push(value);
    }
  }
}
