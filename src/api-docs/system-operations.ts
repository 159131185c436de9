import { listOf, oneOrBatch, ref, type Schema } from './schemas.ts';

/**
 * Every operation the system API serves, one row each: the single source of
 * /api/v2/api_docs/system. test/api-docs.test.ts probes every component and
 * resource template the running server has with every verb, and fails when
 * one that answers is missing here, or one listed here is refused (405).
 */
export interface SystemOperation {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Under /api/v2/system; `{id}` and `{name}` as in the components' event templates. */
  path: string;
  summary: string;
  description?: string;
  query?: readonly QueryParameter[];
  body?: Schema;
  /** The success statuses (the first is the usual one). */
  statuses: readonly number[];
  response: Schema;
  /** Of the success response; application/json unless given. */
  contentType?: string;
}

/** Query parameters the system API reads (src/system/query.ts and the components). */
const QUERY_PARAMETERS = {
  fields: 'Comma list of the fields to answer (`*`: all).',
  ids: 'Comma list of ids to read.',
  filter: "DreamFactory's filter grammar: `name like 'a%' and is_active = true`.",
  limit: 'At most this many records.',
  offset: 'Skip this many records.',
  order: 'A field with optional ASC or DESC: `name desc`.',
  include_count: 'true: add `meta.count`, every matching record.',
  related: '`role_service_access_by_role_id` (or `*`): include the role\'s grants.',
  service: 'Only this service\'s records.',
  status: 'Only executions with this status.',
  as_list: 'true: one flat list of names.',
  log_after: 'Log lines after this sequence number.',
  log_limit: 'At most this many log lines (and at most 10,000).',
  regenerate: 'true: rotate the app\'s key; the answer holds the new one, shown once.',
} as const;

export type QueryParameter = keyof typeof QUERY_PARAMETERS;

const BOOLEAN_PARAMETERS = new Set<QueryParameter>(['include_count', 'as_list', 'regenerate']);
const INTEGER_PARAMETERS = new Set<QueryParameter>(['limit', 'offset', 'log_after', 'log_limit']);

export function queryParameter(name: QueryParameter): Schema {
  const type = BOOLEAN_PARAMETERS.has(name) ? 'boolean' : INTEGER_PARAMETERS.has(name) ? 'integer' : 'string';
  return { name, in: 'query', required: false, description: QUERY_PARAMETERS[name], schema: { type, ...(type === 'integer' ? { minimum: 0 } : {}) } };
}

const LIST: readonly QueryParameter[] = ['fields', 'limit', 'offset', 'include_count'];
const RECORDS: readonly QueryParameter[] = ['ids', 'filter', ...LIST, 'order'];
const ROLE_READ: readonly QueryParameter[] = ['related', 'fields'];

const record = (name: string) => ({ statuses: [200], response: ref(name) });

export const SYSTEM_OPERATIONS: readonly SystemOperation[] = [
  { method: 'get', path: '/', summary: 'List the system API\'s components', statuses: [200], response: listOf(ref('Component')) },

  // system/service
  { method: 'get', path: '/service', summary: 'List services', description: 'An unfiltered first page starts with the built-in `system` service (id 0).', query: RECORDS, statuses: [200], response: listOf(ref('Service')) },
  {
    method: 'post',
    path: '/service',
    summary: 'Create services',
    description: 'One record, or `{"resource": [...]}` (at most 500, all or none: a failure is error 1000 naming each failed record).',
    query: ['fields'],
    body: oneOrBatch(ref('ServiceInput')),
    statuses: [201],
    response: { oneOf: [ref('Created'), listOf(ref('Created'))] },
  },
  { method: 'get', path: '/service/{id}', summary: 'Read a service', query: ['fields'], ...record('Service') },
  { method: 'put', path: '/service/{id}', summary: 'Change a service (as PATCH)', body: ref('ServiceInput'), ...record('Service') },
  { method: 'patch', path: '/service/{id}', summary: 'Change a service', description: 'Given fields replace; `config` keys merge (`null` removes one). A save that changes type, script or config makes the next version (`message` is kept with it). `{"rollback_to_version": n, "message": "..."}` makes a new version equal to version n. The system service (0) cannot be changed.', body: ref('ServiceInput'), ...record('Service') },
  { method: 'delete', path: '/service/{id}', summary: 'Delete a service', ...record('Created') },
  { method: 'get', path: '/service/{id}/secret', summary: 'List a service\'s secret names', description: 'Values are write-only.', statuses: [200], response: listOf(ref('SecretName')) },
  { method: 'put', path: '/service/{id}/secret/{name}', summary: 'Set a secret', description: 'Scripts read it as `platform.secrets.NAME`; 201 created, 200 replaced.', body: ref('SecretValue'), statuses: [201, 200], response: ref('SecretName') },
  { method: 'post', path: '/service/{id}/secret/{name}', summary: 'Set a secret (as PUT)', body: ref('SecretValue'), statuses: [201, 200], response: ref('SecretName') },
  { method: 'delete', path: '/service/{id}/secret/{name}', summary: 'Delete a secret', ...record('SecretName') },
  { method: 'get', path: '/service/{id}/version', summary: 'List a service\'s versions, newest first', query: LIST, statuses: [200], response: listOf(ref('ServiceVersion')) },
  { method: 'get', path: '/service/{id}/version/{version}', summary: 'Read one version of a service', query: ['fields'], ...record('ServiceVersion') },

  // system/script_type
  { method: 'get', path: '/script_type', summary: 'List script types and whether this server runs them', statuses: [200], response: listOf(ref('ScriptType')) },
  { method: 'get', path: '/script_type/{name}', summary: 'Read a script type', ...record('ScriptType') },
  {
    method: 'get',
    path: '/script_type/{name}/types',
    summary: 'TypeScript declarations of `event` and `platform`, for editors',
    description: 'Only `typescript` has them (they describe `javascript` scripts too); any other name is 404.',
    statuses: [200],
    contentType: 'application/typescript',
    response: { type: 'string' },
  },

  // system/execution
  { method: 'get', path: '/execution', summary: 'List executions, newest first', description: 'At most 1,000 a page (100 by default).', query: ['filter', 'service', 'status', ...LIST], statuses: [200], response: listOf(ref('Execution')) },
  { method: 'get', path: '/execution/{id}', summary: 'Read an execution with its log', query: ['log_after', 'log_limit'], ...record('ExecutionWithLogs') },

  // system/event_script
  { method: 'get', path: '/event_script', summary: 'List event scripts', query: ['service', ...LIST], statuses: [200], response: listOf(ref('EventScript')) },
  { method: 'get', path: '/event_script/{name}', summary: 'Read an event script', query: ['fields'], ...record('EventScript') },
  { method: 'post', path: '/event_script/{name}', summary: 'Create or replace an event script', description: '201 created, 200 replaced.', query: ['fields'], body: ref('EventScriptInput'), statuses: [201, 200], response: ref('EventScript') },
  { method: 'put', path: '/event_script/{name}', summary: 'Change an event script (as PATCH)', query: ['fields'], body: ref('EventScriptInput'), ...record('EventScript') },
  { method: 'patch', path: '/event_script/{name}', summary: 'Change an event script', query: ['fields'], body: ref('EventScriptInput'), ...record('EventScript') },
  { method: 'delete', path: '/event_script/{name}', summary: 'Delete an event script', description: 'Answers `{name}`, or the record\'s `fields`.', query: ['fields'], ...record('EventScript') },

  // system/event
  { method: 'get', path: '/event', summary: 'List the event names scripts can hook', query: ['service', 'as_list'], ...record('EventNames') },

  // system/role
  { method: 'get', path: '/role', summary: 'List roles', query: ['related', ...RECORDS], statuses: [200], response: listOf(ref('Role')) },
  { method: 'post', path: '/role', summary: 'Create roles', description: 'One record, or `{"resource": [...]}`.', query: ROLE_READ, body: oneOrBatch(ref('RoleInput')), statuses: [201], response: { oneOf: [ref('Created'), ref('Role'), listOf(ref('Role'))] } },
  { method: 'get', path: '/role/{id}', summary: 'Read a role (by id or name)', query: ROLE_READ, ...record('Role') },
  { method: 'put', path: '/role/{id}', summary: 'Change a role (as PATCH)', query: ['related'], body: ref('RoleInput'), ...record('Role') },
  { method: 'patch', path: '/role/{id}', summary: 'Change a role', description: 'Given grants replace the role\'s.', query: ['related'], body: ref('RoleInput'), ...record('Role') },
  { method: 'delete', path: '/role/{id}', summary: 'Delete a role', ...record('Created') },

  // system/app
  { method: 'get', path: '/app', summary: 'List apps', query: RECORDS, statuses: [200], response: listOf(ref('App')) },
  { method: 'post', path: '/app', summary: 'Create apps', description: 'The answer holds each new key, shown once.', body: oneOrBatch(ref('AppInput')), statuses: [201], response: { oneOf: [ref('AppCreated'), listOf(ref('AppCreated'))] } },
  { method: 'get', path: '/app/{id}', summary: 'Read an app (by id or name)', query: ['fields'], ...record('App') },
  { method: 'put', path: '/app/{id}', summary: 'Change an app (as PATCH)', query: ['regenerate'], body: ref('AppInput'), ...record('App') },
  { method: 'patch', path: '/app/{id}', summary: 'Change an app, or rotate its key', query: ['regenerate'], body: ref('AppInput'), ...record('App') },
  { method: 'delete', path: '/app/{id}', summary: 'Delete an app', ...record('Created') },
];
