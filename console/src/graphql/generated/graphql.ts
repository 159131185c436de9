/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** A script to compile without running it. */
export type CheckScriptInput = {
  /** The script. */
  content: string;
  /** A script type name, as in `scriptTypes`. */
  type: string;
};

export type CreateAppInput = {
  description?: string | null | undefined;
  isActive?: boolean | null | undefined;
  /** 1 to 64 letters, digits, "_", "." or "-"; not only digits. */
  name: string;
  /** Requests per minute; null: no limit. */
  rateLimitPerMinute?: number | null | undefined;
  /** The role's name. */
  role: string;
};

export type CreateRoleInput = {
  /** The whole access list (at most 200 rows). */
  access?: Array<RoleAccessInput> | null | undefined;
  description?: string | null | undefined;
  isActive?: boolean | null | undefined;
  /** 1 to 64 letters, digits, "_", "." or "-"; not only digits. */
  name: string;
  /** Requests per minute for each of its apps; null: no limit. */
  rateLimitPerMinute?: number | null | undefined;
};

export type CreateServiceInput = {
  /** Other settings, e.g. timeout_ms, memory_limit_mb, run_details (false: no request or figures recorded). */
  config?: unknown;
  /** The script. */
  content: string;
  /** At most 255 characters. */
  description?: string | null | undefined;
  /** GraphQL SDL: "extend type Query { ... }" and/or "extend type Mutation { ... }" with the object, input and enum types those fields use; each field calls this service (docs/GRAPHQL-FIELDS.md). */
  graphql?: string | null | undefined;
  isActive?: boolean | null | undefined;
  /** At most 80 characters; defaults to the name. */
  label?: string | null | undefined;
  /** Kept with the version this save makes (when it changes type, script or config); at most 500 characters. */
  message?: string | null | undefined;
  /** Letters, digits, "_" and "-"; at most 40; stored lower-case. */
  name: string;
  /** Store the script even when it does not compile (work in progress); running it then fails. */
  skipSyntaxCheck?: boolean | null | undefined;
  /** A script type name. */
  type: string;
};

/** ERROR: the script would not compile (a save is refused). WARNING: it would, with a note. */
export type DiagnosticSeverity =
  | 'ERROR'
  | 'WARNING';

/** The whole event script: fields not given take their defaults. */
export type EventScriptInput = {
  /** Default false. */
  allowEventModification?: boolean | null | undefined;
  /** timeout_ms, memory_limit_mb, max_log_bytes, network, run_details (false: no request or figures recorded), retries (0 to 10, queued scripts). */
  config?: unknown;
  /** The script; empty by default. */
  content?: string | null | undefined;
  /** Default true. */
  isActive?: boolean | null | undefined;
  /** Store the script even when it does not compile (work in progress); running it then fails. */
  skipSyntaxCheck?: boolean | null | undefined;
  /** A script type name. */
  type: string;
};

export type ExecutionStatus =
  | 'FAILED'
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'TIMED_OUT';

export type LogStream =
  | 'CONSOLE'
  | 'STDERR'
  | 'STDOUT'
  | 'SYSTEM';

export type RoleAccessInput = {
  /** '' (default: the service root), an exact resource path, prefix/* or *. */
  component?: string | null | undefined;
  /** API 1 (default), SCRIPT 2, both 3. */
  requestorMask?: number | null | undefined;
  /** A service name, "system" for the system API; null or absent: every service. */
  service?: string | null | undefined;
  /** GET 1, POST 2, PUT 4, PATCH 8, DELETE 16. */
  verbMask: number;
};

/** A script to run without saving it: the fields a service would have. */
export type RunScriptInput = {
  /** As a service config: timeout_ms, memory_limit_mb, max_log_bytes, and what platform.config shows. */
  config?: unknown;
  /** The script. */
  content: string;
  /** A script type name, as in `scriptTypes`. */
  type: string;
};

export type UpdateRoleInput = {
  /** The whole access list (at most 200 rows); given, it replaces the old one. */
  access?: Array<RoleAccessInput> | null | undefined;
  description?: string | null | undefined;
  isActive?: boolean | null | undefined;
  /** 1 to 64 letters, digits, "_", "." or "-"; not only digits. */
  name?: string | null | undefined;
  /** Requests per minute for each of its apps; null: no limit. */
  rateLimitPerMinute?: number | null | undefined;
};

export type UpdateServiceInput = {
  /** Keys to set; null removes a key; keys not given stay. */
  config?: unknown;
  /** The script. */
  content?: string | null | undefined;
  /** At most 255 characters. */
  description?: string | null | undefined;
  /** GraphQL SDL: "extend type Query { ... }" and/or "extend type Mutation { ... }" with the object, input and enum types those fields use; each field calls this service (docs/GRAPHQL-FIELDS.md). null or "" removes it. */
  graphql?: string | null | undefined;
  isActive?: boolean | null | undefined;
  /** At most 80 characters; defaults to the name. */
  label?: string | null | undefined;
  /** Kept with the version this save makes (when it changes type, script or config); at most 500 characters. */
  message?: string | null | undefined;
  name?: string | null | undefined;
  /** Store the script even when it does not compile (work in progress); running it then fails. */
  skipSyntaxCheck?: boolean | null | undefined;
  type?: string | null | undefined;
};

export type RoleFieldsFragment = { id: number, name: string, description: string, isActive: boolean, access: Array<{ id: number, service: string | null, component: string, verbMask: number, requestorMask: number }> };

export type AccessQueryVariables = Exact<{ [key: string]: never; }>;


export type AccessQuery = { roles: Array<{ id: number, name: string, description: string, isActive: boolean, access: Array<{ id: number, service: string | null, component: string, verbMask: number, requestorMask: number }> }>, apps: Array<{ id: number, name: string, description: string, isActive: boolean, apiKeyPrefix: string, role: { name: string } }> };

export type CreateRoleMutationVariables = Exact<{
  input: CreateRoleInput;
}>;


export type CreateRoleMutation = { createRole: { id: number, name: string, description: string, isActive: boolean, access: Array<{ id: number, service: string | null, component: string, verbMask: number, requestorMask: number }> } };

export type UpdateRoleMutationVariables = Exact<{
  name: string;
  input: UpdateRoleInput;
}>;


export type UpdateRoleMutation = { updateRole: { id: number, name: string, description: string, isActive: boolean, access: Array<{ id: number, service: string | null, component: string, verbMask: number, requestorMask: number }> } };

export type CreateAppMutationVariables = Exact<{
  input: CreateAppInput;
}>;


export type CreateAppMutation = { createApp: { apiKey: string, app: { name: string } } };

export type RotateAppKeyMutationVariables = Exact<{
  name: string;
}>;


export type RotateAppKeyMutation = { rotateAppKey: { apiKey: string, app: { name: string } } };

export type DeleteAppMutationVariables = Exact<{
  name: string;
}>;


export type DeleteAppMutation = { deleteApp: boolean };

export type EventScriptsQueryVariables = Exact<{ [key: string]: never; }>;


export type EventScriptsQuery = { eventScripts: Array<{ name: string, type: string, isActive: boolean, allowEventModification: boolean, updatedAt: string }> };

export type EventScriptDetailQueryVariables = Exact<{
  name: string;
}>;


export type EventScriptDetailQuery = { eventScript: { name: string, type: string, content: string, config: unknown, isActive: boolean, allowEventModification: boolean } | null };

export type EventNamesQueryVariables = Exact<{
  service?: string | null | undefined;
}>;


export type EventNamesQuery = { events: Array<string> };

export type UpsertEventScriptMutationVariables = Exact<{
  name: string;
  input: EventScriptInput;
}>;


export type UpsertEventScriptMutation = { upsertEventScript: { name: string, updatedAt: string } };

export type DeleteEventScriptMutationVariables = Exact<{
  name: string;
}>;


export type DeleteEventScriptMutation = { deleteEventScript: boolean };

export type ExecutionSummaryFragment = { id: string, service: string, eventName: string | null, scriptType: string, status: ExecutionStatus, statusCode: number | null, trigger: string, startedAt: string, durationMs: number | null, serviceVersion: number | null, error: { message: string, kind: string | null, line: number | null } | null };

export type RecentExecutionsQueryVariables = Exact<{
  service?: string | null | undefined;
  status?: ExecutionStatus | null | undefined;
  first?: number | null | undefined;
}>;


export type RecentExecutionsQuery = { executions: { edges: Array<{ node: { id: string, service: string, eventName: string | null, scriptType: string, status: ExecutionStatus, statusCode: number | null, trigger: string, startedAt: string, durationMs: number | null, serviceVersion: number | null, error: { message: string, kind: string | null, line: number | null } | null } }> } };

export type ExecutionDetailQueryVariables = Exact<{
  id: string | number;
}>;


export type ExecutionDetailQuery = { execution: { finishedAt: string | null, cpuMs: number | null, peakMemoryBytes: number | null, request: unknown, logsTruncated: boolean, id: string, service: string, eventName: string | null, scriptType: string, status: ExecutionStatus, statusCode: number | null, trigger: string, startedAt: string, durationMs: number | null, serviceVersion: number | null, children: Array<{ id: string, service: string, eventName: string | null, scriptType: string, status: ExecutionStatus, statusCode: number | null, trigger: string, startedAt: string, durationMs: number | null, serviceVersion: number | null, error: { message: string, kind: string | null, line: number | null } | null }>, logs: { edges: Array<{ node: { sequence: number, stream: LogStream, message: string, timestamp: string } }> }, error: { message: string, kind: string | null, line: number | null } | null } | null };

export type ExecutionUpdatesSubscriptionVariables = Exact<{
  service?: string | null | undefined;
}>;


export type ExecutionUpdatesSubscription = { executionUpdated: { request: unknown, id: string, service: string, eventName: string | null, scriptType: string, status: ExecutionStatus, statusCode: number | null, trigger: string, startedAt: string, durationMs: number | null, serviceVersion: number | null, error: { message: string, kind: string | null, line: number | null } | null } };

export type LogLinesSubscriptionVariables = Exact<{
  service?: string | null | undefined;
  executionId?: string | number | null | undefined;
}>;


export type LogLinesSubscription = { executionLogs: { executionId: string, sequence: number, stream: LogStream, message: string, timestamp: string } };

export type ScriptTypesQueryVariables = Exact<{ [key: string]: never; }>;


export type ScriptTypesQuery = { scriptTypes: Array<{ name: string, label: string, available: boolean, unavailableReason: string | null, engine: string, version: string | null }> };

export type ServiceListQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  filter?: string | null | undefined;
}>;


export type ServiceListQuery = { services: { totalCount: number, edges: Array<{ node: { id: number, name: string, label: string, type: string, isActive: boolean, updatedAt: string } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type ServiceDetailQueryVariables = Exact<{
  name: string;
}>;


export type ServiceDetailQuery = { service: { id: number, name: string, label: string, description: string, type: string, isActive: boolean, content: string, config: unknown, version: number, updatedAt: string, versions: { edges: Array<{ node: { version: number, savedAt: string, savedBy: string, message: string | null, type: string } }> } } | null };

export type CheckScriptQueryVariables = Exact<{
  script: CheckScriptInput;
}>;


export type CheckScriptQuery = { checkScript: Array<{ line: number, column: number, message: string, severity: DiagnosticSeverity }> };

export type CreateServiceMutationVariables = Exact<{
  input: CreateServiceInput;
}>;


export type CreateServiceMutation = { createService: { id: number, name: string } };

export type UpdateServiceMutationVariables = Exact<{
  name: string;
  input: UpdateServiceInput;
}>;


export type UpdateServiceMutation = { updateService: { id: number, name: string, version: number, updatedAt: string } };

export type DeleteServiceMutationVariables = Exact<{
  name: string;
}>;


export type DeleteServiceMutation = { deleteService: boolean };

export type RollbackServiceMutationVariables = Exact<{
  name: string;
  version: number;
}>;


export type RollbackServiceMutation = { rollbackService: { version: number } };

export type RunScriptMutationVariables = Exact<{
  script: RunScriptInput;
  method?: string | null | undefined;
  resource?: string | null | undefined;
  parameters?: unknown;
  headers?: unknown;
  payload?: unknown;
}>;


export type RunScriptMutation = { runScript: { statusCode: number, headers: unknown, content: unknown, contentType: string | null, executionId: string | null } };

export type InvokeServiceMutationVariables = Exact<{
  name: string;
  method?: string | null | undefined;
  resource?: string | null | undefined;
  parameters?: unknown;
  headers?: unknown;
  payload?: unknown;
}>;


export type InvokeServiceMutation = { invokeService: { statusCode: number, headers: unknown, content: unknown, contentType: string | null, executionId: string | null } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const RoleFieldsFragmentDoc = new TypedDocumentString(`
    fragment RoleFields on Role {
  id
  name
  description
  isActive
  access {
    id
    service
    component
    verbMask
    requestorMask
  }
}
    `, {"fragmentName":"RoleFields"}) as unknown as TypedDocumentString<RoleFieldsFragment, unknown>;
export const ExecutionSummaryFragmentDoc = new TypedDocumentString(`
    fragment ExecutionSummary on Execution {
  id
  service
  eventName
  scriptType
  status
  statusCode
  trigger
  startedAt
  durationMs
  serviceVersion
  error {
    message
    kind
    line
  }
}
    `, {"fragmentName":"ExecutionSummary"}) as unknown as TypedDocumentString<ExecutionSummaryFragment, unknown>;
export const AccessDocument = new TypedDocumentString(`
    query Access {
  roles {
    ...RoleFields
  }
  apps {
    id
    name
    description
    isActive
    apiKeyPrefix
    role {
      name
    }
  }
}
    fragment RoleFields on Role {
  id
  name
  description
  isActive
  access {
    id
    service
    component
    verbMask
    requestorMask
  }
}`) as unknown as TypedDocumentString<AccessQuery, AccessQueryVariables>;
export const CreateRoleDocument = new TypedDocumentString(`
    mutation CreateRole($input: CreateRoleInput!) {
  createRole(input: $input) {
    ...RoleFields
  }
}
    fragment RoleFields on Role {
  id
  name
  description
  isActive
  access {
    id
    service
    component
    verbMask
    requestorMask
  }
}`) as unknown as TypedDocumentString<CreateRoleMutation, CreateRoleMutationVariables>;
export const UpdateRoleDocument = new TypedDocumentString(`
    mutation UpdateRole($name: String!, $input: UpdateRoleInput!) {
  updateRole(name: $name, input: $input) {
    ...RoleFields
  }
}
    fragment RoleFields on Role {
  id
  name
  description
  isActive
  access {
    id
    service
    component
    verbMask
    requestorMask
  }
}`) as unknown as TypedDocumentString<UpdateRoleMutation, UpdateRoleMutationVariables>;
export const CreateAppDocument = new TypedDocumentString(`
    mutation CreateApp($input: CreateAppInput!) {
  createApp(input: $input) {
    apiKey
    app {
      name
    }
  }
}
    `) as unknown as TypedDocumentString<CreateAppMutation, CreateAppMutationVariables>;
export const RotateAppKeyDocument = new TypedDocumentString(`
    mutation RotateAppKey($name: String!) {
  rotateAppKey(name: $name) {
    apiKey
    app {
      name
    }
  }
}
    `) as unknown as TypedDocumentString<RotateAppKeyMutation, RotateAppKeyMutationVariables>;
export const DeleteAppDocument = new TypedDocumentString(`
    mutation DeleteApp($name: String!) {
  deleteApp(name: $name)
}
    `) as unknown as TypedDocumentString<DeleteAppMutation, DeleteAppMutationVariables>;
export const EventScriptsDocument = new TypedDocumentString(`
    query EventScripts {
  eventScripts {
    name
    type
    isActive
    allowEventModification
    updatedAt
  }
}
    `) as unknown as TypedDocumentString<EventScriptsQuery, EventScriptsQueryVariables>;
export const EventScriptDetailDocument = new TypedDocumentString(`
    query EventScriptDetail($name: String!) {
  eventScript(name: $name) {
    name
    type
    content
    config
    isActive
    allowEventModification
  }
}
    `) as unknown as TypedDocumentString<EventScriptDetailQuery, EventScriptDetailQueryVariables>;
export const EventNamesDocument = new TypedDocumentString(`
    query EventNames($service: String) {
  events(service: $service)
}
    `) as unknown as TypedDocumentString<EventNamesQuery, EventNamesQueryVariables>;
export const UpsertEventScriptDocument = new TypedDocumentString(`
    mutation UpsertEventScript($name: String!, $input: EventScriptInput!) {
  upsertEventScript(name: $name, input: $input) {
    name
    updatedAt
  }
}
    `) as unknown as TypedDocumentString<UpsertEventScriptMutation, UpsertEventScriptMutationVariables>;
export const DeleteEventScriptDocument = new TypedDocumentString(`
    mutation DeleteEventScript($name: String!) {
  deleteEventScript(name: $name)
}
    `) as unknown as TypedDocumentString<DeleteEventScriptMutation, DeleteEventScriptMutationVariables>;
export const RecentExecutionsDocument = new TypedDocumentString(`
    query RecentExecutions($service: String, $status: ExecutionStatus, $first: Int) {
  executions(service: $service, status: $status, first: $first) {
    edges {
      node {
        ...ExecutionSummary
      }
    }
  }
}
    fragment ExecutionSummary on Execution {
  id
  service
  eventName
  scriptType
  status
  statusCode
  trigger
  startedAt
  durationMs
  serviceVersion
  error {
    message
    kind
    line
  }
}`) as unknown as TypedDocumentString<RecentExecutionsQuery, RecentExecutionsQueryVariables>;
export const ExecutionDetailDocument = new TypedDocumentString(`
    query ExecutionDetail($id: ID!) {
  execution(id: $id) {
    ...ExecutionSummary
    finishedAt
    cpuMs
    peakMemoryBytes
    request
    logsTruncated
    children {
      ...ExecutionSummary
    }
    logs(first: 1000) {
      edges {
        node {
          sequence
          stream
          message
          timestamp
        }
      }
    }
  }
}
    fragment ExecutionSummary on Execution {
  id
  service
  eventName
  scriptType
  status
  statusCode
  trigger
  startedAt
  durationMs
  serviceVersion
  error {
    message
    kind
    line
  }
}`) as unknown as TypedDocumentString<ExecutionDetailQuery, ExecutionDetailQueryVariables>;
export const ExecutionUpdatesDocument = new TypedDocumentString(`
    subscription ExecutionUpdates($service: String) {
  executionUpdated(service: $service) {
    ...ExecutionSummary
    request
  }
}
    fragment ExecutionSummary on Execution {
  id
  service
  eventName
  scriptType
  status
  statusCode
  trigger
  startedAt
  durationMs
  serviceVersion
  error {
    message
    kind
    line
  }
}`) as unknown as TypedDocumentString<ExecutionUpdatesSubscription, ExecutionUpdatesSubscriptionVariables>;
export const LogLinesDocument = new TypedDocumentString(`
    subscription LogLines($service: String, $executionId: ID) {
  executionLogs(service: $service, executionId: $executionId) {
    executionId
    sequence
    stream
    message
    timestamp
  }
}
    `) as unknown as TypedDocumentString<LogLinesSubscription, LogLinesSubscriptionVariables>;
export const ScriptTypesDocument = new TypedDocumentString(`
    query ScriptTypes {
  scriptTypes {
    name
    label
    available
    unavailableReason
    engine
    version
  }
}
    `) as unknown as TypedDocumentString<ScriptTypesQuery, ScriptTypesQueryVariables>;
export const ServiceListDocument = new TypedDocumentString(`
    query ServiceList($first: Int, $after: String, $filter: String) {
  services(first: $first, after: $after, filter: $filter) {
    totalCount
    edges {
      node {
        id
        name
        label
        type
        isActive
        updatedAt
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `) as unknown as TypedDocumentString<ServiceListQuery, ServiceListQueryVariables>;
export const ServiceDetailDocument = new TypedDocumentString(`
    query ServiceDetail($name: String!) {
  service(name: $name) {
    id
    name
    label
    description
    type
    isActive
    content
    config
    version
    updatedAt
    versions(first: 20) {
      edges {
        node {
          version
          savedAt
          savedBy
          message
          type
        }
      }
    }
  }
}
    `) as unknown as TypedDocumentString<ServiceDetailQuery, ServiceDetailQueryVariables>;
export const CheckScriptDocument = new TypedDocumentString(`
    query CheckScript($script: CheckScriptInput!) {
  checkScript(script: $script) {
    line
    column
    message
    severity
  }
}
    `) as unknown as TypedDocumentString<CheckScriptQuery, CheckScriptQueryVariables>;
export const CreateServiceDocument = new TypedDocumentString(`
    mutation CreateService($input: CreateServiceInput!) {
  createService(input: $input) {
    id
    name
  }
}
    `) as unknown as TypedDocumentString<CreateServiceMutation, CreateServiceMutationVariables>;
export const UpdateServiceDocument = new TypedDocumentString(`
    mutation UpdateService($name: String!, $input: UpdateServiceInput!) {
  updateService(name: $name, input: $input) {
    id
    name
    version
    updatedAt
  }
}
    `) as unknown as TypedDocumentString<UpdateServiceMutation, UpdateServiceMutationVariables>;
export const DeleteServiceDocument = new TypedDocumentString(`
    mutation DeleteService($name: String!) {
  deleteService(name: $name)
}
    `) as unknown as TypedDocumentString<DeleteServiceMutation, DeleteServiceMutationVariables>;
export const RollbackServiceDocument = new TypedDocumentString(`
    mutation RollbackService($name: String!, $version: Int!) {
  rollbackService(name: $name, version: $version) {
    version
  }
}
    `) as unknown as TypedDocumentString<RollbackServiceMutation, RollbackServiceMutationVariables>;
export const RunScriptDocument = new TypedDocumentString(`
    mutation RunScript($script: RunScriptInput!, $method: String, $resource: String, $parameters: JSON, $headers: JSON, $payload: JSON) {
  runScript(
    script: $script
    method: $method
    resource: $resource
    parameters: $parameters
    headers: $headers
    payload: $payload
  ) {
    statusCode
    headers
    content
    contentType
    executionId
  }
}
    `) as unknown as TypedDocumentString<RunScriptMutation, RunScriptMutationVariables>;
export const InvokeServiceDocument = new TypedDocumentString(`
    mutation InvokeService($name: String!, $method: String, $resource: String, $parameters: JSON, $headers: JSON, $payload: JSON) {
  invokeService(
    name: $name
    method: $method
    resource: $resource
    parameters: $parameters
    headers: $headers
    payload: $payload
  ) {
    statusCode
    headers
    content
    contentType
    executionId
  }
}
    `) as unknown as TypedDocumentString<InvokeServiceMutation, InvokeServiceMutationVariables>;