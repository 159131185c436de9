// The web console's first load (issue #15): the bytes a browser fetches for
// /console before any language pack (HTML + JS + CSS, gzip-compressed as a
// proxy would send them), the language packs on their own, and time to
// interactive in headless Chromium: the sign-in form usable, and a service's
// workspace with its editor and language pack loaded (signed in), each the
// median of fresh browser contexts (cold cache).
import { existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { ADMIN_KEY, allResults, note, printTable, record, rest, section, startScriptgate } from './lib.ts';

const BENCH = 'console';
const CHROMIUM = '/usr/bin/chromium';
const ROUNDS = 7;
const FIRST_LOAD_TARGET_BYTES = 300 * 1024;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} kB`;

async function gzipBytes(url: string): Promise<{ raw: number; gzip: number }> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  const body = Buffer.from(await response.arrayBuffer());
  return { raw: body.length, gzip: gzipSync(body).length };
}

export async function benchConsole(): Promise<void> {
  section('console (bench/console.ts)');
  const server = await startScriptgate();
  try {
    const html = await fetch(`${server.url}/console`).then((response) => response.text());
    const firstLoad = ['/console', ...[...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((match) => match[1]!)];
    let raw = 0;
    let gzip = 0;
    for (const path of firstLoad) {
      const size = await gzipBytes(`${server.url}${path}`);
      raw += size.raw;
      gzip += size.gzip;
    }
    record({ bench: BENCH, metric: `first load, ${firstLoad.length} files (HTML + JS + CSS), gzip`, value: kb(gzip), target: `< ${kb(FIRST_LOAD_TARGET_BYTES)}`, pass: gzip < FIRST_LOAD_TARGET_BYTES, required: true });
    record({ bench: BENCH, metric: 'first load, uncompressed', value: kb(raw), target: '' });

    if (!existsSync(CHROMIUM)) {
      note(`no ${CHROMIUM}: time to interactive not measured (apt-get install -y chromium)`);
      return;
    }
    await rest(server.url, 'POST', '/api/v2/system/service', { resource: [{ name: 'bench-js', type: 'javascript', config: { content: 'return 1' } }, { name: 'bench-py', type: 'python3', config: { content: 'return 1' } }] });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const signIn: number[] = [];
      const workspace: Record<string, number[]> = { 'bench-js': [], 'bench-py': [] };
      const packs = new Map<string, number>();
      for (let round = 0; round < ROUNDS; round++) {
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        const page = await context.newPage();
        let started = performance.now();
        await page.goto(`${server.url}/console`);
        await page.locator('[data-testid="key-input"]').waitFor();
        signIn.push(performance.now() - started);
        await context.close();

        for (const service of Object.keys(workspace)) {
          const signedIn = await browser.newContext({ viewport: { width: 1280, height: 800 } });
          await signedIn.addInitScript((key) => sessionStorage.setItem('scriptgate.console.key', key), ADMIN_KEY);
          const page = await signedIn.newPage();
          const loaded: string[] = [];
          page.on('response', (response) => {
            if (response.url().includes('/console/assets/') && !html.includes(new URL(response.url()).pathname)) loaded.push(new URL(response.url()).pathname);
          });
          started = performance.now();
          await page.goto(`${server.url}/console#/services/${service}`);
          // Interactive: the editor takes input and its language pack has highlighted the script.
          await page.locator('.cm-content[contenteditable="true"] .cm-line span').first().waitFor();
          workspace[service]!.push(performance.now() - started);
          for (const path of loaded) if (!packs.has(path)) packs.set(path, (await gzipBytes(`${server.url}${path}`)).gzip);
          await signedIn.close();
        }
      }
      record({ bench: BENCH, metric: `time to interactive, sign-in (median of ${ROUNDS}, cold cache)`, value: `${median(signIn).toFixed(0)} ms`, target: '' });
      for (const [service, times] of Object.entries(workspace)) {
        record({ bench: BENCH, metric: `time to interactive, ${service === 'bench-js' ? 'JavaScript' : 'Python'} workspace, editor + language pack (median)`, value: `${median(times).toFixed(0)} ms`, target: '' });
      }
      record({ bench: BENCH, metric: `language packs loaded on demand (${packs.size} chunks), gzip`, value: kb([...packs.values()].reduce((sum, bytes) => sum + bytes, 0)), target: '' });
    } finally {
      await browser.close();
    }
  } finally {
    await server.stop();
    printTable(
      allResults().filter((row) => row.bench === BENCH),
    );
  }
}
