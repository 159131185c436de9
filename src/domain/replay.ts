import { SYSTEM_SERVICE_ID } from '../access/access-rules.ts';
import { forbidden, identityAllows } from '../access/caller-identity.ts';
import type { Caller } from './caller.ts';
import { badInput, DomainError } from './errors.ts';
import type { ExecutionLog } from './executions.ts';
import { answerOf, type InvokeRequest, type InvokeResult, type Invoker } from './invoke.ts';
import { replayBody, type RecordedRequest } from './recorded-request.ts';
import { eventFor } from './script-request.ts';
import type { ScriptRunner } from './script-runs.ts';
import { INLINE_SCRIPT, type Service, type ServiceCatalog, type ServiceInput } from './services.ts';

/**
 * Runs an execution's recorded request again: against its service's current
 * script, or against an unsaved script (to check a fix against the call that
 * failed). The new run is an execution of the same service with `replayOf`
 * set. Only the service's own handler runs, without its event scripts: the
 * recorded request is already what the handler got after any pre_process.
 */
export class Replays {
  constructor(
    private readonly executions: ExecutionLog,
    private readonly services: ServiceCatalog,
    private readonly runner: ScriptRunner,
    private readonly invoker: Invoker,
  ) {}

  async replay(executionId: string, script: Omit<ServiceInput, 'name'> | null, caller: Caller): Promise<InvokeResult> {
    const original = await this.executions.get(executionId);
    if (original.eventName !== null) {
      throw badInput(`Execution ${executionId} is a run of the event script "${original.eventName}": only a service's own runs can be replayed.`, 'id');
    }
    const recorded = original.request as RecordedRequest | null;
    if (!recorded) {
      throw badInput(`Execution ${executionId} has no recorded request (it ran before requests were recorded, or with EXECUTIONS_RUN_DETAILS=off).`, 'id');
    }
    if (recorded.payloadTruncated) {
      throw badInput(`Execution ${executionId}'s body was longer than 64 KiB and was recorded cut: replaying it would send a different request.`, 'id');
    }
    const { payload, content } = replayBody(recorded);
    const request: InvokeRequest = {
      method: recorded.method,
      service: original.service,
      resource: recorded.resource,
      parameters: recorded.parameters,
      headers: recorded.headers,
      payload,
      content,
      contentType: recorded.contentType,
    };
    const owner = script ? this.draft(script, caller) : await this.current(original.service, request, caller);
    const run = await this.runner.run(
      { owner, service: original.service, eventName: null },
      eventFor(request),
      { ...caller, trigger: 'replay' },
      (c) => this.invoker.apiFor(c),
      false,
      original.id,
    );
    return answerOf(run);
  }

  /** An unsaved script: allowed to whoever may run scripts inline (create services); it gets no secrets, as runScript. */
  private draft(script: Omit<ServiceInput, 'name'>, caller: Caller): Service {
    if (!identityAllows(caller.identity, SYSTEM_SERVICE_ID, 'service', 'POST', 'API')) throw forbidden('POST', 'system', 'service');
    return this.services.draft(script);
  }

  /** The service as it is now, checked as a call of the recorded request would be. */
  private async current(name: string, request: InvokeRequest, caller: Caller): Promise<Service> {
    if (name === INLINE_SCRIPT) throw badInput('An inline run has no saved script to replay against: give `script`.', 'script');
    const service = await this.services.byName(name);
    if (!service.isActive) throw new DomainError('FORBIDDEN', `Service ${service.name} is deactivated.`);
    if (!identityAllows(caller.identity, service.id, request.resource, request.method, 'API')) throw forbidden(request.method, service.name, request.resource);
    return service;
  }
}
