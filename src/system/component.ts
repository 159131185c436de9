import type { Caller } from '../domain/caller.ts';
import type { InvokeRequest } from '../domain/invoke.ts';

/**
 * One resource of the built-in `system` service (`system/service`,
 * `system/event_script`, ...). Components take the request as the pipeline
 * holds it (event scripts may have changed it) and answer in DreamFactory's
 * shapes; they never see HTTP.
 */
export interface SystemComponent {
  /** The first resource segment: `service` for `system/service/...`. */
  readonly name: string;
  /** Resource templates under `system`, for event names (`service/{id}`). */
  readonly templates: readonly string[];
  /** `rest` is the resource's segments after the component's name. */
  handle(request: InvokeRequest, rest: string[], caller: Caller): Promise<SystemAnswer>;
}

export interface SystemAnswer {
  statusCode?: number;
  content: unknown;
  /** Default application/json; text answers (a type declarations file) name theirs. */
  contentType?: string;
  /**
   * The domain records behind `content` (services, event scripts), so the
   * GraphQL adapter can return them without reading them again when no
   * event script replaced the content.
   */
  rows?: readonly unknown[];
}

/** Rows behind a content object, for as long as that object lives. */
export const rowsBehind = new WeakMap<object, readonly unknown[]>();
