import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { DomainError } from '../domain/errors.ts';

/**
 * The browsable API docs at /api-docs: Swagger UI from the installed
 * swagger-ui-dist (no CDN), a key field, and the documents of
 * /api/v2/api_docs. The page and its files are public; the documents need
 * a key, which the page keeps in memory only and sends to this origin only.
 * Its Content-Security-Policy allows scripts from this origin alone, no
 * inline script at all (the boot script is a file too), and connections to
 * this origin alone: markup in a service's hostile document can neither run
 * nor call out.
 */

const packageRequire = createRequire(import.meta.url);
const swaggerDist = dirname(packageRequire.resolve('swagger-ui-dist/package.json'));
const { version } = packageRequire('swagger-ui-dist/package.json') as { version: string };

/** The version is in the path: a new package is a new URL, so a browser may keep each file forever. */
export const API_DOCS_ASSETS_PATH = `/api-docs/assets/${version}/`;

/** Runs after the Swagger UI bundle: the key form, the service list, and Swagger UI pointed at one document. */
const BOOT_SCRIPT = `(() => {
  'use strict';
  const DOCS = '/api/v2/api_docs';
  const form = document.getElementById('sg-key-form');
  const keyInput = document.getElementById('sg-key');
  const select = document.getElementById('sg-service');
  const status = document.getElementById('sg-status');
  const docs = document.getElementById('swagger-ui');
  let key = '';

  const say = (text) => { status.textContent = text; };
  // The key goes to this server only, whatever a document's links or servers say.
  const withKey = (request) => {
    if (key && new URL(request.url, location.href).origin === location.origin) request.headers['X-DreamFactory-API-Key'] = key;
    return request;
  };
  const problemOf = async (response) => {
    try {
      const body = await response.json();
      return (body && body.error && body.error.message) || 'HTTP ' + response.status;
    } catch {
      return 'HTTP ' + response.status;
    }
  };

  const show = (service) => {
    say('Loading the API docs of ' + service + '…');
    SwaggerUIBundle({
      url: DOCS + '/' + encodeURIComponent(service),
      domNode: docs,
      presets: [SwaggerUIBundle.presets.apis],
      layout: 'BaseLayout',
      requestInterceptor: withKey,
      validatorUrl: null,
      queryConfigEnabled: false,
      deepLinking: false,
      persistAuthorization: false,
      onComplete: () => say('API docs of ' + service + '.'),
    });
  };

  const clear = (text) => {
    select.replaceChildren();
    select.disabled = true;
    docs.replaceChildren();
    say(text);
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    key = keyInput.value.trim();
    say('Loading the services this key may see…');
    let response;
    try {
      response = await fetch(DOCS, { headers: key ? { 'X-DreamFactory-API-Key': key } : {}, cache: 'no-store' });
    } catch {
      return clear('The server did not answer.');
    }
    if (!response.ok) return clear(await problemOf(response));
    const { resource } = await response.json();
    if (!Array.isArray(resource) || resource.length === 0) return clear('This key may call no service.');
    select.replaceChildren(...resource.map((entry) => new Option(entry.label && entry.label !== entry.name ? entry.name + ' (' + entry.label + ')' : entry.name, entry.name)));
    select.disabled = false;
    show(select.value);
  });
  select.addEventListener('change', () => show(select.value));
})();
`;

const STYLESHEET = `body { margin: 0; }
.sg-bar { font-family: sans-serif; padding: 12px 20px; background: #1b1b1b; color: #fff; }
.sg-bar form { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.sg-bar input { min-width: 24em; padding: 4px 6px; }
.sg-bar select:disabled { opacity: 0.5; }
.sg-bar p { margin: 8px 0 0; font-size: 14px; }
`;

interface Asset {
  body: Buffer | { file: string };
  contentType: string;
  size: number;
}

const fingerprint = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);
/** Ours carry their hash in the name, so a changed script is a new URL under the same package version. */
const BOOT_FILE = `scriptgate-api-docs.${fingerprint(BOOT_SCRIPT)}.js`;
const OUR_STYLESHEET = `scriptgate-api-docs.${fingerprint(STYLESHEET)}.css`;
const SWAGGER_BUNDLE = 'swagger-ui-bundle.js';
const SWAGGER_STYLESHEET = 'swagger-ui.css';

const typeOf = (name: string) => (name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8');

/**
 * The only files served, by name: a request is a lookup in this map, never a
 * path joined from the URL. A package without one fails the start.
 */
const assets = new Map<string, Asset>([
  ...[SWAGGER_BUNDLE, SWAGGER_STYLESHEET].map((name): [string, Asset] => {
    const file = join(swaggerDist, name);
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      throw new Error(`Swagger UI file ${name} is missing from ${swaggerDist}: reinstall swagger-ui-dist@${version}.`);
    }
    return [name, { body: { file }, contentType: typeOf(name), size }];
  }),
  ...[
    [BOOT_FILE, BOOT_SCRIPT],
    [OUR_STYLESHEET, STYLESHEET],
  ].map(([name, text]): [string, Asset] => {
    const body = Buffer.from(text!);
    return [name!, { body, contentType: typeOf(name!), size: body.length }];
  }),
]);

/**
 * Scripts from this origin only (no inline script, no eval), styles from this
 * origin (Swagger UI also sets inline ones), images as data: URLs from its
 * stylesheet, fetches to this origin only, no frames, no forms, no plugins.
 */
export const API_DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Scriptgate API docs</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${API_DOCS_ASSETS_PATH}${SWAGGER_STYLESHEET}">
<link rel="stylesheet" href="${API_DOCS_ASSETS_PATH}${OUR_STYLESHEET}">
</head>
<body>
<header class="sg-bar">
<form id="sg-key-form" autocomplete="off">
<label for="sg-key">API key</label>
<input id="sg-key" type="password" placeholder="X-DreamFactory-API-Key" autocomplete="off" spellcheck="false">
<button type="submit">Show API docs</button>
<label for="sg-service">Service</label>
<select id="sg-service" disabled></select>
</form>
<p id="sg-status" role="status">Enter the administrator key or an app key: the page lists the services it may call. The key is kept in this tab only.</p>
</header>
<noscript>The API docs need JavaScript.</noscript>
<main id="swagger-ui"></main>
<script src="${API_DOCS_ASSETS_PATH}${SWAGGER_BUNDLE}"></script>
<script src="${API_DOCS_ASSETS_PATH}${BOOT_FILE}"></script>
</body>
</html>
`;

/** GET /api-docs (the page) and /api-docs/assets/<version>/<file>: public and static. */
export function apiDocsPageRoutes(app: FastifyInstance): void {
  app.get('/api-docs', (_request, reply) =>
    reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', API_DOCS_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .send(PAGE),
  );
  app.get('/api-docs/assets/*', (request, reply) => {
    const path = request.url.split('?')[0]!;
    const asset = path.startsWith(API_DOCS_ASSETS_PATH) ? assets.get(path.slice(API_DOCS_ASSETS_PATH.length)) : undefined;
    if (!asset) throw new DomainError('NOT_FOUND', `No API docs asset at ${path.slice(0, 200)}.`);
    reply
      .header('content-type', asset.contentType)
      .header('content-length', asset.size)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff');
    return reply.send(Buffer.isBuffer(asset.body) ? asset.body : createReadStream(asset.body.file));
  });
}
