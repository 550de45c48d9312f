/**
 * Checks on every forward batch an engine is given (token ids, positions, page tables), before
 * anything is written to the pool, with errors that say what is wrong.
 *
 * Batch rule: the pages an item writes must not appear in another item's page table, and an item's
 * pages must be distinct. Otherwise items would read each other's K/V (or overwrite their own), and an
 * item's result would depend on what else is in the batch.
 */
import type { ForwardItem } from './engine.js';

export interface BatchLimits {
  vocabSize: number;
  maxPositions: number;
  pageSize: number;
  numPages: number;
}

export function validateItems(items: readonly ForwardItem[], lim: BatchLimits): void {
  const writer = new Map<number, number>(); // page -> item that writes it
  items.forEach((it, i) => {
    const fail = (why: string): never => {
      throw new Error(`forward item ${i}: ${why}`);
    };
    const n = it.tokens.length;
    if (n === 0) fail('no tokens');
    if (!Number.isInteger(it.startPos) || it.startPos < 0) fail(`startPos ${it.startPos} is not a non-negative integer`);
    const end = it.startPos + n;
    if (end > lim.maxPositions) fail(`positions [${it.startPos}, ${end}) exceed max_position_embeddings ${lim.maxPositions}`);
    for (const t of it.tokens) if (t < 0 || t >= lim.vocabSize) fail(`token id ${t} outside [0, ${lim.vocabSize})`);
    const used = Math.ceil(end / lim.pageSize);
    if (it.pageTable.length < used) fail(`page table has ${it.pageTable.length} pages; positions [0, ${end}) need ${used} of ${lim.pageSize} tokens`);
    const seen = new Set<number>();
    for (const p of it.pageTable.subarray(0, used)) {
      if (p < 0 || p >= lim.numPages) fail(`page id ${p} outside the pool [0, ${lim.numPages})`);
      if (seen.has(p)) fail(`page ${p} appears twice in the page table`);
      seen.add(p);
    }
    for (let k = Math.floor(it.startPos / lim.pageSize); k < used; k++) writer.set(it.pageTable[k], i);
  });
  items.forEach((it, i) => {
    const used = Math.ceil((it.startPos + it.tokens.length) / lim.pageSize);
    for (const p of it.pageTable.subarray(0, used)) {
      const w = writer.get(p);
      if (w !== undefined && w !== i) throw new Error(`forward items ${w} and ${i} share page ${p}, which item ${w} writes`);
    }
  });
}
