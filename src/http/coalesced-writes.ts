import type { FastifyInstance, onSendHookHandler } from 'fastify';

/**
 * Holds each response until the current event-loop turn has handled every
 * request that was ready, then writes them back to back. On loopback and in
 * VMs a socket write that wakes an idle peer costs several times one that
 * finds it running; writing in a burst pays that wake-up once per turn
 * instead of once per response (bench/http-throughput measures the gain).
 */
export function coalesceWrites(app: FastifyInstance): void {
  let held: (() => void)[] = [];
  const writeHeld = () => {
    const batch = held;
    held = [];
    for (const write of batch) write();
  };
  const hold: onSendHookHandler = (_request, _reply, payload, done) => {
    if (held.length === 0) setImmediate(writeHeld);
    held.push(() => done(null, payload));
  };
  app.addHook('onSend', hold);
}
