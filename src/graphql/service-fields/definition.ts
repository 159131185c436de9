// One service's GraphQL definition, read and checked on its own: what it
// defines, what it extends, and what it refers to. Collisions between
// services are decided by the caller (check.ts, build.ts) from these names.
import { GraphQLError, Kind, parse, type DocumentNode, type TypeNode } from 'graphql';
import type { GraphQLSchema } from 'graphql';
import { DomainError } from '../../domain/errors.ts';

/** The root types a service may extend. */
export const ROOT_TYPES = ['Query', 'Mutation'] as const;
export type RootType = (typeof ROOT_TYPES)[number];

/** Scalars any service field may use: GraphQL's own and the platform's. */
const SHARED_SCALARS = new Set(['String', 'Int', 'Float', 'Boolean', 'ID', 'JSON', 'DateTime']);
/** `[[[String]]]`: deeper lists would make introspection and printing recurse without a useful purpose. */
const MAX_LIST_DEPTH = 8;
/** Bounds the parse of a definition (64 KiB of text) and so its time and recursion. */
const MAX_TOKENS = 20_000;

export interface ServiceDefinition {
  service: string;
  text: string;
  document: DocumentNode;
  /** Root field names by root type. */
  fields: Record<RootType, string[]>;
  /** Names of the object, input and enum types it defines. */
  types: string[];
}

const refuse = (message: string, extra: Record<string, unknown> = {}) =>
  new DomainError('BAD_INPUT', `Field "graphql": ${message}`, { field: 'graphql', ...extra });

/** "line 3, column 7", from a GraphQL error's first location. */
function where(error: GraphQLError): { text: string; line?: number; column?: number } {
  const location = error.locations?.[0];
  return location ? { text: ` (line ${location.line}, column ${location.column})`, line: location.line, column: location.column } : { text: '' };
}

/** Syntax errors and GraphQL's own validation errors as BAD_INPUT, with line and column. */
export function sdlError(error: GraphQLError): DomainError {
  const at = where(error);
  return refuse(`${error.message.replace(/\.$/, '')}${at.text}.`, at.line === undefined ? {} : { line: at.line, column: at.column });
}

/**
 * Parses and checks a definition alone, against the platform's schema
 * (`base`): only `extend type Query|Mutation` and object, input and enum
 * types; names that are not the platform's; every type it uses defined by
 * it (or a shared scalar). Throws DomainError (BAD_INPUT, CONFLICT).
 */
export function readDefinition(service: string, text: string, base: GraphQLSchema): ServiceDefinition {
  let document: DocumentNode;
  try {
    document = parse(text, { maxTokens: MAX_TOKENS });
  } catch (error) {
    if (error instanceof GraphQLError) throw sdlError(error);
    if (error instanceof RangeError) throw refuse('the definition is nested too deeply.');
    throw error;
  }
  const definition: ServiceDefinition = { service, text, document, fields: { Query: [], Mutation: [] }, types: [] };
  const used: { name: string; line: number | undefined }[] = [];
  const lineOf = (node: { loc?: { startToken: { line: number } } }) => node.loc?.startToken.line;
  const useType = (type: TypeNode, depth = 0): void => {
    if (type.kind === Kind.NAMED_TYPE) used.push({ name: type.name.value, line: lineOf(type) });
    else if (depth >= MAX_LIST_DEPTH) throw refuse(`a type nests lists more than ${MAX_LIST_DEPTH} deep (line ${lineOf(type)}).`);
    else useType(type.type, type.kind === Kind.LIST_TYPE ? depth + 1 : depth);
  };
  for (const node of document.definitions) {
    const line = lineOf(node);
    switch (node.kind) {
      case Kind.OBJECT_TYPE_EXTENSION: {
        const root = node.name.value;
        if (!(ROOT_TYPES as readonly string[]).includes(root)) {
          throw refuse(`a service may extend only Query and Mutation; this one extends ${root} (line ${line}).`);
        }
        if (node.interfaces?.length || node.directives?.length) throw refuse(`"extend type ${root}" may only add fields (line ${line}).`);
        for (const field of node.fields ?? []) {
          definition.fields[root as RootType].push(field.name.value);
          useType(field.type);
          for (const argument of field.arguments ?? []) useType(argument.type);
        }
        break;
      }
      case Kind.OBJECT_TYPE_DEFINITION:
        if ((ROOT_TYPES as readonly string[]).includes(node.name.value)) {
          throw refuse(`write "extend type ${node.name.value}": ${node.name.value} is the platform's, a service adds fields to it (line ${line}).`);
        }
        if (node.interfaces?.length) throw refuse(`type ${node.name.value} implements an interface; interfaces are not supported (line ${line}).`);
        definition.types.push(node.name.value);
        for (const field of node.fields ?? []) {
          useType(field.type);
          for (const argument of field.arguments ?? []) useType(argument.type);
        }
        break;
      case Kind.INPUT_OBJECT_TYPE_DEFINITION:
        definition.types.push(node.name.value);
        for (const field of node.fields ?? []) useType(field.type);
        break;
      case Kind.ENUM_TYPE_DEFINITION:
        definition.types.push(node.name.value);
        break;
      default:
        throw refuse(
          `only "extend type Query", "extend type Mutation" and type, input and enum definitions are allowed; found ${describeKind(node.kind)} (line ${line}).`,
        );
    }
  }
  if (definition.fields.Query.length + definition.fields.Mutation.length === 0) {
    throw refuse('it must add at least one field to Query or Mutation ("extend type Query { ... }").');
  }
  for (const name of definition.types) {
    if (base.getType(name)) throw new DomainError('CONFLICT', `Field "graphql": type ${name} is the platform's own; name yours differently.`, { field: 'graphql', type: name });
  }
  const platformFields = platformRootFields(base);
  for (const root of ROOT_TYPES) {
    for (const field of definition.fields[root]) {
      if (platformFields.has(field)) {
        throw new DomainError('CONFLICT', `Field "graphql": ${root}.${field} collides with the platform's own field ${field}.`, { field: 'graphql', rootField: field });
      }
    }
  }
  const defined = new Set(definition.types);
  for (const { name, line } of used) {
    if (SHARED_SCALARS.has(name) || defined.has(name)) continue;
    if (base.getType(name)) throw refuse(`uses the platform's type ${name} (line ${line}); a service's fields may use GraphQL's scalars, JSON, DateTime and the types it defines.`);
    throw refuse(`uses type ${name}, which it does not define (line ${line}).`);
  }
  return definition;
}

/** Every root field name of the platform, whatever its root type: a service field's name must be none of them. */
const platformFieldCache = new WeakMap<GraphQLSchema, Set<string>>();
export function platformRootFields(base: GraphQLSchema): Set<string> {
  let names = platformFieldCache.get(base);
  if (!names) {
    names = new Set([base.getQueryType(), base.getMutationType(), base.getSubscriptionType()].flatMap((type) => (type ? Object.keys(type.getFields()) : [])));
    platformFieldCache.set(base, names);
  }
  return names;
}

function describeKind(kind: Kind): string {
  const words: Partial<Record<Kind, string>> = {
    [Kind.SCHEMA_DEFINITION]: 'a schema definition',
    [Kind.SCHEMA_EXTENSION]: 'a schema extension',
    [Kind.SCALAR_TYPE_DEFINITION]: 'a scalar definition',
    [Kind.INTERFACE_TYPE_DEFINITION]: 'an interface',
    [Kind.UNION_TYPE_DEFINITION]: 'a union',
    [Kind.DIRECTIVE_DEFINITION]: 'a directive definition',
    [Kind.OPERATION_DEFINITION]: 'an operation (a query, not a definition)',
    [Kind.FRAGMENT_DEFINITION]: 'a fragment',
    [Kind.SCALAR_TYPE_EXTENSION]: 'a scalar extension',
    [Kind.INTERFACE_TYPE_EXTENSION]: 'an interface extension',
    [Kind.UNION_TYPE_EXTENSION]: 'a union extension',
    [Kind.ENUM_TYPE_EXTENSION]: 'an enum extension',
    [Kind.INPUT_OBJECT_TYPE_EXTENSION]: 'an input extension',
  };
  return words[kind] ?? kind;
}
