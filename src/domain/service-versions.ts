import { isDeepStrictEqual } from 'node:util';
import type { Identity } from '../access/caller-identity.ts';
import type { Db } from '../db/client.ts';
import type { Prisma, Service, ServiceVersion } from '../generated/prisma-sqlite/client.ts';
import { badInput, notFound } from './errors.ts';
import type { ServiceCatalog } from './services.ts';

export type { ServiceVersion };

/** Who saved and why: the caller's name and the save input's `message`. */
export interface SaveNote {
  savedBy: string;
  message: string | null;
}

/** A version's message, as a save or rollback input gives it. */
export const MAX_MESSAGE_LENGTH = 500;

/** "admin", an app's name, or `guest:<role>` for a guest role allowed to write services. */
export function savedByOf(identity: Identity): string {
  if (identity.kind === 'app') return identity.app.name;
  if (identity.kind === 'guest') return `guest:${identity.role.name}`;
  return 'admin';
}

export function saveMessage(message: unknown): string | null {
  if (message === undefined || message === null) return null;
  if (typeof message !== 'string' || message.length > MAX_MESSAGE_LENGTH) {
    throw badInput(`Field "message" must be a string of at most ${MAX_MESSAGE_LENGTH} characters.`, 'message');
  }
  return message;
}

/** What a save gives the version it makes: the caller's name (set by the system API, never by the record) and its message. */
export function noteOf(input: { message?: unknown; savedBy?: unknown }): SaveNote {
  return { savedBy: typeof input.savedBy === 'string' ? input.savedBy : 'admin', message: saveMessage(input.message) };
}

interface Snapshot {
  type: string;
  content: string;
  config: unknown;
}

/** The row of a service's version `version`, as `service` holds it now. */
export function versionRow(serviceId: number, version: number, snapshot: Snapshot, note: SaveNote): Prisma.ServiceVersionCreateManyInput {
  return {
    serviceId,
    version,
    type: snapshot.type,
    content: snapshot.content,
    config: snapshot.config as Prisma.InputJsonValue,
    message: note.message,
    savedBy: note.savedBy,
  };
}

/** Fields a create adds: version 1 of the service, written with it (one statement). */
export function firstVersionFields(data: { type?: string; content?: string; config?: unknown }, note: SaveNote) {
  return {
    version: 1,
    versions: {
      create: { version: 1, type: data.type!, content: data.content ?? '', config: (data.config ?? {}) as Prisma.InputJsonValue, message: note.message, savedBy: note.savedBy },
    },
  };
}

/**
 * Fields an update adds when it changes the script, type or config: the next
 * version, written in the same statement as the change. Nothing for a save
 * that changes none of them (a label, a description, is_active).
 */
export function nextVersionFields(existing: Service, data: { type?: string; content?: string; config?: unknown }, note: SaveNote) {
  const after: Snapshot = { type: data.type ?? existing.type, content: data.content ?? existing.content, config: data.config ?? existing.config };
  const changed = after.type !== existing.type || after.content !== existing.content || !isDeepStrictEqual(after.config, existing.config);
  if (!changed) return {};
  const { version, versions } = restoreFields(existing, after, note);
  return { version, versions };
}

/** A rollback's fields: the snapshot as the service's next version (always a new one: history is never rewritten). */
export function restoreFields(existing: Service, snapshot: Snapshot, note: SaveNote) {
  const version = existing.version + 1;
  return {
    type: snapshot.type,
    content: snapshot.content,
    config: snapshot.config as Prisma.InputJsonObject,
    version,
    versions: { create: { version, type: snapshot.type, content: snapshot.content, config: snapshot.config as Prisma.InputJsonValue, message: note.message, savedBy: note.savedBy } },
  };
}

/** Versions in one page; as the system API's other lists. */
const MAX_PAGE = 1000;

/** Reading a service's history, and rolling back to a version of it. */
export class ServiceVersions {
  constructor(
    private readonly db: Db,
    private readonly services: ServiceCatalog,
  ) {}

  /** Newest first. */
  async list(serviceId: number, page: { limit: number; offset: number }): Promise<{ rows: ServiceVersion[]; count: number }> {
    const where = { serviceId };
    const [rows, count] = await Promise.all([
      this.db.serviceVersion.findMany({ where, orderBy: { version: 'desc' }, take: Math.min(page.limit, MAX_PAGE), skip: page.offset }),
      this.db.serviceVersion.count({ where }),
    ]);
    return { rows, count };
  }

  async get(service: Service, version: number): Promise<ServiceVersion> {
    const row = await this.db.serviceVersion.findUnique({ where: { serviceId_version: { serviceId: service.id, version } } });
    if (!row) throw notFound(`Service "${service.name}" has no version ${version} (its current version is ${service.version}).`);
    return row;
  }

  /** A new version equal to `version`; the script runs from it on the next call, on every instance. */
  async rollback(service: Service, version: number, note: SaveNote): Promise<Service> {
    const old = await this.get(service, version);
    return this.services.restore(service, old, note);
  }
}
