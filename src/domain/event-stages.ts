// The event-script stages of the pipeline (contract section 4): pre_process
// before the handler, post_process after it, queued behind the response.
import type { ApiCall, ApiResult, ScriptEvent } from '../scripting/types.ts';
import type { RunQueue } from '../queue/run-queue.ts';
import { saveIdentity, type SavedIdentity } from '../access/caller-identity.ts';
import type { Caller } from './caller.ts';
import { DomainError } from './errors.ts';
import { errorBody } from './error-body.ts';
import { genericFirst, isTemplate, matchPath, type EventPhase } from './event-names.ts';
import type { ActiveEventScript } from './event-scripts.ts';
import type { InvokeRequest, InvokeResult } from './invoke.ts';
import { eventFor, requestFromEvent } from './script-request.ts';
import { descriptor } from './script-response.ts';
import type { ScriptRunner } from './script-runs.ts';

interface Matched {
  active: ActiveEventScript;
  /** Values of the name's template segments (`{id}` -> "7"). */
  params: Record<string, string>;
}

/** What a queued run carries: the event as the response left it, and who called (resolved again when it runs). */
export interface QueuedPayload {
  event: ScriptEvent;
  identity: SavedIdentity;
  requestor: Caller['requestor'];
  depth: number;
}

/** A handler's answer, with the domain error behind it when it failed (rethrown as is when nothing changed it). */
interface Answer {
  result: InvokeResult;
  error: DomainError | null;
}

/**
 * The request's scripts for one phase, generic before specific. A name with
 * a template segment fires only where the service declares that template.
 */
export function matching(
  scripts: readonly ActiveEventScript[],
  phase: EventPhase,
  verb: string,
  resource: readonly string[],
  templates: readonly (readonly string[])[],
): Matched[] {
  const matched: Matched[] = [];
  for (const active of scripts) {
    const { event } = active;
    if (event.phase !== phase || event.verb !== verb) continue;
    if (event.path.some(isTemplate) && !templates.some((t) => t.length >= event.path.length && event.path.every((s, i) => s === t[i]))) continue;
    const params: Record<string, string> = {};
    if (matchPath(event.path, resource, params)) matched.push({ active, params });
  }
  return matched.sort((a, b) => genericFirst(a.active.event, b.active.event));
}

export class EventStages {
  constructor(
    private readonly runner: ScriptRunner,
    private readonly queue: RunQueue | null,
    private readonly onQueueError: (error: unknown, eventName: string) => void,
  ) {}

  /** Runs `handler` wrapped in the request's event scripts. */
  async around(
    scripts: readonly ActiveEventScript[],
    request: InvokeRequest,
    caller: Caller,
    templates: readonly (readonly string[])[],
    apiFor: (caller: Caller) => (call: ApiCall) => Promise<ApiResult>,
    handler: (request: InvokeRequest) => Promise<InvokeResult>,
  ): Promise<InvokeResult> {
    // Names are matched as the call was made, even when a pre_process script changes the method.
    const verb = request.method.toLowerCase();
    const resource = request.resource.split('/').filter(Boolean);
    const scriptCaller: Caller = { ...caller, trigger: 'event' };

    let answer: Answer | null = null;
    for (const { active, params } of matching(scripts, 'pre_process', verb, resource, templates)) {
      // A throw aborts the request with that error (post_process does not see it).
      // The request comes back out of the engine only when the script may change it.
      const run = await this.runner.run(this.target(active), eventOf(request, params), scriptCaller, apiFor, active.script.allowEventModification);
      run.succeed(200);
      if (!active.script.allowEventModification) continue;
      request = requestFromEvent(run.outcome.event.request, request);
      const response = run.outcome.event.response;
      if (isAnswer(response)) {
        answer = { result: { ...descriptorOrError(response), executionId: run.executionId, refuseAnswer: run.refuseAnswer }, error: null };
        break;
      }
    }
    answer ??= await settle(handler(request));

    for (const { active, params } of matching(scripts, 'post_process', verb, resource, templates)) {
      const event = eventOf(request, params);
      event.response = { status_code: answer.result.statusCode, content: answer.result.content, content_type: answer.result.contentType, headers: answer.result.headers };
      let run;
      try {
        run = await this.runner.run(this.target(active), event, scriptCaller, apiFor, false);
      } catch (error) {
        answer = { result: errorResult(error as DomainError), error: error as DomainError };
        continue;
      }
      run.succeed(answer.result.statusCode);
      if (active.script.allowEventModification) {
        // The answer is still the handler's run's, as its execution id says.
        const { executionId, refuseAnswer }: InvokeResult = answer.result;
        answer = { result: { ...descriptorOrError(run.outcome.event.response), executionId, refuseAnswer }, error: null };
      }
    }

    const queued = matching(scripts, 'queued', verb, resource, templates);
    if (queued.length) await this.enqueue(queued, request, answer.result, caller);
    if (answer.error) throw answer.error;
    return answer.result;
  }

  /** Stored before the response goes, so a crash right after it loses none. */
  private async enqueue(queued: Matched[], request: InvokeRequest, result: InvokeResult, caller: Caller): Promise<void> {
    if (!this.queue) return;
    const runs = queued.map(({ active, params }) => {
      const event = eventOf(request, params);
      event.response = { status_code: result.statusCode, content: result.content, content_type: result.contentType, headers: result.headers };
      const payload: QueuedPayload = { event, identity: saveIdentity(caller.identity), requestor: caller.requestor, depth: caller.depth };
      return { eventName: active.script.name, payload, retries: retriesOf(active.script.config) };
    });
    try {
      await this.queue.enqueue(runs);
    } catch (error) {
      for (const run of runs) this.onQueueError(error, run.eventName);
    }
  }

  private target(active: ActiveEventScript) {
    return { owner: active.script, service: active.event.service, eventName: active.script.name };
  }
}

export function eventOf(request: InvokeRequest, params: Record<string, string>): ScriptEvent {
  const event = eventFor(request);
  event.path_params = params;
  return event;
}

/** Whether a pre_process script answered: it set anything on the response it was given blank. */
function isAnswer(response: ScriptEvent['response'] | undefined): boolean {
  if (!response || typeof response !== 'object') return false;
  const headers = response.headers;
  return (
    (response.status_code !== 200 && response.status_code !== undefined) ||
    (response.content !== null && response.content !== undefined) ||
    (response.content_type !== null && response.content_type !== undefined) ||
    (headers !== null && typeof headers === 'object' && Object.keys(headers).length > 0)
  );
}

/** A response an event script set, checked as a service's would be; an invalid one is the script's error. */
function descriptorOrError(response: ScriptEvent['response']): Omit<InvokeResult, 'executionId'> {
  try {
    return descriptor(response as unknown as Record<string, unknown>);
  } catch (error) {
    return errorResult(error as DomainError);
  }
}

async function settle(pending: Promise<InvokeResult>): Promise<Answer> {
  try {
    return { result: await pending, error: null };
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return { result: errorResult(error), error };
  }
}

export function errorResult(error: DomainError): InvokeResult {
  return {
    statusCode: error.status,
    content: errorBody(error),
    contentType: 'application/json',
    headers: error.extra.headers ?? {},
    executionId: error.extra.executionId ?? null,
  };
}

function retriesOf(config: unknown): number {
  const retries = (config as { retries?: unknown } | null)?.retries;
  return typeof retries === 'number' && Number.isInteger(retries) && retries > 0 ? retries : 0;
}
