import { mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../package-root.ts';
import { ScriptFailure } from '../failure.ts';
import type { ScriptEngine, ScriptJob, ScriptOutcome, ScriptTypeInfo } from '../types.ts';
import { sandboxedEnvironment, scrubbedEnvironment } from './environment.ts';
import type { DetectedInterpreter, LanguageSpec } from './languages/language.ts';
import { WorkerPool, type PoolStats, type WorkerDescription } from './pool.ts';
import type { Diagnostic } from '../diagnostics.ts';
import { CheckWorker } from './check-worker.ts';
import { interpreterPaths, type WorkerLauncher } from './sandbox.ts';
import { Worker, type WorkerEvents } from './worker.ts';

type CreateWorker = (memoryLimitMb: number, network: boolean, events: WorkerEvents) => Worker;

/** Where the language runners live: <repo>/engines/. */
const ENGINES_DIR = path.join(PACKAGE_ROOT, 'engines');

export interface SubprocessEngineSettings {
  /** User override of the interpreter (absolute path); otherwise PATH is searched. */
  interpreterPath?: string;
  disabled: boolean;
  /** How workers start (bubblewrap, or plain processes); rejects with why the sandbox cannot work here. */
  launcher(): Promise<WorkerLauncher>;
  poolSize: number;
  maxPoolSize: number;
  /** Workers one service may have busy at once. */
  workersPerService: number;
  /** Calls allowed to wait per service (and four times that per type). */
  queueLimit: number;
  defaultMemoryLimitMb: number;
  idleTtlMs: number;
  startTimeoutMs: number;
}

/** ScriptTypeInfo plus what an operator wants to know about the interpreter. */
export interface SubprocessScriptTypeInfo extends ScriptTypeInfo {
  /** Absolute path of the interpreter binary the workers run. */
  interpreter: string | null;
  /** e.g. which interpreter `python` turned out to be. */
  note: string | null;
}

/** The smallest private /tmp a sandboxed worker gets; otherwise as large as its memory limit. */
const TMP_MIN_MB = 16;
/** A compile that takes longer is a hostile script (or a stuck runner): the checking worker is killed. */
const CHECK_TIMEOUT_MS = 5000;
/** Syntax checks allowed to wait for the checking worker. */
const CHECK_QUEUE_LIMIT = 64;

/**
 * Warm workers, and workers at most per type: max(4, 2 × CPUs) for one busy
 * service (its default share is all but one) and one more, started only when
 * a second service is busy at the same time: fair shares leave a lone
 * service as many workers as it had before they existed.
 */
export function defaultPoolSizes(): { poolSize: number; maxPoolSize: number } {
  return { poolSize: 2, maxPoolSize: Math.max(4, cpus().length * 2) + 1 };
}

/** One script type run by a language runner in warm subprocesses. */
export class SubprocessEngine implements ScriptEngine {
  readonly info: SubprocessScriptTypeInfo;
  private pool: WorkerPool | null = null;
  private checker: CheckWorker | null = null;

  constructor(
    private readonly language: LanguageSpec,
    private readonly settings: SubprocessEngineSettings,
  ) {
    this.info = {
      name: language.type,
      label: language.label,
      description: language.description,
      sandboxed: false,
      supportsInlineExecution: true,
      engine: 'subprocess',
      available: false,
      version: null,
      unavailableReason: settings.disabled ? 'disabled by configuration' : 'not started',
      interpreter: null,
      note: null,
      sandboxWarning: null,
    };
  }

  async start(): Promise<void> {
    if (this.settings.disabled || this.pool) return;
    const env = scrubbedEnvironment(process.env);
    try {
      const found = await this.language.detect(this.settings.interpreterPath, env);
      this.info.version = found.version;
      this.info.interpreter = found.executable;
      this.info.note = found.note;
      const launcher = await this.settings.launcher();
      this.info.sandboxed = launcher.sandboxed;
      this.info.sandboxWarning = launcher.sandboxed
        ? null
        : `SCRIPT_SANDBOX=off: ${this.info.name} scripts run unsandboxed as the server's own user, and can read its files and database and signal its processes`;
      const createWorker = this.workerFactory(found, launcher);
      const pool = this.createPool(createWorker);
      this.pool = pool;
      this.checker = new CheckWorker({
        type: this.language.type,
        // No network: compiling needs none.
        create: (events) => createWorker(this.settings.defaultMemoryLimitMb, false, events),
        timeoutMs: CHECK_TIMEOUT_MS,
        queueLimit: CHECK_QUEUE_LIMIT,
        idleTtlMs: this.settings.idleTtlMs,
      });
      await pool.warmUp();
      this.info.available = true;
      this.info.unavailableReason = null;
    } catch (error) {
      this.info.available = false;
      this.info.unavailableReason = error instanceof Error ? error.message : String(error);
      const pool = this.pool;
      this.pool = null;
      await pool?.stop(0);
    }
  }

  run(job: ScriptJob): Promise<ScriptOutcome> {
    if (!this.pool || !this.info.available) {
      return Promise.reject(
        new ScriptFailure('unavailable', `Script type "${this.info.name}" is unavailable: ${this.info.unavailableReason ?? 'not started'}.`),
      );
    }
    return this.pool.run(job);
  }

  /** Compiles without running, in the type's checking worker (see check-worker.ts). */
  check(script: string): Promise<Diagnostic[]> {
    if (!this.checker || !this.info.available) {
      return Promise.reject(
        new ScriptFailure('unavailable', `Script type "${this.info.name}" is unavailable: ${this.info.unavailableReason ?? 'not started'}.`),
      );
    }
    return this.checker.check(script);
  }

  /** Host pid of the worker answering syntax checks, while one runs (tests). */
  get checkWorkerPid(): number | undefined {
    return this.checker?.pid;
  }

  async stop(deadlineMs = 5000): Promise<void> {
    const pool = this.pool;
    const checker = this.checker;
    this.pool = null;
    this.checker = null;
    await checker?.stop();
    this.info.available = false;
    this.info.unavailableReason = 'stopped';
    await pool?.stop(deadlineMs);
  }

  /** A script changed or was deleted: workers bound to its owner are retired. */
  forget(scriptKey: string): void {
    this.pool?.forget(scriptKey);
  }

  /** Host pids of the workers' own processes (bwrap, or the runner unsandboxed): diagnostics and tests. */
  workerPids(): number[] {
    return this.pool?.pids() ?? [];
  }

  /** Each live worker's host pids and uid, with the service it serves (diagnostics and tests). */
  workers(): WorkerDescription[] {
    return this.pool?.describe() ?? [];
  }

  /** The pool's workers by state, queue and refusals; null while the type is not running. */
  get poolStats(): PoolStats | null {
    return this.pool?.stats ?? null;
  }

  private createPool(createWorker: CreateWorker): WorkerPool {
    const { language, settings } = this;
    return new WorkerPool({
      language,
      minSize: settings.poolSize,
      maxSize: Math.max(settings.poolSize, settings.maxPoolSize, 1),
      workersPerService: settings.workersPerService,
      queueLimit: settings.queueLimit,
      defaultMemoryLimitMb: settings.defaultMemoryLimitMb,
      idleTtlMs: settings.idleTtlMs,
      createWorker,
    });
  }

  /** Workers of this type: sandboxed (or in a directory of their own), with the detected interpreter. */
  private workerFactory(found: DetectedInterpreter, launcher: WorkerLauncher): CreateWorker {
    const { language, settings } = this;
    const runnerPath = path.join(ENGINES_DIR, language.runnerFile);
    const readOnlyPaths = interpreterPaths(found.executable, found.prefixes);
    return (memoryLimitMb, network, events) => {
      // Outside a sandbox the worker still gets a directory of its own (under the system's tmp, not DATA_DIR).
      const directory = launcher.sandboxed ? null : mkdtempSync(path.join(tmpdir(), `scriptgate-${language.type}-`));
      const env = directory ? scrubbedEnvironment(process.env, { TMPDIR: directory }) : sandboxedEnvironment(process.env);
      const command = (token: string) =>
        launcher.command({
          executable: found.executable,
          args: (runnerInside) => language.runnerArgs(runnerInside, token, memoryLimitMb),
          runnerPath,
          readOnlyPaths,
          network,
          tmpMb: Math.max(TMP_MIN_MB, memoryLimitMb),
          addressSpaceMb: language.addressSpaceMb(memoryLimitMb),
        });
      return new Worker(
        { language, command, sandboxed: launcher.sandboxed, directory, env, memoryLimitMb, network, startTimeoutMs: settings.startTimeoutMs },
        events,
      );
    };
  }
}
