/**
 * The arguments of one paged attention call (kernels.ts `attend`), as a record a shard makes once
 * and reuses for every call: the geometry and head count fixed at construction, the arrays set once
 * per step, the page table filled entry by entry through `setPage`, and four fields set before each
 * call (`qOff`, `kOff`, `outOff`, `nPos`).
 *
 * Decisions:
 * - One mutable record instead of eleven positional arguments: the argument list is written once
 *   (here), and the hottest loop of a layer (one call per token row and KV head) allocates nothing.
 * - The page table is validated as it is filled, not on every call: `setPage` refuses an entry whose
 *   page (its whole layer slice, pageSize * tokenStride values) does not lie inside `kv`, and counts
 *   the validated entries, so a call needs only O(1) checks (bounds.ts `checkAttend`: nPos within the
 *   validated entries, the K and V rows at kOff within one slot). The WASM and native kernels read raw
 *   memory and rely on this. `kv` and `table` are private and change only through `usePages` (which
 *   forgets every validated entry) and `setPage` (which writes an entry only once it passed), so no
 *   validated entry can change behind the count. `kv` never shrinks (a typed array over a fixed or a
 *   shared WebAssembly buffer; the latter never detaches when it grows).
 * - What is checked per call (O(1)) is a plain field: `q`, `out` and `scratch` (set per step; their
 *   bounds depend on the per-call offsets) and the four per-call numbers. What is checked as it is
 *   written (`kv`, `table`) is private, read through getters.
 */

/** Where K/V rows of one layer sit in the `kv` array (all counts in f32 elements). */
export interface AttentionGeometry {
  readonly pageSize: number;
  /** Distance between the K rows of two adjacent slots of a page (entries per token). */
  readonly tokenStride: number;
  /** Distance from a K row to the V row of the same slot and head. */
  readonly vOffset: number;
  readonly headDim: number;
  /** Score scale (1/sqrt(headDim), as f32). */
  readonly scale: number;
}

/** The table is an Int32Array (the kernels read 32-bit offsets): a larger offset would wrap. */
const MAX_OFFSET = 2 ** 31 - 1;
const EMPTY_F32 = new Float32Array(0);
const EMPTY_I32 = new Int32Array(0);

export class AttentionCall implements AttentionGeometry {
  readonly pageSize: number;
  readonly tokenStride: number;
  readonly vOffset: number;
  readonly headDim: number;
  readonly scale: number;
  /** Query heads of one call: they share one KV head (a GQA group). */
  readonly heads: number;
  /** Values of one page's layer slice: what each table entry must leave room for inside `kv`. */
  private readonly pageSpan: number;

  /** Queries: head i of a call at q[qOff + i*headDim .. +headDim). */
  q: Float32Array = EMPTY_F32;
  /** Results: head i of a call to out[outOff + i*headDim .. +headDim). */
  out: Float32Array = EMPTY_F32;
  /** Scores and K row addresses: at least heads * ceil(nPos/4)*4 + nPos values. */
  scratch: Float32Array = EMPTY_F32;
  private kvValues: Float32Array = EMPTY_F32;
  private tableValues: Int32Array = EMPTY_I32;
  private validPages = 0;

  /** Per call: where the heads' queries start in `q`. */
  qOff = 0;
  /** Per call: the KV head's K row within a slot (its V row is vOffset further). */
  kOff = 0;
  /** Per call: where the heads' results start in `out`. */
  outOff = 0;
  /** Per call: causal attention over positions [0, nPos). */
  nPos = 0;

  constructor(g: AttentionGeometry, heads: number) {
    const { pageSize, tokenStride, vOffset, headDim } = g;
    if (!(pageSize > 0 && headDim > 0 && vOffset >= 0 && vOffset + headDim <= tokenStride && heads > 0)) {
      throw new Error(`attend: geometry (page size ${pageSize}, token stride ${tokenStride}, V offset ${vOffset}, head dim ${headDim}, ${heads} heads) has no room for a K and a V row per slot`);
    }
    this.pageSize = pageSize;
    this.tokenStride = tokenStride;
    this.vOffset = vOffset;
    this.headDim = headDim;
    this.scale = g.scale;
    this.heads = heads;
    this.pageSpan = pageSize * tokenStride;
  }

  /** Binds the K/V array and the page table; no entry counts as validated until `setPage` writes it. */
  usePages(kv: Float32Array, table: Int32Array): void {
    this.kvValues = kv;
    this.tableValues = table;
    this.validPages = 0;
  }

  /**
   * table[i] = offset (in f32 values) of page i's layer slice in `kv`, once checked to lie inside it.
   * Entries are filled in order (i at most the count validated so far) and may be rewritten.
   */
  setPage(i: number, offset: number): void {
    const table = this.tableValues;
    if (!(i >= 0 && i <= this.validPages && i < table.length)) {
      throw new Error(`attend: page table entry ${i} is out of order or past the table (${this.validPages} of ${table.length} entries set)`);
    }
    // NaN fails every comparison; a fraction inside the range is truncated by the Int32Array to a value also inside.
    if (!(offset >= 0 && offset + this.pageSpan <= this.kvValues.length && offset <= MAX_OFFSET)) {
      throw new Error(`attend: page table entry ${i} (${offset}) is outside the KV array (${this.kvValues.length} values, ${this.pageSpan} per page) or past a 32-bit offset`);
    }
    table[i] = offset;
    if (i === this.validPages) this.validPages++;
  }

  get kv(): Float32Array {
    return this.kvValues;
  }

  get table(): Int32Array {
    return this.tableValues;
  }

  /** Table entries validated since `usePages`: a call may attend over up to pages * pageSize positions. */
  get pages(): number {
    return this.validPages;
  }
}
