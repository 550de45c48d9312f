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
 * - The logits handed out are views of the step's buffer in kernel memory, valid until the next
 *   `forward` (the Engine contract): a copy per step (196 KB at `small`'s vocabulary) cost a fresh
 *   allocation and its page faults every decode token, ~5 % of a bf16 decode b1 step in a profile.
 * - WASM kernel: weight matrices are copied once into the kernel's WebAssembly memory, packed in
 *   groups of 4 rows (kernels/weight-packing.ts), as bf16/f16 when every value is exactly one
 *   (kernels/weight-storage.ts; widened exactly in the kernel), else f32 (an embedding tied to
 *   lm_head is read from that copy). If the pool was made by `createWasmKvPool`, the engine
 *   shares its memory and attention reads K/V in place; with any other pool, each item's pages of a
 *   layer are copied into kernel memory before its attention (identical results).
 * - Native kernel (the default): the WASM kernel with matmul, attention and the element-wise steps in C
 *   (kernels/native-kernels.ts); where the library is not built or the CPU lacks AVX-512, the WASM
 *   kernel, with a warning saying why.
 * - The WASM and native kernels' memory asks for transparent huge pages before anything is written
 *   to it (kernels/huge-pages.ts); `hugePages` says, once the weights are in, how much the host granted.
 * - The JS kernel is used when asked for, or (with a warning) when WebAssembly SIMD is unavailable.
 * - `tp` > 1 (`--tp N`): N ranks, this thread and N-1 workers, each with 1/N of every matrix
 *   (tensor-parallel/tp-plan.ts), in lock step through barriers on the kernels' shared memory; the
 *   per-rank code (shard.ts) is the same with one rank, and the results are bit-identical for any N.
 *   Needs the WASM kernel (its memory is what the threads share) and a pool the threads can share
 *   (any pool but the shm backend's decode pool, an mmap'ed region).
 * - The element-wise math (norm scaling, RoPE, residual adds; kernels/elementwise.ts, in C for the
 *   native kernel) is f64 rounded once to f32 on store; RoPE's cos/sin come from V8's Math.cos/sin,
 *   deterministic ports (same results on every host of a Node version), computed in JS for every
 *   kernel. SiLU runs in the kernels, with their exp, because Math.exp cost ~10% of a prefill.
 */
import { EngineLostError, type Engine, type ForwardItem, type ForwardOutput } from '../engine.js';
import { gqaLayout, sameLayout, type KvLayout } from '../../kv/layout.js';
import type { KvPool } from '../../kv/pool.js';
import type { LlamaConfig, ModelWeights } from '../../model/types.js';
import { hugePageBytes, type HugePageAdvice } from './kernels/huge-pages.js';
import { JsKernels } from './kernels/js-kernels.js';
import type { KernelKind, Kernels } from './kernels/kernels.js';
import { WasmArena } from './kernels/wasm-arena.js';
import { readRows, type WeightDtype, type WeightMatrix, type WeightStorage } from './kernels/weight-storage.js';
import { kernelModule, WasmKernels } from './kernels/wasm-kernels.js';
import { nativeKernelProblem } from './kernels/native-library.js';
import { NativeKernels } from './kernels/native-kernels.js';
import { Shard, type ShardWeights } from './shard.js';
import { decodeStep, descriptorInts, encodeStep } from './step-plan.js';
import { CONTROL_BYTES } from './tensor-parallel/step-barrier.js';
import { TpGroup, type MatrixRef, type RankWeights } from './tensor-parallel/tp-group.js';
import { rankSlice, tpProblem, type RankSlice } from './tensor-parallel/tp-plan.js';
import { validateItems } from '../validate-items.js';
import { validateModel } from './validate.js';
import { Workspace, type ModelDims, type StepBuffers, type StepShape } from './workspace.js';

export interface ReferenceEngineOptions {
  kernel: KernelKind;
  /** How weight matrices are stored in kernel memory (default: the narrowest exact dtype). */
  weightStorage?: WeightStorage;
  /** Tensor-parallel ranks (threads), `--tp`; default 1. */
  tp?: number;
  /** Receives the reason when the native or WASM kernel is asked for but unavailable (default: console.warn). */
  warn?: (message: string) => void;
}

function createKernels(kind: KernelKind, pool: KvPool, warn: (message: string) => void): Kernels {
  if (kind === 'js') return new JsKernels();
  try {
    kernelModule();
  } catch (err) {
    warn(`reference engine: WebAssembly SIMD unavailable (${(err as Error).message}); using the JS kernel (bit-identical, slower)`);
    return new JsKernels();
  }
  const arena = WasmArena.of(pool.buffer) ?? new WasmArena();
  if (kind === 'native') {
    const problem = nativeKernelProblem();
    if (problem === null) return new NativeKernels(arena);
    warn(`reference engine: native kernels unavailable (${problem.reason}); using the WASM kernel (bit-identical, slower)`);
  }
  return new WasmKernels(arena);
}

/** Rank `s`'s rows of every matrix, adopted into kernel memory. */
function rankWeights(c: LlamaConfig, w: ModelWeights, s: RankSlice, k: Kernels, storage: WeightStorage): ShardWeights {
  const { hiddenSize: H, intermediateSize: I, headDim: d } = c;
  const qDim = c.numHeads * d;
  const rows = (a: Float32Array, [r0, r1]: readonly [number, number], width: number): WeightMatrix => k.adoptWeights(a.subarray(r0 * width, r1 * width), storage, r1 - r0);
  const heads = [s.heads[0] * d, s.heads[1] * d] as const;
  const kvHeads = [s.kvHeads[0] * d, s.kvHeads[1] * d] as const;
  return {
    layers: w.layers.map((l) => ({
      inputNorm: l.inputNorm, postNorm: l.postNorm,
      q: rows(l.q, heads, H), k: rows(l.k, kvHeads, H), v: rows(l.v, kvHeads, H), o: rows(l.o, s.hidden, qDim),
      gate: rows(l.gate, s.inter, H), up: rows(l.up, s.inter, H), down: rows(l.down, s.hidden, I),
    })),
    finalNorm: w.finalNorm,
    lmHead: rows(w.lmHead, s.vocab, H),
  };
}

/** A rank's weights as addresses in kernel memory, for its worker thread. */
function weightRefs(w: ShardWeights): RankWeights {
  const ref = (a: WeightMatrix): MatrixRef => [a.data.byteOffset, a.data.length, a.dtype];
  return {
    layers: w.layers.map((l) => ({ inputNorm: l.inputNorm, postNorm: l.postNorm, q: ref(l.q), k: ref(l.k), v: ref(l.v), o: ref(l.o), gate: ref(l.gate), up: ref(l.up), down: ref(l.down) })),
    finalNorm: w.finalNorm,
    lmHead: ref(w.lmHead),
  };
}

export class ReferenceEngine implements Engine {
  readonly name = 'reference';
  readonly layout: KvLayout;
  readonly vocabSize: number;
  /** The kernel in use ('wasm' if the native one was asked for but unavailable, 'js' if WebAssembly SIMD was). */
  readonly kernel: KernelKind;
  /** Whether attention reads K/V in the pool in place (else pages are copied into kernel memory first). */
  readonly attentionInPlace: boolean;
  /** Tensor-parallel ranks. */
  readonly tp: number;
  /** How the weight matrices are stored in kernel memory (e.g. ['bf16'], or ['bf16', 'f32'] if mixed). */
  readonly weightDtypes: readonly WeightDtype[];
  /** Huge pages of the kernels' memory once the weights are in it (null with the JS kernel), for the start-up log line. */
  readonly hugePages: { advice: HugePageAdvice | null; grantedBytes: number; memoryBytes: number } | null;

  private readonly embed: WeightMatrix;
  private readonly shard: Shard;
  private readonly group: TpGroup | null;
  private readonly workspace: Workspace;

  constructor(private readonly config: LlamaConfig, weights: ModelWeights, private readonly pool: KvPool, options: ReferenceEngineOptions) {
    validateModel(config, weights);
    const tp = options.tp ?? 1;
    const problem = tpProblem(config, tp);
    if (problem) throw new Error(problem);
    const { numLayers, numKvHeads, headDim, hiddenSize, numHeads } = config;
    const expected = gqaLayout(numLayers, numKvHeads, headDim, 'float32', pool.layout.pageSize);
    if (!sameLayout(pool.layout, expected)) {
      throw new Error(`reference engine: KV pool layout ${JSON.stringify(pool.layout)} does not fit the model, expected ${JSON.stringify(expected)}`);
    }
    this.layout = pool.layout;
    this.vocabSize = config.vocabSize;
    this.tp = tp;
    const k = createKernels(options.kernel, pool, options.warn ?? ((m) => console.warn(m)));
    this.kernel = k.kind;
    if (tp > 1 && !(k instanceof WasmKernels)) throw new Error(`--tp ${tp} needs the WASM kernel (its shared memory is what the rank threads work in); got the ${k.kind} kernel`);
    if (tp > 1 && !k.canRead(pool.buffer) && !(pool.buffer instanceof SharedArrayBuffer)) {
      throw new Error(`--tp ${tp} needs a KV pool the rank threads can share; this pool (the shm transfer backend's decode pool) is an mmap'ed region`);
    }
    this.attentionInPlace = k.canRead(pool.buffer);
    const pageFloats = pool.pageBytes / 4;
    const poolView = { layout: pool.layout, kv: new Float32Array(pool.buffer, 0, pool.numPages * pageFloats), pageFloats, inPlace: this.attentionInPlace };
    const slices = Array.from({ length: tp }, (_, r) => rankSlice(config, tp, r));
    const shards = slices.map((s) => rankWeights(config, weights, s, k, options.weightStorage ?? 'narrowest'));
    const matrices = shards.flatMap((s) => [s.lmHead, ...s.layers.flatMap((l) => [l.q, l.k, l.v, l.o, l.gate, l.up, l.down])]);
    this.weightDtypes = [...new Set(matrices.map((m) => m.dtype))].sort();
    // Tied and unsplit: the embedding rows are read from lm_head's copy in kernel memory.
    this.embed = tp === 1 && weights.embed === weights.lmHead ? shards[0].lmHead : { dtype: 'f32', packed: false, data: weights.embed };
    const kvDim = numKvHeads * headDim;
    const most = (f: (s: RankSlice) => number): number => Math.max(...slices.map(f));
    const dims: ModelDims = {
      hidden: hiddenSize, qDim: numHeads * headDim, kvDim, intermediate: config.intermediateSize, vocab: config.vocabSize,
      layerPageFloats: pool.layout.pageSize * 2 * kvDim, tp, groupHeads: numHeads / numKvHeads,
      rankKv: most((s) => (s.kvHeads[1] - s.kvHeads[0]) * headDim),
      rankInter: most((s) => s.inter[1] - s.inter[0]), rankHidden: most((s) => s.hidden[1] - s.hidden[0]),
    };
    this.workspace = new Workspace(k, dims);
    this.hugePages = k instanceof WasmKernels
      ? { advice: k.arena.hugePageAdvice, grantedBytes: hugePageBytes(k.arena.memory), memoryBytes: k.arena.memory.buffer.byteLength }
      : null;
    if (k instanceof WasmKernels && tp > 1) {
      const arena = k.arena;
      const control = arena.alloc(CONTROL_BYTES);
      const poolData = { layout: pool.layout, numPages: pool.numPages, pageBytes: pool.pageBytes, inArena: this.attentionInPlace, buffer: this.attentionInPlace ? null : (pool.buffer as SharedArrayBuffer) };
      const kernel = k.kind === 'native' ? 'native' : 'wasm';
      this.group = new TpGroup(arena.memory, control, tp, (rank) => ({ config, dims, rank, kernel, weights: weightRefs(shards[rank]), pool: poolData }));
      const barrier = this.group.barrier;
      this.shard = new Shard(config, slices[0], k, shards[0], poolView, () => barrier.arrive());
    } else {
      this.group = null;
      this.shard = new Shard(config, slices[0], k, shards[0], poolView, () => {});
    }
  }

  forward(items: readonly ForwardItem[]): ForwardOutput {
    const { pageSize } = this.layout;
    validateItems(items, { vocabSize: this.vocabSize, maxPositions: this.config.maxPositionEmbeddings, pageSize, numPages: this.pool.numPages });
    if (items.length === 0) return [];
    let tokens = 0;
    let logitRows = 0;
    let maxPositions = 0;
    for (const it of items) {
      tokens += it.tokens.length;
      logitRows += it.logits === 'all' ? it.tokens.length : it.logits === 'last' ? 1 : 0;
      maxPositions = Math.max(maxPositions, it.startPos + it.tokens.length);
    }
    const shape = {
      tokens, logitRows, maxPositions, maxPages: Math.ceil(maxPositions / pageSize), gather: !this.attentionInPlace,
      descInts: descriptorInts(items, pageSize, tokens, logitRows),
    };
    const { block, b } = this.workspace.buffers(shape);
    encodeStep(b.desc, items, pageSize);
    const H = this.config.hiddenSize;
    let row = 0;
    for (const it of items) {
      for (const tok of it.tokens) readRows(this.embed, tok, 1, H, b.h, H * row++);
    }
    if (this.group) this.runRanks(this.group, block, shape, b);
    else this.shard.run(decodeStep(b.desc), b);
    const V = this.vocabSize;
    let next = 0;
    return items.map((it) => {
      const rows = it.logits === 'all' ? it.tokens.length : it.logits === 'last' ? 1 : 0;
      next += rows;
      return b.logits.subarray((next - rows) * V, next * V);
    });
  }

  /**
   * One step on every rank. An error of this thread's shard is recorded in the barrier too, so the
   * other ranks throw instead of waiting out the phase bound; the ranks are then out of phase, so
   * the group is lost either way.
   */
  private runRanks(group: TpGroup, block: Float32Array, shape: StepShape, b: StepBuffers): void {
    try {
      group.begin(block, shape);
      this.shard.run(decodeStep(b.desc), b);
    } catch (err) {
      if (err instanceof EngineLostError) throw err;
      const message = `rank 0: ${(err as Error).message}`;
      group.barrier.fail(message);
      throw new EngineLostError(`tensor-parallel step failed: ${message}`, { cause: err });
    }
  }

  /** Stops the rank threads of `--tp` (they also end with this thread). */
  close(): void {
    this.group?.close();
  }
}
