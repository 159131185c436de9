import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

/** The first of `names` found as an executable file on `pathEnv`, as an absolute path. */
export async function findOnPath(names: readonly string[], pathEnv: string | undefined): Promise<string | null> {
  const dirs = (pathEnv ?? '').split(path.delimiter).filter((dir) => dir && path.isAbsolute(dir));
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      if (await isExecutableFile(candidate)) return candidate;
    }
  }
  return null;
}

export async function isExecutableFile(file: string): Promise<boolean> {
  try {
    if (!(await stat(file)).isFile()) return false;
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Resolves symlinks (e.g. /usr/bin/php → /usr/bin/php8.2) so workers start the binary directly. */
export async function realExecutable(file: string): Promise<string> {
  return realpath(file);
}

/** Runs an interpreter once (version detection) and returns its output; rejects with a readable reason. */
export function runOnce(
  file: string,
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 15_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 1 << 20, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        const detail = (stderr || error.message).trim().split('\n').slice(-3).join(' ');
        reject(new Error(`${file} failed to run: ${detail}`));
        return;
      }
      resolve(stdout);
    });
  });
}
