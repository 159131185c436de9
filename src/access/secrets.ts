import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type Settings } from '../config.ts';
import type { Db } from '../db/client.ts';
import { badInput, DomainError, notFound } from '../domain/errors.ts';
import type { EventBus } from '../logs/bus.ts';

/** Secret names are identifiers, so scripts can write platform.secrets.NAME in every language; none starts with "__" (`__proto__`). */
const NAME_PATTERN = /^(?!__)[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const MAX_SECRET_BYTES = 64 * 1024;
export const MAX_SECRETS_PER_SERVICE = 100;
/** Services whose decrypted secrets are kept in memory (the empty set of a service without secrets counts too). */
const MAX_CACHED_SERVICES = 10_000;
const KEY_FILE = 'secrets.key';
/** A known text encrypted under the key, so a different key is noticed at start rather than at a script's first read. */
const KEY_CHECK_SETTING = 'secrets_key_check';
const KEY_CHECK_TEXT = 'scriptgate secrets key check';

export type SecretValues = Readonly<Record<string, string>>;

const NONE: SecretValues = Object.freeze(Object.create(null) as Record<string, string>);

/**
 * The key secrets are encrypted under: SECRETS_KEY, or on SQLite a key
 * generated once into DATA_DIR/secrets.key (mode 0600). With PostgreSQL the
 * key is required: instances share the database, so they must share the key,
 * and a generated key kept next to the data would protect nothing.
 */
export function loadSecretsKey(settings: Pick<Settings, 'database' | 'dataDir' | 'access'>): { key: Buffer; generated: boolean; warning: string | null } {
  if (settings.access.secretsKey) return { key: settings.access.secretsKey, generated: false, warning: null };
  if (settings.database.provider === 'postgresql') {
    throw new ConfigError('SECRETS_KEY is required with PostgreSQL (every instance must encrypt secrets with the same key): base64 of 32 random bytes, e.g. `openssl rand -base64 32`.');
  }
  const file = join(settings.dataDir, KEY_FILE);
  mkdirSync(settings.dataDir, { recursive: true });
  let generated = false;
  try {
    // `wx`: two processes starting together cannot both write one; the loser reads the winner's.
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
    generated = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new ConfigError(`${file} must hold base64 of 32 bytes; it holds ${key.length} bytes.`);
  const mode = statSync(file).mode & 0o777;
  const warning = mode & 0o077 ? `${file} is readable by others (mode ${mode.toString(8)}); chmod 600 it.` : null;
  return { key, generated, warning };
}

/**
 * Services' write-only secrets: set, delete and list names; values are
 * AES-256-GCM encrypted at rest (a fresh 96-bit IV per write; the service id
 * and name are authenticated data, so a row copied to another service or
 * name does not decrypt). Engines read values through `valuesFor`, cached per
 * service and dropped on every instance when that service's secrets change.
 */
export class SecretStore {
  private readonly cache = new Map<number, SecretValues>();
  /**
   * The ids of services that have any secret, read in one query when first
   * needed and again after a change: most services have none, and their
   * first call then needs no query of its own.
   */
  private holders: Set<number> | null = null;
  private generation = 0;

  private constructor(
    private readonly db: Db,
    private readonly bus: EventBus,
    private readonly key: Buffer,
  ) {
    bus.onSecretChanged((serviceId) => {
      this.generation++;
      this.holders = null;
      if (serviceId === null) this.cache.clear();
      else this.cache.delete(Number(serviceId));
    });
  }

  /** Checks the key against the one the stored secrets were written with (recording it on first use). */
  static async open(db: Db, bus: EventBus, key: Buffer): Promise<SecretStore> {
    if (key.length !== 32) throw new ConfigError('The secrets key must be 32 bytes.');
    const store = new SecretStore(db, bus, key);
    const stored = await db.setting.findUnique({ where: { key: KEY_CHECK_SETTING } });
    if (!stored) {
      const sealed = store.seal(KEY_CHECK_TEXT, KEY_CHECK_SETTING);
      await db.setting
        .create({ data: { key: KEY_CHECK_SETTING, value: JSON.stringify(sealed) } })
        .catch(() => undefined); // another instance wrote its check first: it is checked on the next start
      return store;
    }
    let text: string | null = null;
    try {
      text = store.open(JSON.parse(stored.value) as Sealed, KEY_CHECK_SETTING);
    } catch {
      text = null;
    }
    if (text !== KEY_CHECK_TEXT) {
      throw new ConfigError('The secrets key differs from the one the stored secrets were encrypted with (SECRETS_KEY changed, or DATA_DIR/secrets.key replaced).');
    }
    return store;
  }

  /** Creates or replaces; true when created. */
  async set(serviceId: number, name: unknown, value: unknown): Promise<boolean> {
    const checkedName = secretName(name);
    if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value) > MAX_SECRET_BYTES) {
      throw badInput(`A secret's "value" must be a non-empty string of at most ${MAX_SECRET_BYTES} bytes.`, 'value');
    }
    const service = await this.db.service.findUnique({ where: { id: serviceId }, select: { id: true } });
    if (!service) throw notFound(`Service with id ${serviceId} not found.`);
    const existing = await this.db.serviceSecret.findUnique({ where: { serviceId_name: { serviceId, name: checkedName } }, select: { id: true } });
    if (!existing && (await this.db.serviceSecret.count({ where: { serviceId } })) >= MAX_SECRETS_PER_SERVICE) {
      throw badInput(`A service may hold at most ${MAX_SECRETS_PER_SERVICE} secrets.`, 'name');
    }
    const sealed = this.seal(value, aad(serviceId, checkedName));
    try {
      await this.db.serviceSecret.upsert({
        where: { serviceId_name: { serviceId, name: checkedName } },
        create: { serviceId, name: checkedName, ...sealed },
        update: sealed,
      });
    } catch (error) {
      // The service was deleted meanwhile (foreign key).
      if ((error as { code?: string }).code === 'P2003') throw notFound(`Service with id ${serviceId} not found.`);
      throw error;
    } finally {
      this.bus.secretChanged(serviceId);
    }
    return !existing;
  }

  async delete(serviceId: number, name: unknown): Promise<void> {
    const checkedName = secretName(name);
    const { count } = await this.db.serviceSecret.deleteMany({ where: { serviceId, name: checkedName } });
    this.bus.secretChanged(serviceId);
    if (count === 0) throw notFound(`Service ${serviceId} has no secret "${checkedName}".`);
  }

  /** Names only, sorted: no API ever returns a value. */
  async names(serviceId: number): Promise<string[]> {
    const rows = await this.db.serviceSecret.findMany({ where: { serviceId }, select: { name: true }, orderBy: { name: 'asc' } });
    return rows.map((r) => r.name);
  }

  /** Names of several services' secrets in one read (GraphQL lists). */
  async namesFor(serviceIds: readonly number[]): Promise<Map<number, string[]>> {
    const result = new Map<number, string[]>(serviceIds.map((id) => [id, []]));
    if (serviceIds.length === 0) return result;
    const rows = await this.db.serviceSecret.findMany({
      where: { serviceId: { in: [...new Set(serviceIds)] } },
      select: { serviceId: true, name: true },
      orderBy: { name: 'asc' },
    });
    for (const row of rows) result.get(row.serviceId)?.push(row.name);
    return result;
  }

  /** The decrypted values, for the service's scripts (platform.secrets). A frozen object without a prototype. */
  async valuesFor(serviceId: number): Promise<SecretValues> {
    const cached = this.cachedValuesFor(serviceId);
    if (cached) return cached;
    const generation = this.generation;
    if (!(this.holders ?? (await this.loadHolders())).has(serviceId)) return NONE;
    const rows = await this.db.serviceSecret.findMany({ where: { serviceId }, select: { name: true, ciphertext: true, iv: true, tag: true } });
    const values: Record<string, string> = Object.create(null);
    for (const row of rows) {
      try {
        values[row.name] = this.open(row, aad(serviceId, row.name));
      } catch {
        throw new DomainError('INTERNAL', `Secret "${row.name}" of service ${serviceId} cannot be decrypted with this key.`);
      }
    }
    const frozen = rows.length === 0 ? NONE : Object.freeze(values);
    if (generation === this.generation) {
      if (this.cache.size >= MAX_CACHED_SERVICES) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(serviceId, frozen);
    }
    return frozen;
  }

  /** The cached values, or undefined (no await on the hot path when they are known). */
  cachedValuesFor(serviceId: number): SecretValues | undefined {
    return this.cache.get(serviceId) ?? (this.holders && !this.holders.has(serviceId) ? NONE : undefined);
  }

  private async loadHolders(): Promise<Set<number>> {
    const generation = this.generation;
    const rows = await this.db.serviceSecret.findMany({ distinct: ['serviceId'], select: { serviceId: true } });
    const holders = new Set(rows.map((row) => row.serviceId));
    // A change meanwhile may have added one: this answer serves the call that asked, and is not kept.
    if (generation === this.generation) this.holders = holders;
    return holders;
  }

  private seal(value: string, additional: string): Sealed {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(additional));
    const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return { ciphertext: ciphertext.toString('base64'), iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
  }

  private open(sealed: Sealed, additional: string): string {
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(Buffer.from(additional));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64')), decipher.final()]).toString('utf8');
  }
}

interface Sealed {
  ciphertext: string;
  iv: string;
  tag: string;
}

const aad = (serviceId: number, name: string) => `${serviceId}:${name}`;

function secretName(name: unknown): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw badInput(`A secret's name must be a letter or "_" then up to 63 letters, digits or "_", not starting with "__"; got ${(JSON.stringify(name) ?? String(name)).slice(0, 60)}.`, 'name');
  }
  return name;
}
