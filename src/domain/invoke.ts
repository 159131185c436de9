import type { ScriptingSettings } from '../config.ts';
import { ScriptFailure, type ScriptFailureKind } from '../scripting/failure.ts';
import type { EngineRegistry } from '../scripting/registry.ts';
import { MAX_API_CALLS_IN_FLIGHT, type ApiCall, type ApiResult, type ScriptLimits } from '../scripting/types.ts';
import type { Caller } from './caller.ts';
import { DomainError, type ErrorKind } from './errors.ts';
import { errorBody } from './error-body.ts';
import type { ExecutionLog, FinishedStatus } from './executions.ts';
import { eventFor, requestFromPath } from './script-request.ts';
import { responseFrom } from './script-response.ts';
import type { Service, ServiceCatalog, ServiceInput } from './services.ts';

export interface InvokeRequest {
  method: string;
  service: string;
  resource: string;
  parameters: Record<string, unknown>;
  /** Lower-case keys. */
  headers: Record<string, string>;
  payload: unknown;
  content: string;
  contentType: string | null;
}

export interface InvokeResult {
  statusCode: number;
  content: unknown;
  contentType: string | null;
  headers: Record<string, string>;
  executionId: string | null;
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
 * The one way a scripted service runs, for REST, GraphQL and scripts'
 * `platform.api` alike. Later stages (access checks, pre/post/queued event
 * scripts) slot in around `runService`.
 */
export class Invoker {
  constructor(
    private readonly services: ServiceCatalog,
    private readonly engines: EngineRegistry,
    private readonly executions: ExecutionLog,
    private readonly settings: ScriptingSettings,
    /** Engine internals behind a failure (never sent to a client) go to the server log through this. */
    private readonly onEngineInternal: (detail: string, executionId: string) => void = () => undefined,
  ) {}

  async invoke(request: InvokeRequest, caller: Caller): Promise<InvokeResult> {
    if (caller.depth > this.settings.maxCallDepth) {
      throw new DomainError(
        'LOOP_DETECTED',
        `platform.api calls nested deeper than ${this.settings.maxCallDepth} levels (a loop?); stopped at "${request.service}".`,
      );
    }
    const service = this.services.cached(request.service) ?? (await this.services.byName(request.service));
    if (!service.isActive) throw new DomainError('FORBIDDEN', `Service ${service.name} is deactivated.`);
    return this.runService(service, { ...request, service: service.name }, caller);
  }

  /**
   * Runs a script without saving it (a developer trying it out), exactly as
   * the same script saved as a service would run; recorded as an execution
   * of `(inline)`.
   */
  async runInline(script: Omit<ServiceInput, 'name'>, request: Omit<InvokeRequest, 'service'>, caller: Caller): Promise<InvokeResult> {
    const service = this.services.draft(script);
    return this.runService(service, { ...request, service: service.name }, caller);
  }

  /**
   * One run's `platform.api` dispatcher. Calls in flight are bounded per run,
   * for every engine: a flood loop gets errors at once instead of growing
   * the server's memory.
   */
  private apiFor(caller: Caller): (call: ApiCall) => Promise<ApiResult> {
    let inFlight = 0;
    return async (call) => {
      if (inFlight >= MAX_API_CALLS_IN_FLIGHT) {
        return errorResult(new DomainError('SERVICE_UNAVAILABLE', `Too many platform.api calls in flight: at most ${MAX_API_CALLS_IN_FLIGHT} per run.`));
      }
      inFlight++;
      try {
        return await this.invokeFromScript(call, caller);
      } finally {
        inFlight--;
      }
    };
  }

  /** `platform.api` from inside a script: never throws, errors come back as responses. */
  async invokeFromScript(call: ApiCall, caller: Caller): Promise<ApiResult> {
    try {
      const request = requestFromPath(call);
      const result = await this.invoke(request, { ...caller, requestor: 'SCRIPT', depth: caller.depth + 1 });
      return { status_code: result.statusCode, content: result.content, content_type: result.contentType, headers: result.headers };
    } catch (error) {
      return errorResult(error instanceof DomainError ? error : new DomainError('INTERNAL', (error as Error).message));
    }
  }

  /** Per service record and session, the same object each call: engines skip re-sending what they already hold. */
  private readonly platforms = new WeakMap<Service, WeakMap<object, { config: Record<string, unknown>; session: Record<string, unknown> }>>();

  private readonly serviceLimits = new WeakMap<Service, ScriptLimits>();

  /** A service's limits: its config where given, the platform defaults otherwise (cached per service record). */
  private limitsFor(service: Service): ScriptLimits {
    let limits = this.serviceLimits.get(service);
    if (!limits) {
      const config = service.config as Record<string, unknown>;
      limits = {
        timeoutMs: numberOr(config.timeout_ms, this.settings.defaultTimeoutMs),
        memoryLimitMb: numberOr(config.memory_limit_mb, this.settings.defaultMemoryLimitMb),
        maxLogBytes: numberOr(config.max_log_bytes, this.settings.defaultMaxLogBytes),
        maxResponseBytes: this.settings.maxResponseBytes,
        network: this.settings.network && config.network !== false,
      };
      this.serviceLimits.set(service, limits);
    }
    return limits;
  }

  private platformFor(service: Service, session: Record<string, unknown>) {
    let bySession = this.platforms.get(service);
    if (!bySession) this.platforms.set(service, (bySession = new WeakMap()));
    let platform = bySession.get(session);
    if (!platform) {
      platform = { config: { ...(service.config as Record<string, unknown>), name: service.name }, session };
      bySession.set(session, platform);
    }
    return platform;
  }

  private async runService(service: Service, request: InvokeRequest, caller: Caller): Promise<InvokeResult> {
    let engine;
    try {
      engine = this.engines.available(service.type);
    } catch (error) {
      throw new DomainError('SERVICE_UNAVAILABLE', (error as Error).message);
    }
    const limits = this.limitsFor(service);
    const run = this.executions.start({ service: service.name, scriptType: service.type, trigger: caller.trigger }, limits.maxLogBytes);
    try {
      const outcome = await engine.run({
        executionId: run.id,
        scriptKey: service.name,
        script: service.content,
        event: eventFor(request),
        platform: this.platformFor(service, caller.session),
        limits,
        api: this.apiFor(caller),
        log: run.log,
      });
      const result = { ...responseFrom(outcome), executionId: run.id };
      run.finish({ status: 'succeeded', statusCode: result.statusCode });
      return result;
    } catch (error) {
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
      throw domainError;
    }
  }
}

function errorResult(error: DomainError): ApiResult {
  return { status_code: error.status, content: errorBody(error), content_type: 'application/json', headers: {} };
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
