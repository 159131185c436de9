import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { WebSocketServer } from 'ws';
import type { Settings } from './config.ts';
import { openDatabase } from './db/client.ts';
import { AdminKey } from './domain/admin-key.ts';
import { createPlatform, type Platform } from './domain/platform.ts';
import { attachGraphQLWebSocket } from './graphql/websocket.ts';
import { graphqlRoute } from './graphql/http-route.ts';
import { createGraphQL } from './graphql/yoga.ts';
import { EventBus } from './logs/bus.ts';
import type { RedisRelay } from './logs/redis-relay.ts';
import { registerRest } from './rest/router.ts';
import { createRunQueue } from './queue/run-queue.ts';
import { loadSecretsKey, SecretStore } from './access/secrets.ts';
import { createEngines } from './scripting/engines.ts';
import { parseBodies } from './http/bodies.ts';
import { coalesceWrites } from './http/coalesced-writes.ts';
import { loggerOptions } from './http/logger.ts';
import { DomainError } from './domain/errors.ts';
import { sendError, toDomainError } from './http/error-reply.ts';
import { answerClientError, refuseConnect } from './http/client-errors.ts';
import { bodyLimits } from './http/body-limits.ts';
import { registerCors } from './http/cors.ts';
import { authenticate, keyOf, withoutApiKey } from './http/credentials.ts';

export interface RunningServer {
  url: string;
  port: number;
  platform: Platform;
  app: FastifyInstance;
  /** Set only on the first start without ADMIN_KEY: show it once. */
  generatedAdminKey: string | null;
  stop(): Promise<void>;
}

const PRUNE_INTERVAL_MS = 60_000;
const SHUTDOWN_DEADLINE_MS = 10_000;

/** Wiring: database, engines, domain, GraphQL (HTTP, SSE, WebSocket) and REST; start and stop. */
export async function startServer(settings: Settings): Promise<RunningServer> {
  const limits = bodyLimits(settings.scripting);
  const app = Fastify({
    logger: loggerOptions(settings),
    // One line per request, written by the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    // The largest body any route takes; service writes and /graphql set their own, smaller.
    bodyLimit: limits.serviceCall,
    forceCloseConnections: true,
    // Requests Node's parser rejects (framing, header bytes, oversized headers): an answer in the contract's shape, not a dropped connection.
    clientErrorHandler: answerClientError,
    // Errors before routing (a malformed URL) in the contract's shape too.
    frameworkErrors: (error, _request, reply) => sendError(reply, toDomainError(error)),
  });
  // Before the database opens: a missing key on PostgreSQL fails the start with nothing to undo.
  const { key: secretsKey, warning: secretsWarning } = loadSecretsKey(settings);
  if (secretsWarning) app.log.warn(secretsWarning);
  const database = await openDatabase(settings.database, (error) => app.log.error({ err: error }, 'database notifications failed'));
  if (database.applied.length) app.log.info({ migrations: database.applied }, 'database migrated');
  const bus = new EventBus();
  let relay: RedisRelay | null;
  let adminKeyLoaded: Awaited<ReturnType<typeof AdminKey.load>>;
  let secrets: SecretStore;
  try {
    adminKeyLoaded = await AdminKey.load(database.db, settings.adminKey);
    secrets = await SecretStore.open(database.db, bus, secretsKey);
    if (database.serviceChanges) {
      bus.relayServiceChanges(database.serviceChanges);
      await database.serviceChanges.start((name, kind) => bus.remoteServiceChanged(name, kind));
    }
    relay = settings.redisUrl ? await startRedisRelay(settings, bus, (error) => app.log.error({ err: error }, 'Redis relay failed')) : null;
  } catch (error) {
    // Nothing started so far may outlive a start that failed.
    await database.close();
    throw error;
  }
  const { adminKey, generated } = adminKeyLoaded;

  const engines = createEngines(settings);
  await engines.start();
  for (const type of engines.list()) {
    app.log.info({ type: type.name, available: type.available, version: type.version, reason: type.unavailableReason ?? undefined }, 'script type');
    if (type.sandboxWarning) app.log.warn({ type: type.name }, type.sandboxWarning);
  }
  const queue = createRunQueue(database, settings.queue, (error) => app.log.error({ err: error }, 'queued event scripts'));
  const platform = createPlatform({
    settings,
    db: database.db,
    executionWriter: database.executionWriter,
    engines,
    bus,
    queue,
    adminKey,
    secrets,
    onRecorderError: (error) => app.log.error({ err: error }, 'writing executions failed'),
    onEngineInternal: (detail, executionId) => app.log.error({ executionId, detail }, 'a script engine failed internally'),
    onQueueError: (error, eventName) => app.log.error({ err: error, eventName }, 'a queued event script could not be stored'),
    onEventIndexError: (error) => app.log.error({ err: error }, 'reloading event scripts failed'),
  });
  await platform.eventScripts.load();

  // Registered only when it will log: even an empty hook costs every request.
  if (['trace', 'debug', 'info'].includes(settings.logLevel)) {
    app.addHook('onResponse', (request, reply, done) => {
      const executionId = reply.getHeader('x-execution-id');
      const ms = Math.round(reply.elapsedTime * 10) / 10;
      request.log.info({ method: request.method, url: withoutApiKey(request.url), status: reply.statusCode, ms, ...(executionId ? { executionId } : {}) }, 'request');
      done();
    });
  }
  refuseConnect(app.server);
  // Before every route: a preflight is answered before the key check.
  await registerCors(app, settings.http);
  parseBodies(app);
  coalesceWrites(app);
  // Every route but /graphql (Yoga answers GraphQL-shaped errors) answers errors in the contract's shape.
  app.setErrorHandler((error, request, reply) => {
    const domainError = toDomainError(error, request.routeOptions.bodyLimit);
    if (domainError.kind === 'INTERNAL') reply.log.error({ err: error }, 'unhandled error');
    return sendError(reply, domainError);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, new DomainError('NOT_FOUND', `No route for ${request.method} ${withoutApiKey(request.url)}.`)));
  app.get('/healthz', async () => ({ status: 'ok' }));

  const yoga = createGraphQL(platform, database.db, (error) => app.log.error({ err: error }, 'unexpected error in a GraphQL operation'));
  await graphqlRoute(app, yoga, limits.serviceWrite, (request) => authenticate(platform, adminKey, keyOf(request.headers, request.query)));
  await registerRest(app, platform, adminKey, limits);

  await app.listen({ host: settings.host, port: settings.port });
  const webSockets = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const detachWebSocket = attachGraphQLWebSocket(app.server, webSockets, yoga, (key) => authenticate(platform, adminKey, key));

  const pruneTimer = setInterval(() => {
    platform.executions.prune(settings.executions.keepPerService).catch((error: unknown) => app.log.error({ err: error }, 'pruning failed'));
  }, PRUNE_INTERVAL_MS);
  pruneTimer.unref();

  // Runs left queued by an earlier process (or another instance) start once this one serves.
  platform.queuedRuns.start();

  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : settings.port;
  let stopping: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    platform,
    app,
    generatedAdminKey: generated,
    stop() {
      stopping ??= (async () => {
        clearInterval(pruneTimer);
        detachWebSocket();
        for (const client of webSockets.clients) client.close(1001, 'server shutting down');
        webSockets.close();
        await Promise.all([app.close(), platform.queuedRuns.stop(SHUTDOWN_DEADLINE_MS)]);
        await engines.stop(SHUTDOWN_DEADLINE_MS);
        await relay?.stop();
        await platform.recorder.flush();
        await database.close();
      })();
      return stopping;
    },
  };
}

/** Live events across instances; a configured Redis that cannot be reached fails the start, clearly. */
async function startRedisRelay(settings: Settings, bus: EventBus, onError: (error: unknown) => void): Promise<RedisRelay> {
  const { database } = settings;
  // Loaded only when configured, like the PostgreSQL client: most servers run alone.
  const { RedisRelay } = await import('./logs/redis-relay.ts');
  const relay = new RedisRelay(settings.redisUrl!, database.provider === 'sqlite' ? database.file : database.url, onError);
  try {
    await relay.start(bus);
  } catch (error) {
    await relay.stop();
    const where = new URL(settings.redisUrl!);
    where.password = '';
    throw new Error(`REDIS_URL: cannot use Redis at ${where.href}: ${(error as Error).message}`);
  }
  return relay;
}
