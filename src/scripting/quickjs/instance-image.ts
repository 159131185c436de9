/**
 * The memory image of an instance whose context was just made ready
 * (runtime, context and prelude, no script), so another service's context
 * is made by copying it back instead of freeing the runtime and making a new
 * one: a runtime, a context and the prelude's compile cost about 0.9 ms, the
 * copy of the image (about 200 KB) a few microseconds a call.
 *
 * Why it is whole: everything QuickJS and its allocator hold lives in the
 * instance's linear memory, in two places: static data (the allocator's
 * state among it) and the heap up to its top. Between runs no guest or host
 * code is on the stack, so the stack between them is dead. Copying both back
 * returns the instance to the moment the image was taken, byte for byte;
 * whatever a script left above the old heap top is memory the allocator
 * considers never handed out (and QuickJS initialises what it allocates,
 * as it does in a recycled runtime). The host's wrappers (the runtime, the
 * context and the prelude's entry points) point at the same addresses they
 * did when the image was taken, so they stay valid; anything the host made
 * later (the script's handle) must be dropped without freeing it.
 *
 * Fresh instances are laid out alike: the first ready one is scanned for
 * where its state lies (once per process), and each later one keeps only
 * the words where it differs from that first image (its clock seed, its
 * memory limit). An instance that differs in more than a few words gets no
 * image and is recycled the old way.
 *
 * The scan reads static data up from address 0 and the heap around an
 * address known to be in it (a handle the host holds), each until a run of zero
 * pages, not the whole 16 MB: most of it was never touched, and reading an
 * untouched page faults it in, 12 to 15 µs a page on these machines (50 to
 * 66 ms for the whole memory, held on the event loop while the server starts).
 */
const PAGE = 4096;
/** Beyond the last non-zero page of each region, restored too: static data's zero tail, the heap's top chunk. */
const MARGIN = 2 * PAGE;
/** Zero pages between two regions of state that are kept in one region (gaps inside the heap); the dead stack is far longer. */
const MAX_GAP = 32 * PAGE;
/** Zero pages that end the scan's walk away from static data or the heap: past any gap inside them (the dead stack is longer). */
const WALK_END_GAP = 64 * PAGE;
/** More differing words than this: not the same layout. */
const MAX_PATCH_WORDS = 64;

interface Region {
  start: number;
  end: number;
}

interface BaseImage {
  regions: Region[];
  bytes: Uint8Array[];
}

export interface InstanceImage {
  /** Puts the instance's memory back as it was at capture. */
  restore(heap: Uint8Array): void;
}

let base: BaseImage | null = null;

/** Where the image's state lies (for tests: nothing a script does may change memory outside these but the dead stack). */
export function imageRegions(): readonly Region[] {
  return base?.regions ?? [];
}

/**
 * The image of an instance whose context is ready: null when its layout is
 * not that of the first one captured in this process.
 */
export function captureImage(heap: Uint8Array, /** Any address in the heap (a handle the host holds). */ heapAddress: number): InstanceImage | null {
  base ??= scan(heap, heapAddress);
  const patches = differences(base, heap);
  if (!patches) return null;
  const image = base;
  return {
    restore(target) {
      for (let i = 0; i < image.regions.length; i++) target.set(image.bytes[i]!, image.regions[i]!.start);
      if (patches.length === 0) return;
      const words = new Int32Array(target.buffer, 0, target.byteLength >>> 2);
      for (let i = 0; i < patches.length; i += 2) words[patches[i]!] = patches[i + 1]!;
    },
  };
}

/** The regions of non-zero pages (gaps of a few pages inside the heap are kept in it), with a margin after each. */
function scan(heap: Uint8Array, heapAddress: number): BaseImage {
  const pages = nonZeroPages(heap, heapAddress);
  // Static data from address 0, then the stack's used top and the heap; the dead stack between them stays out.
  const regions: Region[] = [];
  let last = -Infinity;
  for (const page of pages) {
    const at = page * PAGE;
    if ((page - last) * PAGE > MAX_GAP + PAGE || regions.length === 0) regions.push({ start: regions.length === 0 ? 0 : at, end: at + PAGE });
    else regions.at(-1)!.end = at + PAGE;
    last = page;
  }
  for (const region of regions) region.end = Math.min(heap.byteLength, region.end + MARGIN);
  return { regions, bytes: regions.map((region) => heap.slice(region.start, region.end)) };
}

/** The non-zero pages, in order, found walking up from address 0 and both ways from `heapAddress`, each walk until WALK_END_GAP of zero pages. */
function nonZeroPages(heap: Uint8Array, heapAddress: number): number[] {
  // Pages compared with a zero page natively: a loop over words took 48 ms before the JIT warmed up.
  const zero = Buffer.alloc(PAGE);
  const count = heap.byteLength / PAGE;
  const found = new Set<number>();
  const walk = (from: number, step: 1 | -1) => {
    let zeros = 0;
    for (let page = from; page >= 0 && page < count && zeros * PAGE <= WALK_END_GAP; page += step) {
      if (found.has(page) || zero.compare(heap, page * PAGE, (page + 1) * PAGE) !== 0) {
        found.add(page);
        zeros = 0;
      } else zeros++;
    }
  };
  walk(0, 1);
  const heapPage = Math.floor(heapAddress / PAGE);
  walk(heapPage, -1);
  walk(heapPage, 1);
  return [...found].sort((a, b) => a - b);
}

/** Pairs of (word index, value) where this instance differs from the base image; null when it is not alike. */
function differences(image: BaseImage, heap: Uint8Array): number[] | null {
  const memory = Buffer.from(heap.buffer, heap.byteOffset, heap.byteLength);
  const words = new Int32Array(heap.buffer, 0, heap.byteLength >>> 2);
  const patches: number[] = [];
  for (let r = 0; r < image.regions.length; r++) {
    const region = image.regions[r]!;
    const expected = Buffer.from(image.bytes[r]!.buffer, image.bytes[r]!.byteOffset, image.bytes[r]!.byteLength);
    const expectedWords = new Int32Array(expected.buffer, expected.byteOffset, expected.byteLength >>> 2);
    // Page by page natively; only a page that differs is compared word by word.
    for (let offset = 0; offset < expected.byteLength; offset += PAGE) {
      const end = Math.min(expected.byteLength, offset + PAGE);
      if (expected.compare(memory, region.start + offset, region.start + end, offset, end) === 0) continue;
      for (let i = offset >>> 2; i < end >>> 2; i++) {
        const word = (region.start >>> 2) + i;
        if (words[word] === expectedWords[i]) continue;
        if (patches.length >= 2 * MAX_PATCH_WORDS) return null;
        patches.push(word, words[word]!);
      }
    }
  }
  // Nothing of this instance may lie outside the regions: zero above the scanned top.
  const lastEnd = image.regions.at(-1)!.end;
  const above = Math.min(memory.byteLength, lastEnd + MAX_GAP);
  if (Buffer.alloc(above - lastEnd).compare(memory, lastEnd, above) !== 0) return null;
  return patches;
}
