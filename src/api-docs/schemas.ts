/**
 * The shared parts of every generated document: security schemes, the error
 * response, and the record shapes of the system API (JSON Schema 2020-12, as
 * OpenAPI 3.1 reads it). Shapes follow src/system/*'s record functions.
 */

import { EXECUTION_STATUSES } from '../domain/executions.ts';

export type Schema = Record<string, unknown>;

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

/** DreamFactory's list envelope: `{resource: [...], meta?: {count}}`. */
export const listOf = (item: Schema): Schema => ({
  type: 'object',
  required: ['resource'],
  properties: {
    resource: { type: 'array', items: item },
    meta: { type: 'object', properties: { count: { type: 'integer', description: 'All matching records, with `include_count=true`.' } } },
  },
});

/** What a create takes: one record (answered unwrapped) or `{resource: [...]}` (answered as a list). */
export const oneOrBatch = (item: Schema): Schema => ({
  oneOf: [item, { type: 'object', required: ['resource'], properties: { resource: { type: 'array', items: item, minItems: 1 } } }],
});

const text = { type: 'string' };
const nullableText = { type: ['string', 'null'] };
const flag = { type: 'boolean' };
const id = { type: 'integer', minimum: 1 };
const dateTime = { type: 'string', format: 'date-time' };

/** Every way a key may be sent (src/http/credentials.ts). */
export const SECURITY_SCHEMES = {
  ApiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-DreamFactory-API-Key', description: 'The administrator key or an app key.' },
  BearerAuth: { type: 'http', scheme: 'bearer', description: 'The same key as `Authorization: Bearer KEY`.' },
  ApiKeyQuery: { type: 'apiKey', in: 'query', name: 'api_key', description: 'The same key in the query string.' },
} as const;

/** Any one scheme suffices. */
export const SECURITY = Object.keys(SECURITY_SCHEMES).map((name) => ({ [name]: [] }));

export const ERROR_SCHEMA: Schema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'status_code'],
      properties: {
        code: { type: 'integer', description: 'The HTTP status, or DreamFactory\'s 1000 for a batch error.' },
        context: { description: 'What the error is about (a field, the failed records of a batch), or null.' },
        message: text,
        status_code: { type: 'integer' },
      },
    },
  },
};

export const ERROR_RESPONSE = {
  description: 'An error: 400 bad input, 401 no or a wrong key, 403 not allowed, 404 not found, 405 verb not supported, 429 rate limited, 5xx.',
  content: { 'application/json': { schema: ref('Error') } },
};

const scriptConfig: Schema = {
  type: 'object',
  description: 'Settings sent to every run as `platform.config` (at most 64 KiB as JSON); a PATCH merges it, `null` removes a key.',
  properties: {
    content: { type: 'string', description: 'The script, when not sent as `content`.' },
    timeout_ms: { type: 'integer', minimum: 1 },
    memory_limit_mb: { type: 'integer', minimum: 1 },
    max_log_bytes: { type: 'integer', minimum: 1 },
    network: { type: 'boolean', description: 'false: subprocess scripts get no network.' },
    run_details: { type: 'boolean', description: "false: this script's executions keep neither the request nor CPU and memory figures (replay has nothing to run)." },
    paths: { type: 'array', items: text, description: 'Resource templates (`items/{id}`) for event names and the generated API docs.' },
    openapi: { type: 'object', description: 'The service\'s own OpenAPI 3.x document, served at /api/v2/api_docs/{service}.' },
  },
  additionalProperties: true,
};

export const SYSTEM_SCHEMAS: Record<string, Schema> = {
  Error: ERROR_SCHEMA,
  Component: { type: 'object', properties: { name: text } },
  Service: {
    type: 'object',
    properties: {
      id: { type: 'integer', description: '0 is the built-in system service.' },
      name: text,
      label: text,
      description: nullableText,
      is_active: flag,
      type: { type: 'string', description: 'A script type (`javascript`, `nodejs`, `python`, `python3`, `php`), or `system`.' },
      mutable: flag,
      deletable: flag,
      created_date: { type: ['string', 'null'], format: 'date-time' },
      last_modified_date: { type: ['string', 'null'], format: 'date-time' },
      created_by_id: { type: 'null' },
      last_modified_by_id: { type: 'null' },
      version: { type: 'integer', description: 'The current version (absent on the system service): 1 on create, one more for every save that changes type, script or config, and for a rollback.' },
      config: scriptConfig,
      graphql: { type: ['string', 'null'], description: 'GraphQL SDL extending Query and/or Mutation with typed fields that call this service (docs/GRAPHQL-FIELDS.md).' },
    },
  },
  ServiceInput: {
    type: 'object',
    properties: {
      name: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,40}$', description: 'Lower-cased on save; `system` and `api_docs` are reserved.' },
      message: { type: 'string', maxLength: 500, description: 'Kept with the version this save makes (a save that changes type, script or config).' },
      rollback_to_version: { type: 'integer', minimum: 1, description: 'PATCH only, with at most `message` beside it: a new version equal to this one (history is never rewritten).' },
      label: { type: 'string', maxLength: 80 },
      description: { type: 'string', maxLength: 255 },
      skip_syntax_check: { type: 'boolean', description: 'Store a script that does not compile (work in progress); saving one is 400 otherwise.' },
      is_active: flag,
      type: text,
      content: { type: 'string', description: 'The script (at most SCRIPT_MAX_BYTES).' },
      config: scriptConfig,
      graphql: { type: ['string', 'null'], description: 'GraphQL SDL (at most 64 KiB) extending Query and/or Mutation; null removes it.' },
    },
  },
  Created: { type: 'object', properties: { id } },
  SecretName: { type: 'object', properties: { name: text } },
  SecretValue: { type: 'object', required: ['value'], properties: { value: { type: 'string', description: 'Write-only: never answered back.' } } },
  ScriptType: {
    type: 'object',
    properties: {
      name: text,
      label: text,
      description: text,
      sandboxed: flag,
      supports_inline_execution: flag,
      available: flag,
      version: nullableText,
      engine: text,
      unavailable_reason: { type: 'string', description: 'Only when `available` is false.' },
    },
  },
  Execution: {
    type: 'object',
    properties: {
      id: { type: 'string', description: 'A UUIDv7.' },
      service: text,
      event_name: nullableText,
      parent_execution_id: nullableText,
      script_type: text,
      status: { type: 'string', enum: [...EXECUTION_STATUSES] },
      trigger: text,
      started_at: dateTime,
      finished_at: { type: ['string', 'null'], format: 'date-time' },
      duration_ms: { type: ['number', 'null'] },
      status_code: { type: ['integer', 'null'] },
      error: {},
      log_bytes: { type: 'integer' },
      logs_truncated: flag,
      service_id: { type: ['integer', 'null'], description: 'The service that ran; null for event scripts and unsaved scripts.' },
      service_version: { type: ['integer', 'null'], description: 'Its version that ran.' },
      replay_of: { type: ['string', 'null'], description: 'The execution this run replayed.' },
      cpu_ms: { type: ['number', 'null'], description: 'CPU time of the run, as its engine measures it (docs/AUTHORING.md).' },
      peak_memory_bytes: { type: ['number', 'null'], description: 'Peak memory of the run, as its engine measures it (docs/AUTHORING.md).' },
      request: {
        type: ['object', 'null'],
        description: 'The request it ran with: method, resource, parameters, headers (no credentials), contentType, payload (the body as text, at most 64 KiB), payloadTruncated.',
      },
    },
  },
  ServiceVersion: {
    type: 'object',
    properties: {
      version: { type: 'integer' },
      type: text,
      config: scriptConfig,
      message: nullableText,
      saved_at: dateTime,
      saved_by: { type: 'string', description: '`admin`, or the app whose key saved it.' },
    },
  },
  ExecutionWithLogs: {
    allOf: [
      ref('Execution'),
      {
        type: 'object',
        properties: {
          logs: {
            type: 'array',
            items: { type: 'object', properties: { sequence: { type: 'integer' }, stream: text, message: text, timestamp: dateTime } },
          },
          logs_more: { type: 'boolean', description: 'More lines follow: ask again with `log_after` set to the last sequence.' },
        },
      },
    ],
  },
  EventScript: {
    type: 'object',
    properties: {
      name: { type: 'string', description: '`{service}[.{path...}].{verb}.{pre_process|post_process|queued}`' },
      type: text,
      content: text,
      is_active: flag,
      allow_event_modification: flag,
      config: { type: 'object' },
      created_date: dateTime,
      last_modified_date: dateTime,
    },
  },
  EventScriptInput: {
    type: 'object',
    properties: {
      type: text,
      content: text,
      is_active: flag,
      allow_event_modification: flag,
      config: { type: 'object', description: 'As a service\'s, plus `retries` for queued scripts.' },
      skip_syntax_check: { type: 'boolean', description: 'Store a script that does not compile (work in progress); saving one is 400 otherwise.' },
    },
  },
  EventNames: {
    type: 'object',
    properties: {
      resource: {
        type: 'array',
        items: { oneOf: [{ type: 'string' }, { type: 'object', properties: { name: text, events: { type: 'array', items: text } } }] },
        description: 'Names grouped by service, or a flat list with `as_list=true`.',
      },
    },
  },
  AccessRow: {
    type: 'object',
    properties: {
      id: { type: 'integer' },
      role_id: { type: 'integer' },
      service_id: { type: ['integer', 'null'], description: 'null: every service; 0: system.' },
      component: { type: 'string', description: 'Exact, `prefix/*` or `*`.' },
      verb_mask: { type: 'integer', description: 'GET 1, POST 2, PUT 4, PATCH 8, DELETE 16.' },
      requestor_mask: { type: 'integer', description: 'API 1, SCRIPT 2.' },
      filters: { type: 'array' },
      filter_op: text,
    },
  },
  Role: {
    type: 'object',
    properties: {
      id,
      name: text,
      description: nullableText,
      is_active: flag,
      rate_limit_per_minute: { type: ['integer', 'null'] },
      created_date: dateTime,
      last_modified_date: dateTime,
      created_by_id: { type: 'null' },
      last_modified_by_id: { type: 'null' },
      role_service_access_by_role_id: { type: 'array', items: ref('AccessRow'), description: 'With `related=role_service_access_by_role_id`.' },
    },
  },
  RoleInput: {
    type: 'object',
    properties: {
      name: text,
      description: text,
      is_active: flag,
      rate_limit_per_minute: { type: ['integer', 'null'] },
      role_service_access_by_role_id: {
        type: 'array',
        description: 'Replaces the role\'s grants; a row with `role_id: null` is dropped.',
        items: { type: 'object', properties: { service_id: { type: ['integer', 'null'] }, component: text, verb_mask: { type: 'integer' }, requestor_mask: { type: 'integer' } } },
      },
    },
  },
  App: {
    type: 'object',
    properties: {
      id,
      name: text,
      description: nullableText,
      is_active: flag,
      role_id: { type: 'integer' },
      api_key_prefix: { type: 'string', description: 'Tells keys apart; the key itself is shown only when made.' },
      rate_limit_per_minute: { type: ['integer', 'null'] },
      created_date: dateTime,
      last_modified_date: dateTime,
      created_by_id: { type: 'null' },
      last_modified_by_id: { type: 'null' },
      api_key: { type: 'string', description: 'Only in the answer to `regenerate=true`.' },
    },
  },
  AppInput: {
    type: 'object',
    properties: { name: text, description: text, is_active: flag, role_id: { type: 'integer' }, rate_limit_per_minute: { type: ['integer', 'null'] } },
  },
  AppCreated: { type: 'object', properties: { id, name: text, api_key: { type: 'string', description: 'Shown once.' } } },
};
