import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, type Page, type Request as BrowserRequest } from 'playwright-core';
import { GRAPHIQL_ASSETS_PATH } from '../src/graphql/graphiql.ts';
import { rawGet as rawGetFrom } from './helpers/raw-http.ts';
import { browserTestsRun, launchChromium, openRecorded } from './helpers/chromium.ts';
import { eventually } from './helpers/eventually.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from './helpers/server.ts';

const browserTests = browserTestsRun('GraphiQL');

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
});

afterAll(async () => {
  await t?.stop();
});

/** A request exactly as written (fetch() would resolve `..`), with any headers. */
const rawGet = (path: string, headers: Record<string, string> = {}) => rawGetFrom(t.url, path, headers);

describe('GraphiQL page and assets over HTTP', () => {
  it('GET / redirects a browser to the console (test/console.test.ts), GraphiQL stays at /graphql', async () => {
    const response = await fetch(`${t.url}/`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/console');
  });

  it('the page loads everything from this server: no CDN URL, a same-origin-only CSP', async () => {
    const response = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toContain('unpkg');
    expect(html).toContain(`src="${GRAPHIQL_ASSETS_PATH}yoga-graphiql.umd.js"`);
    expect(html).toContain(`href="${GRAPHIQL_ASSETS_PATH}graphiql.css"`);
    expect(html).toMatch(/Content-Security-Policy" content="default-src 'self'; script-src 'self' 'sha256-[A-Za-z0-9+/=]+';/);
  });

  it('serves the assets without a key, with their type and a long cache', async () => {
    const css = await fetch(`${t.url}${GRAPHIQL_ASSETS_PATH}graphiql.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(css.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(css.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Number(css.headers.get('content-length'))).toBe((await css.arrayBuffer()).byteLength);
    for (const file of ['yoga-graphiql.umd.js', 'monacoeditorwork/editor.worker.bundle.js', 'monacoeditorwork/json.worker.bundle.js', 'monacoeditorwork/graphql.worker..bundle.js']) {
      const response = await fetch(`${t.url}${GRAPHIQL_ASSETS_PATH}${file}`, { method: 'HEAD' });
      expect(response.status, file).toBe(200);
      expect(response.headers.get('content-type'), file).toBe('text/javascript; charset=utf-8');
    }
  });

  it('hostile: opens nothing but the named files (traversal, other dist files, other versions, operations)', async () => {
    const refused = [
      `${GRAPHIQL_ASSETS_PATH}../../package.json`,
      `${GRAPHIQL_ASSETS_PATH}%2e%2e/%2e%2e/package.json`,
      `${GRAPHIQL_ASSETS_PATH}..%2f..%2fpackage.json`,
      `${GRAPHIQL_ASSETS_PATH}monacoeditorwork/../../package.json`,
      `${GRAPHIQL_ASSETS_PATH}/etc/passwd`,
      `${GRAPHIQL_ASSETS_PATH}yoga-graphiql.es.js`,
      `${GRAPHIQL_ASSETS_PATH}`,
      '/graphql/assets/0.0.1/graphiql.css',
      '/graphql/assets/../../../../etc/passwd',
      `/graphql/assets/x?query=${encodeURIComponent('{ services { edges { node { name } } } }')}`,
    ];
    for (const path of refused) {
      const response = await rawGet(path, { accept: 'text/html' });
      expect(response.status, path).toBe(404);
      expect(JSON.parse(response.body).error.code, path).toBe(404);
      expect(response.body, path).not.toContain('"name"');
    }
    const post = await fetch(`${t.url}${GRAPHIQL_ASSETS_PATH}graphiql.css`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(404);
  });

  it('hostile: the page is static, an operation asked for as HTML is not run without a key', async () => {
    await t.rest('POST', '/api/v2/system/service', { resource: [{ name: 'secret-service', type: 'javascript', config: { content: 'return 1' } }] });
    const response = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ services { edges { node { name } } } }')}`, { headers: { accept: 'text/html' } });
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(await response.text()).not.toContain('secret-service');
  });
});

// A browser on two busy cores: more time than an HTTP test.
describe.skipIf(!browserTests)('GraphiQL in headless Chromium', { timeout: 90_000 }, () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  /** Opens GraphiQL at /graphql and records every request the page makes and every complaint it logs. */
  // The one expected console error is Chromium's own line for the keyless schema fetch's 401.
  const openGraphiQL = () => openRecorded(browser, `${t.url}/graphql`, (message) => message.type() === 'error' && !message.text().includes('status of 401'));

  const introspections = (requests: BrowserRequest[]) => requests.filter((request) => request.method() === 'POST' && (request.postData() ?? '').includes('IntrospectionQuery'));
  const keyOf = (request: BrowserRequest) => request.headers()['x-dreamfactory-api-key'] ?? '';
  /** Two animation frames: React has committed what the last response changed, and effects have run. */
  const painted = (page: Page) => page.evaluate(() => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))));

  /** Types into the header editor's key value, between its quotes (the page prefills `{"X-DreamFactory-API-Key": ""}` on three lines). */
  async function typeKey(page: Page, key: string, erase = 0): Promise<void> {
    await page.locator('.graphiql-editor-tool .monaco-editor').last().click();
    for (const press of ['Control+End', 'ArrowUp', 'End', 'ArrowLeft']) await page.keyboard.press(press);
    for (let i = 0; i < erase; i++) await page.keyboard.press('Backspace');
    await page.keyboard.insertText(key);
  }

  it('shows the start text and the key header, no error before the user acts, data once the key is typed; nothing leaves 127.0.0.1', async () => {
    const { page, requests, complaints } = await openGraphiQL();
    expect(page.url()).toBe(`${t.url}/graphql`);

    const queryEditor = page.locator('.graphiql-query-editor');
    await queryEditor.getByText('# Scriptgate: paste the administrator key into the header below, then run.').waitFor();
    // Monaco renders spaces as no-break spaces.
    expect((await queryEditor.innerText()).replace(/\u00a0/g, ' ')).toContain('scriptTypes { name available version }');
    const headerEditor = page.locator('.graphiql-editor-tool .monaco-editor').last();
    await headerEditor.getByText('"X-DreamFactory-API-Key"').waitFor();

    // GraphiQL fetched the schema without a key and was refused: nothing of it may show.
    await eventually(async () => {
      const [first] = introspections(requests);
      return (await first?.response())?.status() === 401;
    }, 'the keyless schema fetch answered');
    await painted(page);
    const response = page.locator('.graphiql-response');
    expect((await response.innerText()).trim()).toBe('');
    expect(await page.locator('body').innerText()).not.toMatch(/error|unauthori[sz]ed|401/i);

    // The key typed: the schema is fetched again with it (the docs explorer has it), then the query runs.
    await typeKey(page, ADMIN_KEY);
    await eventually(async () => {
      const withKey = introspections(requests).find((request) => keyOf(request) === ADMIN_KEY);
      return (await withKey?.response())?.status() === 200;
    }, 'the schema fetched with the key');
    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    await page.locator('.graphiql-doc-explorer').getByText('Root Types').waitFor();

    await page.locator('.graphiql-execute-button').click();
    await response.getByText('"scriptTypes"').waitFor();
    await eventually(async () => (await response.innerText()).includes('"javascript"'), 'the query result');
    expect(await response.innerText()).not.toMatch(/"errors"/);

    const offServer = requests.map((request) => request.url()).filter((url) => !url.startsWith(`${t.url}/`) && !url.startsWith('data:') && !url.startsWith('blob:'));
    expect(offServer).toEqual([]);
    // The Monaco workers came from here too (no blob copies of a CDN's).
    expect(requests.map((request) => request.url())).toContain(`${t.url}${GRAPHIQL_ASSETS_PATH}monacoeditorwork/graphql.worker..bundle.js`);
    expect(complaints).toEqual([]);
    await page.close();
  });

  it('a wrong key shows its 401 once typed; correcting it fetches the schema again', async () => {
    const { page, requests, complaints } = await openGraphiQL();
    await page.locator('.graphiql-query-editor').getByText('query Overview').waitFor();
    await eventually(async () => (await introspections(requests)[0]?.response())?.status() === 401, 'the keyless schema fetch answered');

    await typeKey(page, 'wrong-key');
    const response = page.locator('.graphiql-response');
    await eventually(async () => (await response.innerText()).includes('UNAUTHENTICATED') || (await response.innerText()).includes('401'), 'the wrong key refused');

    await typeKey(page, ADMIN_KEY, 'wrong-key'.length);
    await eventually(async () => {
      const withKey = introspections(requests).find((request) => keyOf(request) === ADMIN_KEY);
      return (await withKey?.response())?.status() === 200;
    }, 'the schema fetched again with the corrected key');
    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    await page.locator('.graphiql-doc-explorer').getByText('Root Types').waitFor();
    expect(complaints.filter((line) => !line.includes('status of 401'))).toEqual([]);
    await page.close();
  });
});
