import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The installed package's root (package.json, engines/, prisma/), found by
 * walking up from this module: the same answer from src/ (tsx) and from the
 * one-file build in dist/, whose modules no longer sit where their sources do.
 */
function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'engines'))) return dir;
    if (dirname(dir) === dir) throw new Error(`Scriptgate's package root (package.json beside engines/) was not found above ${from}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
