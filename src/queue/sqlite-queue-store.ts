import { SqlQueueStore } from './queue-store.ts';
import type { SqlExecutor } from './sql-executor.ts';

/**
 * SQLite: one writer at a time, so the claim (a single UPDATE ... RETURNING)
 * is atomic without row locks; instances sharing the file still each take
 * different rows.
 */
export class SqliteQueueStore extends SqlQueueStore {
  constructor(db: SqlExecutor) {
    super(db, {
      now: `CAST(unixepoch('subsec') * 1000 AS INTEGER)`,
      placeholder: () => '?',
      lockClause: '',
    });
  }
}
