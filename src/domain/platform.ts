import type { Settings } from '../config.ts';
import type { Db } from '../db/client.ts';
import type { EventBus } from '../logs/bus.ts';
import type { ExecutionWriter } from '../db/execution-writer.ts';
import { ExecutionRecorder } from '../logs/recorder.ts';
import type { RunQueue } from '../queue/run-queue.ts';
import { AppCatalog } from '../access/apps.ts';
import { Authenticator } from '../access/caller-identity.ts';
import { RoleCatalog } from '../access/roles.ts';
import type { SecretStore } from '../access/secrets.ts';
import { AppsComponent } from '../system/apps.ts';
import { RolesComponent } from '../system/roles.ts';
import type { AdminKey } from './admin-key.ts';
import type { EngineRegistry } from '../scripting/registry.ts';
import { SystemService } from '../system/index.ts';
import { EventScriptsComponent } from '../system/event-scripts.ts';
import { EventsComponent } from '../system/events.ts';
import { ExecutionsComponent } from '../system/executions.ts';
import { ScriptTypesComponent } from '../system/script-types.ts';
import { ServicesComponent } from '../system/services.ts';
import { EventScriptCatalog } from './event-scripts.ts';
import { EventStages } from './event-stages.ts';
import { ExecutionLog } from './executions.ts';
import { Invoker } from './invoke.ts';
import { QueuedRuns } from './queued-runs.ts';
import { ScriptRunner } from './script-runs.ts';
import { ServiceCatalog } from './services.ts';
import { ServiceVersions } from './service-versions.ts';
import { Replays } from './replay.ts';

/** The domain as both front ends see it: no HTTP, no GraphQL in here. */
export interface Platform {
  settings: Settings;
  engines: EngineRegistry;
  services: ServiceCatalog;
  /** Services' version history and rollback. */
  versions: ServiceVersions;
  /** Running a recorded request again (replayExecution). */
  replays: Replays;
  eventScripts: EventScriptCatalog;
  executions: ExecutionLog;
  invoker: Invoker;
  queuedRuns: QueuedRuns;
  roles: RoleCatalog;
  apps: AppCatalog;
  secrets: SecretStore;
  /** Who a request is, from its key: the one `authenticate` every door uses. */
  authenticator: Authenticator;
  bus: EventBus;
  recorder: ExecutionRecorder;
}

export interface PlatformParts {
  settings: Settings;
  db: Db;
  executionWriter: ExecutionWriter;
  engines: EngineRegistry;
  bus: EventBus;
  queue: RunQueue;
  adminKey: AdminKey;
  secrets: SecretStore;
  onRecorderError: (error: unknown) => void;
  /** Engine internals behind a failure (never sent to a client). */
  onEngineInternal: (detail: string, executionId: string) => void;
  /** A queued run that could not be stored or run. */
  onQueueError: (error: unknown, eventName: string) => void;
  /** Event scripts could not be reloaded after a change (the index keeps what it had). */
  onEventIndexError: (error: unknown) => void;
}

export function createPlatform(parts: PlatformParts): Platform {
  const { settings, db, engines, bus } = parts;
  const recorder = new ExecutionRecorder(parts.executionWriter, settings.executions.flushIntervalMs, parts.onRecorderError);
  const services = new ServiceCatalog(db, engines, bus, settings.scripting);
  const eventScripts = new EventScriptCatalog(db, engines, bus, settings.scripting, parts.onEventIndexError);
  const executions = new ExecutionLog(db, bus, recorder);
  const runner = new ScriptRunner(engines, executions, settings.scripting, parts.onEngineInternal, parts.secrets, services);
  const roles = new RoleCatalog(db, bus, settings.access.guestRole);
  const apps = new AppCatalog(db, bus);
  const authenticator = new Authenticator(parts.adminKey, apps, roles, settings.access.guestRole, bus);
  const system = new SystemService();
  const versions = new ServiceVersions(db, services);
  system.register(new ServicesComponent(services, parts.secrets, versions));
  system.register(new ScriptTypesComponent(engines));
  system.register(new ExecutionsComponent(executions));
  system.register(new EventScriptsComponent(eventScripts));
  system.register(new EventsComponent(services, eventScripts, () => system.templateStrings()));
  system.register(new RolesComponent(roles));
  system.register(new AppsComponent(apps));
  const stages = new EventStages(runner, parts.queue, parts.onQueueError);
  const invoker = new Invoker(services, eventScripts, system, runner, stages, settings.scripting);
  const queuedRuns = new QueuedRuns(parts.queue, eventScripts, runner, invoker, authenticator);
  const replays = new Replays(executions, services, runner, invoker);
  return { settings, engines, services, versions, replays, eventScripts, executions, invoker, queuedRuns, roles, apps, secrets: parts.secrets, authenticator, bus, recorder };
}
