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

/** Logits per item: [vocab] for 'last', [tokens.length * vocab] for 'all', empty for 'none'. */
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
  forward(items: readonly ForwardItem[]): ForwardOutput;
}
