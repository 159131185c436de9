import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { DomainError } from '../domain/errors.ts';
import { errorBody } from '../domain/error-body.ts';

/** A whole HTTP/1.1 error response in the contract's shape, for sockets that never reach a route; the connection closes after it. */
export function rawErrorResponse(status: number, message: string, context: Record<string, unknown> | null = null, headers: Record<string, string> = {}): string {
  const kind = status === 404 ? 'NOT_FOUND' : 'BAD_INPUT';
  const body = JSON.stringify(errorBody(new DomainError(kind, message, context, { status })));
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extra}\r\n${body}`
  );
}

/** Node's parser errors, as the status and words a client can act on. */
function describe(error: NodeJS.ErrnoException): { status: number; message: string } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: 'The request headers are too large (at most 16 KiB in total).' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return { status: 408, message: 'The request took too long to arrive.' };
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return { status: 400, message: 'Malformed HTTP request: the Content-Length header is invalid.' };
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return { status: 400, message: 'Malformed HTTP request: the chunked body is invalid.' };
    case 'HPE_INVALID_METHOD':
      return { status: 400, message: 'Malformed HTTP request: unknown method.' };
    default:
      return { status: 400, message: `Malformed HTTP request (${(error.message || 'parse error').replace(/^Parse Error: /, '')}).` };
  }
}

/**
 * fastify's `clientErrorHandler`: a request Node's parser rejected (bad
 * request line, header bytes, Content-Length, chunk framing, oversized
 * headers) is answered in the contract's shape and the connection closed,
 * rather than dropped. Nothing is written when a response already started.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const started = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (socket.writable && !started) {
    const { status, message } = describe(error);
    socket.end(rawErrorResponse(status, message, { reason: error.code ?? 'parse_error' }));
  }
  closeSoon(socket);
}

/** After the answer is written: a peer that never closes its side cannot hold the socket. */
function closeSoon(socket: Duplex): void {
  if (socket.destroyed) return;
  setTimeout(() => socket.destroy(), 2000).unref();
}

/** CONNECT (a proxy tunnel) is no method of this server: 405, not a dropped connection. */
export function refuseConnect(server: Server): void {
  server.on('connect', (_request: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => undefined);
    socket.end(rawErrorResponse(405, 'CONNECT is not supported by this server.', null, { Allow: 'GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS' }));
    closeSoon(socket);
  });
}
