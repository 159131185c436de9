import { createHash } from 'node:crypto';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, onRequestHookHandler } from 'fastify';
import type { Redis } from 'ioredis';
import type { Identity } from '../access/caller-identity.ts';
import type { Settings } from '../config.ts';

/** `rate_limit_per_minute` counts requests in fixed one-minute windows, starting at a key's first request. */
export const RATE_WINDOW_MS = 60_000;
/**
 * Counters one instance keeps without Redis (an LRU: past it the least
 * recently counted key starts again). Keys are app ids and guest roles,
 * decided after authentication, so a stranger cannot add any.
 */
export const MAX_LOCAL_COUNTERS = 20_000;
const ERROR_REPORT_INTERVAL_MS = 10_000;
const REDIS_CONNECT_TIMEOUT_MS = 5_000;

/** Why a request was refused: what the 429 says in either shape. */
export interface RateLimitRefusal {
  /** Requests per minute the key is allowed. */
  limit: number;
  /** Whole seconds until its window ends (at least 1). */
  retryAfterSeconds: number;
  /** Who is limited, for the message: `app "name"` or `the guest role "name"`. */
  who: string;
}

export interface RateLimiter {
  /** REST's `onRequest` hook, registered after the key hook: a 429 in the contract's error shape. */
  readonly restHook: onRequestHookHandler;
  /** /graphql's `onRequest` hook, after authentication: a 429 in GraphQL's shape (`RATE_LIMITED`). */
  readonly graphqlHook: onRequestHookHandler;
  /** Closes the Redis connection, if any. */
  close(): Promise<void>;
}

/**
 * The requests-per-minute an identity is held to, or null when it is not
 * limited: the administrator never is; an app by its own limit, else its
 * role's; a guest by the guest role's. Read from the identity of this
 * request, so a changed limit applies from the next request on.
 */
export function limitOf(identity: Identity | undefined): number | null {
  if (!identity || identity.kind === 'admin') return null;
  if (identity.kind === 'app') return identity.app.rateLimitPerMinute ?? identity.role.rateLimitPerMinute;
  return identity.role.rateLimitPerMinute;
}

/** The counter a limited identity spends: one per app, one per guest role (every guest shares it). */
export function counterKeyOf(identity: Identity): string {
  if (identity.kind === 'app') return `app:${identity.app.id}`;
  if (identity.kind === 'guest') return `guest:${identity.role.id}`;
  return 'admin'; // never counted: limitOf is null for the administrator
}

/**
 * Rate limits per app and role, counted by `@fastify/rate-limit` (in memory,
 * or in Redis with REDIS_URL so every instance spends the same counter).
 * Only requests from outside are counted, once each, after authentication
 * (a wrong key is 401 before this and counts nothing); `platform.api` calls,
 * queued runs and WebSocket operations are not. A Redis that fails lets
 * requests through uncounted (reported, at most every 10 s): a limit is not
 * worth an outage.
 */
export async function createRateLimiter(app: FastifyInstance, settings: Settings, onError: (error: unknown) => void): Promise<RateLimiter> {
  const redis = settings.redisUrl ? await connectRedis(settings.redisUrl, onError) : null;
  try {
    await app.register(fastifyRateLimit, {
      // No route gets the plugin's own hook (it would answer in its own shape): the hooks below call it.
      global: false,
      timeWindow: RATE_WINDOW_MS,
      max: (request) => limitOf(request.identity) ?? Number.MAX_SAFE_INTEGER,
      keyGenerator: (request) => counterKeyOf(request.identity!),
      cache: MAX_LOCAL_COUNTERS,
      ...(redis ? { redis, nameSpace: `scriptgate:${deploymentId(settings)}:rate:` } : {}),
      // Errors come to the hooks, which report them and let the request through.
      skipOnError: false,
    });
  } catch (error) {
    redis?.disconnect();
    throw error;
  }
  const count = app.createRateLimit();
  const report = throttled(onError);

  const hook = (refuse: (reply: FastifyReply, refusal: RateLimitRefusal) => void): onRequestHookHandler =>
    // A callback hook: an unlimited caller (the administrator, apps without a limit) costs no promise.
    function rateLimitHook(request, reply, done) {
      const identity = request.identity;
      if (limitOf(identity) === null) return done();
      count(request).then(
        (verdict) => {
          if (verdict.isAllowed) return done();
          reply.header('x-ratelimit-limit', verdict.max);
          reply.header('x-ratelimit-remaining', verdict.remaining);
          reply.header('x-ratelimit-reset', verdict.ttlInSeconds);
          if (!verdict.isExceeded) return done();
          const retryAfterSeconds = Math.max(1, verdict.ttlInSeconds);
          reply.header('retry-after', retryAfterSeconds);
          // Sent here without calling done(): the request goes no further (the body is never parsed).
          refuse(reply, { limit: verdict.max, retryAfterSeconds, who: describe(identity!) });
        },
        (error: unknown) => {
          report(error);
          done();
        },
      );
    };

  return {
    restHook: hook(sendRestRefusal),
    graphqlHook: hook(sendGraphQLRefusal),
    async close() {
      if (!redis) return;
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

function describe(identity: Identity): string {
  if (identity.kind === 'app') return `app "${identity.app.name}"`;
  if (identity.kind === 'guest') return `the guest role "${identity.role.name}"`;
  return 'the administrator';
}

function message(refusal: RateLimitRefusal): string {
  return `Rate limit of ${refusal.limit} requests per minute exceeded for ${refusal.who}; retry in ${refusal.retryAfterSeconds} s.`;
}

/** The contract's error shape (what sendError writes), with status 429. */
function sendRestRefusal(reply: FastifyReply, refusal: RateLimitRefusal): void {
  reply
    .status(429)
    .type('application/json')
    .send({
      error: {
        code: 429,
        context: { limit: refusal.limit, window_seconds: RATE_WINDOW_MS / 1000, retry_after: refusal.retryAfterSeconds },
        message: message(refusal),
        status_code: 429,
      },
    });
}

/** GraphQL's shape, as /graphql's other refusals before Yoga (401, 413) are written. */
function sendGraphQLRefusal(reply: FastifyReply, refusal: RateLimitRefusal): void {
  reply
    .status(429)
    .type('application/json; charset=utf-8')
    .send(
      JSON.stringify({
        errors: [
          {
            message: message(refusal),
            extensions: { code: 'RATE_LIMITED', status: 429, limit: refusal.limit, retryAfter: refusal.retryAfterSeconds },
          },
        ],
      }),
    );
}

/**
 * A connection of the limiter's own. No offline queue and one retry: while
 * Redis is away a count fails at once (and the request passes) instead of
 * waiting. The start waits for it (at most the connect timeout) but never
 * fails on it: the log relay has just checked the same REDIS_URL and fails
 * the start itself, before anything needs undoing.
 */
async function connectRedis(url: string, onError: (error: unknown) => void): Promise<Redis> {
  // Loaded only when configured, like the relay's: most servers count in memory.
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: REDIS_CONNECT_TIMEOUT_MS });
  redis.on('error', throttled(onError));
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), REDIS_CONNECT_TIMEOUT_MS);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (!ready) onError(new Error('Redis is not reachable for rate limits yet: requests pass uncounted until it is.'));
  return redis;
}

/** Instances share counters when they share a database; deployments sharing one Redis stay apart (as the log relay's channel). */
function deploymentId(settings: Settings): string {
  const { database } = settings;
  const deployment = database.provider === 'sqlite' ? database.file : database.url;
  return createHash('sha256').update(deployment).digest('hex').slice(0, 16);
}

function throttled(onError: (error: unknown) => void): (error: unknown) => void {
  let last = 0;
  return (error) => {
    const now = Date.now();
    if (now - last < ERROR_REPORT_INTERVAL_MS) return;
    last = now;
    onError(error);
  };
}
