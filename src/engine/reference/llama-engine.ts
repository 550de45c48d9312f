/**
 * The reference engine: a Llama-architecture decoder in TypeScript over the paged KV pool
 * (embedding, RMSNorm, Q/K/V, RoPE, K/V written to the pool, GQA causal attention read from the pool
 * through each item's page table, O, residual, RMSNorm, SwiGLU MLP, residual, final norm, lm_head).
 *
 * Decisions:
 * - Deterministic and batch-invariant, bit for bit: every reduction is a kernel dot product or an
 *   attention pass with one fixed summation order (kernel-module.ts); everything else is per token.
 *   So an item's logits and K/V bytes do not depend on the other items, the chunking of its prompt or
 *   the kernel (WASM SIMD and JS kernels are bit-identical).
 * - All tokens of a step (prefill chunks and decode tokens of every item) form one activation matrix,
 *   so each weight row is read once per step.
 * - KV dtype float32 (stored K/V are the computed values exactly).
 * - WASM kernel: weight matrices are copied once into the kernel's WebAssembly memory (an embedding
 *   tied to lm_head is used from that copy). If the pool was made by `createWasmKvPool`, the engine
 *   shares its memory and attention reads K/V in place; with any other pool, each item's pages of a
 *   layer are copied into kernel memory before its attention (identical results).
 * - The JS kernel is used when asked for, or (with a warning) when WebAssembly SIMD is unavailable.
 * - The rest of the element-wise math (norm scaling, RoPE, residual adds) is f64 rounded once to f32
 *   on store; Math.cos/sin are V8's own deterministic ports (same results on every host of a Node
 *   version). SiLU runs in the kernels, with their exp, because Math.exp cost ~10% of a prefill.
 */
import type { Engine, ForwardItem, ForwardOutput } from '../engine.js';
import { gqaLayout, sameLayout, type KvLayout } from '../../kv/layout.js';
import type { KvPool } from '../../kv/pool.js';
import type { LlamaConfig, ModelWeights } from '../../model/types.js';
import { JsKernels } from './kernels/js-kernels.js';
import type { AttentionGeometry, KernelKind, Kernels } from './kernels/kernels.js';
import { WasmArena } from './kernels/wasm-arena.js';
import { kernelModule, WasmKernels } from './kernels/wasm-kernels.js';
import { rmsNorm } from './rms-norm.js';
import { Rope } from './rope.js';
import { validateItems } from '../validate-items.js';
import { validateModel } from './validate.js';
import { Workspace, type StepBuffers } from './workspace.js';

export interface ReferenceEngineOptions {
  kernel: KernelKind;
  /** Receives the reason when the WASM kernel is asked for but unavailable (default: console.warn). */
  warn?: (message: string) => void;
}

interface Layer {
  inputNorm: Float32Array;
  postNorm: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  o: Float32Array;
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
}

/** One item's place in the step: rows [row0, row0 + tokens.length) of the activation matrices. */
interface Placed {
  item: ForwardItem;
  row0: number;
}

function createKernels(kind: KernelKind, pool: KvPool, warn: (message: string) => void): Kernels {
  if (kind === 'js') return new JsKernels();
  try {
    kernelModule();
  } catch (err) {
    warn(`reference engine: WebAssembly SIMD unavailable (${(err as Error).message}); using the JS kernel (bit-identical, slower)`);
    return new JsKernels();
  }
  return new WasmKernels(WasmArena.of(pool.buffer) ?? new WasmArena());
}

export class ReferenceEngine implements Engine {
  readonly name = 'reference';
  readonly layout: KvLayout;
  readonly vocabSize: number;
  /** The kernel in use ('js' if WebAssembly SIMD was unavailable). */
  readonly kernel: KernelKind;
  /** Whether attention reads K/V in the pool in place (else pages are copied into kernel memory first). */
  readonly attentionInPlace: boolean;

  private readonly kernels: Kernels;
  private readonly layers: Layer[];
  private readonly embed: Float32Array;
  private readonly lmHead: Float32Array;
  private readonly finalNorm: Float32Array;
  private readonly eps: number;
  private readonly rope: Rope;
  /** The whole pool as f32. */
  private readonly kv: Float32Array;
  private readonly pageFloats: number;
  private readonly geometry: AttentionGeometry;
  private readonly workspace: Workspace;

  constructor(private readonly config: LlamaConfig, weights: ModelWeights, private readonly pool: KvPool, options: ReferenceEngineOptions) {
    validateModel(config, weights);
    const { numLayers, numKvHeads, headDim, hiddenSize, numHeads } = config;
    const expected = gqaLayout(numLayers, numKvHeads, headDim, 'float32', pool.layout.pageSize);
    if (!sameLayout(pool.layout, expected)) {
      throw new Error(`reference engine: KV pool layout ${JSON.stringify(pool.layout)} does not fit the model, expected ${JSON.stringify(expected)}`);
    }
    this.layout = pool.layout;
    this.vocabSize = config.vocabSize;
    this.kernels = createKernels(options.kernel, pool, options.warn ?? ((m) => console.warn(m)));
    this.kernel = this.kernels.kind;
    const k = this.kernels;
    this.layers = weights.layers.map((l) => ({
      inputNorm: l.inputNorm, postNorm: l.postNorm,
      q: k.adopt(l.q), k: k.adopt(l.k), v: k.adopt(l.v), o: k.adopt(l.o),
      gate: k.adopt(l.gate), up: k.adopt(l.up), down: k.adopt(l.down),
    }));
    this.lmHead = k.adopt(weights.lmHead);
    this.embed = weights.embed === weights.lmHead ? this.lmHead : weights.embed;
    this.finalNorm = weights.finalNorm;
    this.eps = config.rmsNormEps;
    this.rope = new Rope(headDim, config.ropeTheta);
    this.pageFloats = pool.pageBytes / 4;
    this.kv = new Float32Array(pool.buffer, 0, pool.numPages * this.pageFloats);
    this.attentionInPlace = k.canRead(pool.buffer);
    const kvDim = numKvHeads * headDim;
    this.geometry = { pageSize: pool.layout.pageSize, tokenStride: 2 * kvDim, vOffset: kvDim, headDim, scale: Math.fround(1 / Math.sqrt(headDim)) };
    this.workspace = new Workspace(k, {
      hidden: hiddenSize, qDim: numHeads * headDim, kvDim, intermediate: config.intermediateSize, vocab: config.vocabSize,
      layerPageFloats: pool.layout.pageSize * 2 * kvDim,
    });
  }

  forward(items: readonly ForwardItem[]): ForwardOutput {
    const { pageSize } = this.layout;
    validateItems(items, { vocabSize: this.vocabSize, maxPositions: this.config.maxPositionEmbeddings, pageSize, numPages: this.pool.numPages });
    if (items.length === 0) return [];
    const placed: Placed[] = [];
    const logitRows: number[] = [];
    let tokens = 0;
    for (const item of items) {
      const n = item.tokens.length;
      placed.push({ item, row0: tokens });
      if (item.logits === 'all') for (let t = 0; t < n; t++) logitRows.push(tokens + t);
      else if (item.logits === 'last') logitRows.push(tokens + n - 1);
      tokens += n;
    }
    const maxPositions = Math.max(...items.map((it) => it.startPos + it.tokens.length));
    const b = this.workspace.buffers({
      tokens, logitRows: logitRows.length, maxPositions, maxPages: Math.ceil(maxPositions / pageSize), gather: !this.attentionInPlace,
    });

    const { hiddenSize: H, vocabSize: V } = this.config;
    const positions = new Int32Array(tokens);
    for (const { item, row0 } of placed) {
      item.tokens.forEach((tok, t) => {
        positions[row0 + t] = item.startPos + t;
        b.h.set(this.embed.subarray(tok * H, tok * H + H), (row0 + t) * H);
      });
    }
    const { cos, sin } = this.rope.angles(positions);
    this.layers.forEach((layer, l) => this.layer(l, layer, placed, tokens, b, cos, sin));

    logitRows.forEach((row, i) => rmsNorm(b.h, row * H, this.finalNorm, this.eps, b.xf, i * H, H));
    if (logitRows.length > 0) this.kernels.matmul(this.lmHead, b.xf, b.logits, V, logitRows.length, H);
    let next = 0;
    return items.map((it) => {
      const rows = it.logits === 'all' ? it.tokens.length : it.logits === 'last' ? 1 : 0;
      next += rows;
      return b.logits.slice((next - rows) * V, next * V);
    });
  }

  private layer(l: number, w: Layer, placed: readonly Placed[], T: number, b: StepBuffers, cos: Float64Array, sin: Float64Array): void {
    const { hiddenSize: H, intermediateSize: I, numHeads, numKvHeads, headDim } = this.config;
    const qDim = numHeads * headDim;
    const kvDim = numKvHeads * headDim;
    const k = this.kernels;
    for (let t = 0; t < T; t++) rmsNorm(b.h, t * H, w.inputNorm, this.eps, b.xn, t * H, H);
    k.matmul(w.q, b.xn, b.q, qDim, T, H);
    k.matmul(w.k, b.xn, b.k, kvDim, T, H);
    k.matmul(w.v, b.xn, b.v, kvDim, T, H);
    for (let t = 0; t < T; t++) {
      this.rope.apply(b.q, t * qDim, numHeads, cos, sin, t);
      this.rope.apply(b.k, t * kvDim, numKvHeads, cos, sin, t);
    }
    // Every item's new K/V goes into the pool before any attention reads it.
    for (const p of placed) this.writeKv(l, p, b);
    for (const p of placed) this.attention(l, p, b);
    k.matmul(w.o, b.attn, b.proj, H, T, qDim);
    addInto(b.h, b.proj, T * H);
    for (let t = 0; t < T; t++) rmsNorm(b.h, t * H, w.postNorm, this.eps, b.xn, t * H, H);
    k.matmul(w.gate, b.xn, b.gate, I, T, H);
    k.matmul(w.up, b.xn, b.up, I, T, H);
    k.siluMul(b.gate, b.up, T * I);
    k.matmul(w.down, b.gate, b.proj, H, T, I);
    addInto(b.h, b.proj, T * H);
  }

  /** f32 offset in the pool of (layer l, position pos) of an item: its K row; V follows after kvDim. */
  private slotOffset(item: ForwardItem, l: number, pos: number): number {
    const { pageSize, entriesPerToken } = this.layout;
    return item.pageTable[Math.floor(pos / pageSize)] * this.pageFloats + (l * pageSize + (pos % pageSize)) * entriesPerToken;
  }

  private writeKv(l: number, { item, row0 }: Placed, b: StepBuffers): void {
    const kvDim = this.geometry.vOffset;
    for (let t = 0; t < item.tokens.length; t++) {
      const at = this.slotOffset(item, l, item.startPos + t);
      const r = (row0 + t) * kvDim;
      this.kv.set(b.k.subarray(r, r + kvDim), at);
      this.kv.set(b.v.subarray(r, r + kvDim), at + kvDim);
    }
  }

  private attention(l: number, { item, row0 }: Placed, b: StepBuffers): void {
    const { numHeads, numKvHeads, headDim } = this.config;
    const g = this.geometry;
    const pages = Math.ceil((item.startPos + item.tokens.length) / g.pageSize);
    const slice = g.pageSize * g.tokenStride;
    for (let i = 0; i < pages; i++) {
      const src = this.slotOffset(item, l, i * g.pageSize);
      if (this.attentionInPlace) {
        b.table[i] = src;
      } else {
        b.gather.set(this.kv.subarray(src, src + slice), i * slice);
        b.table[i] = i * slice;
      }
    }
    const kv = this.attentionInPlace ? this.kv : b.gather;
    const qDim = numHeads * headDim;
    const group = numHeads / numKvHeads;
    for (let t = 0; t < item.tokens.length; t++) {
      const row = (row0 + t) * qDim;
      for (let h = 0; h < numHeads; h++) {
        const off = row + h * headDim;
        this.kernels.attend(g, b.q, off, kv, b.table, item.startPos + t + 1, Math.floor(h / group) * headDim, b.scratch, b.attn, off);
      }
    }
  }
}

function addInto(dst: Float32Array, src: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) dst[i] += src[i];
}
