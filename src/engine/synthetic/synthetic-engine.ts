/**
 * The synthetic engine: no math, the KV sizes and step times of a real model. Each forward step
 * writes every fed position's KV (deterministic bytes, kv-pattern.ts) into the pool at the model
 * shape's real size, produces logits that make sampling deterministic, and then waits until the
 * step's roofline time (roofline.ts) on the modelled GPU has passed since the step began. Decode
 * nodes check arrived KV with `verifyKv`. So the scheduler, the transfer backends and the router
 * run unchanged at production KV sizes, and a wrong byte in transit is caught.
 *
 * Decisions:
 * - Logits: the vocabulary is the tokenizer's (text must decode; the shape's real vocabulary only
 *   costs lm_head time in the roofline). Each logits row is 0 except PEAK_LOGIT at one token picked
 *   by a hash of the position's prefix hash among the tokenizer's ordinary (non-special) ids: greedy
 *   output is a pure function of the tokens, equal in PD and colocated, never an EOS (runs go to
 *   max_new_tokens, as benchmarks want), and temperature sampling still has a real distribution.
 *   'last' rows are reused buffers (one per batch slot); 'all' rows (input logprobs) are allocated.
 * - Waiting: Atomics.wait on a private word, which sleeps the scheduler thread without burning CPU
 *   (forward is synchronous there, as a GPU step would be). The time spent writing KV counts towards
 *   the step; when the host is slower than the modelled GPU the step simply takes longer, and the
 *   first such step is reported through `warn` (timings are then host-bound).
 * - Batches are validated like the reference engine's (validate-items.ts), against the shape's
 *   context length.
 */
import type { Engine, ForwardItem, ForwardOutput } from '../engine.js';
import { sameLayout, type KvLayout } from '../../kv/layout.js';
import type { KvPool } from '../../kv/pool.js';
import { validateItems } from '../validate-items.js';
import type { GpuSpec } from './gpus.js';
import { hashWith, KvPattern, nextPrefixHash } from './kv-pattern.js';
import { shapeLayout, type ModelShape } from './model-shapes.js';
import { Roofline } from './roofline.js';

export const PEAK_LOGIT = 8;
const TOKEN_KEY = 0x5bd1e995;
const NO_LOGITS = new Float32Array(0);

export interface SyntheticEngineOptions {
  shape: ModelShape;
  gpu: GpuSpec;
  /** The tokenizer's vocabulary size: logits rows have this many entries. */
  vocabSize: number;
  /** Ids the engine emits: the tokenizer's ordinary (non-special) ones. */
  outputTokenIds: readonly number[];
  /** Receives a note when a step took longer than its modelled time (default: console.warn). */
  warn?: (message: string) => void;
}

export class SyntheticEngine implements Engine {
  readonly name = 'synthetic';
  readonly layout: KvLayout;
  readonly vocabSize: number;
  readonly shape: ModelShape;
  readonly gpu: GpuSpec;
  private readonly roofline: Roofline;
  private readonly pattern: KvPattern;
  private readonly outputIds: Int32Array;
  private readonly lastRows: Float32Array[] = [];
  private readonly outputs: Float32Array[] = [];
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));
  private readonly warn: (message: string) => void;
  private warnedOverrun = false;

  constructor(private readonly pool: KvPool, options: SyntheticEngineOptions) {
    const want = shapeLayout(options.shape, pool.layout.pageSize);
    if (!sameLayout(pool.layout, want)) throw new Error(`synthetic engine: the pool's KV layout ${JSON.stringify(pool.layout)} is not ${options.shape.name}'s ${JSON.stringify(want)}`);
    if (options.outputTokenIds.length === 0) throw new Error('synthetic engine: the tokenizer has no ordinary token ids to emit');
    for (const id of options.outputTokenIds) {
      if (!(Number.isInteger(id) && id >= 0 && id < options.vocabSize)) throw new Error(`synthetic engine: output token id ${id} is outside [0, ${options.vocabSize})`);
    }
    this.layout = pool.layout;
    this.vocabSize = options.vocabSize;
    this.shape = options.shape;
    this.gpu = options.gpu;
    this.roofline = new Roofline(options.shape, options.gpu);
    this.pattern = new KvPattern(pool);
    this.outputIds = Int32Array.from(options.outputTokenIds);
    this.warn = options.warn ?? ((m) => console.warn(m));
  }

  forward(items: readonly ForwardItem[]): ForwardOutput {
    const started = performance.now();
    validateItems(items, { vocabSize: this.vocabSize, maxPositions: this.shape.contextLength, pageSize: this.layout.pageSize, numPages: this.pool.numPages });
    const modelledMs = this.roofline.cost(items).seconds * 1000;
    this.outputs.length = items.length;
    for (let i = 0; i < items.length; i++) this.outputs[i] = this.run(i, items[i]);
    const left = started + modelledMs - performance.now();
    if (left > 0) Atomics.wait(this.sleeper, 0, 0, left);
    else if (!this.warnedOverrun && items.length > 0) {
      this.warnedOverrun = true;
      this.warn(`synthetic engine: a step took ${(modelledMs - left).toFixed(1)} ms on this host, the roofline of ${this.shape.name} on ${this.gpu.name} ${modelledMs.toFixed(1)} ms; step times are host-bound (reported once)`);
    }
    return this.outputs;
  }

  verifyKv(tokens: ArrayLike<number>, pageTable: Int32Array, fromPos: number, toPos: number): string | null {
    return this.pattern.verify(tokens, pageTable, fromPos, toPos);
  }

  /** Writes one item's positions and returns its logits. */
  private run(slot: number, item: ForwardItem): Float32Array {
    const { tokens, startPos, pageTable } = item;
    const n = tokens.length;
    const all = item.logits === 'all' ? new Float32Array(n * this.vocabSize) : null;
    let hash = this.pattern.hashBefore(pageTable, startPos);
    for (let t = 0; t < n; t++) {
      hash = nextPrefixHash(hash, tokens[t], startPos + t);
      this.pattern.write(pageTable, startPos + t, hash);
      if (all) all[t * this.vocabSize + this.nextToken(hash)] = PEAK_LOGIT;
    }
    if (all) return all;
    if (item.logits === 'none') return NO_LOGITS;
    const row = this.lastRow(slot);
    row.fill(0);
    row[this.nextToken(hash)] = PEAK_LOGIT;
    return row;
  }

  private nextToken(hash: number): number {
    return this.outputIds[hashWith(hash, TOKEN_KEY) % this.outputIds.length];
  }

  private lastRow(slot: number): Float32Array {
    while (this.lastRows.length <= slot) this.lastRows.push(new Float32Array(this.vocabSize));
    return this.lastRows[slot];
  }
}
