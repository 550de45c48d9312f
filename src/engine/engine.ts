import type { KvLayout } from '../kv/layout.js';

/**
 * One sequence's slice of a forward step: `tokens` at positions [startPos, startPos + tokens.length).
 * K/V of earlier positions are already in the pool; the engine writes these positions' K/V into the
 * pool and attends over positions [0, startPos + tokens.length).
 */
export interface ForwardItem {
  tokens: Int32Array;
  startPos: number;
  /** Page table: pageTable[i] holds positions [i*pageSize, (i+1)*pageSize); covers every position used. */
  pageTable: Int32Array;
  /** 'last': logits of the last token only; 'all': logits of every token in `tokens`; 'none': no logits. */
  logits: 'last' | 'all' | 'none';
}

/**
 * Logits per item: [vocab] for 'last', [tokens.length * vocab] for 'all', empty for 'none'. Valid
 * until the next `forward` call (an engine may reuse its output buffers), and possibly views of a
 * larger buffer (read them by their own offset and length, not through `.buffer`).
 */
export type ForwardOutput = Float32Array[];

/**
 * A model engine reading and writing the paged KV pool. Implementations must be deterministic and
 * batch-invariant: an item's outputs and KV bytes do not depend on the other items in the batch or on
 * how its prompt was split into chunks.
 */
export interface Engine {
  readonly name: string;
  readonly layout: KvLayout;
  readonly vocabSize: number;
  /** Throws `EngineLostError` when no step can run any more; any other error fails this step only. */
  forward(items: readonly ForwardItem[]): ForwardOutput;
  /**
   * Optional, for engines whose KV bytes are a known function of the tokens (synthetic): checks the
   * KV of positions [fromPos, toPos) of the sequence `tokens` (covering [0, toPos)) in the pages of
   * `pageTable`. Null when every byte is right, else a message naming the first wrong one. A decode
   * node calls it on KV that arrived from a prefill node.
   */
  verifyKv?(tokens: ArrayLike<number>, pageTable: Int32Array, fromPos: number, toPos: number): string | null;
  /** Optional: stops what the engine started (the reference engine's `--tp` rank threads); called once at shutdown. */
  close?(): void;
}

/**
 * Thrown by `forward` when the engine can run no further step (a `--tp` rank thread is gone). The
 * scheduler fails the step's requests and stops, and the node with it, as SGLang's server does when
 * a tensor-parallel worker dies: a node that answered every later request with an error would stay
 * in the router's pool.
 */
export class EngineLostError extends Error {
  override readonly name = 'EngineLostError';
}
