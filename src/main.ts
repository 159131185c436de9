import { saveCodeCache } from './code-cache.ts';
import { ConfigError, loadSettings } from './config.ts';
import { startServer } from './server.ts';

/** Milliseconds from the process's start until the server's code is loaded (all imports evaluated). */
const loadedMs = performance.now();

/** A repeat of the first signal within this is the same signal delivered twice, not a second one. */
const SAME_SIGNAL_MS = 200;

/**
 * `npm start`: settings from the environment, start, and on SIGTERM or SIGINT
 * drain and stop (exit 0); a second signal exits at once (1). `npm start`
 * runs `exec node ...`, so npm's forwarded signal reaches this process, not a shell.
 */
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
  // Where a start's time went (bench/startup.ts reads it): node and loading the code, then starting to listen.
  const startup = { loadedMs: Math.round(loadedMs), readyMs: Math.round(performance.now()) };
  server.app.log.info({ url: server.url, graphql: `${server.url}/graphql`, database: settings.database.provider, startup }, 'Scriptgate ready');
  // What this start compiled, kept for the next one (built runs only: dist/scriptgate.mjs).
  saveCodeCache();
  let first: { signal: string; at: number } | null = null;
  const shutdown = (signal: string) => {
    if (first) {
      // Ctrl-C under `npm start` arrives twice within a millisecond: from the terminal, and forwarded by npm.
      if (signal === first.signal && Date.now() - first.at < SAME_SIGNAL_MS) return;
      server.app.log.warn({ signal }, 'second signal: exiting without finishing the shutdown');
      process.exit(1);
    }
    first = { signal, at: Date.now() };
    server.app.log.info({ signal, graceMs: settings.shutdownGraceMs }, 'shutting down: finishing calls in flight');
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
