// A full garbage collection once the server has gone quiet after work, so
// memory the work left behind goes back to the system while nobody waits.
//
// V8 collects when allocation needs it; when traffic stops, the heap stays
// at its high-water mark until its memory reducer happens to run (after some
// seconds of low allocation, or never). A full collection of this server's
// heap takes tens of milliseconds: paid when no request came for a while, it
// delays at most a request that arrives during it. `npm start` runs node
// with --expose-gc for it (package.json config.node_flags); without the flag
// (tests, `npm run dev`) nothing happens.

const QUIET_MS = 5_000;

export interface IdleCollection {
  stop(): void;
}

/** `handled()`: requests answered so far; a quiet period is one in which it did not change. */
export function collectWhenIdle(handled: () => number, quietMs = QUIET_MS): IdleCollection {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return { stop: () => undefined };
  let seen = handled();
  let collectedAt = seen;
  const timer = setInterval(() => {
    const now = handled();
    // Quiet since the last look, and there was work since the last collection.
    if (now === seen && now !== collectedAt) {
      collectedAt = now;
      gc();
    }
    seen = now;
  }, quietMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
