import { join, resolve } from 'node:path';

/** Environment -> typed settings, validated once at start-up. */
export interface Settings {
  host: string;
  port: number;
  dataDir: string;
  database: { provider: 'sqlite'; file: string } | { provider: 'postgresql'; url: string };
  adminKey: string | null;
  logLevel: string;
  logFormat: 'auto' | 'pretty' | 'json';
  /** Redis carrying live executions and log lines between instances; null: this instance's only. */
  redisUrl: string | null;
  /** SHUTDOWN_GRACE_MS: on SIGTERM, how long calls in flight may finish before they are cut (src/http/drain.ts). */
  shutdownGraceMs: number;
  scripting: ScriptingSettings;
  executions: ExecutionSettings;
  http: HttpSettings;
  queue: QueueSettings;
  access: AccessSettings;
}

/** Apps, roles and secrets (src/access/). */
export interface AccessSettings {
  /** SECRETS_KEY: 32 bytes; null: on SQLite a key generated into DATA_DIR/secrets.key (PostgreSQL requires it, see loadSecretsKey). */
  secretsKey: Buffer | null;
  /** GUEST_ROLE: the role of requests without credentials; null (the default): they get 401. */
  guestRole: string | null;
}

/** The durable queue of `queued` event-script runs (src/queue/). */
export interface QueueSettings {
  /** Queued runs this instance runs at once; 0: it never runs any (an API-only instance), only stores them. */
  concurrency: number;
  /** Delay before the first retry of a failed run; it doubles with each further failure. */
  retryBaseMs: number;
  /** How often to look for runs stored by other instances, or left by a dead one. */
  pollMs: number;
  /**
   * How long a claim holds without renewal; a run not settled by then counts
   * as failed. Longer than the script timeout maximum: a synchronous guest
   * loop can hold the event loop (and with it renewal) that long.
   */
  leaseMs: number;
  /** How often running claims are renewed (derived: leaves room for a blocked event loop). */
  renewMs: number;
  /** A run's stored event and session as JSON, in bytes; larger ones are refused at enqueue. */
  maxPayloadBytes: number;
}

export interface HttpSettings {
  /** Origins allowed cross-origin (REST and GraphQL alike); empty: CORS is off. `*` allows any, without credentials. */
  corsOrigins: readonly string[];
  /** METRICS_PUBLIC=true: /metrics answers without the administrator key (for a scraper on a private network). */
  metricsPublic: boolean;
}

export interface ScriptingSettings {
  /** Record each run's request and its CPU and memory figures (EXECUTIONS_RUN_DETAILS, default on). */
  runDetails?: boolean;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  defaultMemoryLimitMb: number;
  maxMemoryLimitMb: number;
  defaultMaxLogBytes: number;
  maxLogBytes: number;
  /** How deep `platform.api` calls may nest before a loop is assumed (508). */
  maxCallDepth: number;
  interpreterPaths: Partial<Record<'nodejs' | 'python' | 'python3' | 'php', string>>;
  /** Script types turned off by configuration, matched by exact name. */
  disabled: ReadonlySet<string>;
  /** Warm QuickJS contexts kept idle across all services. */
  maxWarmContexts: number;
  /** JavaScript runs holding a context at once, and calls allowed to wait beyond them. */
  maxJavascriptRuns: number;
  javascriptQueueLimit: number;
  /** QuickJS contexts prepared ahead of need, so a service's first call skips making one. */
  spareJavascriptContexts: number;
  /** Linear memory all QuickJS instances together may hold; past it calls wait, then 503. */
  javascriptTotalMemoryMb: number;
  /** A script's source, in bytes; larger ones are refused on save (BAD_USER_INPUT). */
  maxScriptBytes: number;
  /** A script's response body, in bytes; larger ones are a 500 naming the limit. */
  maxResponseBytes: number;
  /**
   * How subprocess workers are contained: `bwrap` runs each in bubblewrap
   * (own namespaces, unprivileged uid, nothing of the server visible); `off`
   * runs them as the server's user, which the operator chose explicitly.
   */
  sandbox: 'bwrap' | 'off';
  /** Whether subprocess scripts may reach the network (a service's `config.network: false` turns it off for it). */
  network: boolean;
  /** Subprocess workers one service may hold at once, per script type; null: derived from the pool size. */
  workersPerService: number | null;
}

export interface ExecutionSettings {
  keepPerService: number;
  flushIntervalMs: number;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function firstOf(env: Env, ...names: string[]): string | undefined {
  for (const name of names) if (env[name]) return env[name];
  return undefined;
}

/** DATA_DIR, absolute (the launcher reads it too, for the code cache, before the settings are loaded). */
export function dataDirOf(env: Env): string {
  return resolve(env.DATA_DIR || './data');
}

export function loadSettings(env: Env = process.env): Settings {
  const dataDir = dataDirOf(env);
  const databaseUrl = env.DATABASE_URL;
  let database: Settings['database'];
  if (!databaseUrl) database = { provider: 'sqlite', file: join(dataDir, 'scriptgate.db') };
  else if (/^postgres(ql)?:\/\//.test(databaseUrl)) database = { provider: 'postgresql', url: databaseUrl };
  else if (databaseUrl.startsWith('file:')) database = { provider: 'sqlite', file: resolve(databaseUrl.slice(5)) };
  else throw new ConfigError(`DATABASE_URL must be a postgres:// URL or file:PATH, got "${databaseUrl}"`);

  const maxTimeoutMs = integer(env, 'SCRIPT_MAX_TIMEOUT_MS', 60_000, 10, 3_600_000);
  const leaseMs = integer(env, 'QUEUE_LEASE_MS', maxTimeoutMs + 30_000, maxTimeoutMs + 1000, 24 * 3_600_000);
  const maxMemoryLimitMb = integer(env, 'SCRIPT_MAX_MEMORY_MB', 512, 4, 4096);
  const maxLogBytes = integer(env, 'SCRIPT_MAX_LOG_BYTES', 10 * 1024 * 1024, 1024, 1024 ** 3);
  const disabledList = firstOf(env, 'SCRIPTING_DISABLE', 'DF_SCRIPTING_DISABLE') ?? '';
  const allTypes = ['javascript', 'nodejs', 'php', 'python', 'python3', 'typescript'];
  const disabled = new Set(
    disabledList.trim().toLowerCase() === 'all'
      ? allTypes
      : disabledList.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean),
  );
  const interpreterPaths: ScriptingSettings['interpreterPaths'] = {};
  const nodejs = firstOf(env, 'NODEJS_PATH', 'DF_NODEJS_PATH');
  const python = firstOf(env, 'PYTHON_PATH', 'DF_PYTHON_PATH');
  const python3 = firstOf(env, 'PYTHON3_PATH', 'DF_PYTHON3_PATH');
  const php = firstOf(env, 'PHP_PATH', 'DF_PHP_PATH');
  if (nodejs) interpreterPaths.nodejs = nodejs;
  if (python) interpreterPaths.python = python;
  if (python3) interpreterPaths.python3 = python3;
  if (php) interpreterPaths.php = php;

  return {
    host: env.HOST || '0.0.0.0',
    port: integer(env, 'PORT', 8080, 0, 65535),
    dataDir,
    database,
    adminKey: env.ADMIN_KEY || null,
    logLevel: env.LOG_LEVEL || 'info',
    logFormat: logFormat(env.LOG_FORMAT),
    redisUrl: redisUrl(env.REDIS_URL),
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 3_600_000),
    scripting: {
      maxTimeoutMs,
      defaultTimeoutMs: Math.min(integer(env, 'SCRIPT_TIMEOUT_MS', 10_000, 10, 3_600_000), maxTimeoutMs),
      maxMemoryLimitMb,
      defaultMemoryLimitMb: Math.min(integer(env, 'SCRIPT_MEMORY_MB', 64, 4, 4096), maxMemoryLimitMb),
      maxLogBytes,
      defaultMaxLogBytes: Math.min(integer(env, 'SCRIPT_LOG_BYTES', 1024 * 1024, 1024, 1024 ** 3), maxLogBytes),
      maxCallDepth: integer(env, 'SCRIPT_MAX_CALL_DEPTH', 5, 1, 50),
      interpreterPaths,
      disabled,
      maxWarmContexts: integer(env, 'QUICKJS_WARM_CONTEXTS', 16, 0, 100_000),
      maxJavascriptRuns: integer(env, 'QUICKJS_MAX_RUNNING', 256, 1, 100_000),
      javascriptQueueLimit: integer(env, 'QUICKJS_QUEUE_LIMIT', 1024, 0, 1_000_000),
      spareJavascriptContexts: integer(env, 'QUICKJS_SPARE_CONTEXTS', 2, 0, 64),
      javascriptTotalMemoryMb: integer(env, 'QUICKJS_TOTAL_MEMORY_MB', 2048, 64, 1024 * 1024),
      maxScriptBytes: integer(env, 'SCRIPT_MAX_BYTES', 1024 * 1024, 1024, 256 * 1024 * 1024),
      maxResponseBytes: integer(env, 'SCRIPT_MAX_RESPONSE_BYTES', 10 * 1024 * 1024, 1024, 1024 ** 3),
      sandbox: choice(env, 'SCRIPT_SANDBOX', ['on', 'off'], 'on') === 'off' ? 'off' : 'bwrap',
      network: choice(env, 'SCRIPT_NETWORK', ['host', 'none'], 'host') === 'host',
      runDetails: choice(env, 'EXECUTIONS_RUN_DETAILS', ['on', 'off'], 'on') === 'on',
      workersPerService: env.SUBPROCESS_WORKERS_PER_SERVICE ? integer(env, 'SUBPROCESS_WORKERS_PER_SERVICE', 1, 1, 10_000) : null,
    },
    executions: {
      keepPerService: integer(env, 'EXECUTIONS_KEEP_PER_SERVICE', 1000, 1, 10_000_000),
      flushIntervalMs: integer(env, 'EXECUTIONS_FLUSH_MS', 50, 1, 60_000),
    },
    http: {
      corsOrigins: (env.CORS_ORIGINS ?? '').split(',').map((origin) => origin.trim()).filter(Boolean),
      metricsPublic: choice(env, 'METRICS_PUBLIC', ['true', 'false'], 'false') === 'true',
    },
    queue: {
      concurrency: integer(env, 'QUEUE_CONCURRENCY', 2, 0, 10_000),
      retryBaseMs: integer(env, 'QUEUE_RETRY_BASE_MS', 1000, 1, 3_600_000),
      pollMs: integer(env, 'QUEUE_POLL_MS', 1000, 10, 600_000),
      leaseMs,
      // Renewal late by one interval plus a loop blocked for the longest script still lands inside the lease.
      renewMs: Math.max(1, Math.floor(Math.min(leaseMs / 3, (leaseMs - maxTimeoutMs) / 2))),
      maxPayloadBytes: integer(env, 'QUEUE_MAX_PAYLOAD_BYTES', 32 * 1024 * 1024, 1024, 1024 ** 3),
    },
    access: { secretsKey: secretsKey(env.SECRETS_KEY), guestRole: guestRole(env.GUEST_ROLE) },
  };
}

function secretsKey(raw: string | undefined): Buffer | null {
  if (!raw) return null;
  const text = raw.trim();
  const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(text) ? Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64') : null;
  if (!key || key.length !== 32) {
    throw new ConfigError(`SECRETS_KEY must be base64 of exactly 32 bytes (e.g. \`openssl rand -base64 32\`), got ${key ? `${key.length} bytes` : 'something else'}`);
  }
  return key;
}

function guestRole(raw: string | undefined): string | null {
  if (!raw) return null;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(raw) || /^\d+$/.test(raw)) throw new ConfigError(`GUEST_ROLE must name a role (1 to 64 letters, digits, "_", "." or "-"), got "${raw}"`);
  return raw;
}

function choice<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = raw.trim().toLowerCase() as T;
  if (!allowed.includes(value)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return value;
}

function redisUrl(raw: string | undefined): string | null {
  if (!raw) return null;
  if (!/^rediss?:\/\//.test(raw)) throw new ConfigError(`REDIS_URL must be a redis:// or rediss:// URL, got "${raw}"`);
  return raw;
}

function logFormat(raw: string | undefined): Settings['logFormat'] {
  if (!raw) return 'auto';
  if (raw === 'auto' || raw === 'pretty' || raw === 'json') return raw;
  throw new ConfigError(`LOG_FORMAT must be auto, pretty or json, got "${raw}"`);
}
