// Baseline: a bare node:http server returning the same JSON the scripted
// endpoint returns. Prints one JSON line {port, pid} once listening.
import { createServer } from 'node:http';

const server = createServer((request, response) => {
  const body = JSON.stringify({ hello: 'world' });
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port, pid: process.pid }));
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
