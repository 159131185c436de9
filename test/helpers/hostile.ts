import { createHash } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { expect } from 'vitest';
import type { RestResponse, TestServer } from './server.ts';

/** What every hostile test asserts of the server: it still answers, quickly, and serves others. */
/**
 * How many times slower this machine is than the one the budgets below were
 * set on (never less than 1). Two probes, the slower one counts: SHA-256
 * over 32 MiB (40 ms there), and JavaScript and memory work, building and
 * JSON round-tripping 50,000 small objects and a 32 MiB string (50 ms there,
 * estimated: on 2026-12-01's machine it took 100 to 140 ms, where the test
 * suite and `node -e 0` took 2 to 2.3 times as long as there, while SHA-256,
 * accelerated in hardware, took 21 ms). Budgets are "no request blocks the
 * server for more than 100 ms" on that machine; a throttled VM gets
 * proportionally more, so the tests check that the server stays responsive,
 * not the machine's speed (speed targets live in bench/).
 */
export const MACHINE_SLOWDOWN = measureSlowdown();

function measureSlowdown(): number {
  const hashing = bestOf(3, () => {
    createHash('sha256').update(Buffer.alloc(32 * 1024 * 1024, 1)).digest();
  });
  const javascript = bestOf(2, () => {
    const rows = [];
    for (let i = 0; i < 50_000; i++) rows.push({ id: i, name: `service-${i}`, tags: [i % 7, i % 11] });
    JSON.parse(JSON.stringify(rows));
    return Buffer.alloc(32 * 1024 * 1024, 1).toString('latin1').length;
  });
  return Math.max(1, hashing / 40, javascript / 50);
}

function bestOf(times: number, work: () => unknown): number {
  let best = Infinity;
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    work();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

/** A budget in ms on the reference machine, as this machine's. */
export const scaled = (ms: number) => Math.round(ms * MACHINE_SLOWDOWN);

export const HEALTHZ_BUDGET_MS = scaled(100);

/**
 * The slowest the server's event loop was while `action` ran, in ms (timer
 * lateness at 5 ms resolution). The test server runs in the test process, so
 * this is the server's own loop: what "no request blocks it over 100 ms"
 * means, without a client's scheduling noise.
 */
export async function loopDelayDuring<T>(action: () => Promise<T>): Promise<{ result: T; maxDelayMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  try {
    const result = await action();
    return { result, maxDelayMs: Math.max(0, histogram.max / 1e6 - 5) };
  } finally {
    histogram.disable();
  }
}

/** `/healthz` answers 200; resolves with how long it took. */
export async function healthzLatency(t: TestServer): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${t.url}/healthz`);
  await response.arrayBuffer();
  expect(response.status).toBe(200);
  return performance.now() - started;
}

/**
 * Runs `attack` while sampling `/healthz` every few milliseconds; returns the
 * attack's result and the slowest health answer seen during and just after it.
 */
export async function whileProbingHealth<T>(t: TestServer, attack: () => Promise<T>): Promise<{ result: T; slowestHealthMs: number }> {
  let slowest = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      slowest = Math.max(slowest, await healthzLatency(t));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  try {
    const result = await attack();
    slowest = Math.max(slowest, await healthzLatency(t));
    return { result, slowestHealthMs: slowest };
  } finally {
    done = true;
    await sampler;
  }
}

/** A failure answered in the contract's error shape, with a status in the given range. */
export function expectErrorShape(response: RestResponse, statuses: number[] | [min: number, max: number] = [400, 599]): void {
  const [min, max] = statuses.length === 2 ? statuses : [Math.min(...statuses), Math.max(...statuses)];
  expect(response.status, response.text.slice(0, 500)).toBeGreaterThanOrEqual(min);
  expect(response.status, response.text.slice(0, 500)).toBeLessThanOrEqual(max);
  expect(response.json?.error, response.text.slice(0, 500)).toMatchObject({
    code: expect.any(Number),
    message: expect.any(String),
    status_code: response.status,
  });
}
