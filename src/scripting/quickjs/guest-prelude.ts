/**
 * Guest-side JavaScript evaluated once per warm context. It takes the raw host
 * functions off the global object (scripts only see the conventions below)
 * and returns the three entry points the host calls: run, fire and reset.
 */
export const GUEST_PRELUDE = String.raw`(function (hostLog, hostApi, hostTimer, hostClearTimer) {
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

  // The request is parsed on first use: parsing it is most of a small
  // script's cost in QuickJS, and many scripts never read it.
  function run(script, requestJson, restJson, platformJson, wantRequest) {
    const event = JSON.parse(restJson);
    let request;
    Object.defineProperty(event, 'request', {
      enumerable: true,
      configurable: true,
      get: function () { if (request === undefined) request = JSON.parse(requestJson); return request; },
      set: function (value) { request = value; },
    });
    Object.defineProperty(event, 'setResponse', {
      enumerable: false,
      value: function (content, statusCode, contentType) {
        event.response.content = content;
        event.response.status_code = statusCode === undefined ? 200 : statusCode;
        event.response.content_type = contentType === undefined ? 'application/json' : contentType;
      },
    });
    // The host sends platform only when it changed; the shared copy is frozen so no call can alter it for the next.
    if (platformJson !== '') {
      const given = JSON.parse(platformJson);
      lastPlatform = freeze({ api: api, config: given.config, session: given.session });
    }
    const platform = lastPlatform;
    function finish(returned) {
      // Only what the host reads goes back: serialising the whole event costs as much as a small script.
      const out = { returned: returned === undefined ? null : returned, response: event.response };
      if (wantRequest && request !== undefined) out.request = request;
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
