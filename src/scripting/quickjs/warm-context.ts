import type { QuickJSContext, QuickJSDeferredPromise, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule } from 'quickjs-emscripten';
import { ScriptFailure } from '../failure.ts';
import { normaliseApiCall } from '../subprocess/api-call.ts';
import { MAX_API_CALLS_IN_FLIGHT, type ScriptEvent, type ScriptJob, type ScriptLimits, type ScriptOutcome } from '../types.ts';
import { randomFillSync } from 'node:crypto';
import { heapOf } from './capped-modules.ts';
import { captureImage, type InstanceImage } from './instance-image.ts';
import { asScriptFailure, thrownFailure, timeoutFailure, type ThrownDescription } from './failures.ts';
import { GUEST_PRELUDE, MAX_PENDING_TIMERS, PRELUDE_PARTS } from './guest-prelude.ts';
import { wrapScript } from './script-source.ts';
import { threadCpuReader } from './thread-cpu.ts';

/** Read once per process: the file stays open (see thread-cpu.ts). */
const threadCpu = threadCpuReader();

const STACK_LIMIT_BYTES = 200 * 1024;
/** The prelude is our own code, but it runs in the guest like any other: under a deadline too. */
const PRELUDE_DEADLINE_MS = 1000;

/** What one run holds on to, so a timeout can release all of it. */
interface ActiveRun {
  job: ScriptJob;
  timers: Map<number, NodeJS.Timeout>;
  pendingCalls: Set<QuickJSDeferredPromise>;
  /** The guest finished later (after timers or API calls): its result as JSON text. */
  settle: (json: string) => void;
  /** Ends the run early (deadline passed, uncaught error in a callback, shutdown). */
  abort: (failure: ScriptFailure) => void;
  /** Whether the guest started timers or API calls, leaving state to reset. */
  startedAsync: boolean;
  /** Milliseconds the host thread spent in this run's guest code so far (measured only when job.usage is set). */
  cpuMs: number;
  deadlineTimer?: NodeJS.Timeout;
}

const nothing = () => undefined;

/**
 * One QuickJS runtime and context, made ready (prelude installed) before it
 * is given a script, then holding one service's compiled script for life.
 * A runtime per context because memory limits and interrupt deadlines are
 * per runtime; it serves one run at a time, so a deadline is exact.
 * A context that failed, hit a limit or timed out is never reused.
 *
 * Guest code runs only under a deadline: the interrupt handler stops any
 * guest code while no deadline is set, so nothing the host does between runs
 * (reset, describing an error, disposing) can hang the server on a script's
 * getter, toJSON or replaced built-in.
 */
export class WarmContext {
  private readonly runtime: QuickJSRuntime;
  private readonly context: QuickJSContext;
  private readonly entry: { run: QuickJSHandle; fire: QuickJSHandle; reset: QuickJSHandle; describe: QuickJSHandle; prepare: QuickJSHandle };
  private script: QuickJSHandle | null = null;
  /** Characters the wrapper adds before the script on line 1 (error columns). */
  private prefixLength = 0;
  /** Guest code may run until this time (ms since the epoch); 0: none may run now. */
  private deadline = 0;
  /** The interrupt handler stopped guest code: the run timed out, whatever the guest did next. */
  private interrupted = false;
  /** The platform JSON the guest holds (it is only sent again when it changes). */
  private lastPlatform: string | null = null;
  private lastPlatformObject: ScriptJob['platform'] | null = null;
  private lastLimits: ScriptLimits | null = null;
  private active: ActiveRun | null = null;
  private disposed = false;
  /** A slice of guest work is being timed (see timed). */
  private measuring = false;
  /** The thread's CPU time (ms) when the interrupt handler first ran in the slice being timed, and the clock then. */
  private sliceCpu: number | null = null;
  private sliceCpuAt = 0;
  /** False once this context must not serve another run (its script failed, timed out or hit a limit). */
  healthy = true;
  /**
   * The instance itself failed (a WebAssembly trap, an exception through its
   * frames): its stack pointer, which no image holds, may be anywhere, so it
   * is never restored. An unhealthy context that did not crash is: a script
   * that fails on every call would otherwise cost an instance a call.
   */
  private crashed = false;
  /** Why disposing failed, if it did: the instance was abandoned instead (for the server log). */
  disposeError: unknown = null;
  /** The instance's memory as it was once the prelude was installed (see instance-image.ts); null: none was taken. */
  private readonly image: InstanceImage | null = null;

  /**
   * A context with the prelude installed and no script yet (see `load`). In
   * a new instance (`freshInstance`) the memory image is taken then, for
   * `recycled` to return to.
   */
  constructor(
    private readonly module: QuickJSWASMModule,
    readonly memoryLimitMb: number,
    freshInstance = false,
  ) {
    this.runtime = module.newRuntime();
    this.runtime.setMemoryLimit(memoryLimitMb * 1024 * 1024);
    this.runtime.setMaxStackSize(STACK_LIMIT_BYTES);
    this.runtime.setInterruptHandler(() => this.shouldInterrupt());
    this.context = this.runtime.newContext();
    try {
      this.entry = this.withDeadline(Date.now() + PRELUDE_DEADLINE_MS, () => this.installPrelude());
      if (freshInstance && this.prepareParts()) this.image = captureImage(heapOf(module), this.entry.run.value);
    } catch (error) {
      this.dispose();
      throw asScriptFailure(error);
    }
  }

  /** Compiles every part of the prelude now, for the image (see guest-prelude.ts's prepare); false when it failed. */
  private prepareParts(): boolean {
    return this.withDeadline(Date.now() + PRELUDE_DEADLINE_MS, () => {
      const prepared = this.context.callFunction(this.entry.prepare, this.context.undefined);
      if (prepared.error) {
        prepared.error.dispose();
        return false;
      }
      prepared.value.dispose();
      return true;
    });
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Bytes of linear memory the instance holds now; it never shrinks. */
  get memoryBytes(): number {
    return heapOf(this.module).byteLength;
  }

  /** Compiles the job's script into this context, once. Throws when it does not compile, leaving the context unhealthy. */
  load(job: ScriptJob): this {
    if (this.script) throw new Error('this context already holds a script');
    // Checked on the host first: a body that closes the wrapper early never reaches QuickJS.
    const { source, prefixLength } = wrapScript(job.scriptKey, job.script);
    this.prefixLength = prefixLength;
    this.interrupted = false;
    try {
      this.script = this.withDeadline(Date.now() + job.limits.timeoutMs, () => {
        const result = this.context.evalCode(source, `${job.scriptKey}.js`);
        if (result.error) throw this.thrown(result.error, job);
        return result.value;
      });
    } catch (error) {
      this.markFailed(error);
      throw error;
    }
    return this;
  }

  async run(job: ScriptJob): Promise<ScriptOutcome> {
    const run: ActiveRun = { job, timers: new Map(), pendingCalls: new Set(), settle: nothing, abort: nothing, startedAsync: false, cpuMs: 0 };
    this.active = run;
    this.interrupted = false;
    this.deadline = Date.now() + job.limits.timeoutMs;
    try {
      let text = this.timed(run, () => this.start(run));
      if (text === '') text = await this.finishLater(run);
      if (this.interrupted) throw timeoutFailure(job);
      const parsed = JSON.parse(text) as { returned: unknown; response?: ScriptEvent['response']; request?: ScriptEvent['request'] };
      return {
        returned: parsed.returned ?? undefined,
        // No response in the result: the script never touched it.
        event: { ...job.event, request: parsed.request ?? job.event.request, response: parsed.response ?? job.event.response },
      };
    } catch (error) {
      throw this.runFailure(error, job);
    } finally {
      this.endRun(run);
      if (job.usage) this.reportUsage(run);
    }
  }

  /**
   * CPU: the time the server's thread spent inside the guest's synchronous
   * slices (QuickJS runs on it, so that time is CPU time unless the OS took
   * the thread away meanwhile). Memory: the instance's linear memory, which
   * only grows, so it holds this run's peak (and any earlier run's in the
   * same warm context). The runtime's own malloc_size counts 8 bytes an
   * allocation in this build, and computeMemoryUsage walks every object
   * (0.8 ms): neither serves per run.
   */
  private reportUsage(run: ActiveRun): void {
    let peakMemoryBytes: number | null = null;
    try {
      peakMemoryBytes = this.memoryBytes;
    } catch {
      // an aborted instance: unknown
    }
    run.job.usage!({ cpuMs: Math.round(run.cpuMs * 1000) / 1000, peakMemoryBytes });
  }

  /** Ends the run in progress, if any, with this failure (shutting down). */
  abort(failure: ScriptFailure): void {
    this.active?.abort(failure);
  }

  /**
   * This instance made ready for another script. With a memory image, the
   * instance is put back as it was before any script ran (a copy of about
   * 200 KB, see instance-image.ts) and this same context is returned.
   * Otherwise a fresh runtime and context are made in it: about 0.9 ms, still
   * a tenth of a new instance. Either way nothing of this runtime survives,
   * so a script cannot see what ran here before. Null when this runtime
   * could not be freed cleanly: then the instance is dropped.
   */
  recycled(): WarmContext | null {
    if (this.active) throw new Error('a context is recycled only between runs');
    if (this.restorable) {
      // The script's handle points into memory the image overwrites: dropped, never freed.
      this.script = null;
      this.image!.restore(heapOf(this.module));
      this.lastPlatform = null;
      this.lastPlatformObject = null;
      this.lastLimits = null;
      this.interrupted = false;
      this.deadline = 0;
      this.healthy = true;
      return this;
    }
    this.dispose();
    return this.disposeError ? null : new WarmContext(this.module, this.memoryLimitMb);
  }

  /** This context failed: it serves no other run until restored, and never again if its instance crashed. */
  private markFailed(error: unknown): ScriptFailure {
    this.healthy = false;
    const failure = asScriptFailure(error);
    if (failure.kind === 'crashed') this.crashed = true;
    return failure;
  }

  /** What a failed run ends with: a timeout when the deadline interrupted it and the instance held. */
  private runFailure(error: unknown, job: ScriptJob): ScriptFailure {
    const failure = this.markFailed(error);
    return this.interrupted && failure.kind !== 'crashed' ? timeoutFailure(job) : failure;
  }

  /** Whether `recycled` restores this instance's image (and returns this same context). */
  get restorable(): boolean {
    return this.image !== null && !this.crashed && !this.disposed;
  }

  /** Never throws: a runtime that cannot be freed cleanly is abandoned with its instance. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.healthy = false;
    const run = this.active;
    if (run) {
      run.abort(new ScriptFailure('unavailable', 'The javascript engine is shutting down.'));
      this.endRun(run);
    }
    try {
      for (const handle of [this.entry?.run, this.entry?.fire, this.entry?.reset, this.entry?.describe, this.entry?.prepare, this.script]) {
        if (handle?.alive) handle.dispose();
      }
      if (this.context.alive) this.context.dispose();
      if (this.runtime.alive) this.runtime.dispose();
    } catch (error) {
      // Live objects fail QuickJS's assertion in JS_FreeRuntime, which aborts the instance.
      // Nothing else uses it: dropping it frees its memory.
      this.disposeError = error;
    }
  }

  private shouldInterrupt(): boolean {
    if (this.measuring && this.sliceCpu === null) {
      this.sliceCpu = threadCpu();
      this.sliceCpuAt = performance.now();
    }
    if (this.deadline !== 0 && Date.now() <= this.deadline) return false;
    this.interrupted = true;
    return true;
  }

  private withDeadline<T>(deadline: number, body: () => T): T {
    const previous = this.deadline;
    this.deadline = deadline;
    try {
      return body();
    } finally {
      this.deadline = previous;
    }
  }

  /** Calls the script; its result as JSON text, or '' when it is still waiting on timers or API calls. */
  private start(run: ActiveRun): string {
    const { context } = this;
    const { job } = run;
    if (!this.script) throw new Error('no script loaded into this context');
    // The same platform object as last time means the guest already holds it.
    const platformText = (job.platform === this.lastPlatformObject && this.lastPlatform) || JSON.stringify(job.platform);
    this.lastPlatformObject = job.platform;
    // A context's first run seeds its Math.random: a context restored from its image would repeat the numbers otherwise.
    const limitsText =
      job.limits === this.lastLimits ? '' : JSON.stringify({ response: job.limits.maxResponseBytes, log: job.limits.maxLogBytes, seed: randomSeed() });
    this.lastLimits = job.limits;
    // Empty strings are sent as undefined: no allocation in the guest heap.
    const guestString = (value: string) => (value === '' ? context.undefined : context.newString(value));
    const args = [
      guestString(job.event.resource),
      guestString(isFreshEvent(job.event) ? '' : JSON.stringify({ ...job.event, request: undefined, graphql: undefined })),
      guestString(platformText === this.lastPlatform ? '' : platformText),
      guestString(limitsText),
    ];
    // A typed field's call apart, parsed only if the script reads it: in the event's JSON, it cost every call 17 µs.
    const graphql = job.event.graphql === undefined ? context.undefined : context.newString(JSON.stringify(job.event.graphql));
    this.lastPlatform = platformText;
    const wantRequest = job.wantRequest ? context.true : context.false;
    const called = context.callFunction(this.entry.run, context.undefined, this.script, ...args, wantRequest, graphql);
    for (const arg of args) arg.dispose();
    graphql.dispose();
    if (called.error) throw this.thrown(called.error, job);
    // The prelude's run returns a string, always: reading it runs no guest code.
    const text = context.getString(called.value);
    called.value.dispose();
    return text;
  }

  private finishLater(run: ActiveRun): Promise<string> {
    run.startedAsync = true;
    return new Promise<string>((resolve, reject) => {
      run.settle = resolve;
      run.abort = reject;
      // The interrupt handler only runs while guest code runs; a guest awaiting
      // a timer or an API call is stopped by this host-side deadline instead.
      run.deadlineTimer = setTimeout(() => reject(timeoutFailure(run.job)), Math.max(0, this.deadline - Date.now()));
      this.guard(run, () => this.pump(run));
    });
  }

  private endRun(run: ActiveRun): void {
    clearTimeout(run.deadlineTimer);
    for (const timer of run.timers.values()) clearTimeout(timer);
    run.timers.clear();
    try {
      for (const call of run.pendingCalls) if (call.alive) call.dispose();
    } catch {
      this.healthy = false;
      this.crashed = true;
    }
    run.pendingCalls.clear();
    if (this.active !== run) return;
    this.active = null;
    if (run.startedAsync && this.healthy) {
      // Still under the run's deadline; the prelude's reset touches nothing the script can replace.
      try {
        const reset = this.context.callFunction(this.entry.reset, this.context.undefined);
        if (reset.error) {
          reset.error.dispose();
          this.healthy = false;
        } else reset.value.dispose();
      } catch {
        this.healthy = false;
        this.crashed = true;
      }
      if (this.interrupted) this.healthy = false;
    }
    this.deadline = 0;
  }

  /** Runs queued promise jobs; called after anything the host resolves. */
  private pump(run: ActiveRun): void {
    if (this.active !== run) return;
    const result = this.runtime.executePendingJobs();
    if (result.error) run.abort(this.thrown(result.error, run.job));
    else if (this.interrupted) run.abort(timeoutFailure(run.job));
  }

  /**
   * Every host callback that touches QuickJS runs through here: an exception
   * out of a timer or promise callback would take the whole server down.
   */
  private guard(run: ActiveRun, body: () => void): void {
    try {
      this.timed(run, body);
    } catch (error) {
      run.abort(this.runFailure(error, run.job));
    }
  }

  /**
   * Runs one synchronous slice of guest work and adds its CPU time to the
   * run: the slice's duration on the host thread; for a slice long enough to
   * reach the interrupt handler, from then on the thread's CPU time, so time
   * the OS gave to others is not counted. Never more than the time that passed.
   * A short slice costs two clock reads; a long one two CPU reads more.
   */
  private timed<T>(run: ActiveRun, body: () => T): T {
    if (!run.job.usage) return body();
    const began = performance.now();
    this.sliceCpu = null;
    this.measuring = true;
    try {
      return body();
    } finally {
      this.measuring = false;
      const cpu = this.sliceCpu;
      const wall = performance.now() - began;
      if (cpu !== null) {
        run.cpuMs += Math.min(wall, this.sliceCpuAt - began + threadCpu() - cpu);
        this.sliceCpu = null;
      } else run.cpuMs += wall;
    }
  }

  private installPrelude() {
    const { context } = this;
    const log = context.newFunction('log', (toStderr, message) => {
      const run = this.active;
      if (!run) return;
      run.job.log(context.getNumber(toStderr) === 1 ? 'STDERR' : 'CONSOLE', context.getString(message));
    });
    const api = context.newFunction('api', (method, path, args) => {
      const run = this.active;
      // Both are guest-side errors: the prelude bounds calls first, this is the host's own bound.
      if (!run) throw new Error('platform.api is only available while the script runs');
      if (run.pendingCalls.size >= MAX_API_CALLS_IN_FLIGHT) throw new Error(`platform.api: at most ${MAX_API_CALLS_IN_FLIGHT} calls may be in flight at once`);
      // The script's arguments as given: which is the payload and which the options is decided once, for every engine.
      const call = normaliseApiCall({ method: context.getString(method), path: context.getString(path), args: JSON.parse(context.getString(args)) });
      const deferred = context.newPromise();
      run.pendingCalls.add(deferred);
      run.startedAsync = true;
      let answer: Promise<unknown>;
      try {
        answer = run.job.api(call);
      } catch (error) {
        answer = Promise.reject(error);
      }
      answer.then(
        (result) => this.answerCall(run, deferred, true, JSON.stringify(result)),
        (error: unknown) => this.answerCall(run, deferred, false, error instanceof Error ? error.message : String(error)),
      );
      return deferred.handle;
    });
    const timer = context.newFunction('timer', (idHandle, msHandle) => {
      const run = this.active;
      if (!run) return;
      if (run.timers.size >= MAX_PENDING_TIMERS) throw new Error(`setTimeout: at most ${MAX_PENDING_TIMERS} timers may be pending`);
      const id = context.getNumber(idHandle);
      // A timer past the deadline never fires usefully; this also keeps Node's delay in range.
      const delay = Math.min(context.getNumber(msHandle), Math.max(0, this.deadline - Date.now()));
      run.startedAsync = true;
      run.timers.set(
        id,
        setTimeout(() => this.fireTimer(run, id), delay),
      );
    });
    const clearTimer = context.newFunction('clearTimer', (idHandle) => {
      const run = this.active;
      const id = context.getNumber(idHandle);
      const pending = run?.timers.get(id);
      if (pending) clearTimeout(pending);
      run?.timers.delete(id);
    });
    const request = context.newFunction('request', () => context.newString(JSON.stringify(this.active?.job.event.request ?? null)));
    const done = context.newFunction('done', (json) => {
      this.active?.settle(context.getString(json));
    });
    const fail = context.newFunction('fail', (description) => {
      const run = this.active;
      if (run) run.abort(this.failureFrom(JSON.parse(context.getString(description)) as ThrownDescription, run.job));
    });
    // The source of a part the prelude compiles on first use (see guest-prelude.ts).
    const part = context.newFunction('part', (nameHandle) => {
      const name = context.getString(nameHandle);
      if (!Object.hasOwn(PRELUDE_PARTS, name)) throw new Error(`the prelude has no part "${name}"`);
      return context.newString(PRELUDE_PARTS[name]!);
    });
    const hostFunctions = [log, api, timer, clearTimer, request, done, fail, part];
    try {
      const factory = this.context.evalCode(GUEST_PRELUDE, 'prelude.js');
      if (factory.error) {
        factory.error.dispose();
        throw new Error('the prelude did not compile');
      }
      const made = context.callFunction(factory.value, context.undefined, ...hostFunctions);
      factory.value.dispose();
      if (made.error) {
        made.error.dispose();
        throw new Error('the prelude failed to install');
      }
      const entry = made.value;
      const handles = {
        run: context.getProp(entry, 'run'),
        fire: context.getProp(entry, 'fire'),
        reset: context.getProp(entry, 'reset'),
        describe: context.getProp(entry, 'describe'),
        prepare: context.getProp(entry, 'prepare'),
      };
      entry.dispose();
      return handles;
    } finally {
      for (const handle of hostFunctions) handle.dispose();
    }
  }

  private fireTimer(run: ActiveRun, id: number): void {
    run.timers.delete(id);
    if (this.active !== run) return;
    this.guard(run, () => {
      const idArgument = this.context.newNumber(id);
      const fired = this.context.callFunction(this.entry.fire, this.context.undefined, idArgument);
      idArgument.dispose();
      // An uncaught throw in a timer callback fails the run, as it would end a Node process.
      if (fired.error) return run.abort(this.thrown(fired.error, run.job));
      fired.value.dispose();
      this.pump(run);
    });
  }

  /** A platform.api answer reaches the guest only while its run is still the active one. */
  private answerCall(run: ActiveRun, deferred: QuickJSDeferredPromise, ok: boolean, text: string): void {
    if (this.active !== run || !deferred.alive) return;
    this.guard(run, () => {
      run.pendingCalls.delete(deferred);
      // Strings only: settling with a value runs no guest code (an Error would look up its prototype's setters).
      const value = this.context.newString(text);
      try {
        if (ok) deferred.resolve(value);
        else deferred.reject(value);
      } finally {
        value.dispose();
      }
      this.pump(run);
    });
  }

  /** The failure for a thrown value; describing it runs guest code (getters, toJSON), so only under the current deadline. */
  private thrown(handle: QuickJSHandle, job: ScriptJob): ScriptFailure {
    try {
      if (this.interrupted) return timeoutFailure(job);
      const described = this.describe(handle);
      if (this.interrupted) return timeoutFailure(job);
      return this.failureFrom(described, job);
    } finally {
      if (handle.alive) handle.dispose();
    }
  }

  private describe(handle: QuickJSHandle): ThrownDescription | null {
    const result = this.context.callFunction(this.entry.describe, this.context.undefined, handle);
    if (result.error) {
      result.error.dispose();
      return null;
    }
    const text = this.context.getString(result.value);
    result.value.dispose();
    return JSON.parse(text) as ThrownDescription;
  }

  private failureFrom(described: ThrownDescription | null, job: ScriptJob): ScriptFailure {
    if (this.interrupted) return timeoutFailure(job);
    return thrownFailure(described, job, { heapExhausted: this.heapExhausted(), prefixLength: this.prefixLength });
  }

  /** True when the instance's heap is at its cap (see capped-modules.ts). */
  private heapExhausted(): boolean {
    return this.memoryBytes >= this.memoryLimitMb * 1024 * 1024;
  }
}

/** Random words drawn a batch at a time: a randomFillSync call per seed cost a cold call 14 µs. */
const seedWords = new Uint32Array(1024);
let seedAt = seedWords.length;

/** Four random 32-bit words for the guest's Math.random. */
function randomSeed(): number[] {
  if (seedAt + 4 > seedWords.length) {
    randomFillSync(seedWords);
    seedAt = 0;
  }
  seedAt += 4;
  return [seedWords[seedAt - 4]!, seedWords[seedAt - 3]!, seedWords[seedAt - 2]!, seedWords[seedAt - 1]!];
}

/** Only a resource and the initial response: the guest builds it without parsing JSON. */
function isFreshEvent(event: ScriptEvent): boolean {
  const { response } = event;
  return (
    Object.keys(event).length === ('graphql' in event ? 4 : 3) &&
    response.status_code === 200 &&
    response.content === null &&
    response.content_type === null &&
    Object.keys(response.headers).length === 0
  );
}
