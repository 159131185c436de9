import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import Fastify from 'fastify';
import { consoleRoutes } from '../src/console/route.ts';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, type Page } from 'playwright-core';
import { rawGet as rawGetFrom } from './helpers/raw-http.ts';
import { browserTestsRun, launchChromium } from './helpers/chromium.ts';
import { eventually } from './helpers/eventually.ts';
import { typeRunsHere } from './helpers/interpreters.ts';
import { ADMIN_KEY, createService, startTestServer, type TestServer } from './helpers/server.ts';

const browserTests = browserTestsRun('console');
/** CONSOLE_SCREENSHOTS=docs/console (npm run console:screenshots): a PNG of each screen. */
const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS;

/** python3 runs in bubblewrap: both must be on the machine. */
function pythonRunsHere(): boolean {
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
    return existsSync('/usr/bin/bwrap');
  } catch {
    return false;
  }
}
const runsPython = typeRunsHere('python3', pythonRunsHere());

const ROOT = join(import.meta.dirname, '..');
const BUILT_INDEX = join(ROOT, 'dist', 'console', 'index.html');

/** The newest modification time under a folder (the console's sources). */
function newestUnder(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newestUnder(join(path, name))));
}

/** `npm run build` when dist/console is missing or older than console/: the tests use what `npm install` builds. */
function buildConsoleIfStale(): void {
  const builtAt = existsSync(BUILT_INDEX) ? statSync(BUILT_INDEX).mtimeMs : 0;
  if (builtAt >= newestUnder(join(ROOT, 'console'))) return;
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
}

let t: TestServer;

beforeAll(async () => {
  buildConsoleIfStale();
  t = await startTestServer();
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

/** A request exactly as written (fetch() would resolve `..`), with any headers. */
const rawGet = (path: string, headers: Record<string, string> = {}) => rawGetFrom(t.url, path, headers);

describe('the console over HTTP', () => {
  it('GET / redirects to /console; the page has a same-origin CSP allowing this host\'s WebSocket, and no inline script', async () => {
    const root = await fetch(`${t.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/console');

    const page = await fetch(`${t.url}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const csp = page.headers.get('content-security-policy')!;
    const host = new URL(t.url).host;
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain(`connect-src 'self' ws://${host} wss://${host};`);
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script>(?!<\/script>)|<script(?![^>]*\bsrc=)[^>]*>/);
    const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((match) => match[1]!);
    expect(assets.length).toBe(2);
    for (const asset of assets) {
      const response = await fetch(`${t.url}${asset}`);
      expect(response.status, asset).toBe(200);
      expect(response.headers.get('cache-control'), asset).toBe('public, max-age=31536000, immutable');
      expect(response.headers.get('content-type'), asset).toMatch(/^text\/(javascript|css); charset=utf-8$/);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(Number(response.headers.get('content-length'))).toBe((await response.arrayBuffer()).byteLength);
    }
  });

  it('hostile: serves only the files of the build (traversal, encodings, the manifest, the server bundle), and a forged Host cannot widen the CSP', async () => {
    const refused = [
      '/console/../package.json',
      '/console/%2e%2e/package.json',
      '/console/assets/..%2f..%2fscriptgate.mjs',
      '/console/assets/../../scriptgate.mjs',
      '/console/.vite/manifest.json',
      '/console/index.html',
      '/console/assets/',
      '/console/assets/missing.js',
      '/console//etc/passwd',
      '/console/assets/%00.js',
    ];
    for (const path of refused) {
      const response = await rawGet(path);
      expect(response.status, path).toBe(404);
      expect(JSON.parse(response.body).error.code, path).toBe(404);
    }
    const forged = await rawGet('/console', { host: "evil.example; script-src *; connect-src *" });
    expect(forged.status).toBe(200);
    const csp = String(forged.headers['content-security-policy']);
    expect(csp).not.toContain('evil');
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("connect-src 'self';");
    const post = await fetch(`${t.url}/console`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(404);
  });
});

describe('the console route alone, on a copy of the build', () => {
  it('keeps serving the build it read while `npm run build` removes and rewrites dist/console; answers 503 before any build', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'scriptgate-console-'));
    const app = Fastify();
    consoleRoutes(app, directory);
    try {
      expect((await app.inject({ url: '/console' })).statusCode).toBe(503);
      cpSync(join(ROOT, 'dist', 'console'), directory, { recursive: true });
      const page = await app.inject({ url: '/console' });
      expect(page.statusCode).toBe(200);
      const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(page.body)![1]!;
      rmSync(directory, { recursive: true, force: true });
      expect((await app.inject({ url: '/console' })).body).toBe(page.body);
      expect((await app.inject({ url: script })).statusCode).toBe(200);
    } finally {
      await app.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

// A browser on two busy cores: more time than an HTTP test.
describe.skipIf(!browserTests)('the console in headless Chromium', { timeout: 120_000 }, () => {
  let browser: Browser;
  let page: Page;
  const complaints: string[] = [];
  /** Console lines a test expects (a refused wrong key is logged by Chromium as a failed resource). */
  let expectedComplaint: RegExp | null = null;

  beforeAll(async () => {
    if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (error) => complaints.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => {
      // A page left while its socket was open, or a reload, cancels requests: not a failure of the console.
      if (request.failure()?.errorText !== 'net::ERR_ABORTED') complaints.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
    });
    page.on('response', (response) => {
      if (response.status() >= 400 && !expectedComplaint?.test(`${response.status()}`)) complaints.push(`HTTP ${response.status()}: ${response.url()}`);
    });
    page.on('console', (message) => {
      if (message.type() === 'error' && !expectedComplaint?.test(message.text())) complaints.push(`console: ${message.text()}`);
    });
    // Leaving with unsaved changes asks; the tests say which answer they want.
    page.on('dialog', (dialog) => void (dialogAnswer(dialog.type()) ? dialog.accept() : dialog.dismiss()));
  });

  afterAll(async () => {
    await browser?.close();
  });

  let refuseLeaving = false;
  const dialogs: string[] = [];
  function dialogAnswer(type: string): boolean {
    dialogs.push(type);
    return !refuseLeaving;
  }

  const byTestId = (id: string) => page.locator(`[data-testid="${id}"]`);
  async function shot(name: string): Promise<void> {
    if (!SCREENSHOTS) return;
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
  }
  /** Replaces the editor's text as typed input (insertText: no auto-closed brackets in the way). */
  async function typeScript(text: string): Promise<void> {
    await page.locator('.cm-content').click();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.press('Backspace');
    await page.keyboard.insertText(text);
    await eventually(async () => (await editorText()) === text, 'the editor holds the script');
  }
  const editorText = () => page.evaluate(() => [...document.querySelectorAll('.cm-content .cm-line')].map((line) => line.textContent).join('\n'));
  /** The 1-based editor lines carrying an error mark (lint range). */
  const markedLines = () =>
    page.evaluate(() => {
      const lines = [...document.querySelectorAll('.cm-content > .cm-line')];
      return [...document.querySelectorAll('.cm-lintRange-error')].map((mark) => lines.indexOf(mark.closest('.cm-line')!) + 1);
    });
  async function createViaForm(name: string, type: string): Promise<void> {
    await page.goto(`${t.url}/console#/services`);
    await byTestId('new-service').click();
    await byTestId('service-name').fill(name);
    await eventually(async () => (await byTestId('service-url').innerText()).endsWith(`/api/v2/${name}`), 'the URL shown as the name is typed');
    await byTestId('service-type').selectOption(type);
    await byTestId('create').click();
    await page.waitForURL(`**/console#/services/${name}`);
    await page.locator('.cm-content').waitFor();
  }

  it('signs in with the key, kept in sessionStorage only: never in the URL or localStorage', async () => {
    await page.goto(`${t.url}/`);
    expect(page.url()).toBe(`${t.url}/console`);
    await byTestId('key-input').waitFor();
    await shot('sign-in');

    // A wrong key is refused and says so (the browser logs the 401).
    expectedComplaint = /401|Unauthorized/i;
    await byTestId('key-input').fill('wrong-key');
    await byTestId('sign-in').click();
    await eventually(async () => (await byTestId('sign-in-error').innerText()).includes('Not signed in'), 'the wrong key refused');
    expectedComplaint = null;

    await byTestId('key-input').fill(ADMIN_KEY);
    await byTestId('sign-in').click();
    await byTestId('service-list').waitFor();
    expect(page.url()).not.toContain(ADMIN_KEY);
    const stored = await page.evaluate(() => ({ session: { ...sessionStorage }, local: { ...localStorage } }));
    expect(Object.values(stored.session)).toContain(ADMIN_KEY);
    expect(JSON.stringify(stored.local)).not.toContain(ADMIN_KEY);
    await byTestId('new-service').waitFor();
  });

  it('creates a service, runs the unsaved script with Ctrl+Enter: log lines arrive live, then the result', async () => {
    await createViaForm('hello', 'javascript');
    await eventually(async () => (await byTestId('log-connection').innerText()).includes('live'), 'the log subscription connected');
    await typeScript(
      [
        "console.log('first line', event.request.parameters.a);",
        'await new Promise((resolve) => setTimeout(resolve, 1500));',
        "console.log('second line');",
        'return { sum: Number(event.request.parameters.a) + 2, got: event.request.payload };',
      ].join('\n'),
    );
    expect(await byTestId('dirty').innerText()).toContain('unsaved');
    await byTestId('test-method').selectOption('POST');
    await byTestId('test-path').fill('items/7');
    await byTestId('test-query').fill('a=40');
    await byTestId('test-body').fill('{"x": 1}');
    await page.locator('.cm-content').click();
    await page.keyboard.press('Control+Enter');

    // The first line shows while the run still runs: it came over the subscription, not with the answer.
    await eventually(async () => (await byTestId('log-pane').innerText()).includes('first line 40'), 'the first log line, live');
    expect(await byTestId('result-status').innerText()).toBe('running…');
    await eventually(async () => (await byTestId('result-status').innerText()) === '200', 'the result');
    expect(JSON.parse(await byTestId('result-body').innerText())).toEqual({ sum: 42, got: { x: 1 } });
    expect(await byTestId('log-pane').innerText()).toMatch(/first line 40[\s\S]*second line/);
    await eventually(async () => /\d+\.\d ms · .*execution \S+/.test(await byTestId('result-meta').innerText()), 'duration and execution id');
    await shot('workspace');
    // Nothing was saved by running.
    const stored = await t.rest('GET', '/api/v2/system/service?filter=name=hello&fields=*');
    expect(stored.json.resource[0].config.content).not.toContain('second line');
  });

  it('saves; a call of its REST URL appears in the history live, and opens to its event, log and result', async () => {
    await byTestId('save').click();
    await eventually(async () => (await byTestId('dirty').innerText()) === 'saved', 'saved');
    expect(await byTestId('notice').innerText()).toMatch(/Saved: version \d+/);

    const call = await fetch(`${t.url}/api/v2/hello/things?a=1`, { headers: { 'X-DreamFactory-API-Key': ADMIN_KEY } });
    expect(await call.json()).toEqual({ sum: 3, got: null });
    const executionId = call.headers.get('x-execution-id')!;
    await eventually(async () => (await page.locator(`[data-execution="${executionId}"]`).innerText().catch(() => '')).includes('succeeded'), 'the REST run in the history, finished');
    await shot('workspace-history');

    await page.locator(`[data-execution="${executionId}"] a`).click();
    await page.waitForURL(`**/console#/executions/${executionId}`);
    await eventually(async () => (await byTestId('execution-logs').innerText()).includes('second line'), 'the run\'s log');
    expect(await byTestId('execution-request').innerText()).toContain('"resource": "things"');
    expect(await byTestId('execution-status-code').innerText()).toBe('200');
    expect(await byTestId('execution-request').innerText()).not.toContain(ADMIN_KEY);
    await shot('execution');
  });

  it('a syntax error is marked on its line as it is typed (checkScript), a runtime error on its line after a run', async () => {
    await page.goto(`${t.url}/console#/services/hello`);
    await page.locator('.cm-content').waitFor();
    await typeScript(['const a = 1;', 'const b = 2;', 'return { a: (b + };'].join('\n'));
    await eventually(async () => (await markedLines()).includes(3), 'a lint mark on line 3');
    expect(await byTestId('diagnostics').innerText()).toMatch(/line 3/);
    await shot('syntax-error');

    await typeScript(["console.log('before the error');", 'const nothing = null;', 'return nothing.field;'].join('\n'));
    await eventually(async () => (await markedLines()).length === 0, 'the syntax mark gone');
    await byTestId('run').click();
    await eventually(async () => (await byTestId('result-error').innerText()).includes('line 3'), 'the runtime error with its line');
    expect(await byTestId('result-status').innerText()).toBe('500');
    expect(await byTestId('log-pane').innerText()).toContain('before the error');
    await eventually(async () => (await markedLines()).includes(3), 'the runtime error marked on line 3');
    expect(await byTestId('diagnostics').innerText()).toMatch(/line 3/);
  });

  it('unsaved changes are never lost silently: leaving asks, a draft survives a reload', async () => {
    refuseLeaving = true;
    dialogs.length = 0;
    await byTestId('nav-services').click();
    try {
      await eventually(() => dialogs.includes('confirm'), 'leaving asked');
      await eventually(() => page.url().endsWith('#/services/hello'), 'the address put back');
      expect(await editorText()).toContain('nothing.field');
    } finally {
      refuseLeaving = false;
    }

    await page.reload();
    await page.locator('.cm-content').waitFor();
    await eventually(async () => (await editorText()).includes('nothing.field'), 'the draft restored');
    expect(await byTestId('notice').innerText()).toContain('Restored your unsaved draft');
    await byTestId('discard-draft').click();
    await eventually(async () => (await byTestId('dirty').innerText()) === 'saved', 'the draft discarded');
  });

  it.skipIf(!runsPython)('runs a python3 script the same way', async () => {
    await createViaForm('pyhello', 'python3');
    await eventually(async () => (await byTestId('log-connection').innerText()).includes('live'), 'the log subscription connected');
    await typeScript(["print('python says', event.request.parameters.get('n'))", "return {'double': int(event.request.parameters.get('n')) * 2}"].join('\n'));
    await byTestId('test-query').fill('n=21');
    await page.locator('.cm-content').click();
    await page.keyboard.press('Control+Enter');
    await eventually(async () => (await byTestId('result-status').innerText()) === '200', 'the python result', 30_000);
    expect(JSON.parse(await byTestId('result-body').innerText())).toEqual({ double: 42 });
    await eventually(async () => (await byTestId('log-pane').innerText()).includes('python says 21'), 'the python log line');
    await byTestId('save').click();
    await eventually(async () => (await byTestId('dirty').innerText()) === 'saved', 'saved');
  });

  it('hostile: names, labels and log lines are shown as text, never as markup', async () => {
    await createService(t, 'markup', 'javascript', "console.log('<img src=x onerror=\"window.__pwned=1\">'); return 1;");
    await t.rest('PATCH', '/api/v2/system/service?filter=name=markup', { resource: [{ label: '<img src=x onerror="window.__pwned=2">' }] });
    const list = await t.rest('GET', '/api/v2/system/service?filter=name=markup');
    await t.rest('PATCH', `/api/v2/system/service/${list.json.resource[0].id}`, { label: '<img src=x onerror="window.__pwned=2">' });
    await fetch(`${t.url}/api/v2/markup`, { headers: { 'X-DreamFactory-API-Key': ADMIN_KEY } });
    await page.goto(`${t.url}/console#/services`);
    await byTestId('service-markup').waitFor();
    expect(await byTestId('service-markup').innerText()).toContain('<img src=x');
    await page.goto(`${t.url}/console#/tail`);
    await eventually(async () => (await byTestId('tail').innerText()).includes('markup'), 'the run in the tail');
    await page.locator('[data-testid="tail"] a', { hasText: 'markup' }).first().click();
    await eventually(async () => (await byTestId('execution-logs').innerText()).includes('<img src=x'), 'the log line as text');
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('img').count()).toBe(0);
  });

  it('the services list, the live tail, event scripts and access screens work, with every listed test id', async () => {
    await page.goto(`${t.url}/console#/services`);
    await byTestId('service-hello').waitFor();
    expect(await byTestId('service-hello').innerText()).toMatch(/succeeded|failed/);
    await byTestId('service-search').fill('pyh');
    await eventually(async () => (await byTestId('service-list').innerText()).includes('pyhello') && !(await byTestId('service-list').innerText()).includes('markup'), 'the search');
    await byTestId('service-search').fill('');
    await eventually(async () => (await byTestId('service-list').innerText()).includes('markup'), 'the whole list');
    await shot('services');

    await byTestId('new-service').click();
    await byTestId('service-name').fill('orders');
    await shot('new-service');
    for (const id of ['service-name', 'service-type']) expect(await byTestId(id).count(), id).toBe(1);

    // Live tail: a REST call shows up as it happens.
    await page.goto(`${t.url}/console#/tail`);
    await byTestId('tail').waitFor();
    await eventually(async () => (await byTestId('live-state').innerText()).includes('connected'), 'the live socket');
    const call = await fetch(`${t.url}/api/v2/hello/tail?a=5`, { headers: { 'X-DreamFactory-API-Key': ADMIN_KEY } });
    const id = call.headers.get('x-execution-id')!;
    await eventually(async () => (await page.locator(`[data-execution="${id}"]`).count()) === 1, 'the call in the live tail');
    await byTestId('tail-status').selectOption('FAILED');
    await eventually(async () => (await page.locator(`[data-execution="${id}"]`).count()) === 0, 'filtered by status');
    await byTestId('tail-status').selectOption('');
    await shot('live-tail');

    // Event scripts: the picker builds the name; a pre_process script changes the request the service gets.
    await page.goto(`${t.url}/console#/events`);
    await byTestId('event-endpoint-search').fill('hello get');
    await page.locator('[data-testid="event-endpoints"] button', { hasText: /^hello\.get$/ }).click();
    await byTestId('event-phase').selectOption('pre_process');
    expect(await byTestId('event-name').innerText()).toBe('hello.get.pre_process');
    await byTestId('event-allow-modification').check();
    await typeScript("event.request.parameters.a = '100';");
    await byTestId('event-save').click();
    await page.waitForURL('**/console#/events/hello.get.pre_process');
    await page.locator('.cm-content').waitFor();
    await byTestId('event-test-query').fill('a=1');
    await byTestId('event-test').click();
    await eventually(async () => (await byTestId('event-request-after').innerText()).includes('"a": "100"'), 'the request after the pre_process script');
    expect(await byTestId('event-request-before').innerText()).toContain('"a": "1"');
    expect(await byTestId('event-response').innerText()).toContain('102');
    await shot('event-scripts');

    // Access: a role with a verb grid, an app whose key is shown once.
    await page.goto(`${t.url}/console#/access`);
    await byTestId('role-name').fill('readers');
    await byTestId('create-role').click();
    await byTestId('role-readers').waitFor();
    await page.getByRole('checkbox', { name: 'GET on hello' }).check();
    await byTestId('role-readers').getByRole('button', { name: 'Save readers' }).click();
    await eventually(async () => (await byTestId('access-notice').innerText()).includes('Saved the role readers'), 'the role saved');
    await byTestId('app-name').fill('reader-app');
    await byTestId('app-role').selectOption('readers');
    await byTestId('create-app').click();
    await byTestId('app-key').waitFor();
    const appKey = await byTestId('app-key').innerText();
    await shot('access');
    const allowed = await fetch(`${t.url}/api/v2/hello?a=1`, { headers: { 'X-DreamFactory-API-Key': appKey } });
    expect(allowed.status).toBe(200);
    const refused = await fetch(`${t.url}/api/v2/hello?a=1`, { method: 'POST', headers: { 'X-DreamFactory-API-Key': appKey } });
    expect(refused.status).toBe(403);
    // Shown once: a reload has no key to show.
    await page.reload();
    await byTestId('app-reader-app').waitFor();
    expect(await byTestId('app-key').count()).toBe(0);

    // Every test id the issue names, on its screen.
    await page.goto(`${t.url}/console#/services/hello`);
    await page.locator('.cm-content').waitFor();
    for (const testId of ['save', 'run', 'test-method', 'test-path', 'test-body', 'log-pane', 'result-status', 'result-body']) expect(await byTestId(testId).count(), testId).toBe(1);
  });

  it('reads at a narrow width too, and no page error, failed request or console error happened in any test', async () => {
    await page.setViewportSize({ width: 420, height: 900 });
    await page.goto(`${t.url}/console#/services/hello`);
    await page.locator('.cm-content').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(1);
    await shot('narrow');
    expect(complaints).toEqual([]);
  });
});
