// Latency of several requests measured side by side: one kept-alive
// connection per request, one request at a time, the requests taken in turn
// in short blocks (A B C, B C A, ...), so every one sees the same moments of
// a noisy machine.
// Rounds of seconds per request (autocannon's) differed by 2x between rounds
// here while the requests' ratio held. The client is a raw socket writing
// prepared bytes and reading Content-Length: it adds the same few µs to each.
import { connect, type Socket } from 'node:net';

export interface InterleavedTarget {
  name: string;
  /** The server's port when it is not the call's (targets on several servers). */
  port?: number;
  method: 'GET' | 'POST';
  /** Path and query string. */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * Requests of one target in a row before the next target's: each runs with
 * its own code warm in the CPU's caches, as in a run of its own (one request
 * each in turn read 30 to 80% slower for all), and a block is some 20 ms.
 */
const BLOCK = Number(process.env.BENCH_INTERLEAVE_BLOCK ?? 100);

class Connection {
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: ((response: { status: number }) => void) | null = null;
  private failed: ((error: Error) => void) | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
      try {
        this.tryComplete();
      } catch (error) {
        this.failed?.(error as Error);
      }
    });
    socket.on('error', (error) => this.failed?.(error));
    socket.on('close', () => this.failed?.(new Error('the server closed the connection')));
  }

  static open(port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new Connection(socket)));
      socket.once('error', reject);
    });
  }

  send(request: Buffer): Promise<{ status: number }> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failed = reject;
      this.socket.write(request);
    });
  }

  close(): void {
    this.failed = null;
    this.socket.destroy();
  }

  private tryComplete(): void {
    const end = this.buffered.indexOf('\r\n\r\n');
    if (end < 0 || !this.waiting) return;
    const head = this.buffered.subarray(0, end).toString('latin1');
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) throw new Error(`a response without Content-Length: ${head.slice(0, 200)}`);
    const total = end + 4 + Number(length[1]);
    if (this.buffered.length < total) return;
    if (this.buffered.length > total) throw new Error('more bytes than one response');
    this.buffered = Buffer.alloc(0);
    const done = this.waiting;
    this.waiting = null;
    done({ status: Number(head.slice(9, 12)) });
  }
}

function requestBytes(target: InterleavedTarget, port: number): Buffer {
  const lines = [`${target.method} ${target.path} HTTP/1.1`, `host: 127.0.0.1:${port}`, 'connection: keep-alive'];
  for (const [name, value] of Object.entries(target.headers)) lines.push(`${name}: ${value}`);
  if (target.body !== undefined) lines.push(`content-length: ${Buffer.byteLength(target.body)}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${target.body ?? ''}`);
}

/**
 * Takes the targets in turn for `seconds` (after `warmupSeconds` unrecorded);
 * per target, its latencies in ms in the order taken. Any answer but 2xx fails the bench.
 */
export async function interleavedLatencies(port: number, targets: InterleavedTarget[], seconds: number, warmupSeconds = 1): Promise<Map<string, number[]>> {
  const connections = await Promise.all(targets.map((target) => Connection.open(target.port ?? port)));
  const requests = targets.map((target) => requestBytes(target, target.port ?? port));
  const latencies = new Map(targets.map((target) => [target.name, [] as number[]]));
  try {
    const start = performance.now();
    for (let turn = 0; performance.now() - start < (warmupSeconds + seconds) * 1000; turn++) {
      const recording = performance.now() - start >= warmupSeconds * 1000;
      for (let k = 0; k < targets.length; k++) {
        const i = (turn + k) % targets.length;
        for (let n = 0; n < BLOCK; n++) {
          const sent = performance.now();
          const { status } = await connections[i]!.send(requests[i]!);
          const ms = performance.now() - sent;
          if (status < 200 || status > 299) throw new Error(`${targets[i]!.name}: status ${status}`);
          if (recording) latencies.get(targets[i]!.name)!.push(ms);
        }
      }
    }
  } finally {
    for (const connection of connections) connection.close();
  }
  return latencies;
}

/** The mean of the middle half: steadier than a median for latencies spread by a noisy machine, blind to its stalls. */
export function middleMean(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.slice(Math.floor(sorted.length / 4), Math.ceil((sorted.length * 3) / 4));
  return middle.reduce((sum, value) => sum + value, 0) / middle.length;
}

/**
 * `warmupSeconds` of every target in turn, then `rounds` rounds of `seconds`:
 * per round, each target's middle-half mean latency (ms).
 */
export async function interleavedRounds(
  port: number,
  targets: InterleavedTarget[],
  { warmupSeconds, seconds, rounds }: { warmupSeconds: number; seconds: number; rounds: number },
): Promise<Map<string, number>[]> {
  await interleavedLatencies(port, targets, warmupSeconds, 0);
  const measured: Map<string, number>[] = [];
  for (let round = 0; round < rounds; round++) {
    const latencies = await interleavedLatencies(port, targets, seconds, 0);
    measured.push(new Map([...latencies].map(([name, values]) => [name, middleMean(values)])));
  }
  return measured;
}
