// The idle collection (src/idle-collection.ts): a full GC once requests stop
// coming after some came, never while they come, never twice for one quiet
// spell. V8's gc() is stood in for by a counter: vitest's workers run without
// --expose-gc (npm start has it), and what is under test is when it is called.
import { afterEach, describe, expect, it } from 'vitest';
import { collectWhenIdle, type IdleCollection } from '../src/idle-collection.ts';
import { eventually } from './helpers/eventually.ts';

const host = globalThis as { gc?: () => void };
const ownGc = host.gc;
let running: IdleCollection | null = null;
afterEach(() => {
  running?.stop();
  host.gc = ownGc;
});

describe('collecting when idle', () => {
  it('collects once after work stops, not during it, and again only after more work', async () => {
    let collections = 0;
    host.gc = () => collections++;
    // Busy: every look finds more requests answered than the one before.
    let busy = true;
    let handled = 0;
    let looks = 0;
    running = collectWhenIdle(() => {
      looks++;
      if (busy) handled++;
      return handled;
    }, 5);
    await eventually(() => looks >= 6, 'looks while busy');
    expect(collections).toBe(0);
    busy = false;
    await eventually(() => collections === 1, 'one collection once quiet');
    // Still quiet: later looks find nothing new to give back.
    const looksBefore = looks;
    await eventually(() => looks >= looksBefore + 3, 'more looks');
    expect(collections).toBe(1);
    handled++;
    await eventually(() => collections === 2, 'a collection after more work');
  });

  it('does nothing without --expose-gc', () => {
    host.gc = undefined;
    running = collectWhenIdle(() => 0, 1);
    expect(running.stop()).toBeUndefined();
  });
});
