import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coalesceWrites } from '../src/http/coalesced-writes.ts';

/** The shared HTTP pieces on a real fastify server of their own. */
describe('coalesced writes', () => {
  const app = Fastify({ logger: false });
  let url: string;

  beforeAll(async () => {
    coalesceWrites(app);
    app.get('/ok/:n', async (request) => ({ n: Number((request.params as { n: string }).n) }));
    // Node refuses this header when the held response is finally written.
    app.get('/unwritable', async (_request, reply) => reply.header('bad header', 'x').send('never'));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => app.close());

  it('answers every request of a burst with its own body', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, n) => fetch(`${url}/ok/${n}`).then((r) => r.json())));
    expect(answers).toEqual(Array.from({ length: 50 }, (_, n) => ({ n })));
  });

  it('a response that cannot be written costs only its own connection', async () => {
    const [broken, ...others] = await Promise.allSettled([
      fetch(`${url}/unwritable`).then((r) => r.text()),
      ...Array.from({ length: 5 }, (_, n) => fetch(`${url}/ok/${n}`).then((r) => r.json())),
    ]);
    expect(broken!.status).toBe('rejected');
    expect(others.map((other) => (other.status === 'fulfilled' ? other.value : other.reason))).toEqual(Array.from({ length: 5 }, (_, n) => ({ n })));
    expect(await fetch(`${url}/ok/7`).then((r) => r.json())).toEqual({ n: 7 });
  });
});
