import { createHash } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { expect } from 'vitest';
import type { RestResponse, TestServer } from './server.ts';

/** What every hostile test asserts of the server: it still answers, quickly, and serves others. */
/**
 * How many times slower this machine's CPU is than the one the budgets below
 * were set on (never less than 1): SHA-256 over 32 MiB, best of three, took
 * 40 ms there. Budgets are "no request blocks the server for more than
 * 100 ms" on that machine; a throttled VM gets proportionally more, so the
 * tests check that the server stays responsive, not the machine's speed
 * (speed targets live in bench/).
 */
export const MACHINE_SLOWDOWN = measureSlowdown();

function measureSlowdown(): number {
  const data = Buffer.alloc(32 * 1024 * 1024, 1);
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    createHash('sha256').update(data).digest();
    best = Math.min(best, performance.now() - started);
  }
  return Math.max(1, best / 40);
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
