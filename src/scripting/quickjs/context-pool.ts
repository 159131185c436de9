import { createHash } from 'node:crypto';
import type { ScriptJob } from '../types.ts';
import type { CappedModules } from './capped-modules.ts';
import { INITIAL_INSTANCE_BYTES, RUNTIME_SLACK_BYTES, type MemoryBudget } from './memory-budget.ts';
import { wrapScript } from './script-source.ts';
import { WarmContext } from './warm-context.ts';

/** Spares are made a little after one is taken, so the calls that usually follow a first call are not held up. */
const SPARE_DELAY_MS = 20;

/**
 * A context whose instance grew more than this past its initial 16 MB is
 * dropped after its run instead of kept warm: linear memory never shrinks, so
 * a warm context keeps its high-water mark for life (64 warm contexts that
 * once held 512 MB each would keep 33 GB). A new context costs 3 to 10 ms,
 * less than filling 32 MB of heap took; ordinary scripts stay far below it.
 */
export const KEEP_WARM_MAX_GROWTH_BYTES = 32 * 1024 * 1024;

/** Scratch contexts kept (see ContextPool): enough for the cold runs in flight at once to find one. */
const SCRATCH_CONTEXTS = 4;
/** Keys of cold calls remembered (see ContextPool.admitted), at least. */
const MIN_RECENT_COLD = 1024;

export interface Lease {
  context: WarmContext;
  key: string;
  /** A call to a service not admitted to the warm set: its context goes back to the scratch contexts. */
  scratch: boolean;
}

/**
 * Idle warm contexts, keyed by owner, script and limits so a context never
 * serves another service or a changed script. Least recently used ones are
 * disposed past `capacity`, or when the memory budget needs room.
 * A few spare contexts (prelude installed, no script) are kept ready for the
 * default memory limit: making a context costs a new WebAssembly instance and
 * a QuickJS runtime (3 to 10 ms), loading a script into a spare well under 1 ms.
 *
 * Once the warm set is full, a service joins it only when it is called cold
 * a second time while its first cold call is still remembered (the last
 * 1,024 or more); until then its calls run in scratch contexts, a few
 * instances restored from their memory image for each call and reused most
 * recent first. Traffic spread over more services than the warm set holds
 * would otherwise push a warm context out on every call, and restore each
 * call into an instance whose memory had long left the CPU's caches: over
 * 10,000 services in turn, 64 instances in rotation served 0.41 of one
 * service's throughput, 4 served 0.67 (docs/MEASUREMENTS.md, session 9).
 * A context whose script failed is restored the same way (unless its
 * instance crashed): a service failing on every call would otherwise cost a
 * new instance a call.
 */
export class ContextPool {
  /** Insertion order is recency order: the first entry is the coldest. */
  private readonly idle = new Map<string, WarmContext[]>();
  private idleCount = 0;
  private closed = false;
  private readonly ready: WarmContext[] = [];
  /** The last instance being made: the next waits for it (see newContext). */
  private creating: Promise<unknown> = Promise.resolve();
  private preparing = false;
  /** Bytes each idle or spare context was counted at in the budget. */
  private readonly counted = new Map<WarmContext, number>();
  /** Most recently released last; each still holds the script of its last call. */
  private readonly scratch: Lease[] = [];
  /** Keys of recent cold calls, oldest first (see admitted). */
  private readonly recentCold = new Set<string>();
  /** Instances alive: idle, spare, scratch and running. */
  private live = 0;
  /** Instances dropped without a clean dispose (an aborted instance). */
  private abandoned = 0;
  /** Contexts made in the instance of an idle one (see recycleColdest), and how many of those by restoring its image. */
  private recycledCount = 0;
  private restoredCount = 0;
  /** New instances asked for and not made yet (see newContext). */
  private pendingInstances = 0;
  /** New instances made since start. */
  private madeCount = 0;
  /** Idle, scratch and spare contexts dropped to make room in the memory budget, since start. */
  private evictedCount = 0;

  constructor(
    private readonly modules: CappedModules,
    private readonly capacity: number,
    /** Spares are made for one memory limit: the platform default, which most services keep. */
    private readonly spares: { count: number; memoryLimitMb: number },
    private readonly budget: MemoryBudget,
  ) {
    budget.evictIdle = (bytes) => this.evictForRoom(bytes);
    this.prepareSpares();
  }

  /** Whether an idle context holding this job's script is here now (warm, or a scratch context its last call left). */
  hasIdle(job: ScriptJob): boolean {
    const key = keyOf(job);
    return this.idle.has(key) || this.scratchIndexOf(key) !== -1;
  }

  /** An idle context holding this job's script, without waiting; null when one must be made. */
  takeIdle(job: ScriptJob): Lease | null {
    const key = keyOf(job);
    const list = this.idle.get(key);
    const context = list?.pop();
    if (!context) return this.takeScratchHolding(key);
    this.idleCount--;
    if (list!.length === 0) this.idle.delete(key);
    this.uncount(context);
    return { context, key, scratch: false };
  }

  /** A context with the job's script loaded (the run's reservation covers it); a script that does not compile is a ScriptFailure. */
  async create(job: ScriptJob): Promise<Lease> {
    // A script that does not parse is refused before it costs a spare (the check is remembered per script).
    wrapScript(job.scriptKey, job.script);
    const key = keyOf(job);
    const { memoryLimitMb } = job.limits;
    const scratch = !this.admitted(key);
    let context = scratch ? this.reuseScratch(memoryLimitMb) : null;
    // Scratch contexts live in instances of their own, beyond the warm set's, once made.
    if (!context && scratch && this.live < this.capacity + SCRATCH_CONTEXTS) context = await this.newContext(memoryLimitMb);
    if (!context) {
      const usesSpares = memoryLimitMb === this.spares.memoryLimitMb;
      const spare = usesSpares ? this.ready.pop() : undefined;
      if (spare) this.uncount(spare);
      if (usesSpares) this.prepareSpares();
      context = spare ?? this.reuseScratch(memoryLimitMb) ?? this.recycleColdest(memoryLimitMb) ?? (await this.newContext(memoryLimitMb));
    }
    try {
      context.load(job);
    } catch (error) {
      this.release({ context, key, scratch: true });
      throw error;
    }
    return { context, key, scratch };
  }

  /** Back from a run: kept warm or as a scratch context (restored before it serves again if its script failed), or dropped. */
  release({ key, context, scratch }: Lease): void {
    if (this.capacity === 0 || this.closed || context.memoryBytes - INITIAL_INSTANCE_BYTES > KEEP_WARM_MAX_GROWTH_BYTES) {
      this.discard(context);
      return;
    }
    if (!context.healthy) {
      // Its script failed: the instance serves again only once restored, as a scratch context holding no key.
      if (context.restorable && this.scratch.length < SCRATCH_CONTEXTS) {
        this.scratch.unshift({ context, key: '', scratch: true });
        this.count(context);
      } else this.discard(context);
      return;
    }
    if (scratch && this.scratch.length < SCRATCH_CONTEXTS) {
      this.scratch.push({ context, key, scratch });
      this.count(context);
      return;
    }
    const list = this.idle.get(key) ?? [];
    this.idle.delete(key); // re-insert: now the most recently used
    list.push(context);
    this.idle.set(key, list);
    this.idleCount++;
    this.count(context);
    while (this.idleCount > this.capacity) this.trimColdest();
  }

  /** Drops every idle context of an owner (its script changed or it was deleted). */
  forget(scriptKey: string): void {
    const prefix = `${scriptKey}\u0000`;
    for (let i = this.scratch.length - 1; i >= 0; i--) {
      if (this.scratch[i]!.key.startsWith(prefix)) this.discard(this.scratch.splice(i, 1)[0]!.context);
    }
    for (const [key, list] of this.idle) {
      if (!key.startsWith(prefix)) continue;
      for (const context of list) this.discard(context);
      this.idleCount -= list.length;
      this.idle.delete(key);
    }
  }

  /** Disposes every idle and spare context; contexts released afterwards are disposed too. */
  clear(): void {
    this.closed = true;
    for (const spare of this.ready.splice(0)) this.discard(spare);
    for (const { context } of this.scratch.splice(0)) this.discard(context);
    for (const list of this.idle.values()) for (const context of list) this.discard(context);
    this.idle.clear();
    this.idleCount = 0;
  }

  get size(): number {
    return this.idleCount;
  }

  get stats() {
    return {
      instances: this.live,
      idle: this.idleCount,
      spares: this.ready.length,
      scratch: this.scratch.length,
      abandoned: this.abandoned,
      recycled: this.recycledCount,
      restored: this.restoredCount,
      made: this.madeCount,
      evicted: this.evictedCount,
    };
  }

  /**
   * Instances are made one at a time, each in an event-loop turn of its own:
   * an instance costs 3 to 10 ms of synchronous work, and a burst of cold
   * calls (64 `platform.api` calls fanned out at once) made together held
   * the loop 130 to 220 ms. They are CPU-bound either way, so nothing waits longer.
   */
  private newContext(memoryLimitMb: number): Promise<WarmContext> {
    this.pendingInstances++;
    const made = this.creating
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => this.makeContext(memoryLimitMb))
      .finally(() => this.pendingInstances--);
    this.creating = made.catch(() => undefined);
    return made;
  }

  private async makeContext(memoryLimitMb: number): Promise<WarmContext> {
    // The instance may grow by the script's limit plus room for the runtime's own structures.
    const module = await this.modules.create(memoryLimitMb * 1024 * 1024 + RUNTIME_SLACK_BYTES);
    const context = new WarmContext(module, memoryLimitMb, true);
    this.live++;
    this.madeCount++;
    return context;
  }

  private discard(context: WarmContext): void {
    this.uncount(context);
    if (context.isDisposed) return;
    context.dispose();
    if (context.disposeError) this.abandoned++;
    this.live--;
  }

  private count(context: WarmContext): void {
    const bytes = context.memoryBytes;
    this.counted.set(context, bytes);
    this.budget.addIdle(bytes);
  }

  private uncount(context: WarmContext): void {
    const bytes = this.counted.get(context);
    if (bytes === undefined) return;
    this.counted.delete(context);
    this.budget.removeIdle(bytes);
  }

  /**
   * Makes one spare now, for the engine's start to wait for: the first
   * instance of a process is the slow one (QuickJS's code run for the first
   * time, the memory image scanned), better paid before a call needs it.
   */
  async warmUp(): Promise<void> {
    if (this.closed || this.ready.length > 0 || !this.budget.hasRoom(INITIAL_INSTANCE_BYTES)) return;
    await this.addSpare();
  }

  /** A new instance kept as a spare if there is still room for it (runs may have reserved it meanwhile); whether it was. */
  private async addSpare(): Promise<boolean> {
    const spare = await this.newContext(this.spares.memoryLimitMb);
    if (this.closed || !this.budget.hasRoom(spare.memoryBytes)) {
      this.discard(spare);
      return false;
    }
    this.ready.push(spare);
    this.count(spare);
    return true;
  }

  /** Makes spares one at a time, off any request's path, so requests interleave with the work. */
  private prepareSpares(): void {
    if (this.preparing || this.closed || this.ready.length >= this.spares.count) return;
    this.preparing = true;
    setTimeout(() => {
      let made = false;
      const recycled = this.recycleColdest(this.spares.memoryLimitMb);
      if (recycled) {
        this.ready.push(recycled);
        this.count(recycled);
        this.preparing = false;
        return this.prepareSpares();
      }
      // A spare never pushes warm contexts or runs out of the budget.
      if (!this.budget.hasRoom(INITIAL_INSTANCE_BYTES)) {
        this.preparing = false;
        return;
      }
      this.addSpare()
        .then(
          (added) => (made = added),
          () => undefined, // calls make their own context; the next call tries again
        )
        .finally(() => {
          this.preparing = false;
          if (made) this.prepareSpares();
        });
    }, SPARE_DELAY_MS).unref();
  }

  /** Frees at least `bytes` of idle memory if it can: scratch contexts first, then the coldest warm ones, then spares. */
  private evictForRoom(bytes: number): void {
    let freed = 0;
    const before = this.live;
    while (freed < bytes && this.scratch.length > 0) freed += this.drop(this.scratch.shift()!.context);
    while (freed < bytes && this.idleCount > 0) freed += this.evictColdest();
    while (freed < bytes && this.ready.length > 0) freed += this.drop(this.ready.shift()!);
    this.evictedCount += before - this.live;
  }

  /**
   * Once there are as many instances as warm contexts may be kept, a new
   * context reuses the instance of the coldest idle one with the same memory
   * limit (its maximum is fixed when made) instead of making another: traffic
   * spread over more services than the warm set holds would otherwise pay
   * for a new instance on nearly every call. Reusing one restores its memory
   * image where it has one (WarmContext.recycled).
   */
  private recycleColdest(memoryLimitMb: number): WarmContext | null {
    // Below capacity a new instance grows the warm set, unless one is already being made (a spare): waiting for
    // it behind the event-loop turns it takes costs a cold call more than reusing an idle instance now.
    if (this.closed || (this.live < this.capacity && this.pendingInstances === 0)) return null;
    for (const [key, list] of this.idle) {
      const index = list.findIndex((context) => context.memoryLimitMb === memoryLimitMb);
      if (index === -1) continue;
      const [context] = list.splice(index, 1) as [WarmContext];
      this.idleCount--;
      if (list.length === 0) this.idle.delete(key);
      this.uncount(context);
      return this.reuse(context);
    }
    return null;
  }

  /**
   * Whether a cold call's context joins the warm set after its run: always
   * while instances are fewer than the warm set may hold, and after that
   * when the same key was called cold recently (see the class comment).
   */
  private admitted(key: string): boolean {
    if (this.live < this.capacity) return true;
    if (this.recentCold.delete(key)) return true;
    this.recentCold.add(key);
    if (this.recentCold.size > Math.max(MIN_RECENT_COLD, 4 * this.capacity)) this.recentCold.delete(this.recentCold.values().next().value!);
    return false;
  }

  /** The most recently used scratch context for this memory limit, made ready for another script. */
  private reuseScratch(memoryLimitMb: number): WarmContext | null {
    for (let i = this.scratch.length - 1; i >= 0; i--) {
      const { context } = this.scratch[i]!;
      if (context.memoryLimitMb !== memoryLimitMb) continue;
      this.scratch.splice(i, 1);
      this.uncount(context);
      return this.reuse(context);
    }
    return null;
  }

  /** The scratch context still holding this key's script, taken as it is (the service was called again at once). */
  private takeScratchHolding(key: string): Lease | null {
    const index = this.scratchIndexOf(key);
    if (index === -1) return null;
    const [lease] = this.scratch.splice(index, 1) as [Lease];
    this.uncount(lease.context);
    return lease;
  }

  private scratchIndexOf(key: string): number {
    for (let i = this.scratch.length - 1; i >= 0; i--) if (this.scratch[i]!.key === key) return i;
    return -1;
  }

  /** An idle context's instance, made ready for another script (WarmContext.recycled); null when the instance was dropped. */
  private reuse(context: WarmContext): WarmContext | null {
    let fresh: WarmContext | null = null;
    try {
      fresh = context.recycled();
    } catch {
      // the prelude failed in the fresh runtime: a new instance is made instead
    }
    if (fresh) {
      this.recycledCount++;
      if (fresh === context) this.restoredCount++;
    } else {
      if (context.disposeError) this.abandoned++;
      this.live--;
    }
    return fresh;
  }

  /**
   * Moves the least recently used warm context out of a full warm set: to
   * the scratch contexts when it can be restored and there is room (a new
   * instance costs a garbage collection of the server's heap, 15 to 35 ms
   * with 10,000 services), else dropped.
   */
  private trimColdest(): void {
    const [key, list] = this.idle.entries().next().value as [string, WarmContext[]];
    if (!list[0]!.restorable || this.scratch.length >= SCRATCH_CONTEXTS) this.evictColdest();
    else this.scratch.unshift({ context: this.takeColdest(), key, scratch: true });
  }

  /** Drops the least recently used idle context; returns the bytes it was counted at. */
  private evictColdest(): number {
    return this.drop(this.takeColdest());
  }

  /** The least recently used idle context, taken out of the warm set (still counted in the budget). */
  private takeColdest(): WarmContext {
    const [key, list] = this.idle.entries().next().value as [string, WarmContext[]];
    const context = list.shift()!;
    this.idleCount--;
    if (list.length === 0) this.idle.delete(key);
    return context;
  }

  /** Discards an idle, scratch or spare context taken out of its list; returns the bytes it was counted at. */
  private drop(context: WarmContext): number {
    const bytes = this.counted.get(context) ?? 0;
    this.discard(context);
    return bytes;
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
  // The version too: a rollback to an older script never meets state another version left in a context.
  return `${job.scriptKey}\u0000${job.version ?? ''}\u0000${known.digest}\u0000${job.limits.memoryLimitMb}`;
}
