import type { Caller } from '../domain/caller.ts';
import { notFound } from '../domain/errors.ts';
import type { InvokeRequest } from '../domain/invoke.ts';
import type { EngineRegistry } from '../scripting/registry.ts';
import type { ScriptTypeInfo } from '../scripting/types.ts';
import type { SystemAnswer, SystemComponent } from './component.ts';
import { methodNotAllowed } from './query.ts';

/** DreamFactory's five fields first, then ours (its clients ignore unknown ones). */
function record(info: ScriptTypeInfo) {
  return {
    name: info.name,
    label: info.label,
    description: info.description,
    sandboxed: info.sandboxed,
    supports_inline_execution: info.supportsInlineExecution,
    available: info.available,
    version: info.version,
    engine: info.engine,
    ...(info.available ? {} : { unavailable_reason: info.unavailableReason }),
  };
}

/** `system/script_type`: the script types and whether this server can run them (read-only). */
export class ScriptTypesComponent implements SystemComponent {
  readonly name = 'script_type';
  readonly templates = ['script_type/{name}'];

  constructor(private readonly engines: EngineRegistry) {}

  async handle(request: InvokeRequest, rest: string[], _caller: Caller): Promise<SystemAnswer> {
    if (request.method !== 'GET') throw methodNotAllowed(request.method, 'system/script_type');
    if (rest.length === 0) return { content: { resource: this.engines.list().map(record) } };
    const engine = rest.length === 1 ? this.engines.find(rest[0]!.toLowerCase()) : undefined;
    if (!engine) throw notFound(`Script type "${rest.join('/')}" not found.`);
    return { content: record(engine.info) };
  }
}
