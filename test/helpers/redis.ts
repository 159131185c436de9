import { Redis } from 'ioredis';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** True when the machine's Redis answers; under CI=true its absence is a failure, not a skip. */
export async function redisAvailable(): Promise<boolean> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch (error) {
    if (process.env.CI === 'true') throw new Error(`Redis is required under CI but did not answer: ${(error as Error).message}`);
    console.warn(`Skipping Redis tests: ${REDIS_URL} did not answer (${(error as Error).message}).`);
    return false;
  } finally {
    client.disconnect();
  }
}
