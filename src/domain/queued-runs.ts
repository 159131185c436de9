import type { QueuedJob, RunQueue } from '../queue/run-queue.ts';
import type { Authenticator } from '../access/caller-identity.ts';
import { callerFor, scriptCallerOf, type Caller } from './caller.ts';
import { DomainError } from './errors.ts';
import { parseEventName } from './event-names.ts';
import type { EventScriptCatalog } from './event-scripts.ts';
import type { QueuedPayload } from './event-stages.ts';
import type { Invoker } from './invoke.ts';
import type { ScriptRunner } from './script-runs.ts';

/**
 * Runs `queued` event scripts the queue hands out, each as an execution of
 * its own. A run that fails throws, so the queue retries it while the
 * script's `config.retries` allows.
 */
export class QueuedRuns {
  constructor(
    private readonly queue: RunQueue,
    private readonly eventScripts: EventScriptCatalog,
    private readonly runner: ScriptRunner,
    private readonly invoker: Invoker,
    private readonly authenticator: Authenticator,
  ) {}

  start(): void {
    this.queue.start((job) => this.run(job));
  }

  stop(deadlineMs?: number): Promise<void> {
    return this.queue.stop(deadlineMs);
  }

  private async run(job: QueuedJob): Promise<void> {
    // The script as it is now: one deleted or deactivated since the request has nothing to run.
    const script = await this.eventScripts.byName(job.eventName);
    if (!script || !script.isActive) return;
    const payload = job.payload as QueuedPayload;
    // Who called, as they are now: an app deleted or deactivated since leaves the run without rights.
    const identity = await this.authenticator.restore(payload.identity);
    if (!identity) throw new DomainError('FORBIDDEN', `The caller of this queued run (${payload.identity.kind}) no longer exists or is inactive.`);
    const base = callerFor(identity, 'queued');
    const caller: Caller = payload.requestor === 'SCRIPT' ? { ...scriptCallerOf(base), depth: payload.depth, trigger: 'queued' } : { ...base, depth: payload.depth };
    const target = { owner: script, service: parseEventName(script.name).service, eventName: script.name };
    const run = await this.runner.run(target, payload.event, caller, (c) => this.invoker.apiFor(c));
    run.succeed(payload.event.response.status_code);
  }
}
