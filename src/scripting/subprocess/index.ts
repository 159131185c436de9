import { defaultPoolSizes, SubprocessEngine } from './engine.ts';
import type { LanguageSpec, SubprocessType } from './languages/language.ts';
import { nodeLanguage } from './languages/node.ts';
import { phpLanguage } from './languages/php.ts';
import { python3Language, pythonLanguage } from './languages/python.ts';
import { BubblewrapLauncher, unsandboxedLauncher, type WorkerLauncher } from './sandbox.ts';

export { SubprocessEngine, type SubprocessScriptTypeInfo } from './engine.ts';
export type { SubprocessType } from './languages/language.ts';

export interface SubprocessEnginesOptions {
  /** User overrides (absolute paths); otherwise PATH is searched (nodejs: this server's own node). */
  interpreterPaths: Partial<Record<SubprocessType, string>>;
  /** Script types switched off by configuration, matched by exact name ("all" switches off every one). */
  disabled: ReadonlySet<string>;
  /** Warm workers per type (default 2). */
  poolSize?: number;
  /** Workers per type at most (default max(4, 2 × CPUs) + 1: the + 1 is for a second busy service). */
  maxPoolSize?: number;
  /** Calls of one service allowed to wait per type when it has no worker free (default 64); four times that in all per type. */
  queueLimit?: number;
  /** The platform's default memory limit, so warm Node workers match most calls (default 128). */
  defaultMemoryLimitMb?: number;
  /** `bwrap`: every worker in bubblewrap (default); `off`: as the server's user, chosen by the operator. */
  sandbox?: 'bwrap' | 'off';
  /**
   * Workers one service may have busy at once per type, so one busy service
   * cannot starve the others (default maxPoolSize - 1: a service alone keeps
   * as many workers as the pool had before fair shares, and any other service
   * always finds a worker).
   */
  workersPerService?: number;
  /** bwrap's path (tests point it elsewhere); otherwise found on PATH. */
  bwrapPath?: string;
  /** Idle workers above poolSize stop after this long (default 60 s). */
  idleTtlMs?: number;
}

const LANGUAGES: readonly LanguageSpec[] = [nodeLanguage, pythonLanguage, python3Language, phpLanguage];

/** The subprocess script types: nodejs, python, python3, php. Call `start()` on each before use. */
export function createSubprocessEngines(options: SubprocessEnginesOptions): SubprocessEngine[] {
  const sizes = defaultPoolSizes();
  const poolSize = Math.max(0, options.poolSize ?? sizes.poolSize);
  const maxPoolSize = Math.max(poolSize, options.maxPoolSize ?? sizes.maxPoolSize, 1);
  const workersPerService = Math.max(1, Math.min(maxPoolSize, options.workersPerService ?? maxPoolSize - 1));
  // One probe of the sandbox for every type, made when the first engine starts.
  let launcher: Promise<WorkerLauncher> | null = null;
  const sharedLauncher = (): Promise<WorkerLauncher> => {
    if (options.sandbox === 'off') return Promise.resolve(unsandboxedLauncher);
    launcher ??= BubblewrapLauncher.create({ bwrapPath: options.bwrapPath, pathEnv: process.env.PATH });
    return launcher;
  };
  return LANGUAGES.map(
    (language) =>
      new SubprocessEngine(language, {
        interpreterPath: options.interpreterPaths[language.type],
        disabled: options.disabled.has(language.type) || options.disabled.has('all'),
        launcher: sharedLauncher,
        poolSize,
        maxPoolSize,
        workersPerService,
        queueLimit: Math.max(0, options.queueLimit ?? 64),
        defaultMemoryLimitMb: options.defaultMemoryLimitMb ?? 128,
        idleTtlMs: options.idleTtlMs ?? 60_000,
        startTimeoutMs: 15_000,
      }),
  );
}
