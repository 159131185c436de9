import type { Caller } from '../domain/caller.ts';
import { notFound } from '../domain/errors.ts';
import type { InvokeRequest, InvokeResult } from '../domain/invoke.ts';
import { rowsBehind, type SystemAnswer, type SystemComponent } from './component.ts';
import { methodNotAllowed } from './query.ts';

/**
 * The built-in `system` service: DreamFactory's system API as one endpoint
 * of the pipeline, so access checks and event scripts apply to it as to any
 * scripted service. It routes `system/{component}/...` to its components.
 */
export class SystemService {
  private readonly components = new Map<string, SystemComponent>();
  /** Resource templates for event names: each component's own and its name. */
  readonly templates: string[][] = [];

  register(component: SystemComponent): void {
    this.components.set(component.name, component);
    this.templates.push([component.name], ...component.templates.map((t) => t.split('/')));
  }

  /** `service/{id}`-style templates, for the scriptable event names. */
  templateStrings(): string[] {
    return this.templates.map((t) => t.join('/'));
  }

  async handle(request: InvokeRequest, caller: Caller): Promise<InvokeResult> {
    const [name, ...rest] = request.resource.split('/').filter(Boolean);
    let answer: SystemAnswer;
    if (name === undefined) {
      if (request.method !== 'GET') throw methodNotAllowed(request.method, 'system');
      answer = { content: { resource: [...this.components.keys()].map((component) => ({ name: component })) } };
    } else {
      const component = this.components.get(name);
      if (!component) throw notFound(`Resource "${request.resource}" not found in system.`);
      answer = await component.handle(request, rest, caller);
    }
    const { content, rows, statusCode = 200, contentType = 'application/json' } = answer;
    if (rows && content !== null && typeof content === 'object') rowsBehind.set(content, rows);
    return { statusCode, content, contentType, headers: {}, executionId: null };
  }
}
