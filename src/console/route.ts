import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../domain/errors.ts';
import { PACKAGE_ROOT } from '../package-root.ts';

/**
 * The web console at /console (console/, built by `npm run build` into
 * dist/console). Served from a fixed list: the files Vite's manifest names,
 * read into memory when the first request comes (about 750 kB). A build made
 * after the server started is picked up when its index.html changes; while a
 * build is being written (or removed, `npm run build` empties dist/) the
 * files read last are served, never half of each. A request is a lookup in
 * that list, never a path joined from the URL, so `..` and encodings of it
 * find nothing. The page and its files are public; everything it shows needs
 * a key, which the page keeps in sessionStorage only.
 */

export const CONSOLE_PATH = '/console';
const ASSETS_PREFIX = `${CONSOLE_PATH}/`;

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

interface Asset {
  body: Buffer;
  contentType: string;
}

interface Built {
  indexMtimeMs: number;
  index: Buffer;
  assets: Map<string, Asset>;
}

interface ManifestChunk {
  file: string;
  css?: string[];
  assets?: string[];
}

/** A host name with an optional port, nothing else: it goes into the CSP header. */
const HOST = /^[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$/i;

/**
 * Scripts and styles from this origin only (CodeMirror sets styles inline),
 * connections to this origin and its WebSocket (GraphQL subscriptions), no
 * frames, no forms posting elsewhere.
 */
function contentSecurityPolicy(host: string | undefined): string {
  const sockets = host && HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

export function consoleRoutes(app: FastifyInstance, directory = join(PACKAGE_ROOT, 'dist', 'console')): void {
  let built: Built | null = null;

  /** The build's files, read again when index.html changed; null before any build was read. */
  const current = (): Built | null => {
    let indexMtimeMs: number;
    try {
      indexMtimeMs = statSync(join(directory, 'index.html')).mtimeMs;
    } catch {
      return built;
    }
    if (built?.indexMtimeMs === indexMtimeMs) return built;
    try {
      built = readBuild(directory, indexMtimeMs);
    } catch {
      // A build being written: the last complete one until it is done.
    }
    return built;
  };

  const page = (request: FastifyRequest, reply: FastifyReply) => {
    const files = current();
    reply.header('content-security-policy', contentSecurityPolicy(request.headers.host)).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
    if (!files) {
      return reply
        .code(503)
        .header('content-type', 'text/plain; charset=utf-8')
        .header('cache-control', 'no-store')
        .send('The console is not built: run `npm run build` (npm install does), then reload.');
    }
    // Names the hashed files of this build: always asked again.
    return reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(files.index);
  };

  app.get(CONSOLE_PATH, page);
  app.get(`${CONSOLE_PATH}/`, page);
  app.get(`${CONSOLE_PATH}/*`, (request, reply) => {
    const path = request.url.split('?')[0]!;
    const asset = current()?.assets.get(path.slice(ASSETS_PREFIX.length));
    if (!asset) throw new DomainError('NOT_FOUND', `No console file at ${path.slice(0, 200)}.`);
    return reply
      .header('content-type', asset.contentType)
      // Hashed names: a new build is a new URL.
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .send(asset.body);
  });
}

function readBuild(directory: string, indexMtimeMs: number): Built {
  const manifest = JSON.parse(readFileSync(join(directory, '.vite', 'manifest.json'), 'utf8')) as Record<string, ManifestChunk>;
  const assets = new Map<string, Asset>();
  for (const chunk of Object.values(manifest)) {
    for (const name of [chunk.file, ...(chunk.css ?? []), ...(chunk.assets ?? [])]) {
      const extension = name.slice(name.lastIndexOf('.'));
      assets.set(name, { body: readFileSync(join(directory, name)), contentType: CONTENT_TYPES[extension] ?? 'application/octet-stream' });
    }
  }
  return { indexMtimeMs, index: readFileSync(join(directory, 'index.html')), assets };
}
