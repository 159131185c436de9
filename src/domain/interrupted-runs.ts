import type { Db } from '../db/client.ts';
import type { EventBus } from '../logs/bus.ts';

/** The error kind of a run the server stopped under: cut at shutdown, or left `running` by a process that died. */
export const INTERRUPTED = 'interrupted';

const CUT_MESSAGE = 'The server shut down before this run finished (SHUTDOWN_GRACE_MS passed); it was stopped.';
const LOST_MESSAGE = 'The server running this execution stopped before it finished (killed or crashed); marked at a later start.';
/** Ids per UPDATE: far below SQLite's 32,766 bound parameters. */
const CHUNK = 500;
/** Clock differences between instances sharing PostgreSQL, on top of the longest a run can be `running`. */
const CLOCK_SKEW_MS = 60_000;
/** How often an instance on PostgreSQL looks for runs other, dead instances left. */
const SWEEP_MS = 60_000;

/**
 * Marks runs a dead process left `running` as failed with error kind
 * `interrupted`. Executions carry no instance id, so who may be marked
 * depends on who can share the database:
 * - SQLite: one server per file (as everywhere else in Scriptgate: no change
 *   notices, no relay), so at start, before it runs anything, every
 *   `running` row is a previous process's.
 * - PostgreSQL: other live instances have runs `running` too. A run is
 *   `running` at most twice its timeout (waiting for an engine up to its
 *   timeout, then running) plus a shutdown grace, so rows older than
 *   2 × SCRIPT_MAX_TIMEOUT_MS + SHUTDOWN_GRACE_MS + 60 s (clock skew) are
 *   orphans; checked at start and every minute.
 * Only rows still `running` are touched, and a live run marked by mistake
 * (an instance whose clock is far behind) is overwritten by its real end:
 * executions are upserted by id.
 */
export class InterruptedRuns {
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Db,
    private readonly provider: 'sqlite' | 'postgresql',
    private readonly settings: { maxTimeoutMs: number; shutdownGraceMs: number },
    private readonly onError: (error: unknown) => void,
  ) {}

  /** How old a `running` row must be before it counts as a dead process's; 0: every one (SQLite). */
  get orphanAfterMs(): number {
    return this.provider === 'sqlite' ? 0 : 2 * this.settings.maxTimeoutMs + this.settings.shutdownGraceMs + CLOCK_SKEW_MS;
  }

  /** At start, before this process runs anything: marks what previous processes left. Returns how many. */
  async recover(now = new Date()): Promise<number> {
    const { count } = await this.db.execution.updateMany({
      where: { status: 'running', ...(this.orphanAfterMs > 0 ? { startedAt: { lt: new Date(now.getTime() - this.orphanAfterMs) } } : {}) },
      data: { status: 'failed', error: { kind: INTERRUPTED, message: LOST_MESSAGE } },
    });
    return count;
  }

  /** PostgreSQL: instances that die without a restart leave runs too; look again every minute. */
  startSweeping(onMarked: (count: number) => void): void {
    if (this.provider === 'sqlite' || this.sweeper) return;
    this.sweeper = setInterval(() => {
      this.recover().then((count) => count > 0 && onMarked(count), this.onError);
    }, SWEEP_MS);
    this.sweeper.unref();
  }

  stopSweeping(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  /**
   * From now on, notes every run of this instance that ends failed: at
   * shutdown, those are the runs the engines cut once the grace ran out.
   * `mark` (after the recorder's flush, so its write cannot undo this one)
   * stores them with error kind `interrupted`.
   */
  watchCuts(bus: EventBus): { mark(): Promise<number> } {
    const cut = new Set<string>();
    const ended = bus.executions.subscribe({}, Number.MAX_SAFE_INTEGER);
    const collecting = (async () => {
      for await (const execution of ended) if (execution.status === 'failed') cut.add(execution.id);
    })();
    return {
      mark: async () => {
        ended.end();
        await collecting;
        const ids = [...cut];
        let marked = 0;
        for (let i = 0; i < ids.length; i += CHUNK) {
          const { count } = await this.db.execution.updateMany({
            where: { id: { in: ids.slice(i, i + CHUNK) }, status: 'failed' },
            data: { error: { kind: INTERRUPTED, message: CUT_MESSAGE } },
          });
          marked += count;
        }
        return marked;
      },
    };
  }
}
