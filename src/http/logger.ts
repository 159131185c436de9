import type { FastifyServerOptions } from 'fastify';
import type { Settings } from '../config.ts';

/**
 * pino, one line per request: pretty and single-line in a terminal, JSON
 * lines otherwise (LOG_FORMAT=pretty|json overrides).
 */
export function loggerOptions(settings: Settings): FastifyServerOptions['logger'] {
  const pretty = settings.logFormat === 'pretty' || (settings.logFormat === 'auto' && process.stdout.isTTY);
  if (settings.logLevel === 'silent') return false;
  if (!pretty) return { level: settings.logLevel };
  return {
    level: settings.logLevel,
    transport: {
      target: 'pino-pretty',
      options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,reqId' },
    },
  };
}
