/**
 * 16-bit weights in kernel memory: a model whose values are exactly bf16 (or f16), as a bf16/f16
 * checkpoint loads, is stored as bf16 (f16) by the WASM kernel and widened in the kernel; logits and
 * KV bytes are identical to storing the same values as f32, with one rank and with `--tp 2`. A matrix
 * with any value outside the 16-bit formats stays f32. Rows read back from the WASM kernel's packed
 * copy (the tied embedding's path) are the rows given, whatever the row count.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReferenceEngine } from '../../src/engine/reference/llama-engine.js';
import { createWasmKvPool } from '../../src/engine/reference/kernels/wasm-arena.js';
import { WasmArena } from '../../src/engine/reference/kernels/wasm-arena.js';
import { WasmKernels } from '../../src/engine/reference/kernels/wasm-kernels.js';
import { PACK_ROWS } from '../../src/engine/reference/kernels/weight-packing.js';
import { narrowest, readRows, type WeightStorage } from '../../src/engine/reference/kernels/weight-storage.js';
import { gqaLayout } from '../../src/kv/layout.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../src/model/half-float.js';
import type { ModelWeights } from '../../src/model/types.js';
import { bytes, concat, kvBytes, NUM_PAGES, PAGE_SIZE, tinyModel } from './engine-harness.js';
import { item, prng, randomTokens } from './random-model.js';

type Half = 'bf16' | 'f16';

/** A copy of the tiny model's weights rounded to `dtype` (still f32 arrays, as the loader gives). */
function rounded(dtype: Half): ModelWeights {
  const round = (a: Float32Array): Float32Array => {
    const bits = new Uint16Array(a.length);
    const out = new Float32Array(a.length);
    if (dtype === 'bf16') {
      f32ToBf16(a, bits);
      bf16ToF32(bits, out);
    } else {
      f32ToF16(a, bits);
      f16ToF32(bits, out);
    }
    return out;
  };
  const w = tinyModel.weights;
  const embed = round(w.embed);
  return {
    embed,
    finalNorm: w.finalNorm,
    lmHead: w.lmHead === w.embed ? embed : round(w.lmHead),
    layers: w.layers.map((l) => ({ ...l, q: round(l.q), k: round(l.k), v: round(l.v), o: round(l.o), gate: round(l.gate), up: round(l.up), down: round(l.down) })),
  };
}

function run(weights: ModelWeights, storage: WeightStorage, tp: number): { logits: Buffer; kv: Buffer; dtypes: readonly string[] } {
  const { config } = tinyModel;
  const pool = createWasmKvPool(gqaLayout(config.numLayers, config.numKvHeads, config.headDim, 'float32', PAGE_SIZE), NUM_PAGES);
  const engine = new ReferenceEngine(config, weights, pool, { kernel: 'wasm', weightStorage: storage, tp });
  try {
    const rand = prng(31);
    const pages = [Int32Array.from([3, 14, 27, 8, 40, 19]), Int32Array.from([50, 1, 36])];
    const prompts = [randomTokens(rand, 17, config.vocabSize), randomTokens(rand, 6, config.vocabSize)];
    // copies: each step's outputs are valid until the next step
    const logits = [engine.forward([item(prompts[0], 0, pages[0], 'all'), item(prompts[1], 0, pages[1], 'all')]).map((l) => l.slice())];
    for (let s = 0; s < 4; s++) logits.push(engine.forward(prompts.map((p, i) => item(randomTokens(rand, 1, config.vocabSize), p.length + s, pages[i]))).map((l) => l.slice()));
    return { logits: bytes(concat(logits.flat())), kv: kvBytes(pool, Int32Array.from([...pages[0], ...pages[1]])), dtypes: engine.weightDtypes };
  } finally {
    engine.close();
  }
}

for (const dtype of ['bf16', 'f16'] as const) {
  for (const tp of [1, 2]) {
    test(`${dtype} weights stored as ${dtype} give logits and KV bytes identical to f32 storage (--tp ${tp})`, () => {
      const weights = rounded(dtype);
      const wide = run(weights, 'f32', tp);
      const narrow = run(weights, 'narrowest', tp);
      assert.deepEqual(wide.dtypes, ['f32']);
      assert.deepEqual(narrow.dtypes, [dtype]);
      assert.ok(narrow.logits.equals(wide.logits), 'logits differ');
      assert.ok(narrow.kv.equals(wide.kv), 'KV bytes differ');
    });
  }
}

test('a matrix stays f32 unless every value is exactly bf16 or f16 (finite)', () => {
  assert.equal(narrowest(Float32Array.of(1, -2.5, 0, 65536 * 3)).dtype, 'bf16');
  assert.equal(narrowest(Float32Array.of(1, 1 + 2 ** -10, -0, 2 ** -24, 65504)).dtype, 'f16');
  assert.equal(narrowest(Float32Array.of(1, 1 + 2 ** -10, 65536 * 2)).dtype, 'f32', 'beyond f16 range');
  assert.equal(narrowest(Float32Array.of(1 + 2 ** -10, Infinity)).dtype, 'f32', 'f16 infinity is not widened exactly');
  assert.equal(narrowest(Float32Array.of(0.1)).dtype, 'f32');
});

test('rows read back from packed matrices (f32, bf16, f16; full and partial groups of rows) are the rows given', () => {
  const kernels = new WasmKernels(new WasmArena());
  const rand = prng(32);
  const n = 12;
  for (const dtype of ['f32', 'bf16', 'f16'] as const) {
    for (let rows = 1; rows <= 3 * PACK_ROWS - 1; rows++) {
      const values = Float32Array.from({ length: rows * n }, () => (rand() - 0.5) * 8);
      if (dtype !== 'f32') {
        const bits = new Uint16Array(values.length);
        (dtype === 'bf16' ? f32ToBf16 : f32ToF16)(values, bits);
        (dtype === 'bf16' ? bf16ToF32 : f16ToF32)(bits, values);
      }
      const stored = kernels.adoptWeights(values, dtype === 'f32' ? 'f32' : 'narrowest', rows);
      assert.equal(stored.dtype, dtype);
      assert.ok(stored.packed);
      const back = new Float32Array(rows * n);
      for (let r = 0; r < rows; r++) readRows(stored, r, 1, n, back, r * n);
      assert.ok(bytes(back).equals(bytes(values)), `${dtype}, ${rows} rows: one at a time`);
      readRows(stored, 0, rows, n, back.fill(0));
      assert.ok(bytes(back).equals(bytes(values)), `${dtype}, ${rows} rows: all at once`);
    }
  }
});
