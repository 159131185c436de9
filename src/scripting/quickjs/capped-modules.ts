import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type CustomizeVariantOptions,
  type QuickJSSyncVariant,
  type QuickJSWASMModule,
} from 'quickjs-emscripten';
import releaseSync from '@jitl/quickjs-wasmfile-release-sync';

const PAGE_BYTES = 65536;
/** The smallest memory the release build accepts (its import declares 256 pages). */
const INITIAL_PAGES = 256;

/**
 * Fresh QuickJS WebAssembly instances, each with its own linear memory that
 * cannot grow past a maximum.
 *
 * Why: quickjs-emscripten 0.32's `setMemoryLimit` bounds single allocations
 * but not the total of large strings and typed arrays (upstream issue #271),
 * so a script could grow a shared heap to 2 GB. The build imports its memory,
 * so each instance gets a `WebAssembly.Memory` with a `maximum`: growth past
 * it fails inside malloc, which QuickJS reports as "out of memory". A bomb is
 * confined to its own instance, whose whole heap is freed when its context is
 * dropped. The compiled module is shared: an instance costs 2.5 to 9 ms and
 * 0.3 MB of resident memory.
 */
export class CappedModules {
  private constructor(private readonly wasm: WebAssembly.Module) {}

  static async load(): Promise<CappedModules> {
    const require = createRequire(import.meta.url);
    return new CappedModules(await WebAssembly.compile(readFileSync(require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm'))));
  }

  /** A new instance whose heap may grow by at most `extraBytes` beyond its initial 16 MB. */
  create(extraBytes: number): Promise<QuickJSWASMModule> {
    const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: INITIAL_PAGES + Math.ceil(extraBytes / PAGE_BYTES) });
    const variant = newVariant(releaseSync as unknown as QuickJSSyncVariant, {
      wasmModule: this.wasm,
      wasmMemory: memory,
      // An aborted instance would print "Aborted(...)" to the server's stderr; the abort is
      // thrown as well, and reaches the log through the failure's details.internal.
      // printErr is an Emscripten Module option the typings leave out.
      emscriptenModule: { printErr: () => undefined } as NonNullable<CustomizeVariantOptions['emscriptenModule']>,
    });
    return newQuickJSWASMModuleFromVariant(variant);
  }
}

/** The instance's current linear memory (not a public API of quickjs-emscripten). */
export function heapOf(module: QuickJSWASMModule): Uint8Array {
  const heap = (module as unknown as { module?: { HEAPU8?: Uint8Array } }).module?.HEAPU8;
  if (!heap) throw new Error('quickjs-emscripten no longer exposes HEAPU8; the heap check needs updating');
  return heap;
}
