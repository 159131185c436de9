import type { QuickJSContext, QuickJSDeferredPromise, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule } from 'quickjs-emscripten';
import { ScriptFailure } from '../failure.ts';
import type { ScriptEvent, ScriptJob, ScriptOutcome } from '../types.ts';
import { heapOf } from './capped-modules.ts';
import { GUEST_PRELUDE } from './guest-prelude.ts';

const STACK_LIMIT_BYTES = 200 * 1024;

/** What one run holds on to, so a timeout can release all of it. */
interface ActiveRun {
  job: ScriptJob;
  timers: Map<number, NodeJS.Timeout>;
  pendingCalls: Set<QuickJSDeferredPromise>;
  /** Ends the run early (deadline passed, uncaught error in a timer callback). */
  abort: (failure: ScriptFailure) => void;
  /** Whether the guest started timers or API calls, leaving state to reset. */
  startedAsync: boolean;
}

/**
 * One QuickJS runtime and context, made ready (prelude installed) before it
 * is given a script, then holding one service's compiled script for life.
 * A runtime per context because memory limits and interrupt deadlines are
 * per runtime; it serves one run at a time, so a deadline is exact.
 * A context that failed, hit a limit or timed out is never reused.
 */
export class WarmContext {
  private readonly runtime: QuickJSRuntime;
  private readonly context: QuickJSContext;
  private readonly entry: { run: QuickJSHandle; fire: QuickJSHandle; reset: QuickJSHandle };
  private script: QuickJSHandle | null = null;
  private deadline = 0;
  /** The platform JSON the guest holds (it is only sent again when it changes). */
  private lastPlatform: string | null = null;
  private lastPlatformObject: ScriptJob['platform'] | null = null;
  private active: ActiveRun | null = null;
  /** False once this context must not serve another run. */
  healthy = true;

  /** A context with the prelude installed and no script yet (see `load`). */
  constructor(
    private readonly module: QuickJSWASMModule,
    memoryLimitMb: number,
  ) {
    this.runtime = module.newRuntime();
    this.runtime.setMemoryLimit(memoryLimitMb * 1024 * 1024);
    this.runtime.setMaxStackSize(STACK_LIMIT_BYTES);
    this.runtime.setInterruptHandler(() => this.deadline > 0 && Date.now() > this.deadline);
    this.context = this.runtime.newContext();
    try {
      this.entry = this.installPrelude();
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  /** Compiles the job's script into this context, once; a script that does not compile disposes it. */
  load(job: ScriptJob): this {
    if (this.script) throw new Error('this context already holds a script');
    try {
      this.script = this.compile(job);
    } catch (error) {
      this.dispose();
      throw error;
    }
    return this;
  }

  async run(job: ScriptJob): Promise<ScriptOutcome> {
    const run: ActiveRun = { job, timers: new Map(), pendingCalls: new Set(), abort: () => undefined, startedAsync: false };
    this.active = run;
    this.deadline = Date.now() + job.limits.timeoutMs;
    let timeout: NodeJS.Timeout | undefined;
    try {
      const { context } = this;
      // The same platform object as last time means the guest already holds it.
      const platformText = (job.platform === this.lastPlatformObject && this.lastPlatform) || JSON.stringify(job.platform);
      this.lastPlatformObject = job.platform;
      // Empty strings are sent as undefined: no allocation in the guest heap.
      const guestString = (value: string) => (value === '' ? context.undefined : context.newString(value));
      const args = [
        guestString(job.event.resource),
        guestString(isFreshEvent(job.event) ? '' : JSON.stringify({ ...job.event, request: undefined })),
        guestString(platformText === this.lastPlatform ? '' : platformText),
      ];
      this.lastPlatform = platformText;
      const wantRequest = job.wantRequest ? context.true : context.false;
      if (!this.script) throw new Error('no script loaded into this context');
      const called = context.callFunction(this.entry.run, context.undefined, this.script, ...args, wantRequest);
      for (const arg of args) arg.dispose();
      const promise = this.unwrap(called);
      // Most scripts finish synchronously: read the result without promise plumbing.
      // A plain value reads as "fulfilled" (notAPromise) in one cheap call, without running jobs.
      const direct = context.getPromiseState(promise);
      const state = direct.type === 'fulfilled' && direct.notAPromise ? direct : this.settle(promise);
      let result: { value?: QuickJSHandle; error?: QuickJSHandle };
      if (state.type === 'fulfilled') result = { value: state.value };
      else if (state.type === 'rejected') result = { error: state.error };
      else {
        const aborted = new Promise<never>((_, reject) => {
          run.abort = reject;
        });
        // The interrupt handler only runs while guest code runs; a guest awaiting
        // a timer or an API call is stopped by this host-side deadline instead.
        timeout = setTimeout(() => run.abort(this.timeoutFailure(job)), Math.max(0, this.deadline - Date.now()));
        const settled = context.resolvePromise(promise);
        promise.dispose();
        result = await Promise.race([settled, aborted]);
      }
      // Before unwrap, which throws for a rejection: a live handle makes the runtime abort on dispose.
      if (promise.alive && promise !== result.value) promise.dispose();
      const json = this.unwrap(result);
      const text = context.getString(json);
      json.dispose();
      const parsed = JSON.parse(text) as { returned: unknown; response?: ScriptEvent['response']; request?: ScriptEvent['request'] };
      return {
        returned: parsed.returned ?? undefined,
        // No response in the result: the script never touched it.
        event: { ...job.event, request: parsed.request ?? job.event.request, response: parsed.response ?? job.event.response },
      };
    } catch (error) {
      this.healthy = false;
      throw error instanceof ScriptFailure ? error : new ScriptFailure('error', String(error));
    } finally {
      clearTimeout(timeout);
      this.endRun(run);
    }
  }

  dispose(): void {
    if (this.active) this.endRun(this.active);
    for (const handle of [this.entry?.run, this.entry?.fire, this.entry?.reset, this.script]) {
      if (handle?.alive) handle.dispose();
    }
    if (this.context.alive) this.context.dispose();
    if (this.runtime.alive) this.runtime.dispose();
  }

  private endRun(run: ActiveRun): void {
    for (const timer of run.timers.values()) clearTimeout(timer);
    run.timers.clear();
    for (const call of run.pendingCalls) if (call.alive) call.dispose();
    run.pendingCalls.clear();
    if (this.active === run) {
      this.active = null;
      this.deadline = 0;
      if (run.startedAsync && this.healthy && this.context.alive) {
        const reset = this.context.callFunction(this.entry.reset, this.context.undefined);
        if (reset.error) {
          reset.error.dispose();
          this.healthy = false;
        } else reset.value.dispose();
      }
    }
  }

  /** Runs the jobs a returned promise is waiting on, then reads its state. */
  private settle(promise: QuickJSHandle) {
    this.pump();
    return this.context.getPromiseState(promise);
  }

  /** Runs queued promise jobs; called after anything the host resolves. */
  private pump(): void {
    if (!this.runtime.alive) return;
    const result = this.runtime.executePendingJobs();
    if (result.error) result.error.dispose();
  }

  private installPrelude() {
    const { context } = this;
    const log = context.newFunction('log', (level, message) => {
      const run = this.active;
      if (!run) return;
      const stream = context.getString(level) === 'error' || context.getString(level) === 'warn' ? 'STDERR' : 'CONSOLE';
      run.job.log(stream, context.getString(message));
    });
    const api = context.newFunction('api', (method, path, payload, options) => {
      const run = this.active;
      const deferred = context.newPromise();
      if (!run) {
        deferred.reject(context.newString('platform.api is only available while the script runs'));
        return deferred.handle;
      }
      run.pendingCalls.add(deferred);
      run.startedAsync = true;
      const payloadText = context.getString(payload);
      const optionsText = context.getString(options);
      run.job
        .api({
          method: context.getString(method),
          path: context.getString(path),
          payload: payloadText === '' ? undefined : JSON.parse(payloadText),
          options: optionsText === '' ? undefined : JSON.parse(optionsText),
        })
        .then(
          (result) => {
            if (!deferred.alive || this.active !== run) return;
            run.pendingCalls.delete(deferred);
            const json = context.newString(JSON.stringify(result));
            deferred.resolve(json);
            json.dispose();
            this.pump();
          },
          (error: unknown) => {
            if (!deferred.alive || this.active !== run) return;
            run.pendingCalls.delete(deferred);
            const message = context.newError(error instanceof Error ? error.message : String(error));
            deferred.reject(message);
            message.dispose();
            this.pump();
          },
        );
      return deferred.handle;
    });
    const timer = context.newFunction('timer', (idHandle, msHandle) => {
      const run = this.active;
      if (!run) return;
      const id = context.getNumber(idHandle);
      const delay = context.getNumber(msHandle);
      run.startedAsync = true;
      run.timers.set(
        id,
        setTimeout(() => {
          run.timers.delete(id);
          if (this.active !== run) return;
          const idArgument = context.newNumber(id);
          const fired = context.callFunction(this.entry.fire, context.undefined, idArgument);
          idArgument.dispose();
          if (fired.error) {
            // An uncaught throw in a timer callback fails the run, as it would end a Node process.
            const failure = this.describeError(fired.error, run.job);
            fired.error.dispose();
            run.abort(failure);
            return;
          }
          fired.value.dispose();
          this.pump();
        }, delay),
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
    const factory = this.unwrap(context.evalCode(GUEST_PRELUDE, 'prelude.js'));
    const entry = this.unwrap(context.callFunction(factory, context.undefined, log, api, timer, clearTimer, request));
    for (const handle of [factory, log, api, timer, clearTimer, request]) handle.dispose();
    const handles = {
      run: context.getProp(entry, 'run'),
      fire: context.getProp(entry, 'fire'),
      reset: context.getProp(entry, 'reset'),
    };
    entry.dispose();
    return handles;
  }

  private compile(job: ScriptJob): QuickJSHandle {
    // The body starts on line 1 so error line numbers match the user's script.
    const kind = /\bawait\b/.test(job.script) ? 'async function' : 'function';
    const source = `(${kind} (event, platform) {${job.script}\n})`;
    const result = this.context.evalCode(source, `${job.scriptKey}.js`);
    if (result.error) {
      const failure = this.describeError(result.error, job);
      result.error.dispose();
      throw failure;
    }
    return result.value;
  }

  private unwrap(result: { error?: QuickJSHandle; value?: QuickJSHandle }): QuickJSHandle {
    if (result.error) {
      const failure = this.describeError(result.error, this.active?.job);
      result.error.dispose();
      throw failure;
    }
    return result.value as QuickJSHandle;
  }

  /** True when the instance's heap is at its cap (see capped-modules.ts). */
  private heapExhausted(job: ScriptJob): boolean {
    return heapOf(this.module).byteLength >= job.limits.memoryLimitMb * 1024 * 1024;
  }

  private timeoutFailure(job: ScriptJob): ScriptFailure {
    return new ScriptFailure('timeout', `Script exceeded its time limit of ${job.limits.timeoutMs} ms and was stopped.`);
  }

  private describeError(handle: QuickJSHandle, job: ScriptJob | undefined): ScriptFailure {
    const dumped = this.context.dump(handle) as unknown;
    const error = (dumped && typeof dumped === 'object' ? dumped : { message: String(dumped) }) as {
      name?: string;
      message?: string;
      stack?: string;
    };
    // A thrown plain object (`throw { code: 1 }`) reads better as its JSON than as "[object Object]".
    const message = error.message ?? (dumped !== null && typeof dumped === 'object' ? safeJson(dumped) : String(dumped));
    // With the heap exhausted QuickJS may not even manage to build the error object.
    if (job && (/out of memory/i.test(message) || ((dumped === null || dumped === undefined) && this.heapExhausted(job)))) {
      return new ScriptFailure('memory', `Script exceeded its memory limit of ${job.limits.memoryLimitMb} MB.`);
    }
    if (job && error.name === 'InternalError' && /interrupted/i.test(message)) return this.timeoutFailure(job);
    const where = job && error.stack ? new RegExp(`${escapeRegExp(job.scriptKey)}\\.js:(\\d+)(?::(\\d+))?`).exec(error.stack) : null;
    const line = where ? Number(where[1]) : undefined;
    const name = error.name && error.name !== 'Error' ? `${error.name}: ` : '';
    return new ScriptFailure('error', `${name}${message}`, {
      line,
      column: where?.[2] ? Number(where[2]) : undefined,
      stack: error.stack,
    });
  }
}

/** Only a resource and the initial response: the guest builds it without parsing JSON. */
function isFreshEvent(event: ScriptEvent): boolean {
  const { response } = event;
  return (
    Object.keys(event).length === 3 &&
    response.status_code === 200 &&
    response.content === null &&
    response.content_type === null &&
    Object.keys(response.headers).length === 0
  );
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
