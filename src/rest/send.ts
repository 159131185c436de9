import type { FastifyReply } from 'fastify';
import type { InvokeResult } from '../domain/invoke.ts';

/** Records serialised per event-loop turn: 9,000 services in one go held the loop for 60 to 130 ms. */
const RECORDS_PER_TURN = 500;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A pipeline result as the HTTP response: strings go out as they are, anything else as JSON (contract section 3). */
export async function sendResult(reply: FastifyReply, result: InvokeResult): Promise<FastifyReply> {
  reply.status(result.statusCode);
  for (const [name, value] of Object.entries(result.headers)) {
    if (name !== 'content-length' && name !== 'transfer-encoding') reply.header(name, value);
  }
  if (result.executionId) reply.header('x-execution-id', result.executionId);
  const { content, contentType } = result;
  if (content === null || content === undefined) {
    if (contentType) reply.type(contentType);
    return reply.send();
  }
  if (typeof content === 'string') {
    reply.type(contentType ?? 'text/plain; charset=utf-8');
    return reply.send(content);
  }
  reply.type(contentType ?? 'application/json');
  return reply.send(await json(content));
}

/** JSON text; DreamFactory's long lists (`{"resource":[...]}`) a chunk of records at a time, yielding between chunks. */
async function json(content: unknown): Promise<string> {
  const records = (content as { resource?: unknown }).resource;
  if (!Array.isArray(records) || records.length <= RECORDS_PER_TURN) return JSON.stringify(content);
  const parts: string[] = [];
  for (let start = 0; start < records.length; start += RECORDS_PER_TURN) {
    if (start > 0) await nextTurn();
    parts.push(JSON.stringify(records.slice(start, start + RECORDS_PER_TURN)).slice(1, -1));
  }
  const { resource: _, ...extra } = content as Record<string, unknown>;
  const rest = JSON.stringify(extra);
  return `{"resource":[${parts.join(',')}]${rest === '{}' ? '' : `,${rest.slice(1, -1)}`}}`;
}
