/**
 * (c) The native, WebAssembly SIMD and JS kernels are bit-identical: matmul over every tile shape
 * and edge (row and column counts that are not multiples of the tiles) with weights stored as f32,
 * bf16 or f16 (packed in groups of 4 rows, widened in the kernel), paged attention, exp, and the
 * whole engine (logits and KV bytes) over every kernel/pool set-up. Inputs span many orders of
 * magnitude so that any difference in summation order would show in the low bits.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { AttentionCall } from '../../src/engine/reference/kernels/attention-call.js';
import { expF32, JsKernels, siluF32 } from '../../src/engine/reference/kernels/js-kernels.js';
import { WasmArena } from '../../src/engine/reference/kernels/wasm-arena.js';
import { NativeKernels } from '../../src/engine/reference/kernels/native-kernels.js';
import { WasmKernels } from '../../src/engine/reference/kernels/wasm-kernels.js';
import type { WeightDtype } from '../../src/engine/reference/kernels/weight-storage.js';
import { f16ToF32 } from '../../src/model/half-float.js';
import { bytes, kvBytes, makeEngine, nativeSkip, PAGE_SIZE, SETUPS, tinyModel } from './engine-harness.js';
import { item, prng, randomTokens } from './random-model.js';

const wasm = new WasmKernels(new WasmArena());
const js = new JsKernels();

/** WASM-memory array of values with random sign and magnitude 2^-8 .. 2^8. */
function wide(rand: () => number, n: number): Float32Array {
  const a = wasm.alloc(n);
  for (let i = 0; i < n; i++) a[i] = (rand() - 0.5) * 2 ** (16 * rand() - 8);
  return a;
}

/** Weights exactly representable as `dtype`: wide f32 values, their bf16 truncation, or random f16 bit patterns (subnormals, -0 and extremes included, no inf/NaN). */
function weightsOf(dtype: WeightDtype, rand: () => number, n: number): Float32Array {
  const a = wide(rand, n);
  if (dtype === 'bf16') new Uint32Array(a.buffer, a.byteOffset, n).forEach((b, i, u) => (u[i] = b & 0xffff0000));
  if (dtype === 'f16') {
    const bits = Uint16Array.from({ length: n }, () => {
      const b = Math.floor(rand() * 0x10000);
      return (b & 0x7c00) === 0x7c00 ? b & 0x83ff : b;
    });
    f16ToF32(bits, a);
  }
  return a;
}

test('WASM (f32, bf16, f16 weights) and JS matmul are bit-identical for every tile shape and edge', () => {
  const rand = prng(21);
  let sequentialDiffers = false;
  for (const dtype of ['f32', 'bf16', 'f16'] as const) {
    for (const nRows of [1, 2, 3, 4, 5, 7, 8, 13, 16, 21]) {
      for (const nOut of [1, 2, 3, 4, 5, 6, 7, 9, 11]) {
        for (const n of [4, 12, 64]) {
          const w = weightsOf(dtype, rand, nOut * n);
          const stored = wasm.adoptWeights(w, 'narrowest', nOut);
          if (dtype !== 'f32') assert.equal(stored.dtype, dtype, `${dtype} weights are stored as ${dtype}`);
          const x = wide(rand, nRows * n);
          const yw = wasm.alloc(nOut * nRows);
          const yj = new Float32Array(nOut * nRows);
          wasm.matmul(stored, x, yw, nOut, nRows, n);
          js.matmul(js.adoptWeights(w), x, yj, nOut, nRows, n);
          assert.ok(bytes(yw).equals(bytes(yj)), `matmul ${nOut}x${n} by ${nRows} rows, ${dtype} weights`);
          // the inputs are sensitive to order: a plain sequential f32 sum gives other bits somewhere
          let s = 0;
          for (let k = 0; k < n; k++) s = Math.fround(s + Math.fround(w[k] * x[k]));
          sequentialDiffers ||= s !== yj[0];
        }
      }
    }
  }
  assert.ok(sequentialDiffers, 'test inputs did not exercise the summation order');
});

test('native and JS matmul are bit-identical over every tile, row remainder and partial group, with ldy > nOut', { skip: nativeSkip }, () => {
  const k = new NativeKernels(wasm.arena); // throws saying why where the library is not built
  const rand = prng(27);
  const SENTINEL = -12345.5;
  for (const dtype of ['f32', 'bf16', 'f16'] as const) {
    // rows: 1..9 (one group per tile below 4 rows, every remainder of the 6-row tile), 12 and 13..37 (full
    // tiles plus remainders), 49 and 63 (a second 48-row block: 1 row, below 4 rows, and 15 rows)
    for (const nRows of [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 24, 25, 37, 49, 51, 63]) {
      // outputs: partial groups alone (1-3), 1-5 full groups (pairs, an odd one, 4-group blocks) with and without a partial group
      for (const nOut of [1, 2, 3, 4, 5, 7, 8, 10, 12, 15, 16, 17, 19, 20, 23]) {
        for (const n of [4, 12, 64]) {
          const w = weightsOf(dtype, rand, nOut * n);
          const stored = k.adoptWeights(w, 'narrowest', nOut);
          assert.equal(stored.dtype, dtype, `${dtype} weights are stored as ${dtype}`);
          const x = wide(rand, nRows * n);
          for (const ldy of [nOut, nOut + 3]) {
            const yn = k.alloc(ldy * nRows).fill(SENTINEL);
            const yj = new Float32Array(ldy * nRows).fill(SENTINEL);
            k.matmul(stored, x, yn, nOut, nRows, n, ldy);
            js.matmul(js.adoptWeights(w), x, yj, nOut, nRows, n, ldy);
            assert.ok(bytes(yn).equals(bytes(yj)), `native matmul ${nOut}x${n} by ${nRows} rows, ${dtype} weights, ldy ${ldy}`);
            assert.ok(yn.every((v, i) => (i % ldy < nOut) !== (v === SENTINEL)), 'native matmul wrote exactly the outputs');
          }
        }
      }
    }
  }
});

/** The WASM kernel and, where it can run, the native one: both check every call's sizes (bounds.ts). */
const checked = (): WasmKernels[] => [wasm, ...(nativeSkip ? [] : [new NativeKernels(wasm.arena)])];

test('the WASM and native kernels refuse arrays too short for the sizes they are given', () => {
  for (const k of checked()) {
    const w = k.adoptWeights(k.alloc(8 * 4), 'f32', 8);
    const x = k.alloc(2 * 4);
    assert.throws(() => k.matmul(w, x, k.alloc(8 * 3), 8, 3, 4), /matmul: arrays too short/, k.kind);
    assert.throws(() => k.matmul(w, x, k.alloc(15), 8, 2, 4), /arrays too short/);
    assert.throws(() => k.matmul(w, x, k.alloc(16), 9, 2, 4), /arrays too short/);
    const halfWidth = new Uint16Array(w.data.buffer, w.data.byteOffset, w.data.length);
    assert.throws(() => k.matmul({ ...w, data: halfWidth }, x, k.alloc(16), 8, 2, 4), /arrays too short/, '16-bit data said to be f32 would be read at twice its size');
    const [a, norm] = [k.alloc(3 * 8), k.alloc(8)];
    assert.throws(() => k.rmsNorm(a, 0, 8, norm, 1e-5, a, 1, 8, 8, 3), /rmsNorm: arrays too short/, `${k.kind} rmsNorm past the end`);
    assert.throws(() => k.rmsNorm(a, 0, 8, norm, 1e-5, a, 0, 8, 6, 3), /not a multiple of 4/);
    const [cos, sin] = [new Float64Array(4), new Float64Array(4)];
    assert.throws(() => k.rope(a, 0, 8, 3, 2, 4, cos, sin), /rope: arrays too short/, `${k.kind} rope: 3 rows need 6 angles`);
    assert.throws(() => k.rope(a, 0, 8, 2, 3, 4, cos, sin), /rope: arrays too short/, 'heads wider than the row');
    assert.throws(() => k.addRows(a, 1, 8, a, 8, 3), /addRows: arrays too short/);
    assert.throws(() => k.siluMul(a, norm, 12), /siluMul: arrays too short/);
  }
});

test('WASM and JS exp are bit-identical and accurate on (-inf, 0]', () => {
  const rand = prng(22);
  const xs = [0, -0, -1e-30, -1e-7, -0.5, -Math.LN2 / 2, -1, -10, -87, -87.29, -87.31, -88, -1e4, -Infinity];
  while (xs.length < 20000) xs.push(-rand() * 90);
  for (const m of [0, 3.5]) {
    const a = wasm.alloc(xs.length);
    a.set(xs.map((x) => x + m));
    wasm.expInPlace(a, m);
    a.forEach((w, i) => {
      const x = Math.fround(Math.fround(xs[i] + m) - m);
      assert.ok(Object.is(w, expF32(x)), `exp(${x}): wasm ${w}, js ${expF32(x)}`);
      if (x >= -87) assert.ok(Math.abs(w - Math.exp(x)) <= 3e-7 * Math.exp(x), `exp(${x}) = ${w}, Math.exp ${Math.exp(x)}`);
    });
  }
});

test('WASM and JS SiLU-gated products are bit-identical and accurate', () => {
  const rand = prng(26);
  const n = 4096;
  const gate = wide(rand, n);
  gate.set([0, -0, 1e-30, -1e-30, 90, -90, 200, -200]);
  const up = wide(rand, n);
  const expected = new Float32Array(gate);
  js.siluMul(expected, up, n);
  wasm.siluMul(gate, up, n);
  assert.ok(bytes(gate).equals(bytes(expected)));
  for (const g of [-100, -20, -3, -0.5, 0, 0.25, 2, 15, 100]) {
    const exact = g / (1 + Math.exp(-g));
    assert.ok(Math.abs(siluF32(Math.fround(g)) - exact) <= 5e-7 * Math.max(Math.abs(exact), 1e-30), `silu(${g})`);
  }
});

/**
 * `k`'s paged attention equals the JS kernel's byte for byte (which runs head by head, so every head
 * of a group equals that head alone), over pages out of order, queries and outputs that start one
 * head into their arrays, both K offsets; nothing is written outside the heads' outputs.
 */
function attentionMatchesJs(k: WasmKernels, seed: number, headDims: readonly number[], positions: readonly number[]): void {
  const rand = prng(seed);
  const kvHeads = 2;
  const pageSize = 4;
  const maxPos = Math.max(...positions);
  const pages = Math.ceil(maxPos / pageSize);
  // 1..4 heads are one call of the WASM kernel and one register of the native one; 5 and 9 are
  // split into calls of 4 + 1 and 4 + 4 + 1.
  const headCounts = [1, 2, 3, 4, 5, 9];
  const most = Math.max(...headCounts);
  for (const headDim of headDims) {
    const tokenStride = 2 * kvHeads * headDim;
    const g = { pageSize, tokenStride, vOffset: kvHeads * headDim, headDim, scale: Math.fround(1 / Math.sqrt(headDim)) };
    const pageFloats = pageSize * tokenStride;
    const kv = wide(rand, 2 * pages * pageFloats);
    const tableMemory = k.alloc(pages);
    const table = new Int32Array(tableMemory.buffer, tableMemory.byteOffset, pages);
    const q = wide(rand, (most + 1) * headDim);
    const scratch = k.alloc(most * maxPos + maxPos + 3 * most);
    for (const heads of headCounts) {
      // one record per kernel, bound to the same pages out of order (the JS one with a plain scratch of nPos values)
      const [c, cj] = [new AttentionCall(g, heads), new AttentionCall(g, heads)];
      for (const call of [c, cj]) {
        call.usePages(kv, table);
        for (let i = 0; i < pages; i++) call.setPage(i, ((i * 7 + 3) % (2 * pages)) * pageFloats);
      }
      for (const nPos of positions) {
        for (const kOff of [0, headDim]) {
          const out = k.alloc((heads + 2) * headDim);
          const outJ = new Float32Array((heads + 2) * headDim);
          [c.q, c.out, c.scratch] = [q, out, scratch];
          [cj.q, cj.out, cj.scratch] = [q, outJ, new Float32Array(nPos)];
          for (const call of [c, cj]) [call.qOff, call.kOff, call.outOff, call.nPos] = [headDim, kOff, headDim, nPos];
          k.attend(c);
          js.attend(cj);
          const what = `${k.kind}: head dim ${headDim}, ${heads} heads, attention over ${nPos} positions, K offset ${kOff}`;
          assert.ok(bytes(out).equals(bytes(outJ)), what);
          const [before, results, after] = [outJ.subarray(0, headDim), outJ.subarray(headDim, (heads + 1) * headDim), outJ.subarray((heads + 1) * headDim)];
          assert.ok(before.every((v) => v === 0) && after.every((v) => v === 0), `${what}: nothing written outside the heads' outputs`);
          assert.ok(results.every(Number.isFinite) && results.some((v) => v !== 0), `${what}: results written`);
        }
      }
    }
  }
}

test('native and JS element-wise steps (RMSNorm, RoPE, residual add, SiLU-gated product) are bit-identical over odd sizes', { skip: nativeSkip }, () => {
  const k = new NativeKernels(wasm.arena);
  const rand = prng(31);
  const SENTINEL = -12345.5;
  const same = (a: Float32Array, b: Float32Array, what: string): void => assert.ok(bytes(a).equals(bytes(b)), what);
  for (const rows of [1, 2, 3, 5, 7]) {
    // RMSNorm: widths of 1..25 quads (the 8-wide f64 loop's tail), rows apart by a stride, written at an offset
    for (const n of [4, 8, 12, 20, 36, 100]) {
      const [lds, ldd] = [n + 4, n + 8];
      const src = wide(rand, rows * lds);
      const weight = wide(rand, n);
      const eps = [1e-5, 1e-6, 0.25][rows % 3];
      const [dn, dj] = [k.alloc(3 + rows * ldd).fill(SENTINEL), new Float32Array(3 + rows * ldd).fill(SENTINEL)];
      k.rmsNorm(src, 4, lds, weight, eps, dn, 3, ldd, n, rows);
      js.rmsNorm(src, 4, lds, weight, eps, dj, 3, ldd, n, rows);
      same(dn, dj, `rmsNorm ${rows} rows of ${n}`);
      assert.ok(dn.every((v, i) => (i >= 3 && (i - 3) % ldd < n) !== (v === SENTINEL)), 'rmsNorm wrote exactly the rows');
    }
    // RoPE: head dims whose halves run the 8-wide f64 loop, its tail, or only the tail; the angles of large positions
    for (const headDim of [2, 6, 16, 18, 64, 130]) {
      for (const heads of [1, 3]) {
        const ld = heads * headDim + 2;
        const xn = wide(rand, 1 + rows * ld);
        const xj = new Float32Array(xn);
        const half = headDim / 2;
        const angle = Float64Array.from({ length: rows * half }, () => rand() * 1e4);
        const [cos, sin] = [angle.map(Math.cos), angle.map(Math.sin)];
        k.rope(xn, 1, ld, rows, heads, headDim, cos, sin);
        js.rope(xj, 1, ld, rows, heads, headDim, cos, sin);
        same(xn, xj, `rope ${rows} rows of ${heads} heads of ${headDim}`);
      }
    }
    // residual add: widths below, at and past one 16-wide vector
    for (const n of [1, 3, 15, 16, 17, 33, 64]) {
      const ldh = n + 5;
      const hn = wide(rand, 2 + rows * ldh);
      const hj = new Float32Array(hn);
      const p = wide(rand, rows * n);
      k.addRows(hn, 2, ldh, p, n, rows);
      js.addRows(hj, 2, ldh, p, n, rows);
      same(hn, hj, `addRows ${rows} rows of ${n}`);
    }
  }
  // SiLU: lengths that end a 16-wide vector part way (masked), signed zeros, exp's cut-off and beyond
  for (const n of [4, 8, 12, 16, 20, 36, 1028]) {
    const gate = wide(rand, n);
    gate.set([0, -0, 1e-30, -90].slice(0, n));
    const up = wide(rand, n);
    const [gn, gj] = [k.alloc(n + 4).fill(SENTINEL), new Float32Array(n + 4).fill(SENTINEL)];
    gn.set(gate);
    gj.set(gate);
    k.siluMul(gn, up, n);
    js.siluMul(gj, up, n);
    same(gn, gj, `siluMul of ${n}`);
    assert.equal(gn[n], SENTINEL, 'siluMul stopped at n');
  }
});

test('WASM and JS paged attention are bit-identical, for every head count per call', () => {
  attentionMatchesJs(wasm, 23, [8, 16, 20, 64], [1, 2, 3, 4, 5, 7, 17, 24]);
});

test('native and JS paged attention are bit-identical (head dims past one 64-dimension pass, exp tails, 1-9 heads)', { skip: nativeSkip }, () => {
  attentionMatchesJs(new NativeKernels(wasm.arena), 28, [4, 8, 20, 64, 132], [1, 2, 3, 4, 5, 7, 16, 17, 33, 45]);
});

test('a page table entry outside the KV array is refused as it is set, and the WASM and native attention refuse positions past the entries set', () => {
  for (const k of checked()) refusesBadPages(k);
});

function refusesBadPages(k: WasmKernels): void {
  const headDim = 8;
  const g = { pageSize: 4, tokenStride: 2 * headDim, vOffset: headDim, headDim, scale: Math.fround(1 / Math.sqrt(headDim)) };
  const pageFloats = g.pageSize * g.tokenStride;
  const kv = k.alloc(2 * pageFloats);
  const tableMemory = k.alloc(2);
  const table = new Int32Array(tableMemory.buffer, tableMemory.byteOffset, 2);
  const c = new AttentionCall(g, 1);
  [c.q, c.out, c.scratch] = [k.alloc(headDim), k.alloc(headDim), k.alloc(32)]; // scratch enough for 9 positions: only the page table limits them
  c.usePages(kv, table);
  c.nPos = 8;
  assert.throws(() => k.attend(c), /attend: 8 positions need more than the 0 page table entries set/, `${k.kind}: nothing set yet`);
  c.setPage(0, pageFloats);
  for (const bad of [2 * pageFloats, pageFloats + 1, -pageFloats, NaN]) {
    assert.throws(() => c.setPage(1, bad), /attend: page table entry 1 \((-?\d+|NaN)\) is outside the KV array/, `${k.kind}: entry ${bad}`);
  }
  assert.equal(c.pages, 1, 'a refused entry is not counted');
  assert.throws(() => k.attend(c), /8 positions need more than the 1 page table entries set/, `${k.kind}: a call past the entries set`);
  c.nPos = 4;
  k.attend(c); // within the one entry set
  c.setPage(1, 0);
  c.nPos = 8;
  k.attend(c);
  // rewriting a validated entry with a bad one leaves the good one in place
  assert.throws(() => c.setPage(0, 2 * pageFloats), /page table entry 0 .* is outside/);
  assert.equal(table[0], pageFloats, 'the refused entry was not written');
  k.attend(c);
  // positions within the table: no entry past its end, none out of order, no call past its capacity
  assert.throws(() => c.setPage(2, 0), /page table entry 2 is out of order or past the table \(2 of 2 entries set\)/);
  c.usePages(kv, table);
  assert.throws(() => c.setPage(1, 0), /page table entry 1 is out of order/, 'binding the pages again forgets the entries set');
  c.setPage(0, 0);
  c.setPage(1, pageFloats);
  c.nPos = 9;
  assert.throws(() => k.attend(c), /9 positions need more than the 2 page table entries set/, 'nPos beyond the table');
  // a shorter KV array: the same offsets must be set again, and are refused
  c.usePages(kv.subarray(0, pageFloats), table);
  c.setPage(0, 0);
  assert.throws(() => c.setPage(1, pageFloats), /page table entry 1 \(\d+\) is outside the KV array \(64 values/);
  c.usePages(kv, table);
  c.setPage(0, 0);
  c.setPage(1, pageFloats);
  c.nPos = 8;
  c.kOff = 1;
  assert.throws(() => k.attend(c), /attend: K offset 1 puts a K or V row outside its slot/, 'the K offset counts too');
  for (const [qOff, kOff, outOff] of [[-1, 0, 0], [0, -1, 0], [0, 0, -1], [1, 0, 0], [0, 0, 1]]) {
    [c.qOff, c.kOff, c.outOff] = [qOff, kOff, outOff];
    assert.throws(() => k.attend(c), /attend: (a negative offset|K offset -1)/, `offsets ${[qOff, kOff, outOff]}`);
  }
  assert.throws(() => new AttentionCall({ ...g, vOffset: headDim + 1 }, 1), /no room for a K and a V row per slot/);
}

test('the WASM kernel rejects arrays outside its memory', () => {
  const a = new Float32Array(16);
  assert.throws(() => wasm.matmul({ dtype: 'f32', packed: true, data: a }, a, a, 4, 1, 4), /not in the kernel memory/);
});

test('engine logits and KV bytes are identical for every kernel and pool', () => {
  const vocab = tinyModel.config.vocabSize;
  const pagesA = Int32Array.from([33, 4, 18, 47, 9]);
  const pagesB = Int32Array.from([2, 40, 27]);
  const results = SETUPS.map((setup) => {
    const { engine, pool } = makeEngine(setup);
    const r = prng(25);
    const first = engine.forward([item(randomTokens(r, 15, vocab), 0, pagesA, 'all'), item(randomTokens(r, 6, vocab), 0, pagesB)]).map((l) => l.slice()); // valid until the next step
    const second = engine.forward([item(randomTokens(r, 1, vocab), 6, pagesB), item(randomTokens(r, 3, vocab), 15, pagesA, 'all')]);
    return { name: `${setup.kernel}/${setup.wasmPool ? 'wasm' : 'plain'} pool`, kernel: engine.kernel, inPlace: engine.attentionInPlace, logits: [...first, ...second], kv: [kvBytes(pool, pagesA), kvBytes(pool, pagesB)] };
  });
  assert.deepEqual(results.map((r) => r.inPlace), [true, false, true, true]);
  if (!nativeSkip) assert.equal(results[SETUPS.findIndex((s) => s.kernel === 'native')].kernel, 'native', 'the native set-up ran the native kernel');
  const [base, ...rest] = results;
  for (const r of rest) {
    r.logits.forEach((l, i) => assert.ok(bytes(l).equals(bytes(base.logits[i])), `${r.name}: logits ${i} differ from ${base.name}`));
    r.kv.forEach((k, i) => assert.ok(k.equals(base.kv[i]), `${r.name}: KV bytes ${i} differ from ${base.name}`));
  }
});

test('without WebAssembly the engine warns and falls back to the JS kernel, with the same logits', () => {
  const url = (path: string): string => new URL(path, import.meta.url).href;
  const tokens = [1, 2, 3, 4, 5];
  const pageTable = [3, 1];
  // --jitless disables WebAssembly altogether (and runs JS in the interpreter: same Math results)
  const script = `
    const { ReferenceEngine } = await import(${JSON.stringify(url('../../src/engine/reference/llama-engine.js'))});
    const { KvPool } = await import(${JSON.stringify(url('../../src/kv/pool.js'))});
    const { gqaLayout } = await import(${JSON.stringify(url('../../src/kv/layout.js'))});
    const m = await import(${JSON.stringify(url('./random-model.js'))});
    const config = m.tinyConfig();
    const pool = new KvPool(gqaLayout(config.numLayers, config.numKvHeads, config.headDim, 'float32', ${PAGE_SIZE}), 4);
    const engine = new ReferenceEngine(config, m.randomWeights(config, 3), pool, { kernel: 'wasm' });
    const [logits] = engine.forward([m.item(Int32Array.from(${JSON.stringify(tokens)}), 0, Int32Array.from(${JSON.stringify(pageTable)}))]);
    console.log(JSON.stringify({ kernel: engine.kernel, logits: Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength).toString('base64') }));
  `;
  const child = spawnSync(process.execPath, ['--jitless', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stderr, /WebAssembly SIMD unavailable .* using the JS kernel/);
  const result = JSON.parse(child.stdout) as { kernel: string; logits: string };
  assert.equal(result.kernel, 'js');
  const { engine } = makeEngine(SETUPS[2]);
  const [logits] = engine.forward([item(Int32Array.from(tokens), 0, Int32Array.from(pageTable))]);
  assert.equal(result.logits, bytes(logits).toString('base64'));
});
