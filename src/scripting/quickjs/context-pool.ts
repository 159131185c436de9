import { createHash } from 'node:crypto';
import type { ScriptJob } from '../types.ts';
import type { CappedModules } from './capped-modules.ts';
import { WarmContext } from './warm-context.ts';

/** Spares are made a little after one is taken, so the calls that usually follow a first call are not held up. */
const SPARE_DELAY_MS = 20;

/**
 * Idle warm contexts, keyed by owner, script and limits so a context never
 * serves another service or a changed script. Least recently used ones are
 * disposed past `capacity`, which bounds memory with many services.
 * A few spare contexts (prelude installed, no script) are kept ready for the
 * default memory limit: making a context costs a new WebAssembly instance and
 * a QuickJS runtime (3 to 10 ms), loading a script into a spare well under 1 ms.
 */
export interface Lease {
  context: WarmContext;
  key: string;
}

export class ContextPool {
  /** Insertion order is recency order: the first entry is the coldest. */
  private readonly idle = new Map<string, WarmContext[]>();
  private idleCount = 0;
  private closed = false;
  private readonly ready: WarmContext[] = [];
  private preparing = false;

  constructor(
    private readonly modules: CappedModules,
    private readonly capacity: number,
    /** Spares are made for one memory limit: the platform default, which most services keep. */
    private readonly spares: { count: number; memoryLimitMb: number },
  ) {
    this.prepareSpares();
  }

  /** An idle warm context for this job, without waiting; null when a new one must be made. */
  takeIdle(job: ScriptJob): Lease | null {
    const key = keyOf(job);
    const list = this.idle.get(key);
    const context = list?.pop();
    if (!context) return null;
    this.idleCount--;
    if (list!.length === 0) this.idle.delete(key);
    return { context, key };
  }

  async create(job: ScriptJob): Promise<Lease> {
    const { memoryLimitMb } = job.limits;
    const usesSpares = memoryLimitMb === this.spares.memoryLimitMb;
    const spare = usesSpares ? this.ready.pop() : undefined;
    if (usesSpares) this.prepareSpares();
    const context = spare ?? (await this.newContext(memoryLimitMb));
    return { context: context.load(job), key: keyOf(job) };
  }

  release(key: string, context: WarmContext): void {
    if (!context.healthy || this.capacity === 0 || this.closed) {
      context.dispose();
      return;
    }
    const list = this.idle.get(key) ?? [];
    this.idle.delete(key); // re-insert: now the most recently used
    list.push(context);
    this.idle.set(key, list);
    this.idleCount++;
    while (this.idleCount > this.capacity) this.evictColdest();
  }

  /** Drops every idle context of an owner (its script changed or it was deleted). */
  forget(scriptKey: string): void {
    const prefix = `${scriptKey}\u0000`;
    for (const [key, list] of this.idle) {
      if (!key.startsWith(prefix)) continue;
      for (const context of list) context.dispose();
      this.idleCount -= list.length;
      this.idle.delete(key);
    }
  }

  /** Disposes every idle and spare context; contexts released afterwards are disposed too. */
  clear(): void {
    this.closed = true;
    for (const spare of this.ready.splice(0)) spare.dispose();
    for (const list of this.idle.values()) for (const context of list) context.dispose();
    this.idle.clear();
    this.idleCount = 0;
  }

  get size(): number {
    return this.idleCount;
  }

  private async newContext(memoryLimitMb: number): Promise<WarmContext> {
    // The instance may grow by the script's limit plus room for the runtime's own structures.
    const module = await this.modules.create((memoryLimitMb + 8) * 1024 * 1024);
    return new WarmContext(module, memoryLimitMb);
  }

  /** Makes spares one at a time, off any request's path, so requests interleave with the work. */
  private prepareSpares(): void {
    if (this.preparing || this.closed || this.ready.length >= this.spares.count) return;
    this.preparing = true;
    setTimeout(() => {
      let made = false;
      this.newContext(this.spares.memoryLimitMb)
        .then(
          (spare) => {
            if (this.closed) return spare.dispose();
            this.ready.push(spare);
            made = true;
          },
          () => undefined, // calls make their own context; the next call tries again
        )
        .finally(() => {
          this.preparing = false;
          if (made) this.prepareSpares();
        });
    }, SPARE_DELAY_MS).unref();
  }

  private evictColdest(): void {
    const [key, list] = this.idle.entries().next().value as [string, WarmContext[]];
    list.shift()?.dispose();
    this.idleCount--;
    if (list.length === 0) this.idle.delete(key);
  }
}

/** Last digest per owner: hashing the script on every call showed up in profiles. */
const digests = new Map<string, { script: string; digest: string }>();

function keyOf(job: ScriptJob): string {
  let known = digests.get(job.scriptKey);
  if (known?.script !== job.script) {
    known = { script: job.script, digest: createHash('sha1').update(job.script).digest('base64url') };
    digests.set(job.scriptKey, known);
  }
  return `${job.scriptKey}\u0000${known.digest}\u0000${job.limits.memoryLimitMb}`;
}
