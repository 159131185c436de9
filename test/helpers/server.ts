import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { print, type ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { loadSettings } from '../../src/config.ts';
import { startServer, type RunningServer } from '../../src/server.ts';

export const ADMIN_KEY = 'test-admin-key';
export const TEST_SECRETS_KEY = Buffer.alloc(32, 7).toString('base64');

export interface TestServer {
  server: RunningServer;
  url: string;
  dataDir: string;
  /** REST call with the admin key; `body` is sent as JSON unless a string. */
  rest(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<RestResponse>;
  /** GraphQL over HTTP with the admin key. */
  gql<R, V>(document: TypedDocumentNode<R, V> | string, variables?: V, headers?: Record<string, string>): Promise<ExecutionResult<R>>;
  stop(): Promise<void>;
}

export interface RestResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

/** A real server on a free port, with its own SQLite file (or DATABASE_URL from `env`). */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'scriptgate-test-'));
  const settings = loadSettings({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    ADMIN_KEY,
    LOG_LEVEL: 'silent',
    // Instances sharing PostgreSQL must share the key their secrets are encrypted with.
    ...(env.DATABASE_URL?.startsWith('postgres') ? { SECRETS_KEY: TEST_SECRETS_KEY } : {}),
    ...env,
  });
  const server = await startServer(settings);
  // Script engines start after the server listens; tests that look at a type's availability want them settled.
  await server.platform.engines.settledList();
  const url = server.url;
  const rest: TestServer['rest'] = (method, path, body, headers = {}) => restTo(url, method, path, body, { 'x-dreamfactory-api-key': ADMIN_KEY, ...headers });
  const gql: TestServer['gql'] = async (document, variables, headers = {}) => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}`, ...headers },
      body: JSON.stringify({ query: typeof document === 'string' ? document : print(document), variables }),
    });
    return (await response.json()) as ExecutionResult<any>;
  };
  return {
    server,
    url,
    dataDir,
    rest,
    gql,
    async stop() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A REST call with exactly these headers (a JSON body gets its content type). */
export async function restTo(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<RestResponse> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** A REST call sending exactly `key` (null: no key at all). */
export function restAs(t: TestServer, key: string | null, method: string, path: string, body?: unknown): Promise<RestResponse> {
  return restTo(t.url, method, path, body, key === null ? {} : { 'x-dreamfactory-api-key': key });
}

/** A REST call as the administrator that must succeed: its JSON. */
export async function asAdmin(t: TestServer, method: string, path: string, body?: unknown): Promise<any> {
  const response = await restAs(t, ADMIN_KEY, method, path, body);
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${response.text}`);
  return response.json;
}

/** Creates a scripted service over REST and returns its id (`skipSyntaxCheck`: store a script that does not compile). */
export async function createService(
  t: TestServer,
  name: string,
  type: string,
  content: string,
  config: Record<string, unknown> = {},
  options: { skipSyntaxCheck?: boolean } = {},
) {
  const record = { name, type, config: { ...config, content }, ...(options.skipSyntaxCheck ? { skip_syntax_check: true } : {}) };
  const response = await t.rest('POST', '/api/v2/system/service', { resource: [record] });
  if (response.status !== 201) throw new Error(`creating ${name} failed: ${response.status} ${response.text}`);
  return response.json.resource[0].id as number;
}
