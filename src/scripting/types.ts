/**
 * The engine interface: every script type (QuickJS in-process, or a
 * subprocess language runner) plugs in behind `ScriptEngine`. Engines never
 * touch the database or HTTP; they get a job and give back an outcome plus
 * log lines through `job.log`.
 */

import type { Diagnostic } from './diagnostics.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface ScriptRequest {
  method: string;
  uri: string;
  service: string;
  resource: string;
  parameters: Record<string, unknown>;
  headers: Record<string, string>;
  payload: unknown;
  content: string;
  content_type: string | null;
  api_version: string;
}

export interface ScriptResponse {
  status_code: number;
  content: unknown;
  content_type: string | null;
  headers: Record<string, string>;
}

/** The `event` a script receives (contract section 3). */
export interface ScriptEvent {
  request: ScriptRequest;
  resource: string;
  response: ScriptResponse;
  [extra: string]: unknown;
}

/** What `platform.api.<verb>(path, payload, options)` sends back to the domain. */
export interface ApiCall {
  method: string;
  path: string;
  payload?: unknown;
  options?: { parameters?: Record<string, unknown>; headers?: Record<string, string> };
}

/** What a `platform.api` call resolves to inside a script. */
export interface ApiResult {
  status_code: number;
  content: unknown;
  content_type: string | null;
  headers: Record<string, string>;
}

export type LogStream = 'STDOUT' | 'STDERR' | 'CONSOLE' | 'SYSTEM';

export interface ScriptLimits {
  timeoutMs: number;
  memoryLimitMb: number;
  /** Bytes of log output kept per execution; past it lines are dropped and truncation is logged once. */
  maxLogBytes: number;
  /**
   * Bytes of response body the platform will send. The domain enforces it;
   * engines may refuse earlier (before copying a huge result into the host).
   */
  maxResponseBytes: number;
  /** Whether the script may reach the network (subprocess engines; QuickJS has none anyway). */
  network: boolean;
}

export interface ScriptJob {
  executionId: string;
  /**
   * Identifies the script's owner (service name, or event script name).
   * Engines that keep warm state keep it per key, never across keys.
   */
  scriptKey: string;
  script: string;
  event: ScriptEvent;
  /**
   * `platform.config` and `platform.session`, already safe to expose, and
   * `platform.secrets`: the owning service's secret values, for the script
   * only (engines must never log or persist them; absent means none).
   */
  platform: { config: Record<string, unknown>; session: Record<string, unknown>; secrets?: Readonly<Record<string, string>> };
  limits: ScriptLimits;
  /** Dispatches `platform.api` calls in-process (never over HTTP). Never rejects for HTTP error statuses. */
  api: (call: ApiCall) => Promise<ApiResult>;
  /** Called for each line the script writes, as it is written. */
  log: (stream: LogStream, message: string) => void;
  /**
   * `platform.api` hops that led to this run (0 for an outside call). A
   * nested run's callers wait for it holding their own workers, so engines
   * must not queue it behind fair shares or capacity (that deadlocks).
   */
  depth?: number;
  /**
   * The service version being run: engines that keep warm state per script
   * keep it per version too, so a rollback to an older script never meets
   * state made by another version (absent for event scripts and inline runs).
   */
  version?: number;
  /**
   * Receives what the run cost, once, before the run settles (also when it
   * fails); absent when nobody records it, and then engines measure nothing.
   */
  usage?: (usage: RunUsage) => void;
  /**
   * Whether the caller reads changes the script made to `event.request`
   * (event scripts will); engines may skip returning it otherwise.
   */
  wantRequest?: boolean;
}

/** What one run cost, as its engine measures it (docs/AUTHORING.md says how, per engine). */
export interface RunUsage {
  cpuMs: number | null;
  peakMemoryBytes: number | null;
}

export interface ScriptOutcome {
  /** The script's return value; `undefined` when it returned nothing (or null / empty). */
  returned: unknown;
  /** The event as the script left it (request and response may have been changed). */
  event: ScriptEvent;
}

export interface ScriptTypeInfo {
  name: string;
  label: string;
  description: string;
  sandboxed: boolean;
  supportsInlineExecution: boolean;
  engine: 'quickjs-wasm' | 'subprocess';
  available: boolean;
  version: string | null;
  unavailableReason: string | null;
  /** Set when the type runs without its sandbox by the operator's choice (SCRIPT_SANDBOX=off): what that exposes, logged loudly at start. */
  sandboxWarning?: string | null;
}

export interface ScriptEngine {
  readonly info: ScriptTypeInfo;
  /** Detects the interpreter / loads the runtime. Never throws: failure makes `info.available` false. */
  start(): Promise<void>;
  /** Runs one job. Rejects only with `ScriptFailure`. */
  run(job: ScriptJob): Promise<ScriptOutcome>;
  /**
   * Compiles `script` without running any of it: the diagnostics a save or
   * an editor shows (empty when it compiles). Rejects only with ScriptFailure
   * (unavailable, overloaded, timeout, crashed).
   */
  check?(script: string): Promise<Diagnostic[]>;
  /** Drops warm state kept for an owner whose script changed or was deleted. */
  forget?(scriptKey: string): void;
  /** Lets in-flight jobs finish up to `deadlineMs`, then releases everything (workers, timers). */
  stop(deadlineMs?: number): Promise<void>;
}

/**
 * `platform.api` calls one run may have in flight at once. Past it a call
 * fails at once (a flood loop stops growing host memory); the domain checks
 * the same bound for every engine.
 */
export const MAX_API_CALLS_IN_FLIGHT = 64;
