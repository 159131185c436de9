import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { diagnosticsFrom, type Diagnostic } from '../diagnostics.ts';
import { ScriptFailure } from '../failure.ts';
import { MAX_API_CALLS_IN_FLIGHT, type LogStream, type ScriptJob, type ScriptOutcome } from '../types.ts';
import { dispatcherFailure, normaliseApiCall, plainApiResult, tooManyApiCalls } from './api-call.ts';
import { JobLog } from './job-log.ts';
import type { LanguageSpec } from './languages/language.ts';
import { MemoryWatch, residentBytes } from './memory-watch.ts';
import { OutputLines } from './output-lines.ts';
import { ChildrenReader, findSandboxProcesses, type SandboxProcesses } from './process-tree.ts';
import { RunCost, type CostMark } from './run-cost.ts';
import {
  CHECK_FRAME_LIMITS,
  encodeFrame,
  FrameReader,
  IDLE_FRAME_LIMITS,
  RESULT_SLACK_BYTES,
  type FrameClass,
  type FrameLimits,
  type JobFrame,
  type RunnerFrame,
} from './protocol.ts';
import type { SandboxedCommand } from './sandbox.ts';

export interface WorkerConfig {
  language: LanguageSpec;
  /** What to start, given the run's end-marker token: bwrap around the interpreter, or the interpreter itself. */
  command(token: string): SandboxedCommand;
  sandboxed: boolean;
  /** Working directory outside a sandbox (removed when the worker exits); inside, a private tmpfs. */
  directory: string | null;
  env: Record<string, string>;
  /** Used only by languages that fix the memory limit at start (Node's heap size). */
  memoryLimitMb: number;
  /** Whether the worker shares the host's network (fixed at start: an empty namespace otherwise). */
  network: boolean;
  startTimeoutMs: number;
}

export interface WorkerEvents {
  /** Ready for the next job (after start-up or after a job has fully ended). */
  idle(worker: Worker): void;
  /** The process is gone; `startError` is set when it never became ready. */
  exit(worker: Worker, startError: string | null): void;
}

export type WorkerState = 'starting' | 'idle' | 'busy' | 'closing' | 'dead';

type ResultFrame = Extract<RunnerFrame, { t: 'result' }>;
type ErrorFrame = Extract<RunnerFrame, { t: 'error' }>;

/** One job on one worker, from dispatch until the runner reports it fully over. */
interface ActiveJob {
  id: number;
  job: ScriptJob;
  log: JobLog;
  resolve: (outcome: ScriptOutcome) => void;
  reject: (failure: ScriptFailure) => void;
  settled: boolean;
  result: ResultFrame | null;
  error: ErrorFrame | null;
  done: boolean;
  /** Exit status of a process that ran the job and ended (a forked PHP child, or the worker itself). */
  exitCode: number | null;
  /** stdout and stderr end markers still to come. */
  markersLeft: number;
  deadline: NodeJS.Timeout | null;
  memory: MemoryWatch | null;
  apiCallsInFlight: number;
  /** The runner's CPU and memory readings at dispatch (only when the job's cost is recorded). */
  cost: CostMark | null;
}

/** A syntax check in progress (see `check`). */
interface ActiveCheck {
  id: number;
  resolve: (diagnostics: Diagnostic[]) => void;
  reject: (failure: ScriptFailure) => void;
  timer: NodeJS.Timeout;
}

const STDERR_TAIL_CHARS = 4096;
let nextJobId = 1;
let nextWorkerId = 1;

/**
 * One child process running a language runner: the shared child-process
 * handler every language uses. It speaks the protocol, turns output into log
 * lines, enforces the wall-clock and memory limits and reports how the job
 * ended, including when the process dies under it. A worker runs one job at a
 * time, each in a fresh scope, and serves a single script owner (key): what a
 * script leaves in the process (loaded modules) never reaches another service.
 */
export class Worker {
  readonly id = nextWorkerId++;
  state: WorkerState = 'starting';
  /** The owner this worker serves, from its first job on. */
  boundKey: string | null = null;
  lastUsedAt = Date.now();
  jobsRun = 0;
  /** From spawn until the runner could take a job, in ms (null until then). */
  startMs: number | null = null;
  private readonly spawnedAt = performance.now();
  /** Finish the current job, then go (the owner's script changed, or a job left the process unclean). */
  retireWhenIdle = false;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;

  private readonly child: ChildProcess;
  private readonly command: SandboxedCommand;
  private readonly toRunner: Writable;
  private active: ActiveJob | null = null;
  private activeCheck: ActiveCheck | null = null;
  private stderrTail = '';
  private baselineRss = 0;
  private startTimer: NodeJS.Timeout | null;
  private readyCallbacks!: { resolve: () => void; reject: (error: Error) => void };
  private exitedResolve!: () => void;
  private readonly stdoutLines: OutputLines;
  private readonly stderrLines: OutputLines;
  private readonly frames: FrameReader;
  private idleWaiters: Array<() => void> = [];
  /** Host pids inside the sandbox, once known (null outside one). */
  private sandbox: SandboxProcesses | null = null;
  /** The children of the sandbox's init: the runner, and orphans a job left. */
  private initChildren: ChildrenReader | null = null;
  /** The runner's own children: none between jobs, unless a job left one running. */
  private runnerChildren: ChildrenReader | null = null;
  /** Reads what each job costs the runner (see run-cost.ts). */
  private cost: RunCost | null = null;

  constructor(
    private readonly config: WorkerConfig,
    private readonly events: WorkerEvents,
  ) {
    this.ready = new Promise((resolve, reject) => (this.readyCallbacks = { resolve, reject }));
    this.ready.catch(() => {});
    this.exited = new Promise((resolve) => (this.exitedResolve = resolve));

    const token = randomBytes(12).toString('hex');
    const marker = Buffer.from(`\u0000SG-END-${token}\u0000\n`);
    this.stdoutLines = new OutputLines(marker, (line) => this.onOutput('STDOUT', line), () => this.onMarker());
    this.stderrLines = new OutputLines(marker, (line) => this.onOutput('STDERR', line), () => this.onMarker());

    const command = (this.command = config.command(token));
    this.child = spawn(command.file, command.args, {
      cwd: config.directory ?? '/',
      env: config.env,
      // fd 3: jobs and API results in; fd 4: everything the runner reports out (bwrap passes both through).
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      // Its own process group, so a timeout can kill whatever the script started too
      // (in a sandbox: bwrap, whose PID namespace dies with it).
      detached: true,
    });
    this.toRunner = this.child.stdio[3] as Writable;
    const fromRunner = this.child.stdio[4] as Readable;
    this.frames = new FrameReader(
      (frame) => this.onFrame(frame),
      (reason) => this.fatal(reason),
      (kind, limit) => this.onOversizeFrame(kind, limit),
    );
    fromRunner.on('data', (chunk: Buffer) => this.frames.push(chunk));
    this.child.stdout!.on('data', (chunk: Buffer) => this.stdoutLines.push(chunk));
    this.child.stderr!.on('data', (chunk: Buffer) => this.stderrLines.push(chunk));
    for (const stream of [this.toRunner, fromRunner, this.child.stdout!, this.child.stderr!]) stream.on('error', () => {});
    this.child.on('error', (error) => this.onExit(null, null, error.message));
    this.child.on('exit', (code, signal) => {
      // Give the pipes a moment to deliver the last output (they close later
      // than the process exits, or never if the script left a process behind).
      const finish = (): void => this.onExit(code, signal);
      this.child.once('close', finish);
      setTimeout(finish, 100).unref();
    });
    this.startTimer = setTimeout(() => this.fatal(`did not start within ${config.startTimeoutMs} ms`), config.startTimeoutMs);
  }

  /** Our child: the runner itself, or bwrap around it. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The runner's host pid (inside a sandbox, found once it is ready). */
  get runnerPid(): number | undefined {
    return this.sandbox?.runner ?? (this.config.sandboxed ? undefined : this.child.pid);
  }

  /** The host uid the worker's processes run as, when it has one of its own. */
  get uid(): number | null {
    return this.command.uid;
  }

  get memoryLimitMb(): number {
    return this.config.memoryLimitMb;
  }

  /** Whether this worker may take the job without breaking isolation or limits. */
  fits(job: ScriptJob): boolean {
    if (this.config.language.memoryLimitAtSpawn && job.limits.memoryLimitMb !== this.config.memoryLimitMb) return false;
    if (this.config.sandboxed && job.limits.network !== this.config.network) return false;
    return this.boundKey === null || this.boundKey === job.scriptKey;
  }

  run(job: ScriptJob): Promise<ScriptOutcome> {
    if (this.state !== 'idle') return Promise.reject(new ScriptFailure('crashed', `internal: worker is ${this.state}`));
    this.state = 'busy';
    this.jobsRun++;
    this.lastUsedAt = Date.now();
    this.boundKey = job.scriptKey;

    return new Promise<ScriptOutcome>((resolve, reject) => {
      const timeoutMs = job.limits.timeoutMs > 0 ? job.limits.timeoutMs : 30_000;
      const memoryLimitMb = job.limits.memoryLimitMb;
      const active: ActiveJob = {
        id: nextJobId++,
        job,
        log: new JobLog(job.log, job.limits.maxLogBytes),
        resolve,
        reject,
        settled: false,
        result: null,
        error: null,
        done: false,
        exitCode: null,
        markersLeft: 2,
        deadline: null,
        memory: null,
        apiCallsInFlight: 0,
        cost: job.usage && this.cost ? this.cost.begin() : null,
      };
      this.active = active;
      if (memoryLimitMb > 0) {
        active.memory = new MemoryWatch(this.baselineRss + memoryLimitMb * 1024 * 1024, () =>
          this.abort(active, new ScriptFailure('memory', `Script exceeded its memory limit of ${memoryLimitMb} MB.`)),
        );
        if (this.runnerPid) active.memory.watch(this.runnerPid);
      }
      active.deadline = setTimeout(
        () => this.abort(active, new ScriptFailure('timeout', `Script exceeded its time limit of ${timeoutMs} ms.`)),
        timeoutMs,
      );
      const { maxResponseBytes, maxLogBytes } = job.limits;
      const frame: JobFrame = {
        t: 'job',
        id: active.id,
        script: job.script,
        event: job.event,
        platform: { config: job.platform.config ?? {}, session: job.platform.session ?? {}, secrets: job.platform.secrets ?? {} },
        limits: { timeoutMs, memoryLimitMb, maxResponseBytes },
      };
      let encoded: string;
      try {
        encoded = encodeFrame(frame);
        // The runner's own bound counts the job message in bytes; three bytes a character is never less.
        this.frames.limits = frameLimitsFor(2 * maxResponseBytes + 3 * encoded.length + RESULT_SLACK_BYTES, maxLogBytes);
      } catch (error) {
        // The job itself cannot be sent (e.g. a circular event): fail it, keep the worker.
        this.clearJobTimers(active);
        this.settle(active, new ScriptFailure('error', `The job could not be sent to the ${this.config.language.type} runner: ${(error as Error).message}`));
        this.active = null;
        this.state = 'idle';
        this.notifyIdle();
        queueMicrotask(() => this.events.idle(this));
        return;
      }
      this.toRunner.write(encoded);
    });
  }

  /**
   * Compiles a script without running it (a `check` frame). It does not bind
   * the worker to an owner: compiling runs no user code. Past `timeoutMs`
   * the worker is killed and the check fails as a timeout.
   */
  check(script: string, timeoutMs: number): Promise<Diagnostic[]> {
    if (this.state !== 'idle') return Promise.reject(new ScriptFailure('crashed', `internal: worker is ${this.state}`));
    this.state = 'busy';
    this.lastUsedAt = Date.now();
    return new Promise<Diagnostic[]>((resolve, reject) => {
      const id = nextJobId++;
      const timer = setTimeout(() => {
        if (this.activeCheck?.id !== id) return;
        this.activeCheck = null;
        reject(new ScriptFailure('timeout', `The ${this.config.language.type} syntax check took longer than ${timeoutMs} ms.`));
        this.kill();
      }, timeoutMs);
      this.activeCheck = { id, resolve, reject, timer };
      this.frames.limits = CHECK_FRAME_LIMITS;
      this.toRunner.write(encodeFrame({ t: 'check', id, script }));
    });
  }

  /** Resolves once no job is running (at once when idle). */
  whenIdle(): Promise<void> {
    if (this.state !== 'busy') return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Asks the runner to exit (it sees its input close), then kills it after `graceMs`. */
  async close(graceMs = 500, reason = 'The engine stopped before the script finished.'): Promise<void> {
    if (this.state === 'dead') return this.exited;
    const active = this.active;
    if (active && !active.settled) this.settle(active, new ScriptFailure('unavailable', reason));
    this.state = 'closing';
    this.toRunner.end();
    const timer = setTimeout(() => this.kill(), active ? 0 : graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills the worker's whole process group: the runner and whatever the script started. */
  kill(): void {
    if (this.pid) killGroup(this.pid);
  }

  // ---- runner messages ------------------------------------------------------

  private onFrame(frame: RunnerFrame): void {
    if (frame.t === 'ready') {
      void this.onReady(Number(frame.pid));
      return;
    }
    if (frame.t === 'checked') {
      this.onChecked(frame);
      return;
    }
    const active = this.active;
    if (!active || frame.job !== active.id) return; // a late message about a job already over
    switch (frame.t) {
      case 'log': {
        const stream: LogStream = frame.s === 'STDERR' || frame.s === 'STDOUT' ? frame.s : 'CONSOLE';
        if (!active.settled) for (const line of String(frame.m).split('\n')) active.log.write(stream, line);
        break;
      }
      case 'api':
        this.dispatchApi(active, Number(frame.id), frame.call);
        break;
      case 'result':
        active.result = frame;
        break;
      case 'error':
        active.error = frame;
        break;
      case 'done':
        active.done = true;
        active.exitCode = typeof frame.code === 'number' ? frame.code : null;
        // Threads or processes the script left running, or memory it exhausted, would reach the next job.
        if (frame.dirty) this.retireWhenIdle = true;
        this.finishIfOver(active);
        break;
    }
  }

  private onChecked(frame: Extract<RunnerFrame, { t: 'checked' }>): void {
    const check = this.activeCheck;
    if (!check || frame.id !== check.id) return;
    clearTimeout(check.timer);
    this.activeCheck = null;
    this.frames.limits = IDLE_FRAME_LIMITS;
    check.resolve(diagnosticsFrom(frame.diagnostics));
    if (this.state === 'busy') {
      this.state = 'idle';
      this.notifyIdle();
      this.events.idle(this);
    }
  }

  private async onReady(innerPid: number): Promise<void> {
    if (this.state !== 'starting') return;
    if (this.startTimer) clearTimeout(this.startTimer);
    this.startTimer = null;
    if (this.config.sandboxed && this.pid) {
      this.sandbox = await findSandboxProcesses(this.pid, innerPid);
      if (!this.sandbox) {
        this.fatal('could not find the runner inside its sandbox');
        return;
      }
      if (this.state === 'starting') this.initChildren = new ChildrenReader(this.sandbox.init);
    }
    if (this.state === 'starting' && this.runnerPid) {
      this.runnerChildren = new ChildrenReader(this.runnerPid);
      this.cost = new RunCost(this.runnerPid);
    }
    // The memory backstop counts from what the idle runner already uses.
    this.baselineRss = (this.runnerPid && (await residentBytes(this.runnerPid))) || 0;
    if (this.state !== 'starting') return;
    this.state = 'idle';
    this.startMs = performance.now() - this.spawnedAt;
    this.readyCallbacks.resolve();
    this.events.idle(this);
  }

  private dispatchApi(active: ActiveJob, callId: number, rawCall: unknown): void {
    const answer = (result: ReturnType<typeof plainApiResult>): void => {
      if (this.active !== active || active.settled || this.state === 'dead') return;
      this.toRunner.write(encodeFrame({ t: 'api-result', job: active.id, id: callId, result }));
    };
    // A script firing calls without waiting gets errors at once instead of growing the server's memory.
    if (active.apiCallsInFlight >= MAX_API_CALLS_IN_FLIGHT) {
      answer(tooManyApiCalls(MAX_API_CALLS_IN_FLIGHT));
      return;
    }
    active.apiCallsInFlight++;
    const call = normaliseApiCall(rawCall);
    Promise.resolve()
      .then(() => active.job.api(call))
      .then(plainApiResult, dispatcherFailure)
      .then((result) => {
        active.apiCallsInFlight--;
        answer(result);
      });
  }

  /** A frame past its limit was skipped: a log line is lost (said once), a result fails the job naming the limit. */
  private onOversizeFrame(kind: FrameClass, limit: number): void {
    const active = this.active;
    if (!active || active.settled) {
      if (kind !== 'log') this.fatal(`a message from the runner exceeded ${limit} bytes ${this.activeCheck ? 'answering a check' : 'outside a job'}`);
      return;
    }
    if (kind === 'log') {
      active.log.system(`A log message larger than ${limit} bytes was dropped.`);
      return;
    }
    // The runner refuses an oversized result itself: one reaching us was written past it, so the worker goes.
    const message =
      kind === 'result'
        ? `The script's result is larger than the response limit of ${active.job.limits.maxResponseBytes} bytes.`
        : `The runner sent a message larger than ${limit} bytes.`;
    this.abort(active, new ScriptFailure('output', message));
  }

  // ---- output ---------------------------------------------------------------

  private onOutput(stream: 'STDOUT' | 'STDERR', line: string): void {
    if (stream === 'STDERR') this.stderrTail = (this.stderrTail + line + '\n').slice(-STDERR_TAIL_CHARS);
    const active = this.active;
    if (active && !active.settled) active.log.write(stream, line);
  }

  private onMarker(): void {
    const active = this.active;
    if (!active) return;
    active.markersLeft--;
    this.finishIfOver(active);
  }

  // ---- ending a job -----------------------------------------------------------

  /** A job is over when the runner said so and all its output has been read. */
  private finishIfOver(active: ActiveJob): void {
    if (!active.done || active.markersLeft > 0) return;
    this.clearJobTimers(active);
    if (!active.settled) this.settle(active, this.outcomeOf(active));
    this.active = null;
    this.frames.limits = IDLE_FRAME_LIMITS;
    this.checkForStrays();
    if (this.state === 'busy') {
      this.state = 'idle';
      this.lastUsedAt = Date.now();
      this.refreshBaseline();
      this.notifyIdle();
      this.events.idle(this);
    }
  }

  private outcomeOf(active: ActiveJob): ScriptOutcome | ScriptFailure {
    const { error, result } = active;
    if (error) {
      const details = { line: error.line ?? undefined, column: error.column ?? undefined, stack: error.stack ?? undefined };
      if (error.kind === 'memory') {
        return new ScriptFailure('memory', `Script exceeded its memory limit of ${active.job.limits.memoryLimitMb} MB.`, details);
      }
      if (error.kind === 'output') return new ScriptFailure('output', String(error.message));
      return new ScriptFailure('error', error.message, details);
    }
    if (result) {
      if (result.exited) {
        const status = result.exitCode ?? active.exitCode ?? 0;
        if (status !== 0) return new ScriptFailure('error', `The script exited with status ${status}.`);
      }
      return { returned: result.returned === null ? undefined : result.returned, event: result.event as ScriptOutcome['event'] };
    }
    // The process running the script ended without a word (a forked PHP child).
    const code = active.exitCode;
    if (code !== null && code < 0) {
      return new ScriptFailure('crashed', `The script process was killed by ${signalName(-code)} before it finished.`);
    }
    return new ScriptFailure('error', `The script process exited with status ${code ?? 'unknown'} before returning a result.`);
  }

  /** Stops a job that broke a limit: the caller hears at once, the process is killed. */
  private abort(active: ActiveJob, failure: ScriptFailure): void {
    if (active.settled || this.active !== active) return;
    // The failure's SYSTEM line is the domain's to write (once, for every engine).
    this.settle(active, failure);
    this.clearJobTimers(active);
    this.kill(); // the exit handler ends the job; the pool starts a replacement
  }

  private settle(active: ActiveJob, outcome: ScriptOutcome | ScriptFailure): void {
    if (active.settled) return;
    active.settled = true;
    // Before the process is killed (a limit) or as it is gone (readings then come back null).
    if (active.cost && this.cost) active.job.usage!(this.cost.end(active.cost));
    if (outcome instanceof ScriptFailure) active.reject(outcome);
    else active.resolve(outcome);
  }

  private clearJobTimers(active: ActiveJob): void {
    if (active.deadline) clearTimeout(active.deadline);
    active.deadline = null;
    active.memory?.stop();
  }

  // ---- the process ends ---------------------------------------------------------

  /** Something is wrong with the worker itself: kill it (the exit handler reports). */
  private fatal(reason: string): void {
    if (this.state === 'dead') return;
    this.stderrTail = `${this.stderrTail}[scriptgate] ${reason}\n`.slice(-STDERR_TAIL_CHARS);
    this.kill();
    if (!this.pid) this.onExit(null, null, reason);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, spawnError?: string): void {
    if (this.state === 'dead') return;
    const wasStarting = this.state === 'starting';
    this.state = 'dead';
    if (this.startTimer) clearTimeout(this.startTimer);
    this.stdoutLines.flush();
    this.stderrLines.flush();
    const how = spawnError ?? (signal ? `killed by ${signal}` : `exit code ${code}`);
    const check = this.activeCheck;
    if (check) {
      clearTimeout(check.timer);
      this.activeCheck = null;
      check.reject(new ScriptFailure('crashed', `The ${this.config.language.type} process checking the script died (${how}).`));
    }
    const active = this.active;
    if (active) {
      this.clearJobTimers(active);
      if (!active.settled) {
        const { language } = this.config;
        let outcome: ScriptOutcome | ScriptFailure;
        if (active.result || active.error) {
          // It said how the script ended (a fatal error, or exit()) and then the process ended.
          active.exitCode ??= code ?? (signal ? -(osConstants.signals[signal] ?? 9) : null);
          outcome = this.outcomeOf(active);
        } else if (language.diedOfMemory?.(this.stderrTail)) {
          outcome = new ScriptFailure('memory', `Script exceeded its memory limit of ${active.job.limits.memoryLimitMb} MB.`);
        } else {
          outcome = new ScriptFailure('crashed', `The ${language.type} worker process died while running the script (${how}).`);
        }
        this.settle(active, outcome);
      }
      this.active = null;
    }
    if (this.pid) killGroup(this.pid); // anything the runner left in its group
    // Close our ends of the protocol pipes: anything still holding the other ends sees them close.
    this.toRunner.destroy();
    (this.child.stdio[4] as Readable | null)?.destroy();
    let startError: string | null = null;
    if (wasStarting) {
      const tail = this.stderrTail.trim().split('\n').slice(-3).join(' ');
      startError = `the ${this.config.language.type} runner exited during start-up (${how})${tail ? `: ${tail}` : ''}`;
      this.readyCallbacks.reject(new Error(startError));
    }
    this.notifyIdle();
    this.initChildren?.close();
    this.runnerChildren?.close();
    this.cost?.close();
    this.command.release();
    if (this.config.directory) void rm(this.config.directory, { recursive: true, force: true }).catch(() => {});
    this.exitedResolve();
    this.events.exit(this, startError);
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Processes a job left behind would reach the next job: a child of the
   * runner still running (or not yet reaped), or, in a sandbox, anything but
   * the runner under the sandbox's init (orphans are reparented to it, so a
   * daemon from a double fork lands there). Either retires the worker, and
   * its PID namespace with everything in it. Two reads of kept-open /proc
   * files, about 1 µs each: the runners themselves read nothing from /proc
   * after a job, which cost them 15 to 30 µs a job.
   */
  private checkForStrays(): void {
    const runner = this.runnerPid;
    const orphans = this.initChildren ? this.initChildren.read().some((pid) => pid !== runner) : false;
    if (!orphans && !(this.runnerChildren && this.runnerChildren.read().length > 0)) return;
    // Called as the job ends, before the pool hears the worker is idle: it is retired instead.
    this.retireWhenIdle = true;
  }

  /** Long-lived workers grow a little; keep the memory backstop's zero point current. */
  private refreshBaseline(): void {
    const pid = this.runnerPid;
    if (this.jobsRun % 32 !== 0 || !pid) return;
    void residentBytes(pid).then((rss) => {
      if (rss) this.baselineRss = rss;
    });
  }
}

function frameLimitsFor(maxResultBytes: number, maxLogBytes: number): FrameLimits {
  // JSON may escape a log line's bytes up to six times (control characters as \u00XX).
  return { log: 6 * maxLogBytes + RESULT_SLACK_BYTES, result: maxResultBytes, other: IDLE_FRAME_LIMITS.other };
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function signalName(signal: number): string {
  const entry = Object.entries(osConstants.signals).find(([, value]) => value === signal);
  return entry ? entry[0] : `signal ${signal}`;
}
