/**
 * The part of the WebAssembly JS API the kernels use. The project compiles against lib ES2022 without
 * DOM, which does not declare `WebAssembly`; typing the global here (instead of declaring a global
 * namespace) cannot clash with a lib that declares it later.
 */

export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(deltaPages: number): number;
}

/** A compiled module (opaque here). */
export interface WasmModule {
  readonly compiledModule: unique symbol;
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
}

/** The WebAssembly API; throws where the runtime has none (e.g. `node --jitless`). */
export function webAssembly(): WasmApi {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (!api) throw new Error('WebAssembly is not available in this runtime');
  return api;
}
