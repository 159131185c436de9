import { SqlQueueStore } from './queue-store.ts';
import type { SqlExecutor } from './sql-executor.ts';

/**
 * PostgreSQL: concurrent claimers lock the rows they pick and skip the rows
 * others hold (FOR UPDATE SKIP LOCKED), so instances never wait on each other
 * and never take the same row. Times come from the database's clock, so
 * clock skew between instances cannot expire a lease early.
 */
export class PostgresQueueStore extends SqlQueueStore {
  constructor(db: SqlExecutor) {
    super(db, {
      now: `(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint`,
      placeholder: (index) => `$${index}`,
      lockClause: ' FOR UPDATE SKIP LOCKED',
    });
  }
}
