/**
 * A forward step as the ranks see it: which rows of the activation matrices belong to which item,
 * their positions and page tables, and which rows need logits. Rank 0 encodes it into the step's
 * shared Int32 descriptor; every rank (rank 0 included, so there is one code path) decodes it there.
 *
 * Layout: [items, tokens, logitRows, then per item: row0, tokens, startPos, first page entry, pages,
 * then every item's page table, the positions of all rows, the logit rows].
 */
import type { ForwardItem } from '../engine.js';

const HEADER = 3;
const PER_ITEM = 5;

export interface StepItem {
  /** Rows [row0, row0 + tokens) of the activation matrices. */
  row0: number;
  tokens: number;
  startPos: number;
  pageTable: Int32Array;
}

export interface StepPlan {
  items: StepItem[];
  tokens: number;
  positions: Int32Array;
  logitRows: Int32Array;
}

/** Int32 values the descriptor of `items` takes. */
export function descriptorInts(items: readonly ForwardItem[], pageSize: number, tokens: number, logitRows: number): number {
  let pages = 0;
  for (const it of items) pages += Math.ceil((it.startPos + it.tokens.length) / pageSize);
  return HEADER + PER_ITEM * items.length + pages + tokens + logitRows;
}

/** Writes the descriptor of `items` into `desc` (sized by `descriptorInts`). */
export function encodeStep(desc: Int32Array, items: readonly ForwardItem[], pageSize: number): void {
  let tokens = 0;
  let logitRows = 0;
  for (const it of items) {
    tokens += it.tokens.length;
    logitRows += it.logits === 'all' ? it.tokens.length : it.logits === 'last' ? 1 : 0;
  }
  desc[0] = items.length;
  desc[1] = tokens;
  desc[2] = logitRows;
  let at = HEADER + PER_ITEM * items.length;
  let row = 0;
  items.forEach((it, i) => {
    const n = it.tokens.length;
    const pages = Math.ceil((it.startPos + n) / pageSize);
    desc.set([row, n, it.startPos, at, pages], HEADER + PER_ITEM * i);
    desc.set(it.pageTable.subarray(0, pages), at);
    at += pages;
    row += n;
  });
  for (const it of items) for (let t = 0; t < it.tokens.length; t++) desc[at++] = it.startPos + t;
  row = 0;
  for (const it of items) {
    const n = it.tokens.length;
    if (it.logits === 'all') for (let t = 0; t < n; t++) desc[at++] = row + t;
    else if (it.logits === 'last') desc[at++] = row + n - 1;
    row += n;
  }
}

export function decodeStep(desc: Int32Array): StepPlan {
  const [count, tokens, logitRows] = [desc[0], desc[1], desc[2]];
  const items: StepItem[] = [];
  let end = HEADER + PER_ITEM * count;
  for (let i = 0; i < count; i++) {
    const o = HEADER + PER_ITEM * i;
    items.push({ row0: desc[o], tokens: desc[o + 1], startPos: desc[o + 2], pageTable: desc.subarray(desc[o + 3], desc[o + 3] + desc[o + 4]) });
    end = desc[o + 3] + desc[o + 4];
  }
  return { items, tokens, positions: desc.subarray(end, end + tokens), logitRows: desc.subarray(end + tokens, end + tokens + logitRows) };
}
