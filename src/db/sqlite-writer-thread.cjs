// The SQLite execution writer's own thread (see sqlite-execution-writer.ts):
// plain CommonJS, loaded by path, so the same file serves the sources and
// every bundle. It turns the host's values into SQLite's and runs each batch
// in one transaction; the host thread only posts rows.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);

// Waiting for the write lock blocks this thread only, never the event loop.
const connection = new Database(workerData.file, { timeout: workerData.busyTimeoutMs });
// WAL (set by the migrations) with NORMAL never corrupts the database and skips an fsync per commit.
connection.pragma('synchronous = NORMAL');
// Pruning deletes executions and relies on the schema's ON DELETE CASCADE for their lines.
connection.pragma('foreign_keys = ON');
const upsert = connection.prepare(workerData.upsertSql);
const append = connection.prepare(workerData.appendSql);
const write = connection.transaction((executions, lines) => {
  for (const row of executions) upsert.run(row.map(sqliteValue));
  for (const row of lines) append.run(row.map(sqliteValue));
});

const servicesOver = connection.prepare(workerData.servicesOverSql).pluck();
const pruneSlice = connection.prepare(workerData.pruneSliceSql);

// One handler per task kind (sqlite-execution-writer.ts's Task).
const handlers = {
  write: ({ executions, lines }) => write(executions, lines),
  servicesOver: ({ keep }) => servicesOver.all(keep),
  pruneSlice: ({ service, size, keep }) => pruneSlice.run(service, size, keep).changes,
};

parentPort.on('message', ({ id, task }) => {
  try {
    parentPort.postMessage({ id, result: handlers[task.kind](task) });
  } catch (error) {
    parentPort.postMessage({ id, error: { message: String(error && error.message ? error.message : error), code: error && error.code } });
  }
});

/** Dates as Prisma's SQLite adapter writes them, flags as 1 and 0, objects (JSON columns) as JSON text. */
function sqliteValue(value) {
  if (value instanceof Date) return sqliteTime(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return value;
}

// Every row has two times: the text up to the second is kept, only milliseconds are appended.
let cachedSecond = NaN;
let cachedPrefix = '';
function sqliteTime(date) {
  const ms = date.getTime();
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = date.toISOString().slice(0, 20); // 2026-11-25T16:04:39.
  }
  return `${cachedPrefix}${String(ms - second * 1000).padStart(3, '0')}+00:00`;
}
