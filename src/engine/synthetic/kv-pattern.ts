/**
 * The synthetic engine's KV bytes: deterministic, cheap to write and to check at memory speed.
 *
 * Content: position p of a sequence has a 32-bit prefix hash h(p) = mix(h(p-1), token(p), p), with
 * h(-1) a fixed seed, so it depends on every token up to p (as real KV does). In layer l the token's
 * slot (entriesPerToken x 2 bytes) holds the word h(p) ^ (l * K) repeated; layer 0 holds h(p) itself.
 *
 * Decisions:
 * - Writing reads h(startPos - 1) back from the pool (layer 0 of the previous position), the way a
 *   real forward pass reads earlier KV: the engine keeps no per-sequence state, recompute after a
 *   retraction and PD (decode continuing from transferred pages) work unchanged, and a corrupted page
 *   corrupts what follows it, as it would in a real model.
 * - One word per (position, layer), written with TypedArray.fill; verified per (page, layer) run of
 *   slots with one native Buffer compare against a template filled the same way, so checking runs at
 *   memcmp speed, not a JS loop per byte. Only on a mismatch does a loop find the first bad byte.
 *   The words differ by position and layer, so misplaced pages, slots or layers are caught, and so is
 *   any changed byte; a permutation of entries inside one slot is not (they are all equal).
 * - Words are stored in host byte order; PD peers are little-endian hosts (as Node's targets are).
 * - Byte views of the pool are segments of whole pages of at most buffer.constants.MAX_LENGTH
 *   (4 GiB) each, so pools larger than one Buffer can hold are verified too.
 */
import { constants } from 'node:buffer';
import { bytesPerEntry, type KvLayout } from '../../kv/layout.js';
import type { KvPool } from '../../kv/pool.js';

const SEED = 0x2545f491;
const LAYER_KEY = 0x27d4eb2f;

function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** h(p) from h(p - 1) (SEED for p = 0), the token at p and p. */
export function nextPrefixHash(prev: number, token: number, pos: number): number {
  return mix32(prev ^ Math.imul(token + 1, 0x9e3779b1) ^ Math.imul(pos + 1, 0x85ebca77));
}

function layerWord(hash: number, layer: number): number {
  return (hash ^ Math.imul(layer, LAYER_KEY)) >>> 0;
}

/** A mix of the prefix hash with another key (used to pick the next token). */
export function hashWith(hash: number, key: number): number {
  return mix32(hash ^ key);
}

export class KvPattern {
  readonly slotBytes: number;
  private readonly slotWords: number;
  private readonly pageWords: number;
  private readonly pageSize: number;
  private readonly numLayers: number;
  private readonly words: Uint32Array;
  /** Byte views of the pool, `pagesPerSegment` pages each. */
  private readonly segments: Buffer[] = [];
  private readonly pagesPerSegment: number;
  /** One page-layer run of slots, filled with the expected words before each compare. */
  private readonly template: Uint32Array;
  private readonly templateBytes: Buffer;
  private readonly pageHashes: Uint32Array;

  constructor(pool: KvPool) {
    const l: KvLayout = pool.layout;
    this.slotBytes = l.entriesPerToken * bytesPerEntry(l.dtype);
    if (this.slotBytes % 4 !== 0) throw new Error(`synthetic KV: a token's layer entry is ${this.slotBytes} B, not a multiple of 4`);
    this.slotWords = this.slotBytes / 4;
    this.pageSize = l.pageSize;
    this.numLayers = l.numLayers;
    this.pageWords = pool.pageBytes / 4;
    this.words = new Uint32Array(pool.buffer, 0, pool.numPages * this.pageWords);
    this.pagesPerSegment = Math.max(1, Math.floor(constants.MAX_LENGTH / pool.pageBytes));
    for (let p = 0; p < pool.numPages; p += this.pagesPerSegment) {
      this.segments.push(Buffer.from(pool.buffer, p * pool.pageBytes, Math.min(this.pagesPerSegment, pool.numPages - p) * pool.pageBytes));
    }
    this.template = new Uint32Array(this.pageSize * this.slotWords);
    this.templateBytes = Buffer.from(this.template.buffer);
    this.pageHashes = new Uint32Array(this.pageSize);
  }

  /** h(pos - 1) as stored in the pool (SEED for pos 0). */
  hashBefore(pageTable: Int32Array, pos: number): number {
    return pos === 0 ? SEED : this.words[this.wordOffset(pageTable, pos - 1, 0)];
  }

  /** Writes position `pos` of hash `hash` into every layer. */
  write(pageTable: Int32Array, pos: number, hash: number): void {
    for (let layer = 0; layer < this.numLayers; layer++) {
      const at = this.wordOffset(pageTable, pos, layer);
      this.words.fill(layerWord(hash, layer), at, at + this.slotWords);
    }
  }

  /**
   * Checks positions [from, to) of the sequence `tokens` (which covers [0, to)) against what they
   * must hold; null when every byte matches, else where the first wrong byte is.
   */
  verify(tokens: ArrayLike<number>, pageTable: Int32Array, from: number, to: number): string | null {
    if (!(from >= 0 && from <= to && to <= tokens.length)) throw new RangeError(`verify [${from}, ${to}) of a ${tokens.length}-token sequence`);
    let hash = SEED;
    for (let p = 0; p < from; p++) hash = nextPrefixHash(hash, tokens[p], p);
    const ps = this.pageSize;
    for (let start = from; start < to; ) {
      const page = Math.floor(start / ps);
      const first = start - page * ps;
      const end = Math.min(to, (page + 1) * ps);
      const count = end - start;
      for (let i = 0; i < count; i++) {
        hash = nextPrefixHash(hash, tokens[start + i], start + i);
        this.pageHashes[i] = hash;
      }
      const problem = this.verifyPage(pageTable[page], page * ps + first, first, count);
      if (problem) return problem;
      start = end;
    }
    return null;
  }

  /** Slots [first, first + count) of pool page `pageId` (positions from `pos0`); hashes in pageHashes. */
  private verifyPage(pageId: number, pos0: number, first: number, count: number): string | null {
    const sb = this.slotBytes;
    const runBytes = count * sb;
    const bytes = this.segments[Math.floor(pageId / this.pagesPerSegment)];
    const pageAt = (pageId % this.pagesPerSegment) * this.pageWords * 4;
    let badSlot = count;
    let problem: string | null = null;
    for (let layer = 0; layer < this.numLayers; layer++) {
      for (let i = 0; i < count; i++) this.template.fill(layerWord(this.pageHashes[i], layer), i * this.slotWords, (i + 1) * this.slotWords);
      const at = pageAt + (layer * this.pageSize + first) * sb;
      if (bytes.compare(this.templateBytes, 0, runBytes, at, at + runBytes) === 0) continue;
      // Earliest wrong slot of this layer; reported if no earlier position is wrong in another layer.
      for (let i = 0; i < badSlot; i++) {
        if (bytes.compare(this.templateBytes, i * sb, (i + 1) * sb, at + i * sb, at + (i + 1) * sb) === 0) continue;
        badSlot = i;
        problem = this.describe(bytes, at + i * sb, i * sb, pos0 + i, layer, pageId);
        break;
      }
    }
    return problem;
  }

  /** The first differing byte of a slot at byte `at` of `bytes`, whose expected bytes are in the template at `expectedAt`. */
  private describe(bytes: Buffer, at: number, expectedAt: number, pos: number, layer: number, pageId: number): string {
    for (let b = 0; b < this.slotBytes; b++) {
      const got = bytes[at + b];
      const want = this.templateBytes[expectedAt + b];
      if (got !== want) return `KV cache of position ${pos}, layer ${layer} (page ${pageId}) is wrong: byte ${b} of its ${this.slotBytes} is 0x${hex(got)}, expected 0x${hex(want)}`;
    }
    throw new Error('synthetic KV: a slot compared unequal but no byte differs');
  }

  private wordOffset(pageTable: Int32Array, pos: number, layer: number): number {
    const ps = this.pageSize;
    return pageTable[Math.floor(pos / ps)] * this.pageWords + (layer * ps + (pos % ps)) * this.slotWords;
  }
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
