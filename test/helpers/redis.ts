import { Redis } from 'ioredis';
import { machineServiceAnswers } from './machine-service.ts';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** True when the machine's Redis answers (see machineServiceAnswers). */
export function redisAvailable(): Promise<boolean> {
  return machineServiceAnswers('Redis', REDIS_URL, async () => {
    const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
    } finally {
      client.disconnect();
    }
  });
}
