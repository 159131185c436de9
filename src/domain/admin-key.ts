import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/client.ts';

const SETTING = 'admin_key_sha256';

const digest = (key: string) => createHash('sha256').update(key).digest();

/**
 * The administrator key. Only its SHA-256 is kept; comparing digests with
 * timingSafeEqual makes the check constant-time whatever the key's length.
 */
export class AdminKey {
  private constructor(private readonly expected: Buffer) {}

  /**
   * `ADMIN_KEY` wins when set. Otherwise the stored digest is used, or a new
   * key is generated, stored hashed, and returned once as `generated`.
   */
  static async load(db: Db, configured: string | null): Promise<{ adminKey: AdminKey; generated: string | null }> {
    if (configured) return { adminKey: new AdminKey(digest(configured)), generated: null };
    const stored = await db.setting.findUnique({ where: { key: SETTING } });
    if (stored) return { adminKey: new AdminKey(Buffer.from(stored.value, 'hex')), generated: null };
    const key = `sg_${randomBytes(24).toString('base64url')}`;
    // Two instances starting together: the first write wins; the loser reads it.
    const created = await db.setting
      .create({ data: { key: SETTING, value: digest(key).toString('hex') } })
      .then(() => true)
      .catch(() => false);
    if (!created) return AdminKey.load(db, null);
    return { adminKey: new AdminKey(digest(key)), generated: key };
  }

  /** Keys already verified, so the request path skips hashing them again. */
  private readonly verified = new Set<string>();

  matches(candidate: string | null | undefined): boolean {
    if (!candidate) return false;
    if (this.verified.has(candidate)) return true;
    if (!timingSafeEqual(digest(candidate), this.expected)) return false;
    if (this.verified.size < 16) this.verified.add(candidate);
    return true;
  }

  /** The key from `X-DreamFactory-API-Key` or `Authorization: Bearer`. */
  static fromHeaders(headers: Record<string, string | string[] | undefined>): string | null {
    const apiKey = headers['x-dreamfactory-api-key'];
    if (typeof apiKey === 'string' && apiKey) return apiKey;
    const authorization = headers.authorization;
    if (typeof authorization === 'string') {
      const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
      if (match) return match[1]!;
    }
    const session = headers['x-dreamfactory-session-token'];
    return typeof session === 'string' && session ? session : null;
  }
}
