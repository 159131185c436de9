import type { SecretStore, SecretValues } from '../access/secrets.ts';
import type { ScriptingSettings } from '../config.ts';
import { ScriptFailure, type ScriptFailureKind } from '../scripting/failure.ts';
import type { EngineRegistry } from '../scripting/registry.ts';
import type { ApiCall, ApiResult, ScriptEvent, ScriptJob, ScriptLimits, ScriptOutcome } from '../scripting/types.ts';
import type { Caller } from './caller.ts';
import { DomainError, type ErrorKind } from './errors.ts';
import { type ExecutionLog, type FinishedStatus, type Redact, redactorFor } from './executions.ts';
import { INLINE_SCRIPT, type ServiceCatalog } from './services.ts';
import { recordedRequest } from './recorded-request.ts';

/** What runs: a service's script or an event script (both records have these fields). */
export interface ScriptOwner {
  name: string;
  type: string;
  content: string;
  config: unknown;
}

export interface RunTarget {
  owner: ScriptOwner;
  /** The service the execution is listed under. */
  service: string;
  /** Set for an event script's run. */
  eventName: string | null;
}

export interface ScriptRun {
  outcome: ScriptOutcome;
  executionId: string;
  /** Ends the execution as succeeded with the status the caller answers. */
  succeed(statusCode: number): void;
  /** Ends it as failed with an error found after the script ran (its result was unusable). */
  fail(error: DomainError): DomainError;
  /** After `succeed`: the caller refused the answer (ExecutionRun.refuseAnswer). */
  refuseAnswer(reason: string): void;
}

const failureKinds: Record<ScriptFailureKind, { kind: ErrorKind; status: FinishedStatus }> = {
  error: { kind: 'SCRIPT_ERROR', status: 'failed' },
  memory: { kind: 'SCRIPT_ERROR', status: 'failed' },
  output: { kind: 'SCRIPT_ERROR', status: 'failed' },
  crashed: { kind: 'SCRIPT_ERROR', status: 'failed' },
  timeout: { kind: 'TIMEOUT', status: 'timed_out' },
  unavailable: { kind: 'SERVICE_UNAVAILABLE', status: 'failed' },
  overloaded: { kind: 'SERVICE_UNAVAILABLE', status: 'failed' },
};

type PlatformObject = ScriptJob['platform'] & { secrets: SecretValues };

/** What a run without a service of its own (inline, `system.*` event scripts) sees as `platform.secrets`. */
const NO_SECRETS: SecretValues = Object.freeze(Object.create(null) as Record<string, string>);

/**
 * Runs one script as one execution, for services and event scripts alike:
 * its limits, its `platform` object (secrets included), the engine, and the
 * record of how it ended, with the secrets' values hidden in its logs and
 * error. A failure comes back as a DomainError carrying the execution id.
 */
export class ScriptRunner {
  /**
   * Per script record and session, the same object each call while the
   * service's secrets stay the same object: engines skip re-sending what they already hold.
   */
  private readonly platforms = new WeakMap<ScriptOwner, WeakMap<object, PlatformObject>>();
  private readonly ownerLimits = new WeakMap<ScriptOwner, ScriptLimits>();

  constructor(
    private readonly engines: EngineRegistry,
    private readonly executions: ExecutionLog,
    private readonly settings: ScriptingSettings,
    /** Engine internals behind a failure (never sent to a client) go to the server log through this. */
    private readonly onEngineInternal: (detail: string, executionId: string) => void,
    private readonly secrets: SecretStore,
    /** Finds the service an event script's name hooks, whose secrets it gets. */
    private readonly services: ServiceCatalog,
  ) {}

  async run(
    target: RunTarget,
    event: ScriptEvent,
    caller: Caller,
    /** `platform.api` for this run: its calls are made as the caller, linked to this run's execution. */
    apiFor: (caller: Caller) => (call: ApiCall) => Promise<ApiResult>,
    wantRequest = false,
    /** Set for a replay: the execution whose request this run repeats. */
    replayOf: string | null = null,
  ): Promise<ScriptRun> {
    const { owner } = target;
    let engine;
    try {
      engine = this.engines.available(owner.type);
    } catch (error) {
      throw new DomainError('SERVICE_UNAVAILABLE', (error as Error).message);
    }
    const limits = this.limitsFor(owner);
    // Awaited only when not cached: the hot path stays synchronous.
    let secrets = this.secretsFor(target);
    if (secrets instanceof Promise) secrets = await secrets;
    const redact = redactorFor(secrets);
    // Off for the instance (EXECUTIONS_RUN_DETAILS) or for this script (config.run_details: a service handling data that must not be kept).
    const details = this.settings.runDetails !== false && (owner.config as { run_details?: unknown }).run_details !== false;
    // A saved service's own run records which of its versions ran (event scripts and unsaved scripts have none).
    const saved = target.eventName === null && (owner as { id?: unknown }).id ? (owner as unknown as { id: number; version?: number }) : null;
    const run = this.executions.start(
      {
        service: target.service,
        eventName: target.eventName,
        parentExecutionId: caller.parentExecutionId ?? null,
        scriptType: owner.type,
        trigger: caller.trigger,
        serviceId: saved?.id ?? null,
        serviceVersion: saved?.version ?? null,
        replayOf,
        request: details ? recordedRequest(event.request) : null,
      },
      limits.maxLogBytes,
      redact,
    );
    let outcome: ScriptOutcome;
    try {
      outcome = await engine.run({
        executionId: run.id,
        scriptKey: owner.name,
        script: owner.content,
        event,
        platform: this.platformFor(owner, caller.session, secrets),
        limits,
        api: apiFor({ ...caller, parentExecutionId: run.id }),
        log: run.log,
        wantRequest,
        depth: caller.depth,
        version: saved?.version,
        usage: details ? run.usage : undefined,
      });
    } catch (error) {
      throw this.failed(run, error, redact);
    }
    return {
      outcome,
      executionId: run.id,
      succeed: (statusCode) => run.finish({ status: 'succeeded', statusCode }),
      fail: (error) => this.failed(run, error, redact),
      refuseAnswer: (reason) => run.refuseAnswer(reason),
    };
  }

  /** The run hides secrets in what it logs and stores; the error the caller gets is hidden here. */
  private failed(run: ReturnType<ExecutionLog['start']>, error: unknown, redact: Redact | null): DomainError {
    const domainError = asDomainError(error, run.id);
    if (error instanceof ScriptFailure) {
      run.log('SYSTEM', domainError.message);
      const internal = error.details.internal;
      if (internal) this.onEngineInternal(redact ? redact(internal) : internal, run.id);
    }
    run.finish({
      status: error instanceof ScriptFailure ? failureKinds[error.kind].status : 'failed',
      statusCode: domainError.status,
      error: { message: domainError.message, kind: error instanceof ScriptFailure ? error.kind : domainError.kind, line: (error as ScriptFailure).details?.line },
    });
    return redact ? redacted(domainError, redact) : domainError;
  }

  /** A script's limits: its config where given, the platform defaults otherwise (cached per record). */
  private limitsFor(owner: ScriptOwner): ScriptLimits {
    let limits = this.ownerLimits.get(owner);
    if (!limits) {
      const config = owner.config as Record<string, unknown>;
      limits = {
        timeoutMs: numberOr(config.timeout_ms, this.settings.defaultTimeoutMs),
        memoryLimitMb: numberOr(config.memory_limit_mb, this.settings.defaultMemoryLimitMb),
        maxLogBytes: numberOr(config.max_log_bytes, this.settings.defaultMaxLogBytes),
        maxResponseBytes: this.settings.maxResponseBytes,
        network: this.settings.network && config.network !== false,
      };
      this.ownerLimits.set(owner, limits);
    }
    return limits;
  }

  private platformFor(owner: ScriptOwner, session: Record<string, unknown>, secrets: SecretValues): PlatformObject {
    let bySession = this.platforms.get(owner);
    if (!bySession) this.platforms.set(owner, (bySession = new WeakMap()));
    let platform = bySession.get(session);
    if (!platform || platform.secrets !== secrets) {
      platform = { config: { ...(owner.config as Record<string, unknown>), name: owner.name }, session, secrets };
      bySession.set(session, platform);
    }
    return platform;
  }

  /**
   * The secrets a run sees: its service's for a service script, those of the
   * service its name hooks for an event script; none for an inline run, a
   * `system.*` event script, or a hooked service that does not exist.
   */
  private secretsFor(target: RunTarget): SecretValues | Promise<SecretValues> {
    if (target.eventName === null) return this.valuesOf((target.owner as { id?: unknown }).id);
    if (target.service === 'system' || target.service === INLINE_SCRIPT) return NO_SECRETS;
    const service = this.services.cached(target.service);
    if (service) return this.valuesOf(service.id);
    return this.services.byNameOrNull(target.service).then((found) => (found ? this.valuesOf(found.id) : NO_SECRETS));
  }

  private valuesOf(serviceId: unknown): SecretValues | Promise<SecretValues> {
    // An inline run's draft service has id 0: it has no stored secrets.
    if (typeof serviceId !== 'number' || serviceId <= 0) return NO_SECRETS;
    return this.secrets.cachedValuesFor(serviceId) ?? this.secrets.valuesFor(serviceId);
  }
}

function asDomainError(error: unknown, executionId: string): DomainError {
  if (error instanceof DomainError) {
    return new DomainError(error.kind, error.message, error.context, { ...error.extra, executionId, status: error.status });
  }
  if (error instanceof ScriptFailure) {
    const headers = error.details.retryAfterSeconds ? { 'retry-after': String(error.details.retryAfterSeconds) } : undefined;
    const { line, column } = error.details;
    const context = line ? { line, column: column ?? null } : null;
    const message = line && !/\bline \d+/.test(error.message) ? `${error.message} (line ${line})` : error.message;
    return new DomainError(failureKinds[error.kind].kind, message, context, { executionId, headers });
  }
  return new DomainError('INTERNAL', `Internal error while running the script: ${(error as Error).message}`, null, { executionId });
}

/** The error with secret values hidden in its message and context (the context is JSON from the script). */
function redacted(error: DomainError, redact: Redact): DomainError {
  const message = redact(error.message);
  let context = error.context;
  if (context) {
    const json = JSON.stringify(context);
    const clean = redact(json);
    if (clean !== json) {
      try {
        context = JSON.parse(clean) as Record<string, unknown>;
      } catch {
        // A value that spanned JSON syntax: nothing of it may stay.
        context = { redacted: true };
      }
    }
  }
  if (message === error.message && context === error.context) return error;
  return new DomainError(error.kind, message, context, error.extra);
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}
