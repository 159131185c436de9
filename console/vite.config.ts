import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * The web console (issue #15), built by `npm run build` into dist/console and
 * served by the server at /console (src/console/route.ts). Language packs are
 * dynamic imports, so each is its own chunk loaded when a script of its type
 * is opened.
 */
export default defineConfig({
  root,
  base: '/console/',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // The polyfill is for browsers without modulepreload; every one we support has it.
    modulePreload: { polyfill: false },
    // The server's file list: which names exist (src/console/route.ts).
    manifest: true,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 800,
  },
});
