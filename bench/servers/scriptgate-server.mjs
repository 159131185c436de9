// The Scriptgate server under test, in its own process. Prints one JSON line
// {port, pid} once listening; stops cleanly on SIGTERM.
// Runs the built server (dist/, what `npm start` runs) as `node
// bench/servers/scriptgate-server.mjs`: one process, so `pid` serves requests.
import { loadSettings, startServer } from '../../dist/server.mjs';

const server = await startServer(loadSettings({ ...process.env, PORT: '0', HOST: '127.0.0.1' }));
console.log(JSON.stringify({ port: server.port, pid: process.pid }));

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.stop().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', stop);

// With an IPC channel (the bench's memory module): report memory on request,
// after a full collection when asked and run with --expose-gc.
process.on('message', (message) => {
  if (message !== 'memory' && message !== 'gc-memory') return;
  const gc = globalThis.gc;
  if (message === 'gc-memory' && gc) gc();
  process.send?.({ memory: process.memoryUsage(), gc: message === 'gc-memory' && !!gc });
});
process.channel?.unref();
process.on('SIGINT', stop);
