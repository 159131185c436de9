import { runOnce, isExecutableFile, realExecutable } from '../interpreter.ts';
import type { LanguageSpec } from './language.ts';

/**
 * A long-lived runner that gives every job a fresh vm context (fresh globals);
 * V8's heap limit is a start-up flag, so workers are matched to jobs by it.
 */
export const nodeLanguage: LanguageSpec = {
  type: 'nodejs',
  label: 'Node.js',
  description: 'Server-side JavaScript handler using the Node.js engine.',
  runnerFile: 'node/runner.cjs',
  memoryLimitAtSpawn: true,
  async detect(override, env) {
    const candidate = override ?? process.execPath;
    if (!(await isExecutableFile(candidate))) throw new Error(`interpreter not found: ${candidate} is not an executable file`);
    const executable = await realExecutable(candidate);
    const version = (await runOnce(executable, ['--version'], env)).trim();
    const major = Number(/^v(\d+)/.exec(version)?.[1] ?? 0);
    if (major < 18) throw new Error(`Node.js ${version} at ${executable} is too old (18 or later is needed)`);
    return { executable, version, note: null };
  },
  runnerArgs(runnerPath, token, memoryLimitMb) {
    return [`--max-old-space-size=${Math.max(8, Math.round(memoryLimitMb))}`, runnerPath, token];
  },
  addressSpaceMb: () => null,
  diedOfMemory(stderrTail) {
    return /heap out of memory|Reached heap limit|Allocation failed/i.test(stderrTail);
  },
};
