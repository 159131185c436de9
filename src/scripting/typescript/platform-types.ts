/**
 * Type declarations for a `typescript` script's `event` and `platform`
 * (docs/SCRIPTING.md's contract), served at
 * /api/v2/system/script_type/typescript/types for editors. Types are only
 * for the editor: scripts are never type-checked when they run.
 */
export const PLATFORM_TYPES = `// Scriptgate: the globals of a typescript (and javascript) script.
// The script is the body of an async function of (event, platform): \`return\` and \`await\` work.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface ScriptRequest {
  method: string;
  uri: string;
  service: string;
  resource: string;
  /** The query string. */
  parameters: Record<string, string | string[]>;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** The body, parsed by its content type (JSON, form). */
  payload: any;
  /** The raw body. */
  content: string;
  content_type: string | null;
  api_version: string;
}

interface ScriptResponse {
  status_code: number;
  content: unknown;
  content_type: string | null;
  headers: Record<string, string>;
}

interface ScriptEvent {
  request: ScriptRequest;
  /** The path after the service name ("" for none). */
  resource: string;
  response: ScriptResponse;
  /** Sets event.response; a missing or falsy status is 200, a missing type application/json. */
  setResponse(content: unknown, statusCode?: number, contentType?: string): void;
  [extra: string]: unknown;
}

interface ApiResult {
  status_code: number;
  content: any;
  content_type: string | null;
  headers: Record<string, string>;
}

interface ApiOptions {
  parameters?: Record<string, unknown>;
  headers?: Record<string, string | number | boolean>;
}

interface PlatformApi {
  get(path: string, options?: ApiOptions): Promise<ApiResult>;
  post(path: string, payload?: unknown, options?: ApiOptions): Promise<ApiResult>;
  put(path: string, payload?: unknown, options?: ApiOptions): Promise<ApiResult>;
  patch(path: string, payload?: unknown, options?: ApiOptions): Promise<ApiResult>;
  delete(path: string, options?: ApiOptions): Promise<ApiResult>;
}

interface Platform {
  /** Calls another service of this platform in-process (\`svc/resource\`), checked as requestor SCRIPT; never throws on an error status. */
  api: PlatformApi;
  /** The service's own config. */
  config: Record<string, Json>;
  /** Who is calling: user, app, role (never keys or tokens). */
  session: Record<string, Json>;
  /** The service's secrets (read-only). */
  secrets: Readonly<Record<string, string>>;
}

declare const event: ScriptEvent;
declare const platform: Platform;
declare const console: Record<'log' | 'info' | 'warn' | 'error' | 'debug' | 'trace', (...values: unknown[]) => void>;
declare function setTimeout(callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): number;
declare function clearTimeout(id: number | undefined): void;
`;
