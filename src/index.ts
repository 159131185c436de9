// The programmatic entry of the build (dist/server.mjs): what the benchmarks' server process starts.
export { loadSettings } from './config.ts';
export { startServer } from './server.ts';
