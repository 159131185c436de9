import { request as httpRequest } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

/** A GET sent exactly as written (fetch() would resolve `..` in the path), with any headers, Host included. */
export function rawGet(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path, headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    });
    request.on('error', reject);
    request.end();
  });
}
