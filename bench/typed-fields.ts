// Typed service fields (docs/GRAPHQL-FIELDS.md):
// 1. a typed field's call latency against `invokeService` and REST, for the
//    same script in the same server, over GET and over POST with a JSON body
//    on both sides, measured side by side (bench/interleaved.ts: one request
//    at a time, so the figure is latency, not throughput), and GraphQL's door
//    alone (`{ __typename }`: no script runs) beside them;
// 2. the schema's rebuild with 10, 100 and 1,000 typed services, in process
//    (one definition changed: the usual rebuild; and from nothing: a start);
// 3. on a server holding 1,000 typed services, requests' worst latency while
//    definitions change (each change rebuilds the schema on that server).
import { printSchema } from 'graphql';
import { interleavedRounds, type InterleavedTarget } from './interleaved.ts';
import { ADMIN_KEY, API_KEY_HEADER, note, printTable, record, rest, section, startScriptgate } from './lib.ts';
import { schema as platformSchema } from '../src/graphql/schema.ts';
import { ServiceSchemas } from '../src/graphql/service-fields/schemas.ts';
import { createWeatherService, WEATHER_HEADERS, WEATHER_SCRIPT, weatherDoors } from './weather-service.ts';

const BENCH = 'typed-fields';
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;


/** A definition of the size a real service has: a query with arguments, a mutation, an enum, an input and an object type. */
function definition(i: number): string {
  return `extend type Query {
  "Current weather for a city"
  weather${i}(city: String!, units: Units${i} = METRIC): Weather${i}
  forecast${i}(city: String!, days: Int = 3): [Weather${i}!]!
}
extend type Mutation { saveReading${i}(reading: Reading${i}!): Weather${i} }
enum Units${i} { METRIC IMPERIAL }
enum Sky${i} { CLEAR CLOUDY RAIN SNOW }
input Reading${i} { city: String! tempC: Float! sky: Sky${i} }
type Weather${i} { city: String! tempC: Float! sky: Sky${i} observedAt: DateTime extra: JSON }`;
}

/** Seconds of every door in turn before the rounds: V8 was still optimising the doors' code 10 s into a run here. */
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 6);

async function callLatency(): Promise<void> {
  section(`typed-fields: call latency, 1 connection per door, the doors in turn in blocks of requests, ${ROUNDS} rounds of ${DURATION_S} s after ${WARMUP_S} s`);
  const server = await startScriptgate();
  try {
    await createWeatherService(server.url);
    const targets: InterleavedTarget[] = [
      ...weatherDoors(),
      {
        name: 'invokeService',
        method: 'POST',
        path: '/graphql',
        headers: WEATHER_HEADERS,
        body: JSON.stringify({ query: 'mutation { invokeService(name: "weather", resource: "weather", parameters: { city: "Oslo" }) { statusCode content } }' }),
      },
      // The breakdown: GraphQL's door alone (auth, parse and validation caches, envelop, execute, JSON), no script run.
      { name: 'GraphQL door alone ({ __typename })', method: 'POST', path: '/graphql', headers: WEATHER_HEADERS, body: JSON.stringify({ query: '{ __typename }' }) },
    ];
    const rounds = await interleavedRounds(Number(new URL(server.url).port), targets, { warmupSeconds: WARMUP_S, seconds: DURATION_S, rounds: ROUNDS });
    const of = (name: string) => median(rounds.map((round) => round.get(name)!));
    note(`rounds (middle-half mean latency, ms): ${targets.map((t) => `${t.name} ${rounds.map((round) => round.get(t.name)!.toFixed(3)).join('/')}`).join('; ')}`);
    // Each round's ratio is of latencies taken in the same seconds; the median of those is printed.
    const ratio = (metric: string, typed: string, rest: string, target: boolean) => {
      const value = median(rounds.map((round) => round.get(typed)! / round.get(rest)!));
      return record({
        bench: BENCH,
        metric,
        value: `${value.toFixed(2)} (${of(typed).toFixed(3)} vs ${of(rest).toFixed(3)} ms, ${((of(typed) - of(rest)) * 1000).toFixed(0)} µs more)`,
        target: target ? '<= 1.10' : '',
        pass: target ? value <= 1.1 : undefined,
      });
    };
    printTable([
      record({ bench: BENCH, metric: 'REST call, latency (GET / POST)', value: `${of('REST GET').toFixed(3)} / ${of('REST POST').toFixed(3)} ms`, target: '' }),
      record({ bench: BENCH, metric: 'invokeService call, latency', value: `${of('invokeService').toFixed(3)} ms`, target: '' }),
      ratio('typed field / REST latency, both GET (same run)', 'typed field GET', 'REST GET', true),
      ratio('typed field / REST latency, both POST with a JSON body (same run)', 'typed field POST', 'REST POST', true),
      ratio('typed field POST / REST GET (the body upload counted on one side only)', 'typed field POST', 'REST GET', false),
      record({ bench: BENCH, metric: 'GraphQL door alone ({ __typename }), latency', value: `${of('GraphQL door alone ({ __typename })').toFixed(3)} ms`, target: '' }),
      ratio('typed field POST / invokeService latency (same run)', 'typed field POST', 'invokeService', false),
    ]);
  } finally {
    await server.stop();
  }
}

async function rebuildTimes(): Promise<void> {
  section('typed-fields: schema rebuild in process (median of 5)');
  const rows = [];
  for (const count of [10, 100, 1000]) {
    const stored = Array.from({ length: count }, (_, i) => ({ name: `svc${i}`, graphql: definition(i) }));
    const schemas = new ServiceSchemas(platformSchema);
    const skipped: string[] = [];
    const cold: number[] = [];
    const warm: number[] = [];
    for (let run = 0; run < 5; run++) {
      // From nothing: every definition read (a start, or a new instance).
      const fresh = new ServiceSchemas(platformSchema);
      let t0 = performance.now();
      await fresh.build(stored, (service) => skipped.push(service));
      cold.push(performance.now() - t0);
      // One definition changed: the others come from the cache, the schema is assembled again.
      stored[run % count] = { name: `svc${run % count}`, graphql: `${definition(run % count)}\nenum Extra${run}x${run % count} { A }` };
      t0 = performance.now();
      await schemas.build(stored, (service) => skipped.push(service));
      warm.push(performance.now() - t0);
    }
    if (skipped.length) throw new Error(`definitions left out: ${skipped.slice(0, 5).join(', ')}`);
    const built = await schemas.build(stored, () => undefined);
    const fields = Object.keys(built.getQueryType()!.getFields()).length + Object.keys(built.getMutationType()!.getFields()).length;
    note(`${count} services: ${fields} root fields, ${Object.keys(built.getTypeMap()).length} types, printed ${(printSchema(built).length / 1024).toFixed(0)} KiB`);
    rows.push(
      record({
        bench: BENCH,
        metric: `rebuild after one change, ${count} typed services`,
        value: `${median(warm).toFixed(1)} ms`,
        target: count === 1000 ? '< 100 ms' : '',
        pass: count === 1000 ? median(warm) < 100 : undefined,
      }),
      record({ bench: BENCH, metric: `build from nothing (a start), ${count} typed services`, value: `${median(cold).toFixed(1)} ms`, target: '' }),
    );
  }
  printTable(rows);
}

async function stallsDuringRebuilds(): Promise<void> {
  const COUNT = 1000;
  section(`typed-fields: a server with ${COUNT} typed services, requests while definitions change`);
  const server = await startScriptgate();
  try {
    for (let start = 0; start < COUNT; start += 500) {
      const resource = Array.from({ length: 500 }, (_, j) => ({ name: `svc${start + j}`, type: 'javascript', config: { content: WEATHER_SCRIPT }, graphql: definition(start + j) }));
      const created = await rest(server.url, 'POST', '/api/v2/system/service', { resource });
      if (created.status !== 201) throw new Error(`creating services: ${created.status} ${created.text.slice(0, 300)}`);
    }
    const url = `${server.url}/api/v2/svc1/weather?city=Oslo`;
    const headers = { [API_KEY_HEADER]: ADMIN_KEY };
    // Warm: the service's first call makes its script context.
    for (let i = 0; i < 20; i++) await (await fetch(url, { headers })).arrayBuffer();
    let stop = false;
    const latencies: number[] = [];
    const load = (async () => {
      while (!stop) {
        const t0 = performance.now();
        const response = await fetch(url, { headers });
        await response.arrayBuffer();
        latencies.push(performance.now() - t0);
      }
    })();
    const saves: number[] = [];
    for (let change = 0; change < 10; change++) {
      const t0 = performance.now();
      const saved = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'mutation($sdl: String) { updateService(name: "svc7", input: { graphql: $sdl }) { name } }',
          variables: { sdl: `${definition(7)}\nenum Change${change} { A }` },
        }),
      });
      const answer = (await saved.json()) as { errors?: unknown };
      if (answer.errors) throw new Error(`saving: ${JSON.stringify(answer.errors)}`);
      saves.push(performance.now() - t0);
    }
    stop = true;
    await load;
    const sorted = [...latencies].sort((a, b) => a - b);
    note(`${latencies.length} REST calls during 10 saves; p50 ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} ms, p99 ${sorted[Math.floor(sorted.length * 0.99)]!.toFixed(2)} ms`);
    printTable([
      record({ bench: BENCH, metric: `save of a definition, answered once served (${COUNT} typed services), median`, value: `${median(saves).toFixed(1)} ms`, target: '' }),
      record({
        bench: BENCH,
        metric: `worst request latency during 10 rebuilds (${COUNT} typed services)`,
        value: `${sorted.at(-1)!.toFixed(1)} ms`,
        target: '< 100 ms',
        pass: sorted.at(-1)! < 100,
      }),
    ]);
  } finally {
    await server.stop();
  }
}

export async function benchTypedFields(): Promise<void> {
  await callLatency();
  await rebuildTimes();
  await stallsDuringRebuilds();
}
