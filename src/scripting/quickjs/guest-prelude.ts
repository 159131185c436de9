import { MAX_API_CALLS_IN_FLIGHT } from '../types.ts';

/** Timers one run may have pending at once; past it setTimeout throws. */
export const MAX_PENDING_TIMERS = 1000;
/** Characters of a thrown message or stack copied to the host; the rest is cut. */
const MAX_ERROR_CHARS = 64 * 1024;

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
 * `Array.prototype` method. The host only enters guest code under the run's
 * interrupt deadline; what the script's own values run (getters, toJSON,
 * Proxy traps) is bounded by that deadline.
 *
 * `run` returns the result as JSON text when the script finished at once, or
 * '' when it is still waiting: then it ends by calling hostDone(json) or
 * hostFail(description).
 */
export const GUEST_PRELUDE = String.raw`(function (hostLog, hostApi, hostTimer, hostClearTimer, hostRequest, hostDone, hostFail) {
  'use strict';
  const apply = Reflect.apply;
  const createObject = Object.create;
  const assign = Object.assign;
  const freezeObject = Object.freeze;
  const isFrozen = Object.isFrozen;
  const keysOf = Object.keys;
  const defineProperty = Object.defineProperty;
  const stringify = JSON.stringify;
  const parseJson = JSON.parse;
  const toText = String;
  const toNumber = Number;
  const sliceText = String.prototype.slice;
  const PromiseType = Promise;
  const promiseThen = Promise.prototype.then;
  const promiseResolve = Promise.resolve;
  const ErrorType = Error;
  const TypeErrorType = TypeError;
  const RangeErrorType = RangeError;
  const makeSymbol = Symbol;
  const MAX_TIMERS = ${MAX_PENDING_TIMERS};
  const MAX_ERROR_CHARS = ${MAX_ERROR_CHARS};
  const MAX_API_CALLS = ${MAX_API_CALLS_IN_FLIGHT};

  function then(promise, onFulfilled, onRejected) { return apply(promiseThen, promise, [onFulfilled, onRejected]); }
  function clip(text, max) { return text.length > max ? apply(sliceText, text, [0, max]) : text; }
  function copyArguments(args, from) {
    const out = [];
    for (let i = from; i < args.length; i++) out[i - from] = args[i];
    return out;
  }

  // Per run; the host sets them when they change (see run).
  let maxResponseChars = 10 * 1024 * 1024;
  let maxLogChars = 1024 * 1024;

  let timers = createObject(null);
  let timerCount = 0;
  let nextTimer = 1;
  let apiCalls = 0;
  // Like a Node process, a run ends once the script returned and nothing it
  // started (timers, platform.api calls) is still pending: DreamFactory's
  // callback-style scripts set the response from a callback.
  let pending = 0;
  let onIdle = null;
  function hold() { pending++; }
  function release() {
    if (--pending === 0 && onIdle !== null) { const resume = onIdle; onIdle = null; resume(); }
  }
  const resolved = apply(promiseResolve, PromiseType, [undefined]);
  // Continues once nothing is pending. Never by resolving a promise with a promise:
  // that looks up 'then', which a script may have replaced.
  function afterIdle(value, continuation) {
    if (pending === 0) return continuation(value);
    // Resumed in a job of its own, so the code that released the last hold finishes first.
    onIdle = function () { then(resolved, function () { afterIdle(value, continuation); }); };
  }

  function text(args) {
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
      if (line.length > maxLogChars) return clip(line, maxLogChars + 1);
    }
    return line;
  }
  const consoleObject = {};
  const levels = ['log', 'info', 'warn', 'error', 'debug', 'trace'];
  for (let i = 0; i < levels.length; i++) {
    const toStderr = levels[i] === 'warn' || levels[i] === 'error' ? 1 : 0;
    consoleObject[levels[i]] = function () { hostLog(toStderr, text(arguments)); };
  }
  globalThis.console = consoleObject;

  globalThis.setTimeout = function (callback, ms) {
    if (typeof callback !== 'function') throw new TypeErrorType('setTimeout needs a function');
    if (timerCount >= MAX_TIMERS) throw new RangeErrorType('setTimeout: a run may have at most ' + MAX_TIMERS + ' timers pending; clear or await some first');
    const extra = copyArguments(arguments, 2);
    const delay = toNumber(ms);
    const id = nextTimer++;
    timers[id] = function () { apply(callback, undefined, extra); };
    timerCount++;
    hold();
    hostTimer(id, delay > 0 ? delay : 0);
    return id;
  };
  globalThis.clearTimeout = function (id) {
    if (typeof id !== 'number' || timers[id] === undefined) return;
    delete timers[id];
    timerCount--;
    hostClearTimer(id);
    release();
  };

  // platform.api.<verb>(path, payload, options[, callback]): a Promise of
  // {status_code, content, content_type, headers}. The arguments after the path
  // go to the host as given, which decides which is the payload and which the
  // options (DreamFactory's get(path, options, callback) included). A callback
  // gets (body, response): the body as the REST door sends it (a string as it
  // is, anything else as JSON text, nothing as '').
  function caller(method) {
    return function (path) {
      const rest = copyArguments(arguments, 1);
      let callback;
      if (rest.length && typeof rest[rest.length - 1] === 'function') { callback = rest[rest.length - 1]; rest.length--; }
      if (apiCalls >= MAX_API_CALLS) {
        throw new ErrorType('platform.api: at most ' + MAX_API_CALLS + ' calls may be in flight at once; await some before starting more');
      }
      const pathText = toText(path);
      let argsText = stringify(rest);
      if (typeof argsText !== 'string') argsText = '[]';
      const call = hostApi(method, pathText, argsText);
      apiCalls++;
      hold();
      function done() { apiCalls--; release(); }
      const promise = then(call, function (json) { return parseJson(json); }, function (message) { throw new ErrorType(message); });
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
  const api = { get: caller('GET'), post: caller('POST'), put: caller('PUT'), patch: caller('PATCH') };
  api['delete'] = caller('DELETE');

  let lastPlatform = null;
  function freeze(value) {
    if (value !== null && typeof value === 'object' && !isFrozen(value)) {
      freezeObject(value);
      const keys = keysOf(value);
      for (let i = 0; i < keys.length; i++) freeze(value[keys[i]]);
    }
    return value;
  }

  // The event's shared behaviour lives on a prototype, so a run defines no
  // properties; the request is fetched and parsed on first use, since moving
  // it in was much of a small script's cost and many scripts never read it.
  const REQUEST = makeSymbol('request');
  const RESPONSE = makeSymbol('response');
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

  // Only this prelude can make one: describe() tells the host it is the response cap, not a script error.
  function OutputLimit() {}
  function tooLarge() { return new OutputLimit(); }

  function finish(event, returned, wantRequest) {
    // A string result is checked before JSON doubles it in the heap.
    if (typeof returned === 'string' && returned.length > maxResponseChars) throw tooLarge();
    // No prototype: a script's Object.prototype.toJSON cannot replace the envelope.
    const out = createObject(null);
    out.returned = returned === undefined ? null : returned;
    out.response = event[RESPONSE];
    if (wantRequest && event[REQUEST] !== undefined) out.request = event[REQUEST];
    const json = stringify(out);
    if (typeof json !== 'string') throw new TypeErrorType('The script\'s result could not be turned into JSON');
    // Refused here, before the host copies it out; the platform enforces the exact byte limit.
    if (json.length > maxResponseChars) throw tooLarge();
    return json;
  }

  // Empty strings arrive as undefined. restJson is empty for a fresh response: { resource } plus the default response.
  // limitsJson is sent only when the service's limits changed.
  function run(script, resource, restJson, platformJson, limitsJson, wantRequest) {
    if (limitsJson !== undefined) {
      const limits = parseJson(limitsJson);
      maxResponseChars = limits.response;
      maxLogChars = limits.log;
    }
    const event = new ScriptEvent();
    if (restJson === undefined) event.resource = resource === undefined ? '' : resource;
    else assign(event, parseJson(restJson));
    // The host sends platform only when it changed; the shared copy is frozen so no call can alter it for the next.
    if (platformJson !== undefined) {
      const given = parseJson(platformJson);
      // Secrets without a prototype: a name such as "constructor" is only ever a secret.
      const secrets = assign(createObject(null), given.secrets);
      lastPlatform = freeze({ api: api, config: given.config, session: given.session, secrets: secrets });
    }
    const returned = script(event, lastPlatform);
    function finishLater(value) { settle(event, value, wantRequest); }
    if (returned !== null && typeof returned === 'object' && typeof returned.then === 'function') {
      then(apply(promiseResolve, PromiseType, [returned]), function (value) { afterIdle(value, finishLater); }, fail);
      return '';
    }
    if (pending === 0) return finish(event, returned, wantRequest);
    afterIdle(returned, finishLater);
    return '';
  }
  function settle(event, value, wantRequest) {
    let json;
    try { json = finish(event, value, wantRequest); } catch (error) { return fail(error); }
    hostDone(json);
  }
  function fail(error) { hostFail(describe(error)); }

  function fire(id) {
    const callback = timers[id];
    if (callback === undefined) return;
    delete timers[id];
    timerCount--;
    try { callback(); } finally { release(); }
  }
  function reset() {
    timers = createObject(null);
    timerCount = 0;
    apiCalls = 0;
    pending = 0;
    onIdle = null;
  }

  // What the host reads of a thrown value, as JSON text. Reading it may run
  // the script's getters, toJSON or Proxy traps: the host calls this under the
  // run's deadline, and an interrupt cannot be caught here.
  function describe(error) {
    const out = createObject(null);
    try {
      if (error instanceof OutputLimit) out.outputLimit = maxResponseChars;
      else if (error instanceof ErrorType) {
        out.name = clip(toText(error.name), 200);
        out.message = clip(toText(error.message), MAX_ERROR_CHARS);
        const stack = error.stack;
        if (typeof stack === 'string') out.stack = clip(stack, MAX_ERROR_CHARS);
      } else if (typeof error === 'string') out.message = clip(error, MAX_ERROR_CHARS);
      else if (error === null || error === undefined) { out.nullish = true; out.message = toText(error); }
      else if (typeof error === 'object') {
        // A thrown plain object ({ code: 1 }) reads better as its JSON than as "[object Object]".
        const json = stringify(error);
        out.message = clip(typeof json === 'string' ? json : toText(error), MAX_ERROR_CHARS);
      } else out.message = clip(toText(error), MAX_ERROR_CHARS);
    } catch (unreadable) {
      out.message = 'the script threw a value that could not be read';
    }
    return stringify(out);
  }

  return { run: run, fire: fire, reset: reset, describe: describe };
})`;
