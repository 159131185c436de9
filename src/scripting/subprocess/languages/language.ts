/** What the shared child-process handler needs to know about one language. */
export type SubprocessType = 'nodejs' | 'python' | 'python3' | 'php';

export interface DetectedInterpreter {
  /** Absolute path of the real binary (symlinks and pyenv shims resolved). */
  executable: string;
  version: string;
  /** Anything the operator should know, e.g. which interpreter `python` turned out to be. */
  note: string | null;
  /** Installation prefixes outside the system directories the interpreter needs (a pyenv Python's), bound read-only in the sandbox. */
  prefixes?: string[];
}

export interface LanguageSpec {
  type: SubprocessType;
  label: string;
  description: string;
  /** Runner file, relative to the repository's engines/ directory. */
  runnerFile: string;
  /**
   * The memory limit is fixed when the worker starts (Node's heap size, Python's
   * RLIMIT_AS), so workers are matched to jobs by it; PHP sets memory_limit per job.
   */
  memoryLimitAtSpawn: boolean;
  /** Finds and checks the interpreter; throws an Error whose message says why it cannot be used. */
  detect(override: string | undefined, env: Record<string, string>): Promise<DetectedInterpreter>;
  runnerArgs(runnerPath: string, token: string, memoryLimitMb: number): string[];
  /**
   * RLIMIT_AS for the sandboxed process in MB, or null to leave it to the
   * language: V8 reserves far more address space than it uses, and Python's
   * runner sets its own from what it maps at start.
   */
  addressSpaceMb(memoryLimitMb: number): number | null;
  /** Recognises a worker that died of memory exhaustion from the end of its stderr. */
  diedOfMemory?(stderrTail: string): boolean;
}
