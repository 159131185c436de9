/**
 * Host uids for sandboxed workers, one per live worker, so RLIMIT_NPROC is a
 * per-worker bound and the host can tell whose processes are whose. Each
 * server process takes its own block (by its pid), so two servers on one
 * machine rarely share a uid; freed uids are reused last, so a uid whose
 * processes are still being torn down is not handed out again at once.
 */
const FIRST_UID = 1_000_000;
const BLOCK = 1024;
const BLOCKS = 100_000;

class SandboxUids {
  private readonly base = FIRST_UID + (process.pid % BLOCKS) * BLOCK;
  private readonly free: number[] = Array.from({ length: BLOCK }, (_, i) => i);
  private readonly taken = new Set<number>();

  take(): number {
    const slot = this.free.shift();
    if (slot === undefined) throw new Error(`more than ${BLOCK} sandboxed workers at once`);
    this.taken.add(slot);
    return this.base + slot;
  }

  give(uid: number): void {
    const slot = uid - this.base;
    if (!this.taken.delete(slot)) return;
    this.free.push(slot);
  }
}

/** One for the whole process: every engine's workers draw from the same block. */
export const sandboxUids = new SandboxUids();
