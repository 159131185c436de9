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

/** Looks per quiet period: the collection comes between 1 and 1.2 quiet periods after the last request. */
const LOOKS_PER_QUIET = 5;

/** `handled()`: requests answered so far; a quiet period is one in which it did not change. */
export function collectWhenIdle(handled: () => number, quietMs = QUIET_MS): IdleCollection {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return { stop: () => undefined };
  let seen = handled();
  let changedAt = Date.now();
  let collectedAt = seen;
  // Looking once per quiet period left the collection anywhere from one to two periods after the last request.
  const timer = setInterval(
    () => {
      const now = handled();
      if (now !== seen) {
        seen = now;
        changedAt = Date.now();
      } else if (now !== collectedAt && Date.now() - changedAt >= quietMs) {
        // Quiet long enough, and there was work since the last collection.
        collectedAt = now;
        gc();
      }
    },
    Math.max(1, Math.floor(quietMs / LOOKS_PER_QUIET)),
  );
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
