import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { CHANGE_KINDS, type ChangeKind } from '../logs/bus.ts';

const CHANNEL = 'scriptgate_service_changed';
const RECONNECT_MAX_MS = 5_000;

/**
 * Service and event-script changes between instances that share one PostgreSQL database:
 * each instance caches services by name, so a change made through one must
 * reach the others' caches. NOTIFY after the write; every instance LISTENs
 * on a connection of its own. A lost connection may have missed changes, so
 * after reconnecting it reports that anything may have changed (null).
 */
export class PostgresServiceChanges {
  private readonly instance = randomUUID();
  private listener: pg.Client | null = null;
  private stopped = false;
  private retryMs = 100;
  private retryTimer: NodeJS.Timeout | null = null;
  private onChange: (name: string | null, kind: ChangeKind) => void = () => undefined;

  constructor(
    private readonly connectionString: string,
    private readonly pool: pg.Pool,
    private readonly onError: (error: unknown) => void,
  ) {}

  /**
   * Resolves once this instance is listening. `kind` says what `name` is;
   * `null` (after a reconnect: changes may have been missed) means anything.
   */
  async start(onChange: (name: string | null, kind: ChangeKind) => void): Promise<void> {
    this.onChange = onChange;
    await this.listen();
  }

  publish(name: string, kind: ChangeKind = 'service'): void {
    this.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ from: this.instance, name, kind })]).catch(this.onError);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString });
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || !message.payload) return;
      try {
        const { from, name, kind } = JSON.parse(message.payload) as { from: string; name: string; kind?: ChangeKind };
        // A notice without a kind comes from an instance older than event scripts: a service.
        if (from !== this.instance) this.onChange(name, kind && CHANGE_KINDS.includes(kind) ? kind : 'service');
      } catch (error) {
        this.onError(error);
      }
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, null));
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    if (this.stopped) {
      await client.end();
      return;
    }
    this.listener = client;
    this.retryMs = 100;
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.listener !== client || this.stopped) return;
    this.listener = null;
    if (error) this.onError(error);
    client.end().catch(() => undefined);
    this.reconnectLater();
  }

  private reconnectLater(): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.listen().then(
        () => this.onChange(null, 'service'),
        (error: unknown) => {
          this.onError(error);
          this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS);
          this.reconnectLater();
        },
      );
    }, this.retryMs);
    this.retryTimer.unref();
  }
}
