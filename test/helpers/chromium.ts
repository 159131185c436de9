import { existsSync } from 'node:fs';
import { chromium, type Browser, type ConsoleMessage, type Page, type Request } from 'playwright-core';

/** Debian's chromium (`.ci/run` installs it); playwright-core downloads no browser. */
export const CHROMIUM = '/usr/bin/chromium';
const present = existsSync(CHROMIUM);

/** Whether a suite of browser tests runs here: always under CI=true, where a missing browser fails instead. */
export function browserTestsRun(suite: string): boolean {
  if (!present && process.env.CI !== 'true') console.warn(`Skipping the ${suite} browser tests: no ${CHROMIUM} (apt-get install -y chromium).`);
  return present || process.env.CI === 'true';
}

/** Headless Chromium; throws naming the package when it is missing. */
export function launchChromium(): Promise<Browser> {
  if (!present) throw new Error(`Chromium is required under CI but ${CHROMIUM} is missing: install Debian's "chromium" package (.ci/run does).`);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/** A page opened at `url` with every request it makes and every complaint it logs; `complaint` says which console lines count. */
export async function openRecorded(
  browser: Browser,
  url: string,
  complaint: (message: ConsoleMessage) => boolean,
): Promise<{ page: Page; requests: Request[]; complaints: string[] }> {
  const page = await browser.newPage();
  const requests: Request[] = [];
  const complaints: string[] = [];
  page.on('request', (request) => requests.push(request));
  page.on('pageerror', (error) => complaints.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (complaint(message)) complaints.push(`console ${message.type()}: ${message.text()}`);
  });
  await page.goto(url);
  return { page, requests, complaints };
}
