// The floor of live-log fan-out on this machine: a bare node:http server
// that keeps server-sent-event streams open and writes each line, framed as
// Scriptgate frames an `executionLogs` item, to every stream with one
// res.write each. It answers just what bench/live-logs.ts asks of a server:
// POST /graphql (a stream), GET /metrics (the subscriber count) and
// GET /api/v2/ticker (write n lines, one every `every` ms, on a fixed schedule).
// Prints one JSON line {port, pid} once listening.
import { createServer } from 'node:http';

const streams = new Set();

function ticker(url, response) {
  const n = Number(url.searchParams.get('n'));
  const every = Number(url.searchParams.get('every'));
  const label = url.searchParams.get('label');
  const start = Date.now();
  let i = 0;
  const next = () => {
    i++;
    const now = Date.now();
    const item = { executionId: '00000000-0000-4000-8000-000000000000', sequence: i, stream: 'CONSOLE', message: `${label} ${i} ${now}`, timestamp: new Date(now).toISOString() };
    const bytes = Buffer.from(`event: next\ndata: ${JSON.stringify({ data: { executionLogs: item } })}\n\n`);
    for (const stream of streams) stream.write(bytes);
    if (i < n) setTimeout(next, Math.max(0, start + (i + 1) * every - Date.now()));
    else response.end(JSON.stringify({ lines: n }));
  };
  setTimeout(next, every);
}

const server = createServer((request, response) => {
  const url = new URL(request.url, 'http://localhost');
  if (request.method === 'POST' && url.pathname === '/graphql') {
    request.resume();
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    response.write(':\n\n');
    streams.add(response);
    response.on('close', () => streams.delete(response));
  } else if (url.pathname === '/metrics') {
    response.end(`scriptgate_subscribers{topic="logs"} ${streams.size}\n`);
  } else if (url.pathname === '/api/v2/ticker') {
    ticker(url, response);
  } else {
    response.writeHead(404).end();
  }
});
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port, pid: process.pid }));
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
