/**
 * The WASM kernel's weight layout: rows in groups of PACK_ROWS, each group stored four columns (a
 * "quad") at a time for all its rows, so a matmul tile computing a whole group's outputs reads the
 * weights strictly sequentially. (With plain row-major storage the tile's rows are separate short
 * streams, and decode at batch 1 ran at 10 GB/s of weights where one sequential stream reaches
 * 25-30 GB/s on the same machine.) The JS kernel keeps row-major arrays; the layout changes which
 * products are loaded together, never a dot product's order.
 *
 * Layout of a matrix of `rows` rows of width n (n a multiple of 4): group q holds rows
 * [4q, 4q + g), g = min(4, rows - 4q), at element q*4*n; its quad c (columns 4c..4c+3) is the chunk
 * of 4g elements at 4q*n + 4g*c. Inside a chunk:
 * - f32: row i's four values at 4i (one 16-byte vector per row);
 * - bf16 / f16: rows (2p, 2p+1) interleaved element by element in the 8 values at 8p, so one 16-byte
 *   load gives row 2p in the low halves of the 32-bit lanes and row 2p+1 in the high halves (widened
 *   with one shift or mask each); the last row of an odd group alone, its four values at 4(g-1).
 */

/** Rows per group. */
export const PACK_ROWS = 4;

/** Whether `row` is one of an interleaved pair (16-bit weights, not the lone last row of an odd group). */
function paired(sixteenBit: boolean, rows: number, row: number): boolean {
  const i = row % PACK_ROWS;
  return sixteenBit && i < (Math.min(PACK_ROWS, rows - (row - i)) & ~1);
}

/** Offset in the packed array of element (row, k) of a matrix with `rows` rows of width `n`. */
export function packedIndex(sixteenBit: boolean, rows: number, n: number, row: number, k: number): number {
  const i = row % PACK_ROWS;
  const first = row - i;
  const chunk = first * n + (k >> 2) * 4 * Math.min(PACK_ROWS, rows - first);
  const lane = k & 3;
  return paired(sixteenBit, rows, row) ? chunk + (i >> 1) * 8 + 2 * lane + (i & 1) : chunk + 4 * i + lane;
}

/** dst = the packed layout of the row-major matrix src ([rows, n]); dst.length = src.length. */
export function pack(src: Float32Array | Uint16Array, dst: Float32Array | Uint16Array, rows: number, n: number): void {
  const sixteen = src instanceof Uint16Array;
  for (let r = 0; r < rows; r++) {
    const step = paired(sixteen, rows, r) ? 2 : 1;
    for (let k = 0; k < n; k += 4) {
      const to = packedIndex(sixteen, rows, n, r, k);
      for (let l = 0; l < 4; l++) dst[to + l * step] = src[r * n + k + l];
    }
  }
}

/** dst[dstOff ..] = rows [row, row + count) of the packed matrix src ([rows, n]), row-major. */
export function unpackRows(
  src: Float32Array | Uint16Array, rows: number, n: number, row: number, count: number, dst: Float32Array | Uint16Array, dstOff: number,
): void {
  const sixteen = src instanceof Uint16Array;
  for (let r = row; r < row + count; r++) {
    const step = paired(sixteen, rows, r) ? 2 : 1;
    for (let k = 0; k < n; k += 4) {
      const from = packedIndex(sixteen, rows, n, r, k);
      for (let l = 0; l < 4; l++) dst[dstOff + (r - row) * n + k + l] = src[from + l * step];
    }
  }
}
