// The service the latency benches call (typed-fields, fast-spreads): one
// `javascript` script with a typed Query field, and its doors over REST and
// GraphQL, each over GET and over POST with a JSON body.
import type { InterleavedTarget } from './interleaved.ts';
import { ADMIN_KEY, API_KEY_HEADER, rest } from './lib.ts';

// Over REST the city comes in the query string (GET) or the JSON body (POST); a typed Query field's arguments are parameters either way.
export const WEATHER_SCRIPT = "return { city: event.request.parameters.city ?? event.request.payload.city, tempC: 21.5, sky: 'CLEAR' }";

export const WEATHER_HEADERS = { [API_KEY_HEADER]: ADMIN_KEY, 'content-type': 'application/json' };

/** Creates `weather` on the server at `url`. */
export async function createWeatherService(url: string): Promise<void> {
  const created = await rest(url, 'POST', '/api/v2/system/service', {
    name: 'weather',
    type: 'javascript',
    config: { content: WEATHER_SCRIPT },
    graphql: 'extend type Query { weather(city: String!): Weather } type Weather { city: String! tempC: Float! sky: String }',
  });
  if (created.status !== 201) throw new Error(`creating the service: ${created.status} ${created.text}`);
}

/** The same call through each door over GET (nothing to upload) and POST (a JSON body): a method's own cost is on both sides of a ratio. */
export function weatherDoors(): InterleavedTarget[] {
  const query = '{ weather(city: "Oslo") { city tempC sky } }';
  const headers = WEATHER_HEADERS;
  return [
    { name: 'REST GET', method: 'GET', path: '/api/v2/weather/weather?city=Oslo', headers },
    { name: 'REST POST', method: 'POST', path: '/api/v2/weather/weather', headers, body: JSON.stringify({ city: 'Oslo' }) },
    { name: 'typed field GET', method: 'GET', path: `/graphql?${new URLSearchParams({ query })}`, headers },
    { name: 'typed field POST', method: 'POST', path: '/graphql', headers, body: JSON.stringify({ query }) },
  ];
}
