/**
 * (a) The engine's logits agree with an independent, dense float64 implementation of the Llama
 * forward pass (no pages, no kernels) computed from the same f32 weights: relative error
 * max|engine - ref| / max|ref| < 1e-4, for tied and untied embeddings, over a prompt spanning several
 * scattered pages and the decode steps after it, with both kernels.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gqaLayout } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import { ReferenceEngine } from '../../src/engine/reference/llama-engine.js';
import type { KernelKind } from '../../src/engine/reference/kernels/kernels.js';
import type { LlamaConfig, ModelWeights } from '../../src/model/types.js';
import { item, prng, randomTokens, randomWeights, tinyConfig } from './random-model.js';

/** y = W x for W [rows, cols] row-major (f32 values, f64 arithmetic). */
function matvec(w: Float32Array, x: Float64Array, rows: number): Float64Array {
  const cols = x.length;
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c] * x[c];
    y[r] = s;
  }
  return y;
}

function rmsNorm64(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  const ms = x.reduce((a, v) => a + v * v, 0) / x.length;
  return x.map((v, i) => (v / Math.sqrt(ms + eps)) * w[i]);
}

function rope64(x: Float64Array, heads: number, d: number, pos: number, theta: number): void {
  const half = d / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const a = pos * theta ** ((-2 * i) / d);
      const [u, v] = [x[h * d + i], x[h * d + i + half]];
      x[h * d + i] = u * Math.cos(a) - v * Math.sin(a);
      x[h * d + i + half] = v * Math.cos(a) + u * Math.sin(a);
    }
  }
}

/** Logits of every position of `tokens`, dense float64 (the textbook Llama forward pass). */
function denseLogits(c: LlamaConfig, w: ModelWeights, tokens: Int32Array): Float64Array[] {
  const { hiddenSize: H, numHeads, numKvHeads, headDim: d } = c;
  const n = tokens.length;
  const x = Array.from(tokens, (t) => Float64Array.from(w.embed.subarray(t * H, t * H + H)));
  for (const L of w.layers) {
    const xn = x.map((r) => rmsNorm64(r, L.inputNorm, c.rmsNormEps));
    const q = xn.map((r, p) => {
      const v = matvec(L.q, r, numHeads * d);
      rope64(v, numHeads, d, p, c.ropeTheta);
      return v;
    });
    const k = xn.map((r, p) => {
      const v = matvec(L.k, r, numKvHeads * d);
      rope64(v, numKvHeads, d, p, c.ropeTheta);
      return v;
    });
    const v = xn.map((r) => matvec(L.v, r, numKvHeads * d));
    for (let p = 0; p < n; p++) {
      const attn = new Float64Array(numHeads * d);
      for (let h = 0; h < numHeads; h++) {
        const g = Math.floor(h / (numHeads / numKvHeads));
        const s = Array.from({ length: p + 1 }, (_, j) => {
          let dot = 0;
          for (let i = 0; i < d; i++) dot += q[p][h * d + i] * k[j][g * d + i];
          return dot / Math.sqrt(d);
        });
        const m = Math.max(...s);
        const e = s.map((z) => Math.exp(z - m));
        const sum = e.reduce((a, z) => a + z, 0);
        for (let j = 0; j <= p; j++) for (let i = 0; i < d; i++) attn[h * d + i] += (e[j] / sum) * v[j][g * d + i];
      }
      const o = matvec(L.o, attn, H);
      for (let i = 0; i < H; i++) x[p][i] += o[i];
      const hn = rmsNorm64(x[p], L.postNorm, c.rmsNormEps);
      const gate = matvec(L.gate, hn, c.intermediateSize);
      const up = matvec(L.up, hn, c.intermediateSize);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = matvec(L.down, act, H);
      for (let i = 0; i < H; i++) x[p][i] += down[i];
    }
  }
  return x.map((r) => matvec(w.lmHead, rmsNorm64(r, w.finalNorm, c.rmsNormEps), c.vocabSize));
}

function relativeError(engine: Float32Array[], ref: Float64Array[]): number {
  let maxDiff = 0;
  let maxRef = 0;
  ref.forEach((r, i) => {
    assert.equal(engine[i].length, r.length);
    r.forEach((b, j) => {
      maxDiff = Math.max(maxDiff, Math.abs(engine[i][j] - b));
      maxRef = Math.max(maxRef, Math.abs(b));
    });
  });
  return maxDiff / maxRef;
}

const PAGE_SIZE = 4;

for (const tied of [true, false]) {
  for (const kernel of ['wasm', 'js'] as KernelKind[]) {
    test(`logits match a dense float64 Llama (${tied ? 'tied' : 'untied'} embeddings, ${kernel} kernel)`, () => {
      const config = tinyConfig({ tieWordEmbeddings: tied });
      const weights = randomWeights(config, tied ? 1 : 2);
      const pool = new KvPool(gqaLayout(config.numLayers, config.numKvHeads, config.headDim, 'float32', PAGE_SIZE), 12);
      const engine = new ReferenceEngine(config, weights, pool, { kernel });
      assert.equal(engine.kernel, kernel);
      const prompt = randomTokens(prng(7), 13, config.vocabSize);
      const decoded = randomTokens(prng(8), 4, config.vocabSize);
      const pageTable = Int32Array.from([9, 2, 7, 0, 11]); // 17 positions: 5 pages, scattered
      const got = engine.forward([item(prompt, 0, pageTable, 'all')])[0].slice(); // outputs are valid until the next step
      const rows = Array.from({ length: prompt.length }, (_, t) => got.subarray(t * config.vocabSize, (t + 1) * config.vocabSize));
      decoded.forEach((tok, i) => rows.push(engine.forward([item(Int32Array.of(tok), prompt.length + i, pageTable)])[0].slice()));
      const ref = denseLogits(config, weights, Int32Array.from([...prompt, ...decoded]));
      const err = relativeError(rows, ref);
      assert.ok(err < 1e-4, `relative error ${err}`);
    });
  }
}
