import { findOnPath, isExecutableFile, realExecutable, runOnce } from '../interpreter.ts';
import type { LanguageSpec } from './language.ts';

const PROBE =
  'echo PHP_VERSION, "\\n", PHP_VERSION_ID >= 80000 ? "php8" : "old", "\\n", (function_exists("pcntl_fork") && function_exists("posix_setpgid")) ? "fork" : "nofork", "\\n";';

const PHP_ADDRESS_SPACE_MB = 8192;

/**
 * PHP sets its memory_limit per job, so any warm worker of the owner fits; a
 * script that declares named functions or classes runs in a forked child.
 */
export const phpLanguage: LanguageSpec = {
  type: 'php',
  label: 'PHP',
  description: 'Script handler using native PHP.',
  runnerFile: 'php/runner.php',
  memoryLimitAtSpawn: false,
  async detect(override, env) {
    let candidate = override ?? null;
    if (candidate && !(await isExecutableFile(candidate))) throw new Error(`interpreter not found: ${candidate} is not an executable file`);
    candidate ??= await findOnPath(['php'], env.PATH);
    if (!candidate) throw new Error('interpreter not found: no php on PATH (set PHP_PATH)');
    const executable = await realExecutable(candidate);
    const [version = '', modern = '', fork = ''] = (await runOnce(executable, ['-r', PROBE], env)).trim().split('\n');
    if (modern.trim() !== 'php8') throw new Error(`PHP ${version} at ${executable} is too old (8.0 or later is needed; set PHP_PATH)`);
    if (fork.trim() !== 'fork') throw new Error(`PHP ${version} at ${executable} lacks the pcntl and posix extensions the runner needs`);
    return { executable, version: version.trim(), note: null };
  },
  // memory_limit is set per job; this only stops a runaway extension or FFI from mapping the machine.
  addressSpaceMb: () => PHP_ADDRESS_SPACE_MB,
  runnerArgs(runnerPath, token) {
    const ini = ['display_errors=stderr', 'log_errors=0', 'html_errors=0', 'memory_limit=-1', 'max_execution_time=0', 'output_buffering=0', 'implicit_flush=1'];
    return [...ini.flatMap((setting) => ['-d', setting]), runnerPath, token];
  },
};
