import { MAX_API_CALLS_IN_FLIGHT } from '../types.ts';

/** Timers one run may have pending at once; past it setTimeout throws. */
export const MAX_PENDING_TIMERS = 1000;
/** Characters of a thrown message or stack copied to the host; the rest is cut. */
const MAX_ERROR_CHARS = 64 * 1024;

/** Guest helpers the parts that need them paste in (no guest Array.prototype or promise.then is ever looked up). */
const COPY_ARGUMENTS = String.raw`function copyArguments(args, from) {
    const out = [];
    for (let i = from; i < args.length; i++) out[i - from] = args[i];
    return out;
  }`;
const THEN = String.raw`function then(promise, onFulfilled, onRejected) { return I.apply(I.promiseThen, promise, [onFulfilled, onRejected]); }`;

/**
 * Guest-side JavaScript evaluated once per warm context, before any script.
 * It receives the raw host functions as arguments, so they never appear on
 * the global object (scripts only see the conventions below), and returns the
 * entry points the host calls: run, fire, reset and describe.
 *
 * A script may replace any global or built-in method, and those replacements
 * persist in its warm context. So the prelude captures every intrinsic it uses
 * here, before any script ran, and never looks one up on the guest's globals
 * or prototypes afterwards: no Map, no `.call`, no `promise.then`, no
 * `Array.prototype` method, and no assignment to a property a prototype could
 * hold a setter for (object literals and null-prototype objects only). The
 * host only enters guest code under the run's interrupt deadline; what the
 * script's own values run (getters, toJSON, Proxy traps) is bounded by that
 * deadline.
 *
 * Compiling the prelude was most of a cold call's cost (the guest compiles
 * about 5 characters of code a microsecond), so only what every run needs is
 * compiled here. (Cold calls now restore an instance's memory image, taken
 * after `prepare` compiled every part: see instance-image.ts.) The
 * PRELUDE_PARTS are compiled on first use: `console`,
 * `setTimeout`/`clearTimeout` (globals whose getter replaces itself with the
 * value), `platform.api` (a getter), the ending of a run that waits (`async`)
 * and the reading of a thrown value (`describe`). Each part is a function
 * expression evaluated with the `eval` captured here and given the captured
 * intrinsics, so it never reads a global either. Parts live in their context
 * only: nothing is shared between contexts.
 *
 * `run` returns the result as JSON text when the script finished at once, or
 * '' when it is still waiting: then it ends by calling hostDone(json) or
 * hostFail(description).
 */
export const GUEST_PRELUDE = withoutCommentLines(String.raw`(function (hostLog, hostApi, hostTimer, hostClearTimer, hostRequest, hostDone, hostFail, hostPart) {
  'use strict';
  // What the prelude and its parts use instead of globals.
  const I = Object.freeze(Object.assign(Object.create(null), {
    global: globalThis, evaluate: eval, apply: Reflect.apply, createObject: Object.create, assign: Object.assign,
    freezeObject: Object.freeze, isFrozen: Object.isFrozen, keysOf: Object.keys, defineProperty: Object.defineProperty,
    tryDefine: Reflect.defineProperty, stringify: JSON.stringify, parseJson: JSON.parse, toText: String, toNumber: Number,
    sliceText: String.prototype.slice, PromiseType: Promise, promiseThen: Promise.prototype.then, promiseResolve: Promise.resolve,
    ErrorType: Error, TypeErrorType: TypeError, RangeErrorType: RangeError,
  }));
  const apply = I.apply, createObject = I.createObject, assign = I.assign, defineProperty = I.defineProperty, stringify = I.stringify, parseJson = I.parseJson;

  // Per run; the host sets them when they change (see run).
  let maxResponseChars = 10 * 1024 * 1024;
  let maxLogChars = 1024 * 1024;
  function limit(name) { return name === 'log' ? maxLogChars : maxResponseChars; }

  // Math.random is xoshiro128** seeded by the host on a context's first run: QuickJS seeds its own from the
  // clock when the context is made, and a context restored from its instance's image would repeat it.
  const imul = Math.imul;
  let s0 = 1, s1 = 0, s2 = 0, s3 = 0;
  function rotl(x, k) { return (x << k) | (x >>> (32 - k)); }
  function next32() {
    const result = imul(rotl(imul(s1, 5), 7), 9);
    const t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11);
    return result >>> 0;
  }
  defineProperty(Math, 'random', { value: function random() { return ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992; }, writable: true, configurable: true });
  function seedRandom(seed) {
    s0 = seed[0] | 0; s1 = seed[1] | 0; s2 = seed[2] | 0; s3 = seed[3] | 0;
    if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  }

  // Like a Node process, a run ends once the script returned and nothing it
  // started (timers, platform.api calls) is still pending: DreamFactory's
  // callback-style scripts set the response from a callback.
  let pending = 0;
  let onIdle = null;
  const idle = { hold: function () { pending++; }, release: function () {
    if (--pending === 0 && onIdle !== null) { const resume = onIdle; onIdle = null; resume(); }
  }, isIdle: function () { return pending === 0; }, whenIdle: function (resume) { onIdle = resume; } };

  // A part is compiled on first use and kept; one whose compile failed (heap or stack full) is tried again next time.
  const parts = createObject(null);
  function part(name) {
    if (parts[name] === undefined) parts[name] = apply(apply(I.evaluate, undefined, [hostPart(name)]), undefined, [I, host, idle, limit]);
    return parts[name];
  }
  // What a part may call (the functions named here are declared below).
  const host = { log: hostLog, api: hostApi, timer: hostTimer, clearTimer: hostClearTimer, done: hostDone, fail: fail, finish: finish, OutputLimit: OutputLimit };
  // Descriptors without a prototype: defineProperty reads get/set/value from the prototype chain too, where a script may have put them.
  function descriptor(kind, value, writable) {
    const out = createObject(null);
    out[kind] = value;
    if (writable) out.writable = true;
    out.enumerable = true;
    out.configurable = writable;
    return out;
  }
  // A global made on first read, then a plain data property as if assigned; Reflect's define
  // fails quietly on a frozen global object, whose getter then answers the same value.
  function lazyGlobal(name, partName) {
    function become(value) { I.tryDefine(I.global, name, descriptor('value', value, true)); }
    defineProperty(I.global, name, { get: function () { const value = part(partName)[name]; become(value); return value; }, set: become, enumerable: true, configurable: true });
  }
  lazyGlobal('console', 'console');
  lazyGlobal('setTimeout', 'timers');
  lazyGlobal('clearTimeout', 'timers');
  function platformApi() { return part('api').api; }

  function freeze(value) {
    if (value !== null && typeof value === 'object' && !I.isFrozen(value)) {
      I.freezeObject(value);
      const keys = I.keysOf(value);
      for (let i = 0; i < keys.length; i++) freeze(value[keys[i]]);
    }
    return value;
  }
  // The platform the host sent last, as JSON text until a script first reads it (many never do), then frozen
  // so no call can alter it for the next. Scripts get one frozen object whose properties read it.
  let platformJsonUnread;
  let platformValues = null;
  function platformValue(name) {
    if (platformJsonUnread !== undefined) {
      const given = parseJson(platformJsonUnread);
      platformJsonUnread = undefined;
      // Secrets without a prototype: a name such as "constructor" is only ever a secret.
      const secrets = assign(createObject(null), given.secrets);
      platformValues = { config: freeze(given.config), session: freeze(given.session), secrets: freeze(secrets) };
    }
    return platformValues === null ? undefined : platformValues[name];
  }
  // platform.api is compiled on first read, and keeps its place among the keys.
  const platform = {};
  defineProperty(platform, 'api', descriptor('get', platformApi, false));
  defineProperty(platform, 'config', descriptor('get', function () { return platformValue('config'); }, false));
  defineProperty(platform, 'session', descriptor('get', function () { return platformValue('session'); }, false));
  defineProperty(platform, 'secrets', descriptor('get', function () { return platformValue('secrets'); }, false));
  I.freezeObject(platform);

  // The event's shared behaviour lives on a prototype, so a run defines no
  // properties; the request is fetched and parsed on first use, since moving
  // it in was much of a small script's cost and many scripts never read it.
  const REQUEST = Symbol('request');
  const RESPONSE = Symbol('response');
  // A typed GraphQL field's call: its text arrives with the run, parsed on first use.
  const GRAPHQL = Symbol('graphql');
  const GRAPHQL_JSON = Symbol('graphql text');
  function ScriptEvent() {}
  // The response is made on first use too: a script that returns its result never touches it.
  defineProperty(ScriptEvent.prototype, 'response', {
    get: function () {
      if (this[RESPONSE] === undefined) this[RESPONSE] = { status_code: 200, content: null, content_type: null, headers: {} };
      return this[RESPONSE];
    },
    set: function (value) { this[RESPONSE] = value; },
  });
  defineProperty(ScriptEvent.prototype, 'request', {
    get: function () {
      if (this[REQUEST] === undefined) this[REQUEST] = parseJson(hostRequest());
      return this[REQUEST];
    },
    set: function (value) { this[REQUEST] = value; },
  });
  // A typed GraphQL field's event: one kind of its own, so that only it has a graphql property.
  function TypedScriptEvent() {}
  TypedScriptEvent.prototype = createObject(ScriptEvent.prototype);
  defineProperty(TypedScriptEvent.prototype, 'graphql', {
    get: function () {
      if (this[GRAPHQL_JSON] !== undefined) {
        this[GRAPHQL] = parseJson(this[GRAPHQL_JSON]);
        this[GRAPHQL_JSON] = undefined;
      }
      return this[GRAPHQL];
    },
    set: function (value) {
      this[GRAPHQL_JSON] = undefined;
      this[GRAPHQL] = value;
    },
  });
  defineProperty(ScriptEvent.prototype, 'setResponse', {
    value: function (content, statusCode, contentType) {
      this.response.content = content;
      // DreamFactory's: a missing (or falsy) status is 200, a missing content type JSON.
      this.response.status_code = statusCode || 200;
      this.response.content_type = contentType || 'application/json';
    },
  });
  defineProperty(ScriptEvent.prototype, 'toJSON', {
    value: function () { return assign({ request: this.request, response: this.response }, this); },
  });
  defineProperty(TypedScriptEvent.prototype, 'toJSON', {
    value: function () { return assign({ request: this.request, response: this.response, graphql: this.graphql }, this); },
  });

  // Only this prelude can make one: describe() tells the host it is the response cap, not a script error.
  function OutputLimit() {}
  function finish(event, returned, wantRequest) {
    // A string result is checked before JSON doubles it in the heap.
    if (typeof returned === 'string' && returned.length > maxResponseChars) throw new OutputLimit();
    // No prototype: a script's Object.prototype.toJSON cannot replace the envelope.
    const out = createObject(null);
    out.returned = returned === undefined ? null : returned;
    out.response = event[RESPONSE];
    if (wantRequest && event[REQUEST] !== undefined) out.request = event[REQUEST];
    const json = stringify(out);
    if (typeof json !== 'string') throw new I.TypeErrorType('The script\'s result could not be turned into JSON');
    // Refused here, before the host copies it out; the platform enforces the exact byte limit.
    if (json.length > maxResponseChars) throw new OutputLimit();
    return json;
  }

  // Empty strings arrive as undefined. restJson is empty for a fresh response: { resource } plus the default response.
  // limitsJson is sent only when the service's limits changed, and on a context's first run (with the random seed).
  // graphqlJson only for a typed field's call.
  function run(script, resource, restJson, platformJson, limitsJson, wantRequest, graphqlJson) {
    if (limitsJson !== undefined) {
      const limits = parseJson(limitsJson);
      maxResponseChars = limits.response;
      maxLogChars = limits.log;
      if (limits.seed !== undefined) seedRandom(limits.seed);
    }
    let event;
    if (graphqlJson === undefined) event = new ScriptEvent();
    else {
      event = new TypedScriptEvent();
      event[GRAPHQL_JSON] = graphqlJson;
    }
    if (restJson === undefined) event.resource = resource === undefined ? '' : resource;
    else assign(event, parseJson(restJson));
    // The host sends platform only when it changed.
    if (platformJson !== undefined) platformJsonUnread = platformJson;
    const returned = script(event, platform);
    const thenable = returned !== null && typeof returned === 'object' && typeof returned.then === 'function';
    if (!thenable && pending === 0) return finish(event, returned, wantRequest);
    // The run ends later, by hostDone or hostFail.
    part('async')(event, returned, wantRequest, thenable);
    return '';
  }
  function fail(error) { hostFail(describe(error)); }
  // What the host reads of a thrown value, as JSON text (see the describe part).
  function describe(error) { return part('describe')(error); }

  // Timers fire only once the timers part made them.
  function fire(id) { if (parts.timers !== undefined) parts.timers.fire(id); }
  function reset() {
    if (parts.timers !== undefined) parts.timers.reset();
    if (parts.api !== undefined) parts.api.reset();
    pending = 0;
    onIdle = null;
  }

  // Every part compiled at once: the host calls this before it takes an instance's memory image, so the
  // contexts restored from it never compile one (console alone cost a restored context's call 280 µs).
  function prepare() { part('console'); part('timers'); part('api'); part('async'); part('describe'); }

  return { run: run, fire: fire, reset: reset, describe: describe, prepare: prepare };
})`);

/**
 * The prelude's parts, each compiled on a script's first use of it (see
 * GUEST_PRELUDE): a function expression given the prelude's captured
 * intrinsics (`I`), the host functions and prelude functions it may call
 * (`host`), the run's pending count (`idle`) and the current limits
 * (`limit('log' | 'response')`), returning what it makes. None reads a global.
 */
export const PRELUDE_PARTS: Readonly<Record<string, string>> = Object.freeze({
  // console.log/info/debug/trace to stdout, warn/error to stderr, one line per call.
  console: withoutCommentLines(String.raw`(function (I, host, idle, limit) {
  'use strict';
  const ErrorType = I.ErrorType, stringify = I.stringify, toText = I.toText;
  function text(args) {
    const max = limit('log');
    let line = '';
    for (let i = 0; i < args.length; i++) {
      const value = args[i];
      let part;
      if (typeof value === 'string') part = value;
      else if (value instanceof ErrorType) part = value.stack ? toText(value.name) + ': ' + toText(value.message) + '\n' + toText(value.stack) : toText(value);
      else {
        try { const json = stringify(value); part = json === undefined ? toText(value) : json; } catch (e) { part = toText(value); }
      }
      line = i === 0 ? part : line + ' ' + part;
      // A line longer than the log cap is dropped by the host anyway: copy no more of it than shows that.
      if (line.length > max) return I.apply(I.sliceText, line, [0, max + 1]);
    }
    return line;
  }
  function writer(toStderr) { return function () { host.log(toStderr, text(arguments)); }; }
  return { console: { log: writer(0), info: writer(0), warn: writer(1), error: writer(1), debug: writer(0), trace: writer(0) } };
})`),

  // setTimeout/clearTimeout, and what the prelude calls when one fires or a run ends.
  timers: withoutCommentLines(String.raw`(function (I, host, idle) {
  'use strict';
  const MAX_TIMERS = ${MAX_PENDING_TIMERS};
  let timers = I.createObject(null);
  let timerCount = 0;
  let nextTimer = 1;
  function setTimeout(callback, ms) {
    if (typeof callback !== 'function') throw new I.TypeErrorType('setTimeout needs a function');
    if (timerCount >= MAX_TIMERS) throw new I.RangeErrorType('setTimeout: a run may have at most ' + MAX_TIMERS + ' timers pending; clear or await some first');
    const extra = copyArguments(arguments, 2);
    const delay = I.toNumber(ms);
    const id = nextTimer++;
    timers[id] = function () { I.apply(callback, undefined, extra); };
    timerCount++;
    idle.hold();
    host.timer(id, delay > 0 ? delay : 0);
    return id;
  }
  function clearTimeout(id) {
    if (typeof id !== 'number' || timers[id] === undefined) return;
    delete timers[id];
    timerCount--;
    host.clearTimer(id);
    idle.release();
  }
  function fire(id) {
    const callback = timers[id];
    if (callback === undefined) return;
    delete timers[id];
    timerCount--;
    try { callback(); } finally { idle.release(); }
  }
  function reset() {
    timers = I.createObject(null);
    timerCount = 0;
  }
  ${COPY_ARGUMENTS}
  return { setTimeout: setTimeout, clearTimeout: clearTimeout, fire: fire, reset: reset };
})`),

  // platform.api.<verb>(path, payload, options[, callback]): a Promise of
  // {status_code, content, content_type, headers}. The arguments after the path
  // go to the host as given, which decides which is the payload and which the
  // options (DreamFactory's get(path, options, callback) included). A callback
  // gets (body, response): the body as the REST door sends it (a string as it
  // is, anything else as JSON text, nothing as '').
  api: withoutCommentLines(String.raw`(function (I, host, idle) {
  'use strict';
  const stringify = I.stringify, ErrorType = I.ErrorType;
  const MAX_API_CALLS = ${MAX_API_CALLS_IN_FLIGHT};
  let apiCalls = 0;
  ${THEN}
  ${COPY_ARGUMENTS}
  function caller(method) {
    return function (path) {
      const rest = copyArguments(arguments, 1);
      let callback;
      if (rest.length && typeof rest[rest.length - 1] === 'function') { callback = rest[rest.length - 1]; rest.length--; }
      if (apiCalls >= MAX_API_CALLS) {
        throw new ErrorType('platform.api: at most ' + MAX_API_CALLS + ' calls may be in flight at once; await some before starting more');
      }
      const pathText = I.toText(path);
      let argsText = stringify(rest);
      if (typeof argsText !== 'string') argsText = '[]';
      const call = host.api(method, pathText, argsText);
      apiCalls++;
      idle.hold();
      function done() { apiCalls--; idle.release(); }
      const promise = then(call, function (json) { return I.parseJson(json); }, function (message) { throw new ErrorType(message); });
      if (!callback) {
        then(promise, done, done);
        return promise;
      }
      then(promise, function (response) {
        try {
          const content = response.content;
          const body = content === null || content === undefined ? '' : typeof content === 'string' ? content : stringify(content);
          response.statusCode = response.status_code;
          callback(body, response);
        } finally { done(); }
      }, done);
      return undefined;
    };
  }
  const api = I.freezeObject({ get: caller('GET'), post: caller('POST'), put: caller('PUT'), patch: caller('PATCH'), 'delete': caller('DELETE') });
  return { api: api, reset: function () { apiCalls = 0; } };
})`),

  // A run that returned a promise, or left timers or platform.api calls pending: it ends by host.done or host.fail.
  async: withoutCommentLines(String.raw`(function (I, host, idle) {
  'use strict';
  ${THEN}
  const resolved = I.apply(I.promiseResolve, I.PromiseType, [undefined]);
  // Continues once nothing is pending. Never by resolving a promise with a promise:
  // that looks up 'then', which a script may have replaced.
  function afterIdle(value, continuation) {
    if (idle.isIdle()) return continuation(value);
    // Resumed in a job of its own, so the code that released the last hold finishes first.
    idle.whenIdle(function () { then(resolved, function () { afterIdle(value, continuation); }); });
  }
  return function later(event, returned, wantRequest, thenable) {
    function finishLater(value) {
      let json;
      try { json = host.finish(event, value, wantRequest); } catch (error) { return host.fail(error); }
      host.done(json);
    }
    if (thenable) then(I.apply(I.promiseResolve, I.PromiseType, [returned]), function (value) { afterIdle(value, finishLater); }, host.fail);
    else afterIdle(returned, finishLater);
  };
})`),

  // What the host reads of a thrown value, as JSON text. Reading it may run
  // the script's getters, toJSON or Proxy traps: the host calls this under the
  // run's deadline, and an interrupt cannot be caught here. Should the heap be
  // too full to compile this part, the host sees no description and judges by
  // the heap's size (see failures.ts).
  describe: withoutCommentLines(String.raw`(function (I, host, idle, limit) {
  'use strict';
  const toText = I.toText;
  const MAX_ERROR_CHARS = ${MAX_ERROR_CHARS};
  function clip(text, max) { return text.length > max ? I.apply(I.sliceText, text, [0, max]) : text; }
  return function describe(error) {
    const out = I.createObject(null);
    try {
      if (error instanceof host.OutputLimit) out.outputLimit = limit('response');
      else if (error instanceof I.ErrorType) {
        out.name = clip(toText(error.name), 200);
        out.message = clip(toText(error.message), MAX_ERROR_CHARS);
        const stack = error.stack;
        if (typeof stack === 'string') out.stack = clip(stack, MAX_ERROR_CHARS);
      } else if (typeof error === 'string') out.message = clip(error, MAX_ERROR_CHARS);
      else if (error === null || error === undefined) { out.nullish = true; out.message = toText(error); }
      else if (typeof error === 'object') {
        // A thrown plain object ({ code: 1 }) reads better as its JSON than as "[object Object]".
        const json = I.stringify(error);
        out.message = clip(typeof json === 'string' ? json : toText(error), MAX_ERROR_CHARS);
      } else out.message = clip(toText(error), MAX_ERROR_CHARS);
    } catch (unreadable) {
      out.message = 'the script threw a value that could not be read';
    }
    return I.stringify(out);
  };
})`),
});

/** Guest source travels without its whole-line comments: the guest compiles every character it is sent. */
function withoutCommentLines(source: string): string {
  return source
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('//'))
    .join('\n');
}
