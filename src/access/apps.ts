import type { Db } from '../db/client.ts';
import { badInput, DomainError, notFound } from '../domain/errors.ts';
import type { EventBus } from '../logs/bus.ts';
import { checkName, optionalDescription, optionalFlag, optionalRateLimit, plainObject } from './fields.ts';
import { generateAppKey, hashKey, MAX_KEY_LENGTH, sameHash } from './keys.ts';
import { storeError } from './roles.ts';

/** An app as every read shows it: never its key, nor the key's hash. */
export interface App {
  id: number;
  name: string;
  description: string;
  isActive: boolean;
  roleId: number;
  apiKeyPrefix: string;
  rateLimitPerMinute: number | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What the request path needs of an app, found by its key. */
export interface AppIdentity {
  id: number;
  name: string;
  isActive: boolean;
  roleId: number;
  rateLimitPerMinute: number | null;
}

/** An app and its key: only on create and rotate, shown once. */
export interface AppWithKey {
  app: App;
  key: string;
}

export interface AppInput {
  name?: unknown;
  description?: unknown;
  isActive?: unknown;
  roleId?: unknown;
  rateLimitPerMinute?: unknown;
}

export interface AppQuery {
  ids?: number[];
  name?: string;
  roleId?: number;
  limit?: number;
  offset?: number;
  order?: { field: 'id' | 'name' | 'createdAt' | 'updatedAt'; direction: 'asc' | 'desc' };
}

/** Apps one batch create may hold. */
export const MAX_APP_BATCH = 100;
/**
 * Apps the key cache holds. Up to this many the cache holds every app, so an
 * unknown key is answered from memory; past it, only keys seen (oldest
 * dropped first) and an unknown key costs an indexed read.
 */
export const MAX_CACHED_APPS = 100_000;

const appFields = {
  id: true,
  name: true,
  description: true,
  isActive: true,
  roleId: true,
  apiKeyPrefix: true,
  rateLimitPerMinute: true,
  createdAt: true,
  updatedAt: true,
} as const;
const identityFields = { id: true, name: true, isActive: true, roleId: true, rateLimitPerMinute: true, apiKeyHash: true } as const;

type CachedIdentity = AppIdentity & { apiKeyHash: string };

interface AppData {
  name?: string;
  description?: string;
  isActive?: boolean;
  roleId?: number;
  rateLimitPerMinute?: number | null;
}

/**
 * Apps and their keys. Keys are stored as SHA-256 only. The request path
 * looks keys up by hash in memory: once loaded, the cache holds every app,
 * so a wrong key costs one hash and one map lookup and grows nothing; after a
 * change (on any instance, `access` notices `app:{id}`) the changed app
 * leaves the cache at once, and until the next full load a miss costs one
 * indexed read. Wrong keys are never remembered.
 */
export class AppCatalog {
  private readonly byHash = new Map<string, CachedIdentity>();
  private readonly hashById = new Map<number, string>();
  /** Whether byHash holds every app: then a miss is an unknown key. */
  private complete = false;
  private generation = 0;
  private loading = false;
  /** The generation at which a full load found too many apps: no new attempt until something changes. */
  private tooManyAt = -1;

  constructor(
    private readonly db: Db,
    private readonly bus: EventBus,
  ) {
    bus.onAccessChanged((what) => {
      if (what !== null && !what.startsWith('app:')) return;
      this.generation++;
      this.complete = false;
      if (what === null) {
        this.byHash.clear();
        this.hashById.clear();
      } else this.forget(Number(what.slice(4)));
    });
  }

  /** The app a key belongs to, or null. Active or not: the caller decides what an inactive app gets. */
  async byKey(key: string): Promise<AppIdentity | null> {
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) return null;
    const hash = hashKey(key);
    const hit = this.byHash.get(hash);
    if (hit) return sameHash(hash, hit.apiKeyHash) ? hit : null;
    if (this.complete) return null;
    this.loadAll();
    const generation = this.generation;
    const row = await this.db.app.findUnique({ where: { apiKeyHash: hash }, select: identityFields });
    if (row && generation === this.generation) this.remember(row);
    return row;
  }

  /** An app's request-path fields by id (a queued run restoring its caller), or null. */
  async identityById(id: number): Promise<AppIdentity | null> {
    return this.db.app.findUnique({ where: { id }, select: identityFields });
  }

  /** Whether every app is in memory, so a wrong key is answered without a read. */
  get holdsEveryApp(): boolean {
    return this.complete;
  }

  /** Entries the key cache holds (for tests: wrong keys must not add any). */
  get cachedKeys(): number {
    return this.byHash.size;
  }

  async list(query: AppQuery = {}): Promise<{ apps: App[]; count: number }> {
    const where = {
      ...(query.ids ? { id: { in: query.ids } } : {}),
      ...(query.name !== undefined ? { name: query.name } : {}),
      ...(query.roleId !== undefined ? { roleId: query.roleId } : {}),
    };
    const [apps, count] = await Promise.all([
      this.db.app.findMany({
        where,
        select: appFields,
        orderBy: query.order ? { [query.order.field]: query.order.direction } : { id: 'asc' },
        take: query.limit,
        skip: query.offset,
      }),
      this.db.app.count({ where }),
    ]);
    return { apps, count };
  }

  async byId(id: number): Promise<App> {
    const app = Number.isSafeInteger(id) ? await this.db.app.findUnique({ where: { id }, select: appFields }) : null;
    if (!app) throw notFound(`App with id ${id} not found.`);
    return app;
  }

  async byName(name: string): Promise<App> {
    const app = await this.db.app.findUnique({ where: { name }, select: appFields });
    if (!app) throw notFound(`App "${name}" not found.`);
    return app;
  }

  /** All or none; each app gets a new key, returned here and never again. */
  async createMany(inputs: AppInput[]): Promise<AppWithKey[]> {
    if (inputs.length > MAX_APP_BATCH) throw badInput(`A batch may create at most ${MAX_APP_BATCH} apps; this one has ${inputs.length}.`, 'resource');
    const records = inputs.map((input, index) => this.validate(input, null, inputs.length > 1 ? index : null));
    const names = new Set<string>();
    for (const record of records) {
      if (names.has(record.name!)) throw new DomainError('CONFLICT', `Duplicate app name "${record.name}" in this batch.`, { field: 'name' });
      names.add(record.name!);
    }
    await this.checkRolesExist(records.map((r) => r.roleId!));
    const taken = await this.db.app.findMany({ where: { name: { in: [...names] } }, select: { name: true } });
    if (taken.length > 0) throw new DomainError('CONFLICT', `An app named "${taken[0]!.name}" already exists.`, { field: 'name' });
    const keys = records.map(() => generateAppKey());
    try {
      const created = await this.db.$transaction(
        records.map((data, i) =>
          this.db.app.create({
            data: { ...(data as Required<AppData>), apiKeyHash: keys[i]!.hash, apiKeyPrefix: keys[i]!.prefix },
            select: appFields,
          }),
        ),
      );
      for (const app of created) this.bus.accessChanged(`app:${app.id}`);
      return created.map((app, i) => ({ app, key: keys[i]!.key }));
    } catch (error) {
      throw storeError(error);
    }
  }

  async create(input: AppInput): Promise<AppWithKey> {
    const [created] = await this.createMany([input]);
    return created!;
  }

  /** PATCH: fields given change. A key cannot be set, only rotated. */
  async update(existing: App, input: AppInput): Promise<App> {
    const data = this.validate(input, existing, null);
    if (data.roleId !== undefined) await this.checkRolesExist([data.roleId]);
    return this.write(existing.id, data);
  }

  /** A new key; the old one stops working at once, here and (through the bus) on every instance. */
  async rotate(existing: App): Promise<AppWithKey> {
    const key = generateAppKey();
    const app = await this.write(existing.id, { apiKeyHash: key.hash, apiKeyPrefix: key.prefix });
    return { app, key: key.key };
  }

  async delete(existing: App): Promise<void> {
    try {
      await this.db.app.delete({ where: { id: existing.id } });
    } catch (error) {
      throw storeError(error);
    } finally {
      this.bus.accessChanged(`app:${existing.id}`);
    }
  }

  private async write(id: number, data: AppData & { apiKeyHash?: string; apiKeyPrefix?: string }): Promise<App> {
    try {
      return await this.db.app.update({ where: { id }, data, select: appFields });
    } catch (error) {
      throw storeError(error);
    } finally {
      // Also after a failed write: dropping a cached entry is always safe.
      this.bus.accessChanged(`app:${id}`);
    }
  }

  private validate(input: AppInput, existing: App | null, index: number | null): AppData {
    const at = index === null ? '' : `Record ${index}: `;
    const record = plainObject(input, `${at}An app must be an object.`);
    if ('apiKey' in record && record.apiKey !== undefined) {
      throw badInput(`${at}Field "api_key" cannot be set: keys are generated (rotate one to get a new key).`, 'api_key');
    }
    const data: AppData = {};
    if (record.name !== undefined || !existing) data.name = checkName(record.name, 'app', at);
    const description = optionalDescription(record.description, at);
    if (description !== undefined) data.description = description;
    const isActive = optionalFlag(record.isActive, 'is_active', at);
    if (isActive !== undefined) data.isActive = isActive;
    const rateLimit = optionalRateLimit(record.rateLimitPerMinute, at);
    if (rateLimit !== undefined) data.rateLimitPerMinute = rateLimit;
    if (record.roleId !== undefined || !existing) {
      if (!(Number.isSafeInteger(record.roleId) && (record.roleId as number) >= 1 && (record.roleId as number) <= 2 ** 31 - 1)) {
        throw badInput(`${at}Field "role_id" must be the id of a role, got ${(JSON.stringify(record.roleId) ?? 'nothing').slice(0, 60)}.`, 'role_id');
      }
      data.roleId = record.roleId as number;
    }
    return data;
  }

  private async checkRolesExist(ids: number[]): Promise<void> {
    const wanted = [...new Set(ids)];
    const found = new Set((await this.db.role.findMany({ where: { id: { in: wanted } }, select: { id: true } })).map((r) => r.id));
    const missing = wanted.find((id) => !found.has(id));
    if (missing !== undefined) throw new DomainError('BAD_INPUT', `No role with id ${missing}.`, { field: 'role_id', role_id: missing });
  }

  private forget(id: number): void {
    const hash = this.hashById.get(id);
    if (hash === undefined) return;
    this.hashById.delete(id);
    this.byHash.delete(hash);
  }

  private remember(row: CachedIdentity): void {
    this.forget(row.id);
    if (this.byHash.size >= MAX_CACHED_APPS) {
      const oldest = this.byHash.values().next().value;
      if (oldest) this.forget(oldest.id);
    }
    this.byHash.set(row.apiKeyHash, row);
    this.hashById.set(row.id, row.apiKeyHash);
  }

  /** Reads every app into the cache in the background, unless a change overlaps the read or there are too many. */
  private loadAll(): void {
    if (this.loading || this.tooManyAt === this.generation) return;
    this.loading = true;
    const generation = this.generation;
    this.db.app
      .findMany({ select: identityFields, take: MAX_CACHED_APPS + 1, orderBy: { id: 'asc' } })
      .then(
        (rows) => {
          if (generation !== this.generation) return;
          if (rows.length > MAX_CACHED_APPS) {
            this.tooManyAt = generation;
            return;
          }
          this.byHash.clear();
          this.hashById.clear();
          for (const row of rows) this.remember(row);
          this.complete = true;
        },
        () => undefined, // the next miss tries again
      )
      .finally(() => {
        this.loading = false;
      });
  }
}
