import Database from 'better-sqlite3';

/** The execution writer's thread holds the write lock a millisecond or two per batch: a statement that meets it soon goes on. */
const BUSY_RETRY_MS = 1;
const BUSY_GIVE_UP_MS = 5_000;

/**
 * The hot path's own SQLite connection (the queue), beside
 * the one Prisma opens: prepared statements here cost a few µs a row, Prisma's
 * raw SQL about ten times that. It never waits inside SQLite for the write
 * lock (`timeout: 0`): better-sqlite3 is synchronous, so waiting there would
 * block the event loop while the holder (a Prisma transaction left open
 * across an await) could not go on. `whenNotBusy` waits between tries instead.
 * The execution writer's thread has a connection of its own, which may wait.
 */
export function openSqliteConnection(file: string): Database.Database {
  const connection = new Database(file, { timeout: 0 });
  // The file is in WAL mode (set by the migrations); there NORMAL never
  // corrupts the database and skips an fsync per commit, which blocked the
  // event loop on every batch.
  connection.pragma('synchronous = NORMAL');
  return connection;
}

/** Runs `body`, trying again every millisecond while another connection holds the write lock (at most 5 s). */
export async function whenNotBusy<T>(body: () => T): Promise<T> {
  for (let waited = 0; ; waited += BUSY_RETRY_MS) {
    try {
      return body();
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY' || waited >= BUSY_GIVE_UP_MS) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_MS));
  }
}
