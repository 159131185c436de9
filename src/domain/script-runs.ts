import type { ScriptingSettings } from '../config.ts';
import { ScriptFailure, type ScriptFailureKind } from '../scripting/failure.ts';
import type { EngineRegistry } from '../scripting/registry.ts';
import type { ApiCall, ApiResult, ScriptEvent, ScriptLimits, ScriptOutcome } from '../scripting/types.ts';
import type { Caller } from './caller.ts';
import { DomainError, type ErrorKind } from './errors.ts';
import type { ExecutionLog, FinishedStatus } from './executions.ts';

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

/**
 * Runs one script as one execution, for services and event scripts alike:
 * its limits, its `platform` object, the engine, and the record of how it
 * ended. A failure comes back as a DomainError carrying the execution id.
 */
export class ScriptRunner {
  /** Per script record and session, the same object each call: engines skip re-sending what they already hold. */
  private readonly platforms = new WeakMap<ScriptOwner, WeakMap<object, { config: Record<string, unknown>; session: Record<string, unknown> }>>();
  private readonly ownerLimits = new WeakMap<ScriptOwner, ScriptLimits>();

  constructor(
    private readonly engines: EngineRegistry,
    private readonly executions: ExecutionLog,
    private readonly settings: ScriptingSettings,
    /** Engine internals behind a failure (never sent to a client) go to the server log through this. */
    private readonly onEngineInternal: (detail: string, executionId: string) => void,
  ) {}

  async run(
    target: RunTarget,
    event: ScriptEvent,
    caller: Caller,
    api: (call: ApiCall) => Promise<ApiResult>,
    wantRequest = false,
  ): Promise<ScriptRun> {
    const { owner } = target;
    let engine;
    try {
      engine = this.engines.available(owner.type);
    } catch (error) {
      throw new DomainError('SERVICE_UNAVAILABLE', (error as Error).message);
    }
    const limits = this.limitsFor(owner);
    const run = this.executions.start(
      { service: target.service, eventName: target.eventName, scriptType: owner.type, trigger: caller.trigger },
      limits.maxLogBytes,
    );
    let outcome: ScriptOutcome;
    try {
      outcome = await engine.run({
        executionId: run.id,
        scriptKey: owner.name,
        script: owner.content,
        event,
        platform: this.platformFor(owner, caller.session),
        limits,
        api,
        log: run.log,
        wantRequest,
        depth: caller.depth,
      });
    } catch (error) {
      throw this.failed(run, error);
    }
    return {
      outcome,
      executionId: run.id,
      succeed: (statusCode) => run.finish({ status: 'succeeded', statusCode }),
      fail: (error) => this.failed(run, error),
    };
  }

  private failed(run: ReturnType<ExecutionLog['start']>, error: unknown): DomainError {
    const domainError = asDomainError(error, run.id);
    if (error instanceof ScriptFailure) {
      run.log('SYSTEM', domainError.message);
      if (error.details.internal) this.onEngineInternal(error.details.internal, run.id);
    }
    run.finish({
      status: error instanceof ScriptFailure ? failureKinds[error.kind].status : 'failed',
      statusCode: domainError.status,
      error: { message: domainError.message, kind: error instanceof ScriptFailure ? error.kind : domainError.kind, line: (error as ScriptFailure).details?.line },
    });
    return domainError;
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

  private platformFor(owner: ScriptOwner, session: Record<string, unknown>) {
    let bySession = this.platforms.get(owner);
    if (!bySession) this.platforms.set(owner, (bySession = new WeakMap()));
    let platform = bySession.get(session);
    if (!platform) {
      platform = { config: { ...(owner.config as Record<string, unknown>), name: owner.name }, session };
      bySession.set(session, platform);
    }
    return platform;
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

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}
