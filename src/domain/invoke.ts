import type { ScriptingSettings } from '../config.ts';
import type { SystemService } from '../system/index.ts';
import { MAX_API_CALLS_IN_FLIGHT, type ApiCall, type ApiResult } from '../scripting/types.ts';
import { forbidden, identityAllows } from '../access/caller-identity.ts';
import { SYSTEM_SERVICE_ID } from '../access/access-rules.ts';
import { scriptCallerOf, type Caller } from './caller.ts';
import { DomainError } from './errors.ts';
import { errorBody } from './error-body.ts';
import type { EventScriptCatalog } from './event-scripts.ts';
import { type EventStages } from './event-stages.ts';
import { templateSegments } from './event-names.ts';
import { eventFor, requestFromPath } from './script-request.ts';
import { responseFrom } from './script-response.ts';
import type { ScriptRun, ScriptRunner } from './script-runs.ts';
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
  /** A typed GraphQL field's call: scripts see it as `event.graphql`. */
  graphql?: { field: string; operation: 'query' | 'mutation'; args: Record<string, unknown> };
}

export interface InvokeResult {
  statusCode: number;
  content: unknown;
  contentType: string | null;
  headers: Record<string, string>;
  executionId: string | null;
  /**
   * Records that the caller refused this answer after the run ended (a typed
   * field's result not matching its type): the execution becomes failed.
   */
  refuseAnswer?: (reason: string) => void;
}

/** The endpoint a request names: the built-in system API, or a scripted service. */
type Endpoint = { kind: 'system' } | { kind: 'service'; service: Service };

/**
 * The one invocation pipeline, for every endpoint (scripted services and the
 * system API) and every door (REST, GraphQL, scripts' `platform.api`):
 * resolve the endpoint, authorize the caller, pre_process event scripts,
 * the handler, post_process, then queued ones behind the response.
 */
export class Invoker {
  constructor(
    private readonly services: ServiceCatalog,
    private readonly eventScripts: EventScriptCatalog,
    private readonly system: SystemService,
    private readonly runner: ScriptRunner,
    private readonly stages: EventStages,
    private readonly settings: ScriptingSettings,
  ) {}

  async invoke(request: InvokeRequest, caller: Caller): Promise<InvokeResult> {
    if (caller.depth > this.settings.maxCallDepth) {
      throw new DomainError(
        'LOOP_DETECTED',
        `platform.api calls nested deeper than ${this.settings.maxCallDepth} levels (a loop?); stopped at "${request.service}".`,
      );
    }
    const endpoint = await this.endpointFor(request.service);
    const name = endpoint.kind === 'system' ? 'system' : endpoint.service.name;
    request = request.service === name ? request : { ...request, service: name };
    this.authorize(caller, endpoint, request);
    const scripts = this.eventScripts.activeFor(name);
    // No event script names this service: the handler alone (the common, hot case).
    if (!scripts) return this.handle(endpoint, request, caller);
    return this.stages.around(scripts, request, caller, this.templatesOf(endpoint), (c) => this.apiFor(c), (changed) =>
      this.handle(endpoint, changed, caller),
    );
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

  /** `platform.api` from inside a script: never throws, errors come back as responses. */
  async invokeFromScript(call: ApiCall, caller: Caller): Promise<ApiResult> {
    try {
      const request = requestFromPath(call);
      const result = await this.invoke(request, scriptCallerOf(caller));
      return { status_code: result.statusCode, content: result.content, content_type: result.contentType, headers: result.headers };
    } catch (error) {
      return errorResult(error instanceof DomainError ? error : new DomainError('INTERNAL', (error as Error).message));
    }
  }

  /**
   * One run's `platform.api` dispatcher. Calls in flight are bounded per run,
   * for every engine: a flood loop gets errors at once instead of growing
   * the server's memory.
   */
  apiFor(caller: Caller): (call: ApiCall) => Promise<ApiResult> {
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

  private async endpointFor(name: string): Promise<Endpoint> {
    if (name === 'system') return { kind: 'system' };
    const service = this.services.cached(name) ?? (await this.services.byName(name));
    if (!service.isActive) throw new DomainError('FORBIDDEN', `Service ${service.name} is deactivated.`);
    return { kind: 'service', service };
  }

  /**
   * The access stage: the caller's role must grant this verb on this
   * component of this service, for its requestor (API, or SCRIPT for
   * `platform.api` calls). The administrator may do anything.
   */
  private authorize(caller: Caller, endpoint: Endpoint, request: InvokeRequest): void {
    if (caller.identity.kind === 'admin') return;
    const serviceId = endpoint.kind === 'system' ? SYSTEM_SERVICE_ID : endpoint.service.id;
    if (!identityAllows(caller.identity, serviceId, request.resource, request.method, caller.requestor)) {
      throw forbidden(request.method, request.service, request.resource);
    }
  }

  private handle(endpoint: Endpoint, request: InvokeRequest, caller: Caller): Promise<InvokeResult> {
    return endpoint.kind === 'system' ? this.system.handle(request, caller) : this.runService(endpoint.service, request, caller);
  }

  private readonly serviceTemplates = new WeakMap<Service, string[][]>();

  /** Resource templates event names may use: a service's `config.paths`, or the system API's own. */
  private templatesOf(endpoint: Endpoint): readonly (readonly string[])[] {
    if (endpoint.kind === 'system') return this.system.templates;
    let templates = this.serviceTemplates.get(endpoint.service);
    if (!templates) {
      const paths = (endpoint.service.config as { paths?: unknown }).paths;
      templates = Array.isArray(paths) ? paths.filter((p): p is string => typeof p === 'string').map(templateSegments) : [];
      this.serviceTemplates.set(endpoint.service, templates);
    }
    return templates;
  }

  private async runService(service: Service, request: InvokeRequest, caller: Caller): Promise<InvokeResult> {
    const run = await this.runner.run({ owner: service, service: service.name, eventName: null }, eventFor(request), caller, (c) => this.apiFor(c));
    return answerOf(run);
  }
}

/** A service's run as its caller's answer; a response the script set wrongly fails the run. */
export function answerOf(run: ScriptRun): InvokeResult {
  let result: InvokeResult;
  try {
    result = { ...responseFrom(run.outcome), executionId: run.executionId, refuseAnswer: run.refuseAnswer };
  } catch (error) {
    throw run.fail(error as DomainError);
  }
  run.succeed(result.statusCode);
  return result;
}

function errorResult(error: DomainError): ApiResult {
  return { status_code: error.status, content: errorBody(error), content_type: 'application/json', headers: {} };
}
