// The served schema as a function of the catalog: the platform's own schema
// plus every service's definition. Definitions are read once per text and
// kept; a save is checked here, a build never fails because of one service.
import { concatAST, extendSchema, GraphQLError, isObjectType, validateSchema, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { addResolversToSchema } from '@graphql-tools/schema';
import { DomainError } from '../../domain/errors.ts';
import { readDefinition, ROOT_TYPES, sdlError, type ServiceDefinition } from './definition.ts';
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

/** A definition left out of a build, and why. */
export type Skipped = (service: string, reason: string) => void;

/** What a definition claims: root field names (across both roots) and type names. */
function namesOf(definition: ServiceDefinition): string[] {
  return [...ROOT_TYPES.flatMap((root) => definition.fields[root].map((f) => `field:${f}`)), ...definition.types.map((t) => `type:${t}`)];
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class ServiceSchemas {
  /** By service name: the last text read and what it defines (or why it cannot be used). */
  private readonly definitions = new Map<string, { text: string; definition: ServiceDefinition | null; error: string | null; valid: boolean }>();

  constructor(readonly base: GraphQLSchema) {}

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
      if (other.service !== replacing) for (const key of namesOf(other)) taken.set(key, other.service);
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
    this.assertBuilds(mine);
    this.definitions.set(service, { text, definition: mine, error: null, valid: true });
  }

  /**
   * The platform's schema with every usable definition's fields, in id
   * order: a definition that no longer fits (a name taken meanwhile on
   * another instance, a platform field added since) is left out and
   * reported, never breaking the others. Yields between its steps, so no
   * single step holds the event loop for the whole build.
   */
  async build(stored: readonly StoredDefinition[], skipped: Skipped): Promise<GraphQLSchema> {
    const accepted = this.acceptable(stored, skipped);
    await nextTurn();
    let schema = this.assemble(accepted);
    if (!schema) {
      // Some definition passed its checks elsewhere but breaks the whole: find it (each checked alone once, then remembered).
      const usable = accepted.filter((definition) => {
        const known = this.definitions.get(definition.service)!;
        if (known.valid) return true;
        try {
          this.assertBuilds(definition);
          known.valid = true;
          return true;
        } catch (error) {
          known.definition = null;
          known.error = (error as Error).message;
          skipped(definition.service, known.error);
          return false;
        }
      });
      await nextTurn();
      schema = this.assemble(usable) ?? this.base;
      if (schema === this.base && usable.length) skipped('(all)', 'the services\' definitions do not build together; serving the platform\'s schema alone');
    }
    return schema;
  }

  /** Definitions that read well and do not collide with an earlier one; the cache keeps only the names given. */
  private acceptable(stored: readonly StoredDefinition[], skipped: Skipped, prune = true): ServiceDefinition[] {
    if (prune) {
      const present = new Set(stored.map((s) => s.name));
      for (const name of this.definitions.keys()) if (!present.has(name)) this.definitions.delete(name);
    }
    const owners = new Map<string, string>();
    const accepted: ServiceDefinition[] = [];
    for (const { name, graphql } of stored) {
      const { definition, error } = this.read(name, graphql);
      if (!definition) {
        skipped(name, error!);
        continue;
      }
      const names = namesOf(definition);
      const clash = names.find((key) => owners.has(key));
      if (clash) {
        skipped(name, `${clash.replace(':', ' ')} is already service "${owners.get(clash)}"'s`);
        continue;
      }
      for (const key of names) owners.set(key, name);
      accepted.push(definition);
    }
    return accepted;
  }

  /** Base plus definitions, resolvers attached; null when GraphQL finds the whole invalid. */
  private assemble(definitions: readonly ServiceDefinition[]): GraphQLSchema | null {
    if (definitions.length === 0) return this.base;
    let schema: GraphQLSchema;
    try {
      // Each definition was read against the base and names are disjoint: GraphQL's SDL rules would only repeat that work.
      schema = extendSchema(this.base, concatAST(definitions.map((d) => d.document)), { assumeValidSDL: true });
    } catch {
      return null;
    }
    if (validateSchema(schema).length > 0) return null;
    const resolvers: Record<string, Record<string, GraphQLFieldResolver<unknown, never>>> = { Query: {}, Mutation: {} };
    const services = new Map<string, string>();
    for (const definition of definitions) {
      for (const root of ROOT_TYPES) {
        const operation = root === 'Query' ? 'query' : 'mutation';
        for (const field of definition.fields[root]) {
          resolvers[root]![field] = serviceFieldResolver(definition.service, operation);
          services.set(field, definition.service);
        }
      }
      for (const name of definition.types) {
        const type = schema.getType(name);
        // Output objects read only their own properties: a field named "constructor" is not Object.prototype's.
        if (isObjectType(type)) {
          resolvers[name] = Object.fromEntries(Object.keys(type.getFields()).map((field) => [field, ownPropertyResolver]));
        }
      }
    }
    addResolversToSchema({ schema, resolvers, updateResolversInPlace: true });
    serviceFieldsOf.set(schema, services);
    return schema;
  }

  /** A definition read once per text; a stored one that no longer reads is remembered with why. */
  private read(service: string, text: string) {
    let known = this.definitions.get(service);
    if (!known || known.text !== text) {
      try {
        known = { text, definition: readDefinition(service, text, this.base), error: null, valid: false };
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        known = { text, definition: null, error: error.message, valid: false };
      }
      this.definitions.set(service, known);
    }
    return known;
  }

  /** The definition alone on the platform's schema, with GraphQL's full validation. */
  private assertBuilds(definition: ServiceDefinition): void {
    let schema: GraphQLSchema;
    try {
      schema = extendSchema(this.base, definition.document);
    } catch (error) {
      if (error instanceof GraphQLError) throw sdlError(error);
      // extendSchema reports several SDL errors as one plain Error.
      throw new DomainError('BAD_INPUT', `Field "graphql": ${(error as Error).message.split('\n\n').join(' ')}`, { field: 'graphql' });
    }
    const errors = validateSchema(schema);
    if (errors.length > 0) throw sdlError(errors[0]!);
  }
}
