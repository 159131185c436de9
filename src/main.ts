import { ConfigError, loadSettings } from './config.ts';
import { startServer } from './server.ts';

/** `npm start`: settings from the environment, start, and stop cleanly on a signal. */
async function main(): Promise<void> {
  const settings = loadSettings();
  const server = await startServer(settings);
  if (server.generatedAdminKey) {
    // Shown once, on the first start; only its hash is kept.
    process.stdout.write(
      `\n  Administrator key (shown once, keep it safe): ${server.generatedAdminKey}\n` +
        `  Send it as X-DreamFactory-API-Key or Authorization: Bearer.\n\n`,
    );
  }
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

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? `Configuration error: ${error.message}` : error);
  process.exit(1);
});
