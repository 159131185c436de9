// How long `checkScript` takes per script type, as an editor calling it on
// every keystroke pause sees it: GraphQL over HTTP (keep-alive), one check at
// a time, a realistic 30-line script, alternately one that compiles and one
// with a syntax error on its last line.
import { ADMIN_KEY, API_KEY_HEADER, note, printTable, record, section, startScriptgate } from './lib.ts';

const BENCH = 'check-script';
const ROUNDS = 200;
const QUERY = 'query ($s: CheckScriptInput!) { checkScript(script: $s) { severity line } }';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;

/** 30 lines of ordinary code per language, and where its error goes. */
function scriptFor(type: string): { good: string; bad: string } {
  const lines = (make: (i: number) => string) => Array.from({ length: 28 }, (_, i) => make(i)).join('\n');
  switch (type) {
    case 'typescript':
      return {
        good: `interface Row<T> { id: number; value: T }\n${lines((i) => `const row${i}: Row<string> = { id: ${i}, value: String(event.request.parameters.q ?? '${i}') };`)}\nreturn { ok: row0.value };`,
        bad: `interface Row<T> { id: number; value: T }\n${lines((i) => `const row${i}: Row<string> = { id: ${i}, value: '${i}' };`)}\nreturn { ok: row0.value ;`,
      };
    case 'python':
    case 'python3':
      return {
        good: `rows = []\n${lines((i) => `rows.append({'id': ${i}, 'value': event['request']['parameters'].get('q', '${i}')})`)}\nreturn {'ok': rows[0]}`,
        bad: `rows = []\n${lines((i) => `rows.append({'id': ${i}, 'value': '${i}'})`)}\nreturn {'ok': rows[0]`,
      };
    case 'php':
      return {
        good: `$rows = [];\n${lines((i) => `$rows[] = ['id' => ${i}, 'value' => $event['request']['parameters']['q'] ?? '${i}'];`)}\nreturn ['ok' => $rows[0]];`,
        bad: `$rows = [];\n${lines((i) => `$rows[] = ['id' => ${i}, 'value' => '${i}'];`)}\nreturn ['ok' => $rows[0];`,
      };
    default:
      return {
        good: `const rows = [];\n${lines((i) => `rows.push({ id: ${i}, value: event.request.parameters.q ?? '${i}' });`)}\nreturn { ok: rows[0] };`,
        bad: `const rows = [];\n${lines((i) => `rows.push({ id: ${i}, value: '${i}' });`)}\nreturn { ok: rows[0] ;`,
      };
  }
}

export async function benchCheckScript(): Promise<void> {
  section(`checkScript: ${ROUNDS} checks per type over GraphQL, one at a time, a 30-line script (half with a syntax error)`);
  const server = await startScriptgate();
  const rows = [];
  try {
    const check = async (type: string, content: string) => {
      const started = performance.now();
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [API_KEY_HEADER]: ADMIN_KEY },
        body: JSON.stringify({ query: QUERY, variables: { s: { type, content } } }),
      });
      const body = (await response.json()) as { data?: { checkScript: { severity: string }[] }; errors?: unknown };
      const ms = performance.now() - started;
      if (!body.data) throw new Error(`checkScript ${type}: ${JSON.stringify(body.errors)}`);
      return { ms, errors: body.data.checkScript.length };
    };
    // The same round trip without a check: what of each figure is HTTP and GraphQL.
    const baseline: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const started = performance.now();
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [API_KEY_HEADER]: ADMIN_KEY },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      await response.text();
      baseline.push(performance.now() - started);
    }
    rows.push(record({ bench: BENCH, metric: 'GraphQL round trip, no check', value: `median ${median(baseline).toFixed(2)} ms`, target: '' }));
    const typesResponse = await fetch(`${server.url}/api/v2/system/script_type`, { headers: { [API_KEY_HEADER]: ADMIN_KEY } });
    const types = ((await typesResponse.json()) as { resource: { name: string; available: boolean }[] }).resource;
    for (const { name, available } of types) {
      if (!available) {
        rows.push(record({ bench: BENCH, metric: `${name}`, value: 'unavailable here', target: '' }));
        continue;
      }
      const { good, bad } = scriptFor(name);
      const first = await check(name, good);
      const timings: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const result = await check(name, i % 2 ? bad : good);
        if ((result.errors > 0) !== (i % 2 === 1)) throw new Error(`checkScript ${name}: unexpected answer for round ${i}`);
        timings.push(result.ms);
      }
      const inProcess = name === 'javascript' || name === 'typescript';
      const target = inProcess ? 5 : 20;
      const value = `median ${median(timings).toFixed(2)} ms, p95 ${percentile(timings, 0.95).toFixed(2)} ms (first check ${first.ms.toFixed(1)} ms)`;
      rows.push(record({ bench: BENCH, metric: `${name} checkScript`, value, target: `median < ${target} ms`, pass: median(timings) < target }));
    }
  } finally {
    await server.stop();
  }
  note('client-side latency, GraphQL over HTTP keep-alive included; a subprocess type\'s first check starts its checking worker');
  printTable(rows);
}
