'use strict';
/*
 * Scriptgate's Node.js runner.
 *
 * Node cannot fork a warm process, so this process lives on and runs one job
 * at a time, each in a fresh vm context: a script's globals never reach the
 * next job. The server gives a runner to one script owner only, because
 * modules loaded with require() are shared inside a process.
 *
 * Protocol: JSON, one message per line. Jobs and API results arrive on fd 3;
 * everything we report leaves on fd 4. console.* is sent as log messages;
 * anything written to fd 1 and 2 directly is turned into log lines by the
 * server. After each job we write an end marker on both.
 */
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const util = require('node:util');
const vm = require('node:vm');

const IN_FD = 3;
const OUT_FD = 4;
const MARKER = Buffer.from(`\u0000SG-END-${process.argv[2] || ''}\u0000\n`);
process.argv.splice(2);
const SLEEP = new Int32Array(new SharedArrayBuffer(4));
const HEADER = '(async function (event, platform) {';
/** Descriptors a job may leave open (keep-alive sockets, say) before the worker is replaced. */
const FD_BUDGET = 64;
/** Error messages longer than this are cut: an exception's text is not a way to move data. */
const MAX_MESSAGE_CHARS = 16384;
/** A result may carry the response twice and the event back: 2 x the response limit + the job's size + this. */
const RESULT_SLACK_BYTES = 64 * 1024;

// ---- protocol ------------------------------------------------------------------

function writeAll(fd, buffer) {
  let offset = 0;
  while (offset < buffer.length) {
    try {
      offset += fs.writeSync(fd, buffer, offset);
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
      Atomics.wait(SLEEP, 0, 0, 1);
    }
  }
}

function send(message) {
  writeAll(OUT_FD, Buffer.from(`${JSON.stringify(message)}\n`));
}

// ---- exit() ends the script, not the runner ---------------------------------------

class ScriptExit {
  constructor(code) {
    this.code = code;
  }
}
const realExit = process.exit.bind(process);
process.exit = function exit(code) {
  const status = code === undefined ? Number(process.exitCode) || 0 : Number(code) || 0;
  // Marked here too: a script that catches the throw still ends as exited, with this status.
  if (current && !current.finished && !current.exited) {
    current.exited = true;
    current.exitCode = status;
  }
  throw new ScriptExit(status);
};

// ---- the per-job world ------------------------------------------------------------

/** Runs in each job's context: builds event and platform out of that context's own objects. */
const PRELUDE = new vm.Script(
  `(function (host) {
  'use strict';
  const parse = JSON.parse;
  const stringify = JSON.stringify;
  const event = parse(host.event);
  const define = (name, fn) => Object.defineProperty(event, name, { value: fn, writable: true, configurable: true, enumerable: false });
  // DreamFactory's: a missing (or falsy) status is 200, a missing content type JSON.
  define('setResponse', function setResponse(content, statusCode, contentType) {
    if (!event.response || typeof event.response !== 'object') event.response = {};
    event.response.content = content;
    event.response.status_code = statusCode || 200;
    event.response.content_type = contentType || 'application/json';
  });
  define('setRequest', function setRequest(request) {
    if (request) event.request = request;
  });
  define('setReturn', function setReturn(content) {
    host.setReturn(content);
  });
  // The body a DreamFactory callback gets: the response body as the REST door sends it
  // (a string as it is, anything else as JSON text, nothing as '').
  const bodyText = (content) => (content === null || content === undefined ? '' : typeof content === 'string' ? content : stringify(content));
  // platform.api.<verb>(path, ...args[, callback]) returns a Promise. The arguments go to the
  // host as they are: it decides which is the payload and which the options (engines/PROTOCOL.md).
  const verb = (method) => function (path, ...args) {
    const callback = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    const call = stringify({ method, path: String(path), args });
    return new Promise((resolve) => {
      host.api(call, (resultJson) => {
        const result = parse(resultJson);
        if (callback) {
          callback(bodyText(result.content), { statusCode: result.status_code, status_code: result.status_code, content: result.content,
            content_type: result.content_type, headers: result.headers });
        }
        resolve(result);
      });
    });
  };
  const api = { get: verb('GET'), post: verb('POST'), put: verb('PUT'), patch: verb('PATCH'), delete: verb('DELETE') };
  api.call = (method, path, ...args) => verb(String(method).toUpperCase())(path, ...args);
  globalThis.global = globalThis;
  // Secrets: no prototype (a name such as "constructor" is only ever a secret) and frozen.
  const secrets = Object.freeze(Object.assign(Object.create(null), parse(host.secrets)));
  return { event, platform: { config: parse(host.config), session: parse(host.session), secrets, api } };
})`,
  { filename: 'scriptgate-prelude.js' },
);

const compiled = new Map();
/** The script is the body of an async function (so `return` and `await` work), line 1 kept as line 1. */
function compile(source) {
  let script = compiled.get(source);
  if (!script) {
    script = new vm.Script(`${HEADER}${source}\n})`, { filename: 'script.js' });
    compiled.set(source, script);
    if (compiled.size > 32) compiled.delete(compiled.keys().next().value);
  }
  return script;
}

const HOST_GLOBALS = [
  'Buffer', 'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder', 'AbortController', 'AbortSignal', 'atob', 'btoa',
  'structuredClone', 'queueMicrotask', 'fetch', 'Headers', 'Request', 'Response', 'FormData', 'Blob', 'performance',
  'crypto', 'EventTarget', 'Event', 'WebAssembly',
];

function globalsFor(job) {
  const globals = {
    console: consoleFor(job),
    require,
    process,
    module: { exports: {} },
    exports: {},
    __filename: path.join(process.cwd(), 'script.js'),
    __dirname: process.cwd(),
    ...timersFor(job),
  };
  for (const name of HOST_GLOBALS) if (globalThis[name] !== undefined) globals[name] = globalThis[name];
  return globals;
}

function consoleFor(job) {
  const write = (...args) => {
    if (!job.finished) send({ t: 'log', job: job.id, s: 'CONSOLE', m: util.format(...args) });
  };
  const counts = new Map();
  const times = new Map();
  return {
    log: write,
    info: write,
    debug: write,
    warn: write,
    error: write,
    trace: (...args) => write(`Trace: ${util.format(...args)}\n${scriptFrames(new Error().stack)}`),
    dir: (value, options) => write(util.inspect(value, options)),
    table: (value) => write(util.inspect(value)),
    assert: (condition, ...args) => {
      if (!condition) write(`Assertion failed${args.length ? `: ${util.format(...args)}` : ''}`);
    },
    count: (label = 'default') => {
      const count = (counts.get(label) || 0) + 1;
      counts.set(label, count);
      write(`${label}: ${count}`);
    },
    time: (label = 'default') => times.set(label, performance.now()),
    timeEnd: (label = 'default') => {
      const start = times.get(label);
      if (start === undefined) return;
      times.delete(label);
      write(`${label}: ${(performance.now() - start).toFixed(3)}ms`);
    },
  };
}

/** Timers scoped to the job: the job is over when its body and all its timers and API calls are. */
function timersFor(job) {
  const add = (kind, handle) => {
    job.timers.set(handle, kind);
    job.pending++;
    return handle;
  };
  const remove = (handle) => {
    if (!job.timers.delete(handle)) return;
    job.pending--;
    checkFinished(job);
  };
  const clear = (kind) => (handle) => {
    if (job.timers.get(handle) !== kind) return;
    CLEAR[kind](handle);
    remove(handle);
  };
  return {
    setTimeout(fn, ms, ...args) {
      const handle = setTimeout(() => {
        remove(handle);
        guard(job, () => fn(...args));
      }, ms);
      return add('timeout', handle);
    },
    setInterval(fn, ms, ...args) {
      return add('interval', setInterval(() => guard(job, () => fn(...args)), ms));
    },
    setImmediate(fn, ...args) {
      const handle = setImmediate(() => {
        remove(handle);
        guard(job, () => fn(...args));
      });
      return add('immediate', handle);
    },
    clearTimeout: clear('timeout'),
    clearInterval: clear('interval'),
    clearImmediate: clear('immediate'),
  };
}
const CLEAR = { timeout: clearTimeout, interval: clearInterval, immediate: clearImmediate };

// ---- running a job -------------------------------------------------------------------

let current = null;
/** The next job's state and fresh context, made while idle (a context costs ~0.4 ms). */
let spare = null;

function newJob() {
  const job = {
    id: 0,
    pending: 0,
    timers: new Map(),
    apiCallbacks: new Map(),
    nextCallId: 0,
    bodyDone: false,
    returned: undefined,
    returnSet: false,
    limits: {},
    finished: false,
    exited: false,
    exitCode: 0,
    event: null,
    context: null,
  };
  job.context = vm.createContext(globalsFor(job));
  return job;
}

function prepareSpare() {
  if (!spare && !current) spare = newJob();
}

function startJob(frame) {
  const job = spare || newJob();
  spare = null;
  job.id = frame.id;
  job.event = frame.event;
  job.limits = frame.limits || {};
  job.maxResultChars = job.limits.maxResponseBytes ? 2 * job.limits.maxResponseBytes + frame.size + RESULT_SLACK_BYTES : Infinity;
  current = job;
  process.exitCode = undefined; // a status an earlier script left is not this one's
  try {
    const context = job.context;
    const { event, platform } = PRELUDE.runInContext(context)({
      event: JSON.stringify(frame.event),
      config: JSON.stringify(frame.platform.config || {}),
      session: JSON.stringify(frame.platform.session || {}),
      secrets: JSON.stringify(frame.platform.secrets || {}),
      api: (callJson, deliver) => callApi(job, callJson, deliver),
      setReturn: (value) => {
        job.returned = value;
        job.returnSet = true;
      },
    });
    job.event = event;
    const main = compile(String(frame.script)).runInContext(context);
    main(event, platform).then(
      (value) => {
        job.bodyDone = true;
        if (!job.returnSet) job.returned = value;
        checkFinished(job);
      },
      (error) => fail(job, error),
    );
  } catch (error) {
    fail(job, error);
  }
}

function callApi(job, callJson, deliver) {
  if (job.finished) return;
  const id = ++job.nextCallId;
  job.pending++;
  job.apiCallbacks.set(id, deliver);
  writeAll(OUT_FD, Buffer.from(`{"t":"api","job":${job.id},"id":${id},"call":${callJson}}\n`));
}

function onApiResult(frame) {
  const job = current;
  if (!job || frame.job !== job.id) return;
  const deliver = job.apiCallbacks.get(frame.id);
  if (!deliver) return;
  job.apiCallbacks.delete(frame.id);
  job.pending--;
  guard(job, () => deliver(JSON.stringify(frame.result)));
  checkFinished(job);
}

function guard(job, fn) {
  if (job.finished) return;
  try {
    fn();
  } catch (error) {
    fail(job, error);
  }
}

/** Checked after pending microtasks ran, so `.then` chains the script started still count. */
function checkFinished(job) {
  setImmediate(() => {
    if (!job.finished && job.bodyDone && job.pending === 0) finish(job);
  });
}

function finish(job) {
  job.finished = true;
  clearJobTimers(job);
  const returned = job.returned === undefined || job.exited ? null : job.returned;
  let line;
  try {
    const message = { t: 'result', job: job.id, returned, event: job.event };
    if (job.exited) Object.assign(message, { exited: true, exitCode: job.exitCode });
    line = JSON.stringify(message);
  } catch (error) {
    const where = firstUnserialisable(returned, 'return value') || firstUnserialisable(job.event, 'event') || 'result';
    line = JSON.stringify({ t: 'error', job: job.id, kind: 'error', message: `The script's ${where} cannot be converted to JSON: ${error.message}` });
  }
  // Characters, not bytes: the server's own check on bytes is exact; this spares it most oversized results.
  if (line.length > job.maxResultChars) {
    line = JSON.stringify({ t: 'error', job: job.id, kind: 'output', message: `The script's result is larger than the response limit of ${job.limits.maxResponseBytes} bytes.` });
  }
  writeAll(OUT_FD, Buffer.from(`${line}\n`));
  end(job);
}

function fail(job, error) {
  if (job.finished) return;
  if (error instanceof ScriptExit) {
    if (!job.exited) {
      job.exited = true;
      job.exitCode = error.code;
    }
    finish(job);
    return;
  }
  job.finished = true;
  clearJobTimers(job);
  const described = describe(error);
  described.message = described.message.slice(0, MAX_MESSAGE_CHARS);
  if (described.stack) described.stack = described.stack.slice(0, MAX_MESSAGE_CHARS);
  send({ t: 'error', job: job.id, kind: 'error', ...described });
  end(job);
}

function end(job) {
  // Processes the script left running (children or daemons) would reach the next job: the server
  // sees them from outside, in the sandbox's process tree, and replaces this runner.
  // Descriptors the script left open would pile up until the next job cannot open any: past the
  // budget, the lowest free number is past it too.
  const free = lowestFreeFd();
  const dirty = free === null || free > fdLimit;
  writeAll(1, MARKER);
  writeAll(2, MARKER);
  send({ t: 'done', job: job.id, dirty });
  if (current === job) current = null;
  job.context = null;
  setImmediate(prepareSpare);
}

/**
 * The lowest descriptor number free (what the next open gets): an open and a close, a few µs,
 * against tens of µs to list /proc/self/fd. null when even that fails (at the descriptor limit).
 */
function lowestFreeFd() {
  try {
    const fd = fs.openSync('/dev/null', 'r');
    fs.closeSync(fd);
    return fd;
  } catch {
    return null;
  }
}
let fdLimit = Infinity;

function clearJobTimers(job) {
  for (const [handle, kind] of job.timers) CLEAR[kind](handle);
  job.timers.clear();
  job.apiCallbacks.clear();
  job.pending = 0;
}

/** message, line and column in the script (values from a job's context are not instanceof Error here). */
function describe(error) {
  if (error && typeof error === 'object' && typeof error.message === 'string') {
    const stack = typeof error.stack === 'string' ? error.stack : '';
    const where = /script\.js:(\d+)(?::(\d+))?/.exec(stack);
    const line = where ? Number(where[1]) : undefined;
    let column = where && where[2] ? Number(where[2]) : undefined;
    if (line === 1 && column !== undefined) column = Math.max(1, column - HEADER.length);
    return { message: `${error.name || 'Error'}: ${error.message}`, line, column, stack: scriptFrames(stack) || undefined };
  }
  return { message: typeof error === 'string' ? error : `Uncaught ${util.inspect(error)}` };
}

function scriptFrames(stack) {
  return String(stack || '').split('\n').filter((line) => /^\s+at .*script\.js:\d+/.test(line)).join('\n');
}

/** Where in a value JSON fails, e.g. "return value.items[2] (a BigInt)". */
function firstUnserialisable(value, where, seen = new Set()) {
  if (typeof value === 'bigint') return `${where} (a BigInt)`;
  if (value === null || typeof value !== 'object') return null;
  if (seen.has(value)) return `${where} (a circular reference)`;
  if (typeof value.toJSON === 'function') return null;
  seen.add(value);
  for (const [key, item] of Object.entries(value)) {
    const found = firstUnserialisable(item, Array.isArray(value) ? `${where}[${key}]` : `${where}.${key}`, seen);
    if (found) return found;
  }
  seen.delete(value);
  return null;
}

// ---- errors outside the script's own call stack belong to the running job -------------------

process.on('uncaughtException', (error) => {
  if (current) fail(current, error);
  else fs.writeSync(2, `scriptgate runner: ${util.inspect(error)}\n`);
});
process.on('unhandledRejection', (reason) => {
  if (current) fail(current, reason);
});

// ---- syntax check: compile without running ----------------------------------------------

/** Diagnostics a check answers with, at most, each message at most this long (the server bounds them too). */
const MAX_DIAGNOSTICS = 20;
const MAX_DIAGNOSTIC_CHARS = 1000;

/**
 * Compiles the script as a job would (the same wrapper) without running it: vm.Script only
 * compiles. V8 reports one error, where its caret points.
 */
function check(frame) {
  const diagnostics = [];
  try {
    new vm.Script(`${HEADER}${String(frame.script)}\n})`, { filename: 'script.js' });
  } catch (error) {
    diagnostics.push(syntaxDiagnostic(error));
  }
  send({ t: 'checked', id: frame.id, diagnostics: diagnostics.slice(0, MAX_DIAGNOSTICS) });
}

function syntaxDiagnostic(error) {
  const stack = error && typeof error.stack === 'string' ? error.stack.split('\n') : [];
  const where = /^script\.js:(\d+)$/.exec(stack[0] || '');
  const line = where ? Number(where[1]) : 1;
  const caret = where && stack[2] !== undefined ? stack[2].indexOf('^') : -1;
  let column = caret >= 0 ? caret + 1 : 1;
  if (line === 1) column = Math.max(1, column - HEADER.length);
  const message = error && typeof error.message === 'string' ? `${error.name || 'SyntaxError'}: ${error.message}` : String(error);
  return { severity: 'ERROR', message: message.slice(0, MAX_DIAGNOSTIC_CHARS), line, column };
}

// ---- main loop -----------------------------------------------------------------------

function onMessage(message) {
  if (message.t === 'job') {
    if (current) {
      send({ t: 'error', job: message.id, kind: 'error', message: 'runner busy' });
      send({ t: 'done', job: message.id });
      return;
    }
    startJob(message);
  } else if (message.t === 'api-result') {
    onApiResult(message);
  } else if (message.t === 'check') {
    check(message);
  }
}

const input = new net.Socket({ fd: IN_FD, readable: true, writable: false });
let buffered = [];
input.on('data', (chunk) => {
  let start = 0;
  for (;;) {
    const newline = chunk.indexOf(10, start);
    if (newline < 0) break;
    const line = Buffer.concat([...buffered, chunk.subarray(start, newline)]).toString('utf8');
    buffered = [];
    start = newline + 1;
    if (line.trim()) {
      const message = JSON.parse(line);
      message.size = line.length;
      onMessage(message);
    }
  }
  if (start < chunk.length) buffered.push(chunk.subarray(start));
});
input.on('end', () => realExit(0));
input.on('error', () => realExit(0));

/** The first vm context and compile in a process are slow (~40 ms): pay for them before saying ready. */
function warmUp() {
  const job = { id: 0, pending: 0, timers: new Map(), apiCallbacks: new Map(), finished: true };
  const context = vm.createContext(globalsFor(job));
  const { event, platform } = PRELUDE.runInContext(context)({
    event: '{"request":{},"response":{}}', config: '{}', session: '{}', secrets: '{}', api: () => {}, setReturn: () => {},
  });
  const main = new vm.Script(`${HEADER}return { a: [1, 2.5, 'b', null, true] };\n})`, { filename: 'warm-up.js' });
  main.runInContext(context)(event, platform).then((value) => JSON.stringify({ returned: value, event }));
}

/**
 * If the server dies, so do we. In the sandbox bwrap's --die-with-parent ends the whole PID
 * namespace (there our parent is its init, pid 1). Unsandboxed, Node has no prctl(PR_SET_PDEATHSIG):
 * a watchdog thread, which runs while a script keeps the main thread busy, notices that we were
 * handed to another parent and kills the process.
 */
function dieWithParent() {
  const parent = process.ppid;
  if (parent === 1) return;
  const { Worker } = require('node:worker_threads');
  const source = `const parent = require('node:worker_threads').workerData;
setInterval(() => { if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL'); }, 500);`;
  new Worker(source, { eval: true, workerData: parent, resourceLimits: { maxOldGenerationSizeMb: 8 } }).unref();
}

dieWithParent();
warmUp();
prepareSpare();
fdLimit = (lowestFreeFd() ?? 0) + FD_BUDGET;
send({ t: 'ready', pid: process.pid, version: process.version });
