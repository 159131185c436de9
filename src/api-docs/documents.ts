import type { Service } from '../domain/services.ts';
import type { OperationFilter } from './access.ts';
import { ERROR_RESPONSE, ERROR_SCHEMA, SECURITY, SECURITY_SCHEMES, SYSTEM_SCHEMAS, type Schema } from './schemas.ts';
import { queryParameter, SYSTEM_OPERATIONS, type SystemOperation } from './system-operations.ts';

/** The OpenAPI documents /api/v2/api_docs answers: the system API's, and one per scripted service. */

export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, unknown>> };

/** The API version, as DreamFactory's documents give it. */
const API_VERSION = '2.0';
const OPENAPI_VERSION = '3.1.0';
/** Path item keys that are operations; the others (summary, parameters, x-...) describe the path. */
const OPERATION_KEYS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
const BODY_METHODS = new Set(['post', 'put', 'patch']);
const GENERIC_METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
/** `config.paths` templates documented per service; more are left out (it is free text of any length). */
const MAX_TEMPLATES = 100;
const TEMPLATE_SEGMENT = /^(?:[A-Za-z0-9_~-][A-Za-z0-9_.~-]*|\{[A-Za-z_][A-Za-z0-9_]{0,63}\})$/;

const serverOf = (service: string) => [{ url: `/api/v2/${service}`, description: `The ${service} service on this server.` }];

const sharedComponents = (schemas: Record<string, Schema>) => ({
  securitySchemes: SECURITY_SCHEMES,
  responses: { Error: ERROR_RESPONSE },
  schemas,
});

const errorDefault = { $ref: '#/components/responses/Error' };

function pathParameters(path: string): Schema[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string' },
    description: name === 'id' ? 'The record\'s id.' : name === 'name' ? 'The record\'s name.' : `The "${name}" segment of the path.`,
  }));
}

function operationId(method: string, path: string): string {
  const words = path.split(/[/{}_-]+/).filter(Boolean);
  return method + words.map((word) => word[0]!.toUpperCase() + word.slice(1)).join('');
}

function systemOperation(operation: SystemOperation): Record<string, unknown> {
  const parameters = [...pathParameters(operation.path), ...(operation.query ?? []).map(queryParameter)];
  const content = { [operation.contentType ?? 'application/json']: { schema: operation.response } };
  return {
    tags: [operation.path.split('/')[1] || 'system'],
    summary: operation.summary,
    ...(operation.description ? { description: operation.description } : {}),
    operationId: operationId(operation.method, operation.path === '/' ? '/components' : operation.path),
    ...(parameters.length ? { parameters } : {}),
    ...(operation.body ? { requestBody: { required: true, content: { 'application/json': { schema: operation.body } } } } : {}),
    responses: {
      ...Object.fromEntries(operation.statuses.map((status) => [String(status), { description: status === 201 ? 'Created' : 'OK', content }])),
      default: errorDefault,
    },
  };
}

/** Built once: the table does not change while the server runs. */
const SYSTEM_DOCUMENT: OpenApiDocument = (() => {
  const paths: OpenApiDocument['paths'] = {};
  for (const operation of SYSTEM_OPERATIONS) (paths[operation.path] ??= {})[operation.method] = systemOperation(operation);
  const tags = [...new Set(SYSTEM_OPERATIONS.map((operation) => operation.path.split('/')[1] || 'system'))];
  return {
    openapi: OPENAPI_VERSION,
    info: {
      title: 'System Management',
      description: 'The built-in `system` service: services, their secrets, script types, executions, event scripts, roles and apps, in DreamFactory\'s shapes.',
      version: API_VERSION,
    },
    servers: serverOf('system'),
    security: SECURITY,
    tags: tags.map((name) => ({ name })),
    paths,
    components: sharedComponents(SYSTEM_SCHEMAS),
  };
})();

/** The system API's document, with only the operations `visible` lets through (null: all). */
export function systemDocument(visible: OperationFilter | null): OpenApiDocument {
  return visible ? { ...SYSTEM_DOCUMENT, paths: filterPaths(SYSTEM_DOCUMENT.paths, visible) } : SYSTEM_DOCUMENT;
}

/** A scripted service's document: its own `config.openapi`, or one generic operation per verb and path. */
export function serviceDocument(service: Service, visible: OperationFilter | null): OpenApiDocument {
  const config = (service.config ?? {}) as Record<string, unknown>;
  const own = config.openapi;
  const document = isObject(own) && isObject(own.paths) ? ownDocument(service, own) : genericDocument(service, config.paths);
  return { ...document, paths: filterPaths(document.paths, visible) };
}

/**
 * The service's own document as given, except what must be ours: the server
 * (calls go to /api/v2/{service} and nowhere else, path and operation
 * `servers` are dropped) and how to send the key.
 */
function ownDocument(service: Service, own: Record<string, unknown>): OpenApiDocument {
  const components = isObject(own.components) ? own.components : {};
  const schemes = isObject(components.securitySchemes) ? components.securitySchemes : {};
  return {
    ...own,
    info: isObject(own.info) ? own.info : infoOf(service),
    servers: serverOf(service.name),
    security: SECURITY,
    paths: own.paths as OpenApiDocument['paths'],
    components: { ...components, securitySchemes: { ...schemes, ...SECURITY_SCHEMES } },
  };
}

function infoOf(service: Service) {
  return { title: service.label || service.name, description: service.description ?? '', version: API_VERSION };
}

/** Every verb on the service's root, on each `config.paths` template, and on any other resource. */
function genericDocument(service: Service, templates: unknown): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  const declared = Array.isArray(templates) ? templates.filter(isDocumentable).slice(0, MAX_TEMPLATES) : [];
  for (const path of ['/', ...declared.map((template) => `/${template.replace(/^\/+|\/+$/g, '')}`), '/{resource}']) {
    if (paths[path]) continue;
    paths[path] = Object.fromEntries(GENERIC_METHODS.map((method) => [method, genericOperation(service, method, path)]));
  }
  return {
    openapi: OPENAPI_VERSION,
    info: infoOf(service),
    servers: serverOf(service.name),
    security: SECURITY,
    tags: [{ name: service.name, ...(service.description ? { description: service.description } : {}) }],
    paths,
    components: sharedComponents({ Error: ERROR_SCHEMA }),
  };
}

function genericOperation(service: Service, method: string, path: string): Record<string, unknown> {
  const parameters = pathParameters(path).map((parameter) =>
    parameter.name === 'resource' && path === '/{resource}' ? { ...parameter, description: 'The resource path the script receives (`event.resource`).' } : parameter,
  );
  return {
    tags: [service.name],
    summary: `${method.toUpperCase()} ${service.name}${path === '/' ? '' : path}`,
    description: `Runs the service's ${service.type} script; what it answers is up to the script. Query parameters reach it as \`event.request.parameters\`.`,
    operationId: operationId(method, path === '/' ? '/root' : path),
    ...(parameters.length ? { parameters } : {}),
    ...(BODY_METHODS.has(method) ? { requestBody: { required: false, content: { 'application/json': { schema: {} } } } } : {}),
    responses: {
      '200': { description: 'What the script answered.', content: { 'application/json': { schema: {} } } },
      default: errorDefault,
    },
  };
}

/** A `config.paths` entry that reads as an OpenAPI path: plain segments and `{name}` ones. */
function isDocumentable(template: unknown): template is string {
  if (typeof template !== 'string' || template.length > 200) return false;
  const segments = template.replace(/^\/+|\/+$/g, '').split('/');
  return segments.every((segment) => TEMPLATE_SEGMENT.test(segment) && segment !== '.' && segment !== '..');
}

/** The paths with only the operations `visible` allows, without any `servers` of their own; paths left empty go. */
function filterPaths(paths: OpenApiDocument['paths'], visible: OperationFilter | null): OpenApiDocument['paths'] {
  const kept: OpenApiDocument['paths'] = {};
  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    const component = path.replace(/^\/+|\/+$/g, '');
    const filtered: Record<string, unknown> = {};
    let operations = 0;
    for (const [key, value] of Object.entries(item)) {
      if (key === 'servers') continue;
      if (!OPERATION_KEYS.has(key)) {
        filtered[key] = value;
        continue;
      }
      if (visible && !visible(component, key)) continue;
      filtered[key] = isObject(value) && 'servers' in value ? withoutServers(value) : value;
      operations++;
    }
    // A caller shown only part of a document sees no paths emptied by its role.
    if (operations > 0 || !visible) kept[path] = filtered;
  }
  return kept;
}

function withoutServers(operation: Record<string, unknown>): Record<string, unknown> {
  const { servers: _, ...rest } = operation;
  return rest;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
