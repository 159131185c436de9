// The served schema as a function of the catalog: `build(services)` is the
// platform's own schema plus every service's definition.
//
// Each definition is built once per text into its own GraphQL types (by
// GraphQL's extendSchema, on a base holding only the shared scalars, then
// validated), and kept. A rebuild only assembles: new Query and Mutation
// types holding the platform's fields and the services', and a schema over
// the platform's types and the kept ones. Re-extending the whole platform
// schema with every definition cost 45 to 130 ms for 1,000 services on this
// machine (graphql-tools' mergeSchemas 200 to 330 ms); assembling costs a
// few, so a rebuild never holds the event loop for long.
import {
  extendSchema,
  GraphQLError,
  GraphQLObjectType,
  GraphQLSchema,
  isObjectType,
  validateSchema,
  type GraphQLFieldConfig,
  type GraphQLFieldResolver,
  type GraphQLNamedType,
} from 'graphql';
import { healTypes } from '@graphql-tools/utils';
import { DomainError } from '../../domain/errors.ts';
import { readDefinition, ROOT_TYPES, sdlError, type RootType, type ServiceDefinition } from './definition.ts';
import { ownPropertyResolver, serviceFieldResolver } from './resolvers.ts';

export interface StoredDefinition {
  name: string;
  graphql: string;
}

/** Which service answers each service root field of a built schema (for access checks). */
const serviceFieldsOf = new WeakMap<GraphQLSchema, ReadonlyMap<string, string>>();

/** The service behind a root field of `schema`, or undefined for a platform field. */
export function serviceOfField(schema: GraphQLSchema, field: string): string | undefined {
  return serviceFieldsOf.get(schema)?.get(field);
}

/** The root types of one build, and the service behind each service field. */
interface Roots {
  query: GraphQLObjectType;
  mutation: GraphQLObjectType;
  services: Map<string, string>;
}

/** A definition left out of a build, and why. */
export type Skipped = (service: string, reason: string) => void;

/** A definition built into GraphQL types of its own, ready to join any build. */
interface Piece {
  definition: ServiceDefinition;
  /** What it claims (namesOf), computed once: every check and build walks every definition's names. */
  names: string[];
  /** Its object, input and enum types, referring to the platform's own scalars. */
  types: GraphQLNamedType[];
  /** Its root fields, each calling the service. */
  fields: Record<RootType, Record<string, GraphQLFieldConfig<unknown, unknown>>>;
}

interface Known {
  text: string;
  definition: ServiceDefinition | null;
  piece: Piece | null;
  /** Why it cannot be used (it no longer reads, or does not build). */
  error: string | null;
}

/** What a definition claims: root field names (across both roots) and type names. */
function namesOf(definition: ServiceDefinition): string[] {
  return [...ROOT_TYPES.flatMap((root) => definition.fields[root].map((f) => `field:${f}`)), ...definition.types.map((t) => `type:${t}`)];
}

/** Definitions built per turn on a first build (a start: about 0.5 ms each). */
const BUILD_SLICE = 50;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class ServiceSchemas {
  /** By service name: the last text read and what it built to. */
  private readonly known = new Map<string, Known>();
  /** What each definition is built on: the shared scalars, and roots with a field no service may have (the platform's). */
  private readonly pieceBase: GraphQLSchema;
  private readonly sharedScalars: Record<string, GraphQLNamedType>;
  private readonly rootConfigs: Record<RootType, ReturnType<GraphQLObjectType['toConfig']>>;
  private readonly baseConfig: ReturnType<GraphQLSchema['toConfig']>;
  /** The platform's named types but its roots (a build makes new ones). */
  private readonly baseTypes: GraphQLNamedType[];

  constructor(readonly base: GraphQLSchema) {
    this.sharedScalars = Object.fromEntries(['JSON', 'DateTime'].flatMap((name) => (base.getType(name) ? [[name, base.getType(name)!]] : [])));
    const stub = (name: RootType, field: string) => new GraphQLObjectType({ name, fields: { [field]: { type: base.getType('Int') as never } } });
    this.pieceBase = new GraphQLSchema({ query: stub('Query', 'services'), mutation: stub('Mutation', 'createService'), types: Object.values(this.sharedScalars) });
    this.rootConfigs = { Query: base.getQueryType()!.toConfig(), Mutation: base.getMutationType()!.toConfig() };
    this.baseConfig = base.toConfig();
    this.baseTypes = Object.entries(base.getTypeMap()).flatMap(([name, type]) => (name !== 'Query' && name !== 'Mutation' && !name.startsWith('__') ? [type] : []));
  }

  /**
   * Whether `text` can join the schema beside the stored definitions (in id
   * order; `replacing` is the stored name of the one this save replaces):
   * throws DomainError, CONFLICT naming the other service for a name it uses.
   */
  check(service: string, text: string, stored: readonly StoredDefinition[], replacing: string | null): void {
    const mine = readDefinition(service, text, this.base);
    // The names the served schema gives the other services, as a build decides them: one it leaves out claims nothing.
    const taken = new Map<string, string>();
    for (const other of this.acceptable(stored, () => undefined, false)) {
      if (other.definition.service !== replacing) for (const key of other.names) taken.set(key, other.definition.service);
    }
    for (const root of ROOT_TYPES) {
      for (const field of mine.fields[root]) {
        const owner = taken.get(`field:${field}`);
        if (owner) throw new DomainError('CONFLICT', `Field "graphql": ${root}.${field} is already a field of service "${owner}".`, { field: 'graphql', service: owner });
      }
    }
    for (const type of mine.types) {
      const owner = taken.get(`type:${type}`);
      if (owner) throw new DomainError('CONFLICT', `Field "graphql": type ${type} is already defined by service "${owner}".`, { field: 'graphql', service: owner });
    }
    const piece = this.pieceOf(mine);
    // Kept: the build that follows this save reuses it.
    this.known.set(service, { text, definition: mine, piece, error: null });
  }

  /**
   * The platform's schema with every usable definition's fields, in id
   * order: a definition that no longer fits (a name taken meanwhile on
   * another instance, a platform field added since) is left out and
   * reported, never breaking the others.
   */
  async build(stored: readonly StoredDefinition[], skipped: Skipped): Promise<GraphQLSchema> {
    // Building definitions new here is the slow part of a first build (a start): in slices, each a short turn.
    let fresh = 0;
    for (const { name, graphql } of stored) {
      const known = this.known.get(name);
      if (known?.text === graphql) continue;
      this.read(name, graphql);
      if (++fresh % BUILD_SLICE === 0) await nextTurn();
    }
    // A save's rebuild runs in turns of its own, so no request waits behind the whole of it: the pieces
    // accepted, then the new root types' fields, then the schema over every type (each about a third).
    await nextTurn();
    const pieces = this.acceptable(stored, skipped);
    if (pieces.length === 0) return this.base;
    const roots = this.roots(pieces);
    await nextTurn();
    return this.assemble(pieces, roots);
  }

  /** Stored definitions that build and do not collide with an earlier one; the cache keeps only the names given. */
  private acceptable(stored: readonly StoredDefinition[], skipped: Skipped, prune = true): Piece[] {
    if (prune) {
      const present = new Set(stored.map((s) => s.name));
      for (const name of this.known.keys()) if (!present.has(name)) this.known.delete(name);
    }
    const owners = new Map<string, string>();
    const accepted: Piece[] = [];
    for (const { name, graphql } of stored) {
      const { piece, error } = this.read(name, graphql);
      if (!piece) {
        skipped(name, error!);
        continue;
      }
      const names = piece.names;
      const clash = names.find((key) => owners.has(key));
      if (clash) {
        skipped(name, `${clash.replace(':', ' ')} is already service "${owners.get(clash)}"'s`);
        continue;
      }
      for (const key of names) owners.set(key, name);
      accepted.push(piece);
    }
    return accepted;
  }

  /**
   * New Query and Mutation types (the platform's fields, then the services'), their fields built here
   * (GraphQL builds them lazily, inside the schema's constructor otherwise), and which service owns each.
   */
  private roots(pieces: readonly Piece[]): Roots {
    const services = new Map<string, string>();
    const root = (name: RootType) => {
      const config = this.rootConfigs[name];
      const fields = { ...config.fields };
      for (const piece of pieces) {
        Object.assign(fields, piece.fields[name]);
        for (const field of piece.definition.fields[name]) services.set(field, piece.definition.service);
      }
      const type = new GraphQLObjectType({ ...config, fields });
      type.getFields();
      return type;
    };
    return { query: root('Query'), mutation: root('Mutation'), services };
  }

  /** The schema over the platform's types, the pieces' types and the new roots. */
  private assemble(pieces: readonly Piece[], { query, mutation, services }: Roots): GraphQLSchema {
    const types = [...this.baseTypes];
    for (const piece of pieces) types.push(...piece.types);
    const schema = new GraphQLSchema({
      ...this.baseConfig,
      query,
      mutation,
      types,
      // Each piece was validated on its own and their names are disjoint: validating the whole again would only repeat that (10 to 20 ms at 1,000).
      assumeValid: true,
    });
    serviceFieldsOf.set(schema, services);
    return schema;
  }

  /** A definition read and built once per text; one that no longer reads or builds is remembered with why. */
  private read(service: string, text: string): Known {
    let known = this.known.get(service);
    if (!known || known.text !== text) {
      try {
        const definition = readDefinition(service, text, this.base);
        known = { text, definition, piece: this.pieceOf(definition), error: null };
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        known = { text, definition: null, piece: null, error: error.message };
      }
      this.known.set(service, known);
    }
    return known;
  }

  /**
   * The definition's own types, built by GraphQL (with its full SDL
   * validation) on the shared scalars alone, then pointed at the platform's
   * own JSON and DateTime, so that any build can take them as they are.
   */
  private pieceOf(definition: ServiceDefinition): Piece {
    let built: GraphQLSchema;
    try {
      built = extendSchema(this.pieceBase, definition.document);
    } catch (error) {
      if (error instanceof GraphQLError) throw sdlError(error);
      // extendSchema reports several SDL errors as one plain Error.
      throw new DomainError('BAD_INPUT', `Field "graphql": ${(error as Error).message.split('\n\n').join(' ')}`, { field: 'graphql' });
    }
    const errors = validateSchema(built);
    if (errors.length > 0) throw sdlError(errors[0]!);
    const types = definition.types.map((name) => built.getType(name)!);
    const query = built.getQueryType()!;
    const mutation = built.getMutationType()!;
    healTypes({ ...Object.fromEntries(types.map((type) => [type.name, type])), ...this.sharedScalars, Query: query, Mutation: mutation }, []);
    for (const type of types) {
      // Output objects read only their own properties: a field named "constructor" is not Object.prototype's.
      if (isObjectType(type)) for (const field of Object.values(type.getFields())) field.resolve = ownPropertyResolver;
    }
    const fields = { Query: {}, Mutation: {} } as Piece['fields'];
    for (const rootName of ROOT_TYPES) {
      const configs = (rootName === 'Query' ? query : mutation).toConfig().fields;
      const operation = rootName === 'Query' ? 'query' : 'mutation';
      for (const field of definition.fields[rootName]) {
        fields[rootName][field] = { ...configs[field]!, resolve: serviceFieldResolver(definition.service, operation) as GraphQLFieldResolver<unknown, unknown> };
      }
    }
    return { definition, names: namesOf(definition), types, fields };
  }
}
