import type { Settings } from '../config.ts';
import type { Db } from '../db/client.ts';
import type { EventBus } from '../logs/bus.ts';
import type { ExecutionWriter } from '../db/execution-writer.ts';
import { ExecutionRecorder } from '../logs/recorder.ts';
import type { EngineRegistry } from '../scripting/registry.ts';
import { ExecutionLog } from './executions.ts';
import { Invoker } from './invoke.ts';
import { ServiceCatalog } from './services.ts';

/** The domain as both front ends see it: no HTTP, no GraphQL in here. */
export interface Platform {
  settings: Settings;
  engines: EngineRegistry;
  services: ServiceCatalog;
  executions: ExecutionLog;
  invoker: Invoker;
  bus: EventBus;
  recorder: ExecutionRecorder;
}

export function createPlatform(
  settings: Settings,
  db: Db,
  executionWriter: ExecutionWriter,
  engines: EngineRegistry,
  bus: EventBus,
  onRecorderError: (error: unknown) => void,
  onEngineInternal?: (detail: string, executionId: string) => void,
): Platform {
  const recorder = new ExecutionRecorder(executionWriter, settings.executions.flushIntervalMs, onRecorderError);
  const services = new ServiceCatalog(db, engines, bus, settings.scripting);
  const executions = new ExecutionLog(db, bus, recorder);
  const invoker = new Invoker(services, engines, executions, settings.scripting, onEngineInternal);
  return { settings, engines, services, executions, invoker, bus, recorder };
}
