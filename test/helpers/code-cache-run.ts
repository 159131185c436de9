// One start of a bundle through the code cache (src/code-cache.ts), in a
// process of its own: V8 reuses what a process compiled already and would
// never look at the cache. Prints how the cache was used and what the bundle
// recorded; with `save`, writes the cache as the server does once ready.
import { cacheFileFor, runWithCodeCache, saveCodeCache } from '../../src/code-cache.ts';
import { readFileSync } from 'node:fs';

const [bundleFile, cacheDir, then] = process.argv.slice(2);
if (!bundleFile || !cacheDir) throw new Error('usage: code-cache-run.ts BUNDLE CACHE_DIR [save|name]');
if (then === 'name') {
  process.stdout.write(`${JSON.stringify({ cacheFile: cacheFileFor(readFileSync(bundleFile), cacheDir).cacheFile })}\n`);
} else {
  const use = runWithCodeCache(bundleFile, cacheDir);
  process.stdout.write(`${JSON.stringify({ use, runs: (globalThis as { codeCacheRuns?: unknown[] }).codeCacheRuns })}\n`);
  if (then === 'save') saveCodeCache();
}
