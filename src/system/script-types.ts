import type { Caller } from '../domain/caller.ts';
import { notFound } from '../domain/errors.ts';
import type { InvokeRequest } from '../domain/invoke.ts';
import type { EngineRegistry } from '../scripting/registry.ts';
import { PLATFORM_TYPES } from '../scripting/typescript/platform-types.ts';
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
  readonly templates = ['script_type/{name}', 'script_type/{name}/types'];

  constructor(private readonly engines: EngineRegistry) {}

  /** `script_type/typescript/types`: the TypeScript declarations of `event` and `platform`, for editors. */
  private async typeDeclarations(request: InvokeRequest, name: string): Promise<SystemAnswer> {
    if (request.method !== 'GET') throw methodNotAllowed(request.method, `system/script_type/${name}/types`);
    if (name.toLowerCase() !== 'typescript' || !this.engines.find('typescript')) throw notFound(`Script type "${name}" has no type declarations.`);
    return { content: PLATFORM_TYPES, contentType: 'application/typescript; charset=utf-8' };
  }

  async handle(request: InvokeRequest, rest: string[], _caller: Caller): Promise<SystemAnswer> {
    if (rest.length === 2 && rest[1] === 'types') return this.typeDeclarations(request, rest[0]!);
    if (request.method !== 'GET') throw methodNotAllowed(request.method, 'system/script_type');
    // A listing right after start waits for the engines' starts: it shows what calls will find.
    const types = await this.engines.settledList();
    if (rest.length === 0) return { content: { resource: types.map(record) } };
    const info = rest.length === 1 ? types.find((type) => type.name === rest[0]!.toLowerCase()) : undefined;
    if (!info) throw notFound(`Script type "${rest.join('/')}" not found.`);
    return { content: record(info) };
  }
}
