import path from 'node:path';
import { defaultPoolSizes, SubprocessEngine } from './engine.ts';
import type { LanguageSpec, SubprocessType } from './languages/language.ts';
import { nodeLanguage } from './languages/node.ts';
import { phpLanguage } from './languages/php.ts';
import { python3Language, pythonLanguage } from './languages/python.ts';

export { SubprocessEngine, type SubprocessScriptTypeInfo } from './engine.ts';
export type { SubprocessType } from './languages/language.ts';

export interface SubprocessEnginesOptions {
  /** User overrides (absolute paths); otherwise PATH is searched (nodejs: this server's own node). */
  interpreterPaths: Partial<Record<SubprocessType, string>>;
  /** Script types switched off by configuration, matched by exact name ("all" switches off every one). */
  disabled: ReadonlySet<string>;
  /** Data directory for workers; each type and worker gets its own subdirectory. */
  workDir: string;
  /** Warm workers per type (default 2). */
  poolSize?: number;
  /** Workers per type at most (default max(4, 2 × CPUs)). */
  maxPoolSize?: number;
  /** Calls allowed to wait per type when all workers are busy (default 64). */
  queueLimit?: number;
  /** The platform's default memory limit, so warm Node workers match most calls (default 128). */
  defaultMemoryLimitMb?: number;
  /** `bwrap`: every worker in bubblewrap (default); `off`: as the server's user, chosen by the operator. */
  sandbox?: 'bwrap' | 'off';
  /** Workers one service may hold at once per type, so one busy service cannot starve the others. */
  workersPerService?: number;
  /** Idle workers above poolSize stop after this long (default 60 s). */
  idleTtlMs?: number;
}

const LANGUAGES: readonly LanguageSpec[] = [nodeLanguage, pythonLanguage, python3Language, phpLanguage];

/** The subprocess script types: nodejs, python, python3, php. Call `start()` on each before use. */
export function createSubprocessEngines(options: SubprocessEnginesOptions): SubprocessEngine[] {
  const sizes = defaultPoolSizes();
  const poolSize = Math.max(0, options.poolSize ?? sizes.poolSize);
  return LANGUAGES.map(
    (language) =>
      new SubprocessEngine(language, {
        interpreterPath: options.interpreterPaths[language.type],
        disabled: options.disabled.has(language.type) || options.disabled.has('all'),
        workDir: path.join(options.workDir, language.type),
        poolSize,
        maxPoolSize: Math.max(poolSize, options.maxPoolSize ?? sizes.maxPoolSize, 1),
        queueLimit: Math.max(0, options.queueLimit ?? 64),
        defaultMemoryLimitMb: options.defaultMemoryLimitMb ?? 128,
        idleTtlMs: options.idleTtlMs ?? 60_000,
        startTimeoutMs: 15_000,
      }),
  );
}
