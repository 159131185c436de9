import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScriptFailure } from '../failure.ts';
import type { ScriptEngine, ScriptJob, ScriptOutcome, ScriptTypeInfo } from '../types.ts';
import { scrubbedEnvironment } from './environment.ts';
import type { LanguageSpec } from './languages/language.ts';
import { WorkerPool } from './pool.ts';
import { Worker } from './worker.ts';

/** Where the language runners live: <repo>/engines/. */
const ENGINES_DIR = fileURLToPath(new URL('../../../engines/', import.meta.url));

export interface SubprocessEngineSettings {
  /** User override of the interpreter (absolute path); otherwise PATH is searched. */
  interpreterPath?: string;
  disabled: boolean;
  /** This engine's own directory; each worker gets a subdirectory. */
  workDir: string;
  poolSize: number;
  maxPoolSize: number;
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

export function defaultPoolSizes(): { poolSize: number; maxPoolSize: number } {
  return { poolSize: 2, maxPoolSize: Math.max(4, cpus().length * 2) };
}

/** One script type run by a language runner in warm subprocesses. */
export class SubprocessEngine implements ScriptEngine {
  readonly info: SubprocessScriptTypeInfo;
  private pool: WorkerPool | null = null;
  private workerCount = 0;

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
      const pool = this.createPool(found.executable);
      this.pool = pool;
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

  async stop(deadlineMs = 5000): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    this.info.available = false;
    this.info.unavailableReason = 'stopped';
    await pool?.stop(deadlineMs);
  }

  /** A script changed or was deleted: workers bound to its owner are retired. */
  forget(scriptKey: string): void {
    this.pool?.forget(scriptKey);
  }

  /** Process ids of the workers and of jobs they are running (diagnostics and tests). */
  workerPids(): number[] {
    return this.pool?.pids() ?? [];
  }

  private createPool(executable: string): WorkerPool {
    const { language, settings } = this;
    const runnerPath = path.join(ENGINES_DIR, language.runnerFile);
    return new WorkerPool({
      language,
      minSize: settings.poolSize,
      maxSize: Math.max(settings.poolSize, settings.maxPoolSize, 1),
      queueLimit: settings.queueLimit,
      defaultMemoryLimitMb: settings.defaultMemoryLimitMb,
      idleTtlMs: settings.idleTtlMs,
      createWorker: (memoryLimitMb, events) => {
        const directory = path.join(settings.workDir, `worker-${process.pid}-${++this.workerCount}`);
        const env = scrubbedEnvironment(process.env, { TMPDIR: directory });
        return new Worker(
          { language, executable, runnerPath, directory, env, memoryLimitMb, startTimeoutMs: settings.startTimeoutMs },
          events,
        );
      },
    });
  }
}
