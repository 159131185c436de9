import { ConfigError, loadSettings } from './config.ts';
import { startServer } from './server.ts';

/** `npm start`: settings from the environment, start, and stop cleanly on a signal. */
async function main(): Promise<void> {
  const settings = loadSettings();
  const server = await startServer(settings, {
    // Shown once, on the first start that succeeds; only its hash is kept, and only after this.
    showGeneratedAdminKey: (key) =>
      process.stdout.write(
        `\n  Administrator key (shown once, keep it safe): ${key}\n` +
          `  Send it as X-DreamFactory-API-Key or Authorization: Bearer. Lost it? Set ADMIN_KEY and restart.\n\n`,
      ),
  });
  server.app.log.info({ url: server.url, graphql: `${server.url}/graphql`, database: settings.database.provider }, 'Scriptgate ready');
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) process.exit(1);
    server.app.log.info({ signal }, 'shutting down');
    server.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

/** One line naming the cause (the stack only with LOG_LEVEL=debug or trace). */
function startupFailure(error: unknown): string {
  if (error instanceof ConfigError) return `Configuration error: ${error.message}`;
  const failure = error as NodeJS.ErrnoException & { address?: string; port?: number; errors?: Error[] };
  const cause = failure.errors?.[0] ?? failure;
  const code = (cause as NodeJS.ErrnoException).code ?? failure.code;
  if (code === 'EADDRINUSE') return `Scriptgate could not start: ${failure.address ?? ''}:${failure.port ?? ''} is in use (set PORT or HOST).`;
  const message = String(cause.message || failure.message || error).split('\n')[0];
  return `Scriptgate could not start: ${message}${code && !message.includes(code) ? ` (${code})` : ''}`;
}

main().catch((error: unknown) => {
  console.error(startupFailure(error));
  if (['debug', 'trace'].includes(process.env.LOG_LEVEL ?? '')) console.error(error);
  process.exit(1);
});
