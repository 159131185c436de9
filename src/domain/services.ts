import { forgetPrismaDebugHistory, type Db } from '../db/client.ts';
import type { Prisma, Service } from '../generated/prisma-sqlite/client.ts';
import type { EventBus } from '../logs/bus.ts';
import type { ScriptingSettings } from '../config.ts';
import type { EngineRegistry } from '../scripting/registry.ts';
import { badInput, DomainError, notFound } from './errors.ts';
import { configObject, mergeConfig, validateConfigJson, validateContent, validateLimits, validateOpenApi, validateType } from './script-fields.ts';
import { SyntaxChecker } from './syntax-check.ts';
import { firstVersionFields, nextVersionFields, noteOf, restoreFields, versionRow, type SaveNote } from './service-versions.ts';

export type { Service };

export interface ServiceInput {
  name?: unknown;
  label?: unknown;
  description?: unknown;
  type?: unknown;
  isActive?: unknown;
  content?: unknown;
  config?: unknown;
  /** Says what a save that makes a new version changed (kept with the version). */
  message?: unknown;
  /** Who saves: set by the system API from the caller, never from a record. */
  savedBy?: unknown;
  /** Store a script that does not compile (work in progress); it then fails when run. */
  skipSyntaxCheck?: unknown;
  /** GraphQL SDL giving the service typed Query/Mutation fields; null or "" removes it. */
  graphql?: unknown;
}

/**
 * Services' GraphQL definitions, checked and served by the GraphQL front end
 * (src/graphql/service-fields/): the domain stores the text and knows no GraphQL.
 */
export interface ServiceGraphQL {
  /**
   * Throws a DomainError when `sdl` can not join the schema beside the
   * stored definitions (in id order; `replacing` names the stored one this
   * save replaces, if any).
   */
  check(service: string, sdl: string, stored: readonly { name: string; graphql: string }[], replacing: string | null): void;
  /** Resolves once this instance serves a schema holding every change saved before the call. */
  applied(): Promise<void>;
}

/** A definition's size on save: the schema of every instance carries it. */
export const MAX_GRAPHQL_BYTES = 64 * 1024;

export interface ServiceQuery {
  ids?: number[];
  /** Further conditions (a parsed `filter=`), ANDed with `ids`. */
  where?: Prisma.ServiceWhereInput;
  limit?: number;
  offset?: number;
  order?: { field: keyof Service; direction: 'asc' | 'desc' };
  /** Count every match too (a second query whose cost grows with the table): only when asked for. */
  withCount?: boolean;
}

interface ServiceData {
  /** With `versions`: the version a save makes (see service-versions.ts). */
  version?: number;
  versions?: { create: Prisma.ServiceVersionCreateWithoutServiceInput };
  name?: string;
  label?: string;
  description?: string;
  type?: string;
  isActive?: boolean;
  content?: string;
  config?: Prisma.InputJsonObject;
  graphql?: string | null;
}

/** Each validated record's save note (its message checked), for the version it makes. */
const saveNotes = new WeakMap<object, SaveNote>();

/** A batch's typed-field definitions checked in one event-loop turn (each is checked against every stored one). */
const CHECKS_PER_TURN = 25;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,40}$/;
/** What inline runs are recorded under: no service can have this name (parentheses are not allowed in one). */
export const INLINE_SCRIPT = '(inline)';
const RESERVED_NAMES = new Set(['system', 'api_docs']);

/**
 * Scripted services: validation, storage and a name-keyed cache for the
 * request path (invalidated through the event bus, so a cross-instance bus
 * keeps every instance's cache honest).
 */
export class ServiceCatalog {
  /** Existing services only: caching misses would let requests for random names grow it without end. */
  private readonly cache = new Map<string, Service>();
  /** Bumped on every change: a read that overlapped one must not cache what it read. */
  private generation = 0;
  private readonly syntax: SyntaxChecker;
  private graphql: ServiceGraphQL | null = null;
  /** Saves that carry a GraphQL definition, one at a time: two could each pass the collision check against the other. */
  private graphqlSaves: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly engines: EngineRegistry,
    private readonly bus: EventBus,
    private readonly limits: ScriptingSettings,
  ) {
    this.syntax = new SyntaxChecker(engines);
    bus.onServiceChanged((name) => {
      this.generation++;
      const names = name === null ? [...this.cache.keys()] : [name];
      for (const changed of names) {
        this.cache.delete(changed);
        engines.forget(changed);
      }
    });
  }

  /** Installed by the GraphQL front end; without it a definition cannot be saved. */
  useGraphQL(graphql: ServiceGraphQL): void {
    this.graphql = graphql;
  }

  async list(query: ServiceQuery = {}): Promise<{ services: Service[]; count: number | null }> {
    const where: Prisma.ServiceWhereInput = {
      ...(query.ids ? { id: { in: query.ids } } : {}),
      ...(query.where ? { AND: [query.where] } : {}),
    };
    const [services, count] = await Promise.all([
      this.db.service.findMany({
        where,
        orderBy: query.order ? { [query.order.field]: query.order.direction } : { id: 'asc' },
        take: query.limit,
        skip: query.offset,
      }),
      query.withCount ? this.db.service.count({ where }) : null,
    ]);
    return { services, count };
  }

  async byId(id: number): Promise<Service> {
    const service = Number.isSafeInteger(id) ? await this.db.service.findUnique({ where: { id } }) : null;
    if (!service) throw notFound(`Service with id ${id} not found.`);
    return service;
  }

  /** The cached service, or undefined when the cache does not hold the name (no await on the hot path). */
  cached(name: string): Service | undefined {
    return this.cache.get(name.toLowerCase());
  }

  async byNameOrNull(name: string): Promise<Service | null> {
    const key = name.toLowerCase();
    const known = this.cache.get(key);
    if (known) return known;
    const generation = this.generation;
    const service = await this.db.service.findUnique({ where: { name: key } });
    if (service && generation === this.generation) this.cache.set(key, service);
    return service;
  }

  async byName(name: string): Promise<Service> {
    const service = await this.byNameOrNull(name);
    if (!service) throw notFound(`Service "${name}" not found.`);
    return service;
  }

  /** A rollback: type, script and config exactly as a version had them (config replaced, not merged), saved as the next version. */
  async restore(existing: Service, snapshot: { type: string; content: string; config: unknown }, note: SaveNote): Promise<Service> {
    try {
      return await this.writing(() => this.db.service.update({ where: { id: existing.id }, data: restoreFields(existing, snapshot, note) }), [existing.name]);
    } catch (error) {
      throw this.storeError(error, existing.name);
    }
  }

  async create(input: ServiceInput): Promise<Service> {
    const data = this.validate(input, null);
    Object.assign(data, firstVersionFields(data, noteOf(input)));
    await this.syntax.assertCompiles(data.type!, data.content ?? '', input.skipSyntaxCheck);
    return this.savingGraphQL(!!data.graphql, async () => {
      if (data.graphql) await this.checkGraphQL(data.name!, data.type!, data.graphql, null);
      try {
        return await this.writing(() => this.db.service.create({ data: data as Required<ServiceData> }));
      } catch (error) {
        throw this.storeError(error, data.name);
      }
    });
  }

  /**
   * Creates all or none: every record is validated first, then all are
   * written in one transaction. Failures name each failed index.
   */
  async createMany(inputs: ServiceInput[]): Promise<Service[]> {
    const results = inputs.map((input) => {
      try {
        return { data: this.validate(input, null) };
      } catch (error) {
        return { error: error as Error };
      }
    });
    // One at a time: a batch of subprocess scripts would otherwise fill the checking worker's queue.
    for (const [index, result] of results.entries()) {
      if (!result.data) continue;
      try {
        await this.syntax.assertCompiles(result.data.type!, result.data.content ?? '', inputs[index]!.skipSyntaxCheck);
      } catch (error) {
        results[index] = { error: error as Error };
      }
    }
    const names = new Map<string, number>();
    results.forEach((result, index) => {
      const name = result.data?.name;
      if (!name) return;
      if (names.has(name)) results[index] = { error: new DomainError('CONFLICT', `Duplicate name "${name}" in this batch.`, { field: 'name' }) };
      else names.set(name, index);
    });
    const taken = await this.db.service.findMany({ where: { name: { in: [...names.keys()] } }, select: { name: true } });
    for (const { name } of taken) {
      results[names.get(name)!] = { error: new DomainError('CONFLICT', `A service named "${name}" already exists.`, { field: 'name' }) };
    }
    if (results.some((r) => r.error)) throw batchError(results.map((r) => r.error ?? null));
    const withGraphQL = results.some((r) => r.data?.graphql);
    return this.savingGraphQL(withGraphQL, async () => {
      if (withGraphQL) await this.checkBatchGraphQL(results);
      return this.storeMany(results);
    });
  }

  private async storeMany(results: { data?: ServiceData; error?: Error }[]): Promise<Service[]> {
    let created: Service[];
    try {
      // One statement for the batch (a transaction of single creates cost Prisma's compiler a query each).
      created = await this.writing(async () => {
        const rows = await this.db.service.createManyAndReturn({ data: results.map((r) => r.data as Required<ServiceData>) });
        const byName = new Map(rows.map((row) => [row.name, row]));
        // Version 1 of each (not in the batch's statement: createManyAndReturn takes no nested writes).
        await this.db.serviceVersion.createMany({ data: results.map((r) => versionRow(byName.get(r.data!.name!)!.id, 1, r.data as Required<ServiceData>, saveNotes.get(r.data!)!)) });
        return results.map((r) => byName.get(r.data!.name!)!);
      });
      forgetPrismaDebugHistory();
    } catch (error) {
      // Only a concurrent writer gets here (names were checked above); nothing was created.
      const storeError = this.storeError(error, undefined);
      throw storeError instanceof DomainError ? batchError(results.map(() => storeError)) : storeError;
    }
    return created;
  }

  async update(existing: Service, input: ServiceInput): Promise<Service> {
    const data = this.validate(input, existing);
    Object.assign(data, nextVersionFields(existing, data, noteOf(input)));
    if (data.type !== undefined || data.content !== undefined) {
      await this.syntax.assertCompiles(data.type ?? existing.type, data.content ?? existing.content, input.skipSyntaxCheck);
    }
    // A renamed service's fields call it by its new name: the schema changes with it.
    const schemaChanges = data.graphql !== undefined || (existing.graphql !== null && data.name !== undefined && data.name !== existing.name);
    return this.savingGraphQL(schemaChanges, async () => {
      if (data.graphql) await this.checkGraphQL(data.name ?? existing.name, data.type ?? existing.type, data.graphql, existing.name);
      try {
        return await this.writing(() => this.db.service.update({ where: { id: existing.id }, data }), [existing.name]);
      } catch (error) {
        throw this.storeError(error, data.name);
      }
    });
  }

  async delete(existing: Service): Promise<void> {
    await this.db.service.delete({ where: { id: existing.id } }).catch((error: unknown) => {
      throw this.storeError(error, undefined);
    });
    this.bus.serviceChanged(existing.name);
    if (existing.graphql !== null) await this.graphql?.applied();
  }

  /**
   * A save that changes the served schema: one at a time on this instance
   * (its collision check and its write together), and answered once this
   * instance serves the new schema, so the next request sees the fields.
   */
  private async savingGraphQL<T>(changesSchema: boolean, save: () => Promise<T>): Promise<T> {
    if (!changesSchema) return save();
    const saved = this.graphqlSaves.then(save);
    this.graphqlSaves = saved.catch(() => undefined);
    const result = await saved;
    await this.graphql?.applied();
    return result;
  }

  /** The definition against the platform's schema and every other service's (CONFLICT names the other). */
  private async checkGraphQL(name: string, type: string, sdl: string, replacing: string | null): Promise<void> {
    if (!this.graphql) throw new DomainError('SERVICE_UNAVAILABLE', 'GraphQL definitions are not served here.', { field: 'graphql' });
    // Its fields would only ever answer 503.
    validateType(this.engines, type);
    const stored = await this.db.service.findMany({ where: { graphql: { not: null } }, select: { name: true, graphql: true }, orderBy: { id: 'asc' } });
    // Reading a thousand definitions and checking against them are each a long turn: other requests go between.
    await nextTurn();
    this.graphql.check(name, sdl, stored as { name: string; graphql: string }[], replacing);
  }

  /** A batch's definitions: each against the stored ones and the batch's earlier records. */
  private async checkBatchGraphQL(results: { data?: ServiceData; error?: Error }[]): Promise<void> {
    const stored = await this.db.service.findMany({ where: { graphql: { not: null } }, select: { name: true, graphql: true }, orderBy: { id: 'asc' } });
    const others = stored as { name: string; graphql: string }[];
    let checked = 0;
    for (const result of results) {
      const { name, type, graphql } = result.data!;
      if (!graphql) continue;
      if (checked++ % CHECKS_PER_TURN === 0) await nextTurn();
      try {
        if (!this.graphql) throw new DomainError('SERVICE_UNAVAILABLE', 'GraphQL definitions are not served here.', { field: 'graphql' });
        validateType(this.engines, type);
        this.graphql.check(name!, graphql, others, null);
        others.push({ name: name!, graphql });
      } catch (error) {
        result.error = error as Error;
      }
    }
    if (results.some((r) => r.error)) throw batchError(results.map((r) => r.error ?? null));
  }

  /**
   * A service that is never saved, for an inline run of a script: validated
   * as a new service would be (type available, config within the limits).
   */
  draft(input: Omit<ServiceInput, 'name'>): Service {
    const data = this.validate({ ...input, name: 'inline' }, null);
    const type = this.engines.find(data.type!)!;
    if (!type.info.supportsInlineExecution) throw badInput(`Script type "${data.type}" does not run scripts inline.`, 'type');
    const now = new Date();
    return {
      id: 0,
      version: 0,
      name: INLINE_SCRIPT,
      label: 'Inline script',
      description: '',
      type: data.type!,
      isActive: true,
      content: data.content ?? '',
      config: (data.config ?? {}) as Service['config'],
      graphql: null,
      createdAt: now,
      updatedAt: now,
    };
  }

  /**
   * Runs a write, then everyone (other instances too) drops what they held
   * for the names it touched, and this instance caches the records it wrote,
   * sparing their first calls a read; unless another change came in
   * meanwhile, when they are read on first use instead.
   */
  private async writing<T extends Service | Service[]>(write: () => Promise<T>, touched: string[] = []): Promise<T> {
    const generation = this.generation;
    const result = await write();
    const written: Service[] = Array.isArray(result) ? result : [result];
    const names = new Set([...touched, ...written.map((service) => service.name)]);
    for (const name of names) this.bus.serviceChanged(name);
    if (this.generation === generation + names.size) for (const service of written) this.cache.set(service.name, service);
    return result;
  }

  /** Checks every given field; `existing` is null on create, where name, type and content are needed. */
  private validate(input: ServiceInput, existing: Service | null) {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) throw badInput('A service must be an object.');
    const data: ServiceData = {};
    if (input.name !== undefined || !existing) {
      if (input.name === undefined || input.name === null || input.name === '') {
        throw badInput('Field "name" is required: 1 to 40 letters, digits, "_" or "-".', 'name');
      }
      if (typeof input.name !== 'string' || !NAME_PATTERN.test(input.name)) {
        throw badInput(`Field "name" must be 1 to 40 letters, digits, "_" or "-"; got ${JSON.stringify(input.name).slice(0, 60)}.`, 'name');
      }
      data.name = input.name.toLowerCase();
      if (RESERVED_NAMES.has(data.name)) throw badInput(`Field "name": "${data.name}" is reserved.`, 'name');
    }
    if (input.label !== undefined && input.label !== null) {
      if (typeof input.label !== 'string' || input.label.length > 80) throw badInput('Field "label" must be a string of at most 80 characters.', 'label');
      data.label = input.label;
    } else if (!existing) data.label = data.name;
    if (input.description !== undefined && input.description !== null) {
      if (typeof input.description !== 'string' || input.description.length > 255) {
        throw badInput('Field "description" must be a string of at most 255 characters.', 'description');
      }
      data.description = input.description;
    }
    if (input.isActive !== undefined && input.isActive !== null) {
      if (typeof input.isActive !== 'boolean') throw badInput('Field "is_active" must be a boolean.', 'is_active');
      data.isActive = input.isActive;
    }
    if (input.type !== undefined || !existing) data.type = validateType(this.engines, input.type);
    if (input.config !== undefined && input.config !== null) {
      const { content, ...given } = configObject(input.config);
      const merged = mergeConfig(given, existing ? (existing.config as Record<string, unknown>) : null);
      validateLimits(merged, this.limits);
      validateConfigJson(merged);
      validateOpenApi(merged);
      data.config = merged as Prisma.InputJsonObject;
      if (content !== undefined && input.content === undefined) data.content = validateContent(content, this.limits);
    } else if (!existing) data.config = {};
    if (input.content !== undefined) data.content = validateContent(input.content, this.limits);
    saveNotes.set(data, noteOf(input));
    if (input.graphql !== undefined) data.graphql = validateGraphQLText(input.graphql);
    return data;
  }

  private storeError(error: unknown, name: string | undefined): Error {
    const code = (error as { code?: string }).code;
    if (code === 'P2002') return new DomainError('CONFLICT', `A service named "${name}" already exists.`, { field: 'name' });
    if (code === 'P2025') return notFound('Service not found.');
    return error as Error;
  }
}

/** The definition's text (checked against the schema on save); null or blank removes it. */
function validateGraphQLText(graphql: unknown): string | null {
  if (graphql === null || (typeof graphql === 'string' && graphql.trim() === '')) return null;
  if (typeof graphql !== 'string') throw badInput('Field "graphql" must be a string of GraphQL SDL (or null to remove it).', 'graphql');
  if (graphql.length * 3 > MAX_GRAPHQL_BYTES && Buffer.byteLength(graphql) > MAX_GRAPHQL_BYTES) {
    throw badInput(`Field "graphql" is ${Buffer.byteLength(graphql)} bytes, over the limit of ${MAX_GRAPHQL_BYTES}.`, 'graphql');
  }
  return graphql;
}

function batchError(errors: (Error | null)[]): DomainError {
  const failed = errors.flatMap((error, index) => (error ? [index] : []));
  return new DomainError(
    'BAD_INPUT',
    'Batch Error: Not all requested records could be created.',
    {
      error: failed,
      resource: errors.map((error) =>
        error instanceof DomainError
          ? { error: { code: error.status, context: error.context, message: error.message, status_code: error.status } }
          : error
            ? { error: { code: 500, context: null, message: error.message, status_code: 500 } }
            : null,
      ),
    },
    { code: 1000 },
  );
}
