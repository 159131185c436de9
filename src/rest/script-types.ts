import type { FastifyInstance } from 'fastify';
import { notFound } from '../domain/errors.ts';
import type { Platform } from '../domain/platform.ts';
import type { ScriptTypeInfo } from '../scripting/types.ts';

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

export function scriptTypeRoutes(app: FastifyInstance, platform: Platform): void {
  app.get('/api/v2/system/script_type', async () => ({ resource: platform.engines.list().map(record) }));
  app.get<{ Params: { name: string } }>('/api/v2/system/script_type/:name', async (request) => {
    const engine = platform.engines.find(request.params.name.toLowerCase());
    if (!engine) throw notFound(`Script type "${request.params.name}" not found.`);
    return record(engine.info);
  });
}
