/**
 * (c) The WebAssembly SIMD kernels and the JS kernels are bit-identical: matmul over every tile shape
 * and edge (row and column counts that are not multiples of the tiles), paged attention, exp, and the
 * whole engine (logits and KV bytes) over every kernel/pool set-up. Inputs span many orders of
 * magnitude so that any difference in summation order would show in the low bits.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expF32, JsKernels } from '../../src/engine/reference/kernels/js-kernels.js';
import { WasmArena } from '../../src/engine/reference/kernels/wasm-arena.js';
import { WasmKernels } from '../../src/engine/reference/kernels/wasm-kernels.js';
import { bytes, kvBytes, makeEngine, SETUPS, tinyModel } from './engine-harness.js';
import { item, prng, randomTokens } from './random-model.js';

const wasm = new WasmKernels(new WasmArena());
const js = new JsKernels();

/** WASM-memory array of values with random sign and magnitude 2^-8 .. 2^8. */
function wide(rand: () => number, n: number): Float32Array {
  const a = wasm.alloc(n);
  for (let i = 0; i < n; i++) a[i] = (rand() - 0.5) * 2 ** (16 * rand() - 8);
  return a;
}

test('WASM and JS matmul are bit-identical for every tile shape and edge', () => {
  const rand = prng(21);
  let sequentialDiffers = false;
  for (const nRows of [1, 2, 3, 4, 5, 7, 8, 13]) {
    for (const nOut of [1, 2, 3, 5, 9]) {
      for (const n of [4, 12, 64]) {
        const w = wide(rand, nOut * n);
        const x = wide(rand, nRows * n);
        const yw = wasm.alloc(nOut * nRows);
        const yj = new Float32Array(nOut * nRows);
        wasm.matmul(w, x, yw, nOut, nRows, n);
        js.matmul(w, x, yj, nOut, nRows, n);
        assert.ok(bytes(yw).equals(bytes(yj)), `matmul ${nOut}x${n} by ${nRows} rows`);
        // the inputs are sensitive to order: a plain sequential f32 sum gives other bits somewhere
        let s = 0;
        for (let k = 0; k < n; k++) s = Math.fround(s + Math.fround(w[k] * x[k]));
        sequentialDiffers ||= s !== yj[0];
      }
    }
  }
  assert.ok(sequentialDiffers, 'test inputs did not exercise the summation order');
});

test('WASM and JS exp are bit-identical and accurate on (-inf, 0]', () => {
  const rand = prng(22);
  const xs = [0, -0, -1e-30, -1e-7, -0.5, -Math.LN2 / 2, -1, -10, -87, -87.29, -87.31, -88, -1e4, -Infinity];
  for (let i = 0; i < 20000; i++) xs.push(-rand() * 90);
  for (const x of xs.map(Math.fround)) {
    const w = wasm.exp(x);
    assert.ok(Object.is(w, expF32(x)), `exp(${x}): wasm ${w}, js ${expF32(x)}`);
    if (x >= -87) assert.ok(Math.abs(w - Math.exp(x)) <= 3e-7 * Math.exp(x), `exp(${x}) = ${w}, Math.exp ${Math.exp(x)}`);
  }
});

test('WASM and JS paged attention are bit-identical', () => {
  const rand = prng(23);
  const headDim = 16;
  const kvHeads = 2;
  const pageSize = 4;
  const tokenStride = 2 * kvHeads * headDim;
  const g = { pageSize, tokenStride, vOffset: kvHeads * headDim, headDim, scale: Math.fround(1 / 4) };
  const pageFloats = pageSize * tokenStride;
  const kv = wide(rand, 10 * pageFloats);
  const tableMemory = wasm.alloc(6);
  const table = new Int32Array(tableMemory.buffer, tableMemory.byteOffset, 6);
  table.set([7, 2, 9, 0, 5, 3].map((p) => p * pageFloats));
  const q = wide(rand, headDim);
  const scores = wasm.alloc(24);
  for (const nPos of [1, 3, 4, 5, 17, 24]) {
    for (const kOff of [0, headDim]) {
      const outW = wasm.alloc(headDim);
      const outJ = new Float32Array(headDim);
      wasm.attend(g, q, 0, kv, table, nPos, kOff, scores, outW, 0);
      js.attend(g, q, 0, kv, table, nPos, kOff, new Float32Array(nPos), outJ, 0);
      assert.ok(bytes(outW).equals(bytes(outJ)), `attention over ${nPos} positions, K offset ${kOff}`);
      assert.ok(outJ.every(Number.isFinite) && outJ.some((v) => v !== 0));
    }
  }
});

test('the WASM kernel rejects arrays outside its memory', () => {
  const a = new Float32Array(16);
  assert.throws(() => wasm.matmul(a, a, a, 4, 1, 4), /not in the kernel memory/);
});

test('engine logits and KV bytes are identical for every kernel and pool', () => {
  const vocab = tinyModel.config.vocabSize;
  const pagesA = Int32Array.from([33, 4, 18, 47, 9]);
  const pagesB = Int32Array.from([2, 40, 27]);
  const results = SETUPS.map((setup) => {
    const { engine, pool } = makeEngine(setup);
    const r = prng(25);
    const first = engine.forward([item(randomTokens(r, 15, vocab), 0, pagesA, 'all'), item(randomTokens(r, 6, vocab), 0, pagesB)]);
    const second = engine.forward([item(randomTokens(r, 1, vocab), 6, pagesB), item(randomTokens(r, 3, vocab), 15, pagesA, 'all')]);
    return { name: `${setup.kernel}/${setup.wasmPool ? 'wasm' : 'plain'} pool`, inPlace: engine.attentionInPlace, logits: [...first, ...second], kv: [kvBytes(pool, pagesA), kvBytes(pool, pagesB)] };
  });
  assert.deepEqual(results.map((r) => r.inPlace), [true, false, true]);
  const [base, ...rest] = results;
  for (const r of rest) {
    r.logits.forEach((l, i) => assert.ok(bytes(l).equals(bytes(base.logits[i])), `${r.name}: logits ${i} differ from ${base.name}`));
    r.kv.forEach((k, i) => assert.ok(k.equals(base.kv[i]), `${r.name}: KV bytes ${i} differ from ${base.name}`));
  }
});
