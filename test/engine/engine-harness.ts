/**
 * Shared set-up of the engine tests: the tiny model, engines over the pool kinds the engine supports,
 * and byte-level snapshots of logits and KV pages for bit-identity checks.
 */
import { ReferenceEngine } from '../../src/engine/reference/llama-engine.js';
import type { KernelKind } from '../../src/engine/reference/kernels/kernels.js';
import { nativeKernelProblem, type NativeProblem } from '../../src/engine/reference/kernels/native-library.js';
import { createWasmKvPool } from '../../src/engine/reference/kernels/wasm-arena.js';
import { gqaLayout } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import type { LlamaConfig, ModelWeights } from '../../src/model/types.js';
import { randomWeights, tinyConfig } from './random-model.js';

export const PAGE_SIZE = 4;
export const NUM_PAGES = 64;

/**
 * Kernel and pool combinations: the WASM kernel over a pool in its own memory (attention in place) or
 * over a plain SharedArrayBuffer pool (pages copied before attention), the JS kernel, and the native
 * kernel (the WASM one where the CPU lacks AVX-512).
 */
export const SETUPS = [
  { kernel: 'wasm', wasmPool: true },
  { kernel: 'wasm', wasmPool: false },
  { kernel: 'js', wasmPool: false },
  { kernel: 'native', wasmPool: true },
] as const satisfies readonly { kernel: KernelKind; wasmPool: boolean }[];
export type Setup = (typeof SETUPS)[number];

/** Native problems a host cannot mend (its OS, CPU, or a build without gcc, which build.sh says): their tests skip. */
const HOST_LIMITS: readonly NativeProblem['kind'][] = ['platform', 'cpu', 'not-built'];

/**
 * Why the native kernel cannot run on this host, to skip its tests; false where it can, or where the
 * library is missing or does not load (a broken build): then they fail saying so.
 */
export const nativeSkip: string | false = ((problem) => (problem !== null && HOST_LIMITS.includes(problem.kind) ? problem.reason : false))(nativeKernelProblem());

export const tinyModel: { config: LlamaConfig; weights: ModelWeights } = (() => {
  const config = tinyConfig();
  return { config, weights: randomWeights(config, 3) };
})();

export function makeEngine(setup: Setup, model = tinyModel): { engine: ReferenceEngine; pool: KvPool } {
  const { config, weights } = model;
  const layout = gqaLayout(config.numLayers, config.numKvHeads, config.headDim, 'float32', PAGE_SIZE);
  const pool = setup.wasmPool ? createWasmKvPool(layout, NUM_PAGES) : new KvPool(layout, NUM_PAGES);
  return { engine: new ReferenceEngine(config, weights, pool, { kernel: setup.kernel }), pool };
}

export function bytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Copy of the pool bytes of the first `count` pages of a page table, in table order. */
export function kvBytes(pool: KvPool, table: Int32Array, count = table.length): Buffer {
  return Buffer.concat(Array.from(table.subarray(0, count), (p) => Buffer.from(pool.pageBytesView(p))));
}

export function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
