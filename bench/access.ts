// What access control costs a call: the same `javascript` service called with
// the administrator key (no role to check) and with an app key whose role has
// 20 rows, the granting one last in precedence terms (every-service `*`, so
// the matcher walks the service's 19 other rows and finds no more specific
// level first). Rounds alternate in one run, so the machine's drift hits both.
import autocannon from 'autocannon';
import { ADMIN_KEY, API_KEY_HEADER, note, printTable, record, rest, section, startScriptgate } from './lib.ts';

const BENCH = 'access';
const CONNECTIONS = 16;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ROWS = 20;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function throughput(url: string, key: string): Promise<number> {
  const result = await autocannon({ url, headers: { [API_KEY_HEADER]: key }, connections: CONNECTIONS, duration: DURATION_S });
  if (result.non2xx || result.errors) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

async function created(base: string, path: string, body: unknown): Promise<any> {
  const response = await rest(base, 'POST', path, body);
  if (response.status !== 201) throw new Error(`POST ${path}: ${response.status} ${response.text}`);
  return response.json;
}

/** 19 rows on the service that do not match the called component, then the every-service row that grants it. */
function twentyRows(serviceId: number) {
  const misses = Array.from({ length: ROWS - 1 }, (_, i) => ({
    service_id: serviceId,
    component: i % 2 === 0 ? `other${i}` : `other${i}/*`,
    verb_mask: 31,
    requestor_mask: i % 3 === 0 ? 2 : 3,
  }));
  return [...misses, { service_id: null, component: '*', verb_mask: 1, requestor_mask: 1 }];
}

export async function benchAccess(): Promise<void> {
  section(`Access: ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${DURATION_S} s; administrator key vs an app key with a ${ROWS}-row role`);
  const server = await startScriptgate();
  try {
    const service = await created(server.url, '/api/v2/system/service', { name: 'guarded', type: 'javascript', config: { content: "return {hello: 'world'}" } });
    const role = await created(server.url, '/api/v2/system/role', { name: 'twenty-rows', role_service_access_by_role_id: twentyRows(service.id) });
    const app = await created(server.url, '/api/v2/system/app', { name: 'bench-app', role_id: role.id });
    const appKey = app.api_key as string;
    const url = `${server.url}/api/v2/guarded/items/1`;
    const check = await fetch(url, { headers: { [API_KEY_HEADER]: appKey } });
    if (check.status !== 200) throw new Error(`the app key was refused: ${check.status} ${await check.text()}`);
    await throughput(url, ADMIN_KEY); // warm-up
    await throughput(url, appKey);

    const asAdmin: number[] = [];
    const asApp: number[] = [];
    // The order alternates: whichever runs second in a round meets the first one's garbage.
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        asAdmin.push(await throughput(url, ADMIN_KEY));
        asApp.push(await throughput(url, appKey));
      } else {
        asApp.push(await throughput(url, appKey));
        asAdmin.push(await throughput(url, ADMIN_KEY));
      }
    }
    note(`rounds, admin: ${asAdmin.map(Math.round).join(', ')}; app: ${asApp.map(Math.round).join(', ')} req/s`);
    const ratio = median(asApp) / median(asAdmin);
    note('req/s are medians of the rounds; both keys call the same service in the same server');
    printTable([
      record({
        bench: BENCH,
        metric: `app key with a ${ROWS}-row role / administrator key`,
        value: `${ratio.toFixed(3)} (${Math.round(median(asApp))} vs ${Math.round(median(asAdmin))} req/s)`,
        target: '>= 0.95',
        pass: ratio >= 0.95,
      }),
    ]);
  } finally {
    await server.stop();
  }
}
