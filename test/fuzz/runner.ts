import { connect } from 'node:net';
import { fuzzRequests, type FuzzRequest } from './generator.ts';

export interface FuzzResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface FuzzFailure {
  index: number;
  request: string;
  problem: string;
}

export interface FuzzReport {
  seed: number;
  count: number;
  byStatus: Record<number, number>;
  failures: FuzzFailure[];
}

const ANSWER_TIMEOUT_MS = 15_000;

/** Parses one HTTP/1.1 response (Content-Length, chunked, or until close). */
export function parseResponse(raw: Buffer, method = 'GET'): FuzzResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`incomplete response head: ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '');
  if (!match) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let rest = raw.subarray(end + 4);
  const status = Number(match[1]);
  if (method === 'HEAD' || status === 204 || status === 304) return { status, headers, body: '' };
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = rest.indexOf('\r\n');
      if (lineEnd < 0) throw new Error('chunked body cut short');
      const size = parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
      if (size === 0) break;
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
    rest = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (rest.length < length) throw new Error(`body cut short: ${rest.length} of ${length} bytes`);
    rest = rest.subarray(0, length);
  }
  return { status, headers, body: rest.toString('utf8') };
}

/** Sends raw bytes on a connection of their own and reads until the server closes it. */
export function exchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${ANSWER_TIMEOUT_MS} ms`));
    }, ANSWER_TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    // A reset after a whole answer is a closed connection; before one, parseResponse reports it.
    socket.on('error', () => undefined);
    socket.write(bytes);
  });
}

/** What a response to `request` must be: never 5xx (but 503 with Retry-After), always an error body in its door's shape. */
export function problemWith(request: FuzzRequest, response: FuzzResponse, method: string): string | null {
  if (response.status >= 500 && !(response.status === 503 && response.headers['retry-after'])) return `status ${response.status}: ${response.body.slice(0, 300)}`;
  if (method === 'HEAD' || response.status === 204 || response.status === 304) return null;
  const type = response.headers['content-type'] ?? '';
  if (request.door === 'graphql' && type.startsWith('text/html')) return null;
  if (request.door === 'graphql' && type.startsWith('text/event-stream')) {
    return /event: (next|complete)/.test(response.body) ? null : `event stream without events: ${response.body.slice(0, 300)}`;
  }
  if (request.door === 'graphql' && type.startsWith('multipart/mixed')) {
    // Incremental delivery (Accept: multipart/mixed): each part is a GraphQL result.
    const boundary = /boundary="?([^";]+)"?/.exec(type)?.[1] ?? '-';
    const parts = response.body.split(`--${boundary}`).map((part) => part.slice(part.indexOf('\r\n\r\n') + 4).trim()).filter((part) => part.startsWith('{'));
    if (parts.length === 0) return `multipart answer without a result: ${response.body.slice(0, 300)}`;
    for (const part of parts) {
      const problem = problemWith(request, { status: response.status, headers: { 'content-type': 'application/json' }, body: part }, method);
      if (problem) return problem;
    }
    return null;
  }
  let json: any;
  try {
    json = JSON.parse(response.body);
  } catch {
    if (response.status < 400) return null;
    return `error body is not JSON (${type}): ${response.body.slice(0, 300)}`;
  }
  if (request.door === 'graphql') {
    if (!json || (json.data === undefined && !Array.isArray(json.errors))) return `not a GraphQL response: ${response.body.slice(0, 300)}`;
    const masked = (json.errors ?? []).find((e: any) => e?.extensions?.code === 'INTERNAL_SERVER_ERROR');
    if (masked) return `an unexpected (masked) error: ${JSON.stringify(masked).slice(0, 300)}`;
    if ((json.errors ?? []).some((e: any) => typeof e?.message !== 'string' || e.message === '')) return `an error without a message: ${response.body.slice(0, 300)}`;
    return null;
  }
  if (response.status < 400) return null;
  const error = json?.error;
  const shaped = error && typeof error.code === 'number' && typeof error.message === 'string' && error.status_code === response.status && 'context' in error;
  return shaped ? null : `error body not in the contract's shape: ${response.body.slice(0, 300)}`;
}

/** Runs `count` generated requests from `seed` against the server at `port`, `parallel` at a time. */
export async function runFuzz(options: { port: number; seed: number; count: number; key: string; parallel?: number; onProgress?: (done: number) => void }): Promise<FuzzReport> {
  const report: FuzzReport = { seed: options.seed, count: options.count, byStatus: {}, failures: [] };
  const requests = fuzzRequests(options.seed, options.count, options.key);
  let index = 0;
  let done = 0;
  const worker = async () => {
    for (;;) {
      const next = requests.next();
      if (next.done) return;
      const request = next.value;
      const at = index++;
      const method = request.bytes.subarray(0, 8).toString('latin1').split(' ')[0]!;
      try {
        const response = parseResponse(await exchange(options.port, request.bytes), method);
        report.byStatus[response.status] = (report.byStatus[response.status] ?? 0) + 1;
        const problem = problemWith(request, response, method);
        if (problem) report.failures.push({ index: at, request: request.summary, problem });
      } catch (error) {
        report.failures.push({ index: at, request: request.summary, problem: `no answer: ${(error as Error).message}` });
      }
      options.onProgress?.(++done);
    }
  };
  await Promise.all(Array.from({ length: options.parallel ?? 4 }, worker));
  return report;
}
