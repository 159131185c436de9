import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { GraphiQLOptions } from 'graphql-yoga';
import { DomainError } from '../domain/errors.ts';

/**
 * GraphiQL without a CDN: the page Yoga renders at /graphql loads its bundle,
 * stylesheet and Monaco workers from @graphql-yoga/graphiql's dist folder,
 * served here, so it works on machines with no internet. Its Content-Security-
 * Policy allows nothing but this origin, so a request to anywhere else would
 * be refused by the browser rather than silently leave.
 */

const packageRequire = createRequire(import.meta.url);
const packageJsonPath = packageRequire.resolve('@graphql-yoga/graphiql/package.json');
const { version } = packageRequire('@graphql-yoga/graphiql/package.json') as { version: string };
const dist = join(dirname(packageJsonPath), 'dist');

/** The version is in the path: a new package is a new URL, so a browser may keep each file forever. */
export const GRAPHIQL_ASSETS_PATH = `/graphql/assets/${version}/`;

const WORKERS = {
  editorWorkerService: 'monacoeditorwork/editor.worker.bundle.js',
  json: 'monacoeditorwork/json.worker.bundle.js',
  // Sic: the package names it with two dots.
  graphql: 'monacoeditorwork/graphql.worker..bundle.js',
};
const BUNDLE = 'yoga-graphiql.umd.js';
const STYLESHEET = 'graphiql.css';

interface Asset {
  file: string;
  contentType: string;
  size: number;
}

/**
 * The only files served: what the page loads, named here. A request is a
 * lookup in this map, never a path joined from the URL, so `..` and
 * encodings of it find nothing. A package without one of them fails the
 * start, naming the file, instead of serving a page that stays blank.
 */
const assets = new Map<string, Asset>(
  [BUNDLE, STYLESHEET, ...Object.values(WORKERS)].map((name) => {
    const file = join(dist, name);
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      throw new Error(`GraphiQL asset ${name} is missing from ${dist}: reinstall @graphql-yoga/graphiql@${version}.`);
    }
    return [name, { file, size, contentType: name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8' }];
  }),
);

/** GET /graphql/assets/<version>/<file>: static, open without a key like the page itself. */
export function graphiqlAssetsRoute(app: FastifyInstance): void {
  app.get('/graphql/assets/*', (request, reply) => {
    const path = request.url.split('?')[0]!;
    const asset = path.startsWith(GRAPHIQL_ASSETS_PATH) ? assets.get(path.slice(GRAPHIQL_ASSETS_PATH.length)) : undefined;
    if (!asset) throw new DomainError('NOT_FOUND', `No GraphiQL asset at ${path.slice(0, 200)}.`);
    return reply
      .header('content-type', asset.contentType)
      .header('content-length', asset.size)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .send(createReadStream(asset.file));
  });
}

/** Yoga's options plus `query`, the first tab's text (Yoga's `defaultQuery` is only used for tabs opened later). */
export type GraphiQLPageOptions = GraphiQLOptions & { query?: string };

/**
 * Runs in the page after the bundle: points Monaco at the local workers and
 * renders GraphiQL with the server's options. Every operation needs a key
 * (unless a guest role is configured), so the schema fetch GraphiQL makes on
 * load would answer 401 and show it as the result before the user did
 * anything: when that fetch had no key and was refused, it is held until a key
 * is typed into the header editor, then made again with it. A key changed
 * later fetches the schema again through GraphiQL's own re-fetch shortcut
 * (Shift-Ctrl-R), the one way to ask it from outside its React tree.
 */
const BOOT_SCRIPT = `(() => {
  const { workers, ...props } = JSON.parse(document.getElementById('graphiql-options').textContent);
  self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (_moduleId, label) => workers[label] || workers.editorWorkerService };

  const CREDENTIAL_HEADERS = ['x-dreamfactory-api-key', 'authorization'];
  const credentialIn = (headers) => {
    for (const [name, value] of headers) {
      if (CREDENTIAL_HEADERS.includes(name.toLowerCase()) && typeof value === 'string' && value.trim()) return value.trim();
    }
    return '';
  };
  const credentialInEditor = (text) => {
    try {
      return credentialIn(Object.entries(JSON.parse(text || '{}')));
    } catch {
      return ''; // not JSON yet: still being typed
    }
  };

  const endpoint = new URL(props.endpoint || location.pathname, location.href).href;
  const introspectionName = props.introspectionQueryName || 'IntrospectionQuery';
  const isIntrospection = (input, init) => {
    if (typeof input !== 'string' && !(input instanceof URL)) return false;
    if (new URL(String(input), location.href).href !== endpoint || typeof init?.body !== 'string') return false;
    try {
      return JSON.parse(init.body).operationName === introspectionName;
    } catch {
      return false;
    }
  };

  let typedKey = '';
  let heldForKey = [];
  let lastIntrospectionCredential = null;
  const send = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    if (!isIntrospection(input, init)) return send(input, init);
    const headers = new Headers(init.headers);
    // GraphiQL sends the headers as they were when its fetch began: a key typed since goes too (a held fetch, its retry).
    if (!credentialIn(headers) && typedKey) headers.set('X-DreamFactory-API-Key', typedKey);
    lastIntrospectionCredential = credentialIn(headers);
    const response = await send(input, { ...init, headers });
    if (response.status !== 401 || lastIntrospectionCredential) return response;
    await new Promise((release) => heldForKey.push(release));
    return window.fetch(input, init);
  };

  const keyTyped = (key) => {
    typedKey = key;
    if (!key || key === lastIntrospectionCredential) return;
    if (heldForKey.length > 0) {
      const held = heldForKey;
      heldForKey = [];
      for (const release of held) release();
    } else {
      window.dispatchEvent(new KeyboardEvent('keydown', { key: 'R', ctrlKey: true, shiftKey: true }));
    }
  };
  let typing;
  props.onEditHeaders = (text) => {
    clearTimeout(typing);
    // Once typing pauses: a key typed a character at a time is one fetch, not one per character.
    typing = setTimeout(() => keyTyped(credentialInEditor(text)), 400);
  };

  YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), props);
})();`;

const BOOT_SCRIPT_HASH = createHash('sha256').update(BOOT_SCRIPT).digest('base64');

/**
 * Only this origin: scripts (the bundle, and the boot script by its hash),
 * styles (GraphiQL and Monaco also set inline ones), workers, fetches. Fonts
 * and images come as data: URLs inside the stylesheet.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  `script-src 'self' 'sha256-${BOOT_SCRIPT_HASH}'`,
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "worker-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** The page, for Yoga's `renderGraphiQL`. */
export function renderGraphiQL(options: GraphiQLPageOptions): string {
  const title = escapeHtml(options.title ?? 'GraphiQL');
  const workers = Object.fromEntries(Object.entries(WORKERS).map(([label, name]) => [label, GRAPHIQL_ASSETS_PATH + name]));
  // In a <script> element: "</script>" or "<!--" in a string must not end or change it.
  const props = JSON.stringify({ ...options, workers }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CONTENT_SECURITY_POLICY}">
<title>${title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${GRAPHIQL_ASSETS_PATH}${STYLESHEET}">
</head>
<body id="body" class="no-focus-outline">
<noscript>GraphiQL needs JavaScript.</noscript>
<div id="root">Loading ${title}…</div>
<script type="application/json" id="graphiql-options">${props}</script>
<script src="${GRAPHIQL_ASSETS_PATH}${BUNDLE}"></script>
<script>${BOOT_SCRIPT}</script>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
