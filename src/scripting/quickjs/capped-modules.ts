import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { newQuickJSWASMModuleFromVariant, newVariant, type QuickJSSyncVariant, type QuickJSWASMModule } from 'quickjs-emscripten';
import releaseSync from '@jitl/quickjs-wasmfile-release-sync';

/**
 * Fresh QuickJS WebAssembly instances, each with its own linear memory whose
 * growth is capped.
 *
 * Why: quickjs-emscripten 0.32's `setMemoryLimit` bounds single allocations
 * but not the total of large strings and typed arrays (upstream issue #271),
 * so a script could grow a shared heap to 2 GB. Giving every warm context its
 * own instance and refusing `memory.grow` past a cap makes the limit real,
 * confines a memory bomb to its own instance, and lets the whole heap be
 * freed when that context is dropped. The compiled module is shared, so an
 * instance costs about 9 ms and 0.4 MB.
 */
const heapCaps = new WeakMap<ArrayBuffer, number>();
let growPatched = false;

function patchGrowOnce(): void {
  if (growPatched) return;
  growPatched = true;
  const grow = WebAssembly.Memory.prototype.grow;
  WebAssembly.Memory.prototype.grow = function cappedGrow(this: WebAssembly.Memory, delta: number): number {
    const cap = heapCaps.get(this.buffer as ArrayBuffer);
    if (cap === undefined) return grow.call(this, delta);
    if (this.buffer.byteLength + delta * 65536 > cap) {
      // Emscripten's sbrk turns this into a failed malloc, which QuickJS reports as "out of memory".
      throw new RangeError('QuickJS heap cap reached');
    }
    const previous = grow.call(this, delta);
    heapCaps.set(this.buffer as ArrayBuffer, cap);
    return previous;
  };
}

export class CappedModules {
  private constructor(private readonly variant: QuickJSSyncVariant) {}

  static async load(): Promise<CappedModules> {
    const require = createRequire(import.meta.url);
    const wasm = await WebAssembly.compile(readFileSync(require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm')));
    patchGrowOnce();
    return new CappedModules(newVariant(releaseSync as unknown as QuickJSSyncVariant, { wasmModule: wasm }));
  }

  /** A new instance whose heap may grow by at most `extraBytes` beyond its initial size. */
  async create(extraBytes: number): Promise<QuickJSWASMModule> {
    const module = await newQuickJSWASMModuleFromVariant(this.variant);
    const heap = heapOf(module);
    heapCaps.set(heap.buffer as ArrayBuffer, heap.byteLength + extraBytes);
    return module;
  }
}

/** The instance's current linear memory (not a public API of quickjs-emscripten). */
export function heapOf(module: QuickJSWASMModule): Uint8Array {
  const heap = (module as unknown as { module?: { HEAPU8?: Uint8Array } }).module?.HEAPU8;
  if (!heap) throw new Error('quickjs-emscripten no longer exposes HEAPU8; the heap cap needs updating');
  return heap;
}
