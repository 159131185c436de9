/**
 * Guest-side JavaScript evaluated once per warm context. It takes the raw host
 * functions off the global object (scripts only see the conventions below)
 * and returns the three entry points the host calls: run, fire and reset.
 */
export const GUEST_PRELUDE = String.raw`(function (hostLog, hostApi, hostTimer, hostClearTimer, hostRequest) {
  'use strict';
  let timers = new Map();
  let nextTimer = 1;
  // Like a Node process, a run ends once the script returned and nothing it
  // started (timers, platform.api calls) is still pending: DreamFactory's
  // callback-style scripts set the response from a callback.
  let pending = 0;
  let onIdle = null;
  function hold() { pending++; }
  function release() {
    if (--pending === 0 && onIdle) { const resume = onIdle; onIdle = null; resume(); }
  }
  function whenIdle(value) {
    return pending === 0 ? value : new Promise(function (resolve) { onIdle = function () { resolve(value); }; });
  }

  function text(args) {
    return args.map(function (value) {
      if (typeof value === 'string') return value;
      if (value instanceof Error) return value.stack ? value.name + ': ' + value.message + '\n' + value.stack : String(value);
      try { const json = JSON.stringify(value); return json === undefined ? String(value) : json; } catch (e) { return String(value); }
    }).join(' ');
  }
  const consoleObject = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
    consoleObject[level] = function () { hostLog(level, text(Array.prototype.slice.call(arguments))); };
  }
  globalThis.console = consoleObject;

  globalThis.setTimeout = function (callback, ms) {
    const extra = Array.prototype.slice.call(arguments, 2);
    if (typeof callback !== 'function') throw new TypeError('setTimeout needs a function');
    const id = nextTimer++;
    timers.set(id, function () { callback.apply(undefined, extra); });
    hold();
    hostTimer(id, Math.max(0, Number(ms) || 0));
    return id;
  };
  globalThis.clearTimeout = function (id) {
    if (timers.delete(id)) { hostClearTimer(id); release(); }
  };

  // platform.api.<verb>(path, payload, options[, callback]): a Promise of
  // {status_code, content, content_type, headers}. DreamFactory's Node.js
  // style get(path, options, callback) / post(path, payload, options, callback)
  // also works; the callback gets (body as a JSON string, response).
  function caller(method) {
    return function (path) {
      let rest = Array.prototype.slice.call(arguments, 1);
      let callback;
      if (rest.length && typeof rest[rest.length - 1] === 'function') callback = rest.pop();
      let payload = rest[0];
      let options = rest[1];
      if (callback && (method === 'GET' || method === 'DELETE') && rest.length === 1) { options = payload; payload = undefined; }
      hold();
      const promise = hostApi(
        method,
        String(path),
        payload === undefined || payload === null || payload === '' ? '' : JSON.stringify(payload),
        options && typeof options === 'object' ? JSON.stringify(options) : ''
      ).then(function (json) { return JSON.parse(json); });
      if (!callback) {
        promise.then(release, release);
        return promise;
      }
      promise.then(function (response) {
        const body = typeof response.content === 'string' ? response.content : JSON.stringify(response.content);
        try { callback(body, response); } finally { release(); }
      }, release);
      return undefined;
    };
  }
  const api = { get: caller('GET'), post: caller('POST'), put: caller('PUT'), patch: caller('PATCH') };
  api['delete'] = caller('DELETE');

  let lastPlatform = null;
  function freeze(value) {
    if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
      Object.freeze(value);
      for (const key of Object.keys(value)) freeze(value[key]);
    }
    return value;
  }

  // The event's shared behaviour lives on a prototype, so a run defines no
  // properties; the request is fetched and parsed on first use, since moving
  // it in was much of a small script's cost and many scripts never read it.
  const REQUEST = Symbol('request');
  const RESPONSE = Symbol('response');
  function ScriptEvent() {}
  // The response is made on first use too: a script that returns its result never touches it.
  Object.defineProperty(ScriptEvent.prototype, 'response', {
    get: function () {
      if (this[RESPONSE] === undefined) this[RESPONSE] = { status_code: 200, content: null, content_type: null, headers: {} };
      return this[RESPONSE];
    },
    set: function (value) { this[RESPONSE] = value; },
  });
  Object.defineProperty(ScriptEvent.prototype, 'request', {
    get: function () {
      // Fetched from the host on first use: most of a small script's cost was moving it in.
      if (this[REQUEST] === undefined) this[REQUEST] = JSON.parse(hostRequest());
      return this[REQUEST];
    },
    set: function (value) { this[REQUEST] = value; },
  });
  Object.defineProperty(ScriptEvent.prototype, 'setResponse', {
    value: function (content, statusCode, contentType) {
      this.response.content = content;
      this.response.status_code = statusCode === undefined ? 200 : statusCode;
      this.response.content_type = contentType === undefined ? 'application/json' : contentType;
    },
  });
  Object.defineProperty(ScriptEvent.prototype, 'toJSON', {
    value: function () { return Object.assign({ request: this.request, response: this.response }, this); },
  });

  // Empty strings arrive as undefined. restJson is empty for a fresh response: { resource } plus the default response.
  function run(script, resource, restJson, platformJson, wantRequest) {
    const event = new ScriptEvent();
    if (restJson === undefined) event.resource = resource === undefined ? '' : resource;
    else Object.assign(event, JSON.parse(restJson));
    // The host sends platform only when it changed; the shared copy is frozen so no call can alter it for the next.
    if (platformJson !== undefined) {
      const given = JSON.parse(platformJson);
      lastPlatform = freeze({ api: api, config: given.config, session: given.session });
    }
    const platform = lastPlatform;
    function finish(returned) {
      // Only what the host reads goes back: serialising the whole event costs as much as a small script.
      const out = { returned: returned === undefined ? null : returned, response: event[RESPONSE] };
      if (wantRequest && event[REQUEST] !== undefined) out.request = event[REQUEST];
      return JSON.stringify(out);
    }
    // Scripts without await are compiled as plain functions: their result comes
    // back at once as a string, with no promise jobs to run.
    const returned = script(event, platform);
    if (returned !== null && typeof returned === 'object' && typeof returned.then === 'function') {
      return returned.then(whenIdle).then(finish);
    }
    return pending === 0 ? finish(returned) : whenIdle(returned).then(finish);
  }
  function fire(id) {
    const callback = timers.get(id);
    timers.delete(id);
    if (!callback) return;
    try { callback(); } finally { release(); }
  }
  function reset() {
    timers = new Map();
    pending = 0;
    onIdle = null;
  }
  return { run: run, fire: fire, reset: reset };
})`;
