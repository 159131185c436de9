import type { ScriptFailure } from '../failure.ts';
import { transpile, type Transpiled } from './transpile.ts';

/**
 * The last TypeScript transpiled per owner (service or event script), so a
 * saved version is transpiled once, not per call; a script that does not
 * transpile keeps its failure, so its calls fail without parsing it again.
 * An owner whose script changed gets its new version transpiled on its next
 * call; `forget` drops a deleted owner's.
 */
export class TranspileCache {
  /** Transpiles done since start (what "once per saved version" is measured by). */
  transpiles = 0;
  private readonly byOwner = new Map<string, { source: string; result: Transpiled | null; failure: ScriptFailure | null }>();

  get(owner: string, source: string): Transpiled {
    let known = this.byOwner.get(owner);
    // Same string object as last time (the service cache hands out one): an O(1) comparison.
    if (known?.source !== source) {
      known = { source, result: null, failure: null };
      this.transpiles++;
      try {
        known.result = transpile(source);
      } catch (error) {
        known.failure = error as ScriptFailure;
      }
      this.byOwner.set(owner, known);
    }
    if (known.failure) throw known.failure;
    return known.result!;
  }

  forget(owner: string): void {
    this.byOwner.delete(owner);
  }

  get size(): number {
    return this.byOwner.size;
  }
}
