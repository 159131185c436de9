import { findOnPath, isExecutableFile, realExecutable, runOnce } from '../interpreter.ts';
import type { DetectedInterpreter, LanguageSpec } from './language.ts';

/** Prints the real binary (resolving pyenv shims, which cost ~100 ms a start) and the version. */
const PROBE = 'import sys, platform; print(sys.executable); print(platform.python_version()); print(sys.base_prefix); print(sys.prefix)';

async function detectPython(
  names: readonly string[],
  override: string | undefined,
  env: Record<string, string>,
  setting: string,
): Promise<DetectedInterpreter> {
  let candidate = override ?? null;
  if (candidate && !(await isExecutableFile(candidate))) throw new Error(`interpreter not found: ${candidate} is not an executable file`);
  candidate ??= await findOnPath(names, env.PATH);
  if (!candidate) throw new Error(`interpreter not found: no ${names.join(' or ')} on PATH (set ${setting})`);
  const [reported = '', version = '', basePrefix = '', prefix = ''] = (await runOnce(candidate, ['-c', PROBE], env)).trim().split('\n').map((s) => s.trim());
  const executable = await realExecutable(reported || candidate);
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < 3 || (major === 3 && minor < 8)) {
    throw new Error(`${candidate} is Python ${version}; the runner needs Python 3.8 or later (set ${setting})`);
  }
  const calledAs = candidate.split('/').pop();
  const prefixes = [basePrefix, prefix].filter((p) => p.startsWith('/'));
  return { executable, version, note: `${calledAs} → Python ${version} at ${executable}`, prefixes };
}

/** The runner serves both `python` and `python3`; `python` is whatever that name resolves to (Python 3 here). */
export const pythonLanguage: LanguageSpec = {
  type: 'python',
  label: 'Python',
  description: 'Script handler using native Python.',
  runnerFile: 'python/runner.py',
  // RLIMIT_AS is set once when the runner starts.
  memoryLimitAtSpawn: true,
  detect: (override, env) => detectPython(['python', 'python3'], override, env, 'PYTHON_PATH'),
  // -S: the runner adds site-packages itself (add_site_packages), which halves its start-up.
  runnerArgs: (runnerPath, token, memoryLimitMb) => ['-u', '-E', '-S', '-B', '-X', 'utf8', runnerPath, token, String(Math.round(memoryLimitMb))],
  addressSpaceMb: () => null,
};

export const python3Language: LanguageSpec = {
  ...pythonLanguage,
  type: 'python3',
  label: 'Python3',
  description: 'Script handler using native Python3.',
  detect: (override, env) => detectPython(['python3'], override, env, 'PYTHON3_PATH'),
};
