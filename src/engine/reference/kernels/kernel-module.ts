/**
 * The WebAssembly SIMD kernels, generated as module bytes (see wasm-encoder.ts).
 *
 * The summation order is THE contract of the reference engine; js-kernels.ts emulates it exactly:
 * - dot(a, b, n), n a multiple of 4: four f32 lane accumulators, lane l sums a[k]*b[k] for
 *   k = l, l+4, l+8, ... in increasing k (multiply, then add: no FMA); the result is
 *   (lane0 + lane1) + (lane2 + lane3). Every dot product of the engine (matmul, attention scores,
 *   RMSNorm sum of squares) uses this order whatever the batch, so results are batch-invariant.
 * - attention: scores in position order; max; exp of (score - max) with `expLanes` below; sum in
 *   position order; weighted sum of V rows in position order per dimension; division by the sum.
 * - SwiGLU activation silu(gate) * up uses the same exp (not Math.exp), so it can run here too.
 *
 * Matmul is generated for register-blocked tiles of MO weight rows x MR activation rows (MO*MR
 * independent accumulators hide the add latency and each loaded vector is reused MO or MR times) over
 * weights packed in groups of 4 rows (weight-packing.ts), so the weights stream sequentially; the
 * tile shape changes only speed, never a dot product's order. The driver in wasm-kernels.ts picks the
 * tile by batch size and covers the edges with smaller tiles. Attention likewise computes the query
 * heads of one KV group together (each K and V vector loaded once for all of them), runs the score
 * dot products of several positions side by side, keeps several vectors of the weighted sums in
 * registers across positions, and computes exp 4 lanes at a time.
 */
import { encodeModule, F32, FuncBuilder, I32, ins, V128, type Code } from './wasm-encoder.js';
import { PACK_ROWS } from './weight-packing.js';
import type { WeightDtype } from './weight-storage.js';

/** Weight dtypes the tiles are generated for (the activations are always f32). */
export const TILE_DTYPES: readonly WeightDtype[] = ['f32', 'bf16', 'f16'];

/** Most activation rows of a tile (tile functions exist for every 1..MAX_TILE_ROWS). */
export const MAX_TILE_ROWS = 4;

/**
 * Weight rows a tile computes at once (`mo`) for groups of g rows: the whole group, and for full
 * groups also half of it (two passes per group, so that with many activation rows fewer accumulators
 * are live: 2 x 4 rather than 4 x 4, which would not fit the 16 vector registers).
 */
export function tileRowCounts(g: number): readonly number[] {
  return g === PACK_ROWS ? [PACK_ROWS, PACK_ROWS / 2] : [g];
}

export function tileExportName(dtype: WeightDtype, g: number, mo: number, mr: number): string {
  return `matmul_${dtype}_g${g}_${mo}x${mr}`;
}

/** Memory limits: 1 page minimum, 65536 pages (the 4 GiB wasm32 limit) maximum. */
export const MAX_MEMORY_PAGES = 65536;

const { localGet: get, localSet: set, i32Const, f32Const } = ins;

/** (lane0 + lane1) + (lane2 + lane3) of a v128 local. */
function reduceLanes(acc: number): Code {
  const lane = (l: number): Code => [get(acc), ins.f32x4ExtractLane(l)];
  return [lane(0), lane(1), ins.f32Add, lane(2), lane(3), ins.f32Add, ins.f32Add];
}

/** local = local + delta (i32). */
function bump(local: number, delta: Code): Code {
  return [get(local), delta, ins.i32Add, set(local)];
}

/** 2^112: scales an f16's bits moved into f32 position (exponent bias 15 -> 127), exactly. */
const F16_REBIAS = 2 ** 112;

/**
 * Pushes f32x4 of four 16-bit weights given as zero-extended i32 lanes (pushed by `u16`): bf16
 * shifted into the top half; f16 magnitude bits moved to f32's exponent/mantissa position, scaled by
 * 2^112 (exact for normal and subnormal values), sign put back.
 */
function widen16(dtype: WeightDtype, u16: Code, tmp: number): Code {
  if (dtype === 'bf16') return [u16, i32Const(16), ins.i32x4Shl];
  return [
    u16, set(tmp),
    get(tmp), ins.i32x4Const(0x7fff), ins.v128And, i32Const(13), ins.i32x4Shl, ins.f32x4Const(F16_REBIAS), ins.f32x4Mul,
    get(tmp), ins.i32x4Const(0x8000), ins.v128And, i32Const(16), ins.i32x4Shl, ins.v128Or,
  ];
}

/**
 * Sets wv[0..mo) to the weights of rows [i0, i0 + mo) of a group of g rows for one column quad, from
 * the chunk at address local `wp` (the chunk's row-i0 part; weight-packing.ts): f32 one load per row;
 * 16-bit one load per interleaved pair (low halves: the even row, high halves: the odd one) and a
 * 4 x 16-bit load for an odd group's last row.
 */
function loadWeightRows(dtype: WeightDtype, g: number, i0: number, wv: readonly number[], wp: number, pair: number, tmp: number): Code {
  const out: Code[] = [];
  const e = dtype === 'f32' ? 4 : 2;
  for (let i = i0; i < i0 + wv.length; ) {
    const at = (i - i0) * 4 * e;
    if (dtype === 'f32') {
      out.push(get(wp), ins.v128Load(at), set(wv[i - i0]));
      i += 1;
    } else if (i + 1 < i0 + wv.length && i + 1 < (g & ~1)) {
      out.push(get(wp), ins.v128Load(at), set(pair));
      out.push(widen16(dtype, dtype === 'bf16' ? [get(pair)] : [get(pair), ins.i32x4Const(0xffff), ins.v128And], tmp), set(wv[i - i0]));
      out.push(dtype === 'bf16' ? [get(pair), ins.i32x4Const(-0x10000), ins.v128And] : widen16(dtype, [get(pair), i32Const(16), ins.i32x4ShrU], tmp), set(wv[i - i0 + 1]));
      i += 2;
    } else {
      out.push(widen16(dtype, [get(wp), ins.v128Load16x4U(at)], tmp), set(wv[i - i0]));
      i += 1;
    }
  }
  return out;
}

/**
 * matmul_{dtype}_g{g}_{mo}x{mr}(w, x, y, nGroups, nRows, n, ldy): for each of nGroups groups of g
 * weight rows packed as weight-packing.ts lays them out from address w (group q's rows are outputs
 * q*g .. q*g+g-1) and each activation row r < nRows: y[r*ldy + o] = dot(weight row o, x[r*n ..
 * r*n+n), n), the weights stored as `dtype` and widened exactly on load. The group's rows are
 * computed mo at a time, each pass over all activation rows mr at a time, so a group's weights are
 * read from memory once and then from L1. Pointers are byte addresses; nRows is a multiple of mr, n
 * of 4, all > 0.
 */
function matmulTile(dtype: WeightDtype, g: number, mo: number, mr: number): FuncBuilder {
  const f = new FuncBuilder(tileExportName(dtype, g, mo, mr), [I32, I32, I32, I32, I32, I32, I32], []);
  const [w, x, y, nGroups, nRows, n, ldy] = [0, 1, 2, 3, 4, 5, 6];
  const e = dtype === 'f32' ? 4 : 2;
  const col = f.local(I32);
  const colEnd = f.local(I32);
  const wg = f.local(I32);
  const wgStep = f.local(I32);
  const r = f.local(I32);
  const kb = f.local(I32);
  const nb = f.local(I32);
  const wp = f.local(I32);
  const yp = f.local(I32);
  const xp = Array.from({ length: mr }, () => f.local(I32));
  const acc = Array.from({ length: mo }, () => Array.from({ length: mr }, () => f.local(V128)));
  const wv = Array.from({ length: mo }, () => f.local(V128));
  const xv = f.local(V128);
  const pair = f.local(V128);
  const tmp = f.local(V128);
  f.emit(get(n), i32Const(2), ins.i32Shl, set(nb), get(n), i32Const(g * e), ins.i32Mul, set(wgStep));
  f.emit(get(nGroups), i32Const(g), ins.i32Mul, set(colEnd), i32Const(0), set(col), get(w), set(wg));
  f.emit(ins.loop);
  for (let i0 = 0; i0 < g; i0 += mo) {
    f.emit(i32Const(0), set(r));
    f.emit(ins.loop);
    xp.forEach((p, j) => f.emit(get(x), get(r), i32Const(j), ins.i32Add, get(nb), ins.i32Mul, ins.i32Add, set(p)));
    acc.flat().forEach((a) => f.emit(ins.v128Zero, set(a)));
    f.emit(get(wg), i32Const(i0 * 4 * e), ins.i32Add, set(wp), i32Const(0), set(kb));
    f.emit(ins.loop);
    f.emit(loadWeightRows(dtype, g, i0, wv, wp, pair, tmp));
    for (let j = 0; j < mr; j++) {
      f.emit(get(xp[j]), get(kb), ins.i32Add, ins.v128Load(), set(xv));
      for (let i = 0; i < mo; i++) f.emit(get(acc[i][j]), get(wv[i]), get(xv), ins.f32x4Mul, ins.f32x4Add, set(acc[i][j]));
    }
    f.emit(bump(wp, i32Const(4 * g * e)), bump(kb, i32Const(16)), get(kb), get(nb), ins.i32LtU, ins.brIf(0), ins.end);
    for (let j = 0; j < mr; j++) {
      // yp = y + ((r + j) * ldy + col + i0) * 4
      f.emit(get(y), get(r), i32Const(j), ins.i32Add, get(ldy), ins.i32Mul, get(col), ins.i32Add, i32Const(i0), ins.i32Add, i32Const(2), ins.i32Shl, ins.i32Add, set(yp));
      for (let i = 0; i < mo; i++) f.emit(get(yp), reduceLanes(acc[i][j]), ins.f32Store(4 * i));
    }
    f.emit(bump(r, i32Const(mr)), get(r), get(nRows), ins.i32LtU, ins.brIf(0), ins.end);
  }
  f.emit(bump(wg, get(wgStep)), bump(col, i32Const(g)), get(col), get(colEnd), ins.i32LtU, ins.brIf(0), ins.end);
  return f;
}

/** Constants of `exp` (shared with the JS twin so both use the same f32 values). */
export const EXP = {
  /** Below this exp(x) < 2^-126 is flushed to 0 (negligible next to the softmax max term, which is 1). */
  minArg: -87.3,
  log2e: 1.4426950408889634,
  /** ln 2 split so that t * ln2Hi is exact for |t| <= 126 (Cody-Waite). */
  ln2Hi: 0.693359375,
  ln2Lo: -2.12194440e-4,
  /** Taylor coefficients of e^r, highest degree first (|r| <= ln2/2, error ~1e-7 relative). */
  poly: [1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1],
} as const;

/** Locals used by `expLanes`. */
interface ExpLocals {
  t: number;
  r: number;
  e: number;
}

function expLocals(f: FuncBuilder): ExpLocals {
  return { t: f.local(V128), r: f.local(V128), e: f.local(V128) };
}

/**
 * Pushes exp of the four lanes of v128 local x (each <= 0), one rounded f32 operation per step:
 * t = floor(x*log2e + 0.5); r = x - t*ln2Hi - t*ln2Lo; e^r by Horner; times 2^t built from the
 * exponent bits; 0 where x < minArg. (Lane-wise SIMD operations round exactly like scalar ones, so
 * the scalar JS twin expF32 matches.)
 */
function expLanes(x: number, { t, r, e }: ExpLocals): Code {
  const c = ins.f32x4Const;
  return [
    get(x), c(EXP.log2e), ins.f32x4Mul, c(0.5), ins.f32x4Add, ins.f32x4Floor, set(t),
    get(x), get(t), c(EXP.ln2Hi), ins.f32x4Mul, ins.f32x4Sub, get(t), c(EXP.ln2Lo), ins.f32x4Mul, ins.f32x4Sub, set(r),
    c(EXP.poly[0]), set(e),
    EXP.poly.slice(1).map((k) => [get(e), get(r), ins.f32x4Mul, c(k), ins.f32x4Add, set(e)]),
    get(e), get(t), ins.i32x4TruncSatF32x4S, ins.i32x4Const(127), ins.i32x4Add, i32Const(23), ins.i32x4Shl, ins.f32x4Mul,
    get(x), c(EXP.minArg), ins.f32x4Lt, ins.v128AndNot,
  ];
}

/** exp_shifted(p, count, m): p[i] = exp(p[i] - m) for i < count (a multiple of 4). */
function expShiftedFunc(): FuncBuilder {
  const f = new FuncBuilder('exp_shifted', [I32, I32, F32], []);
  const [p, count, m] = [0, 1, 2];
  const end = f.local(I32);
  const x = f.local(V128);
  const mv = f.local(V128);
  const locals = expLocals(f);
  f.emit(get(p), get(count), i32Const(2), ins.i32Shl, ins.i32Add, set(end), get(m), ins.f32x4Splat, set(mv));
  f.emit(ins.loop, get(p), ins.v128Load(), get(mv), ins.f32x4Sub, set(x));
  f.emit(get(p), expLanes(x, locals), ins.v128Store());
  f.emit(bump(p, i32Const(16)), get(p), get(end), ins.i32LtU, ins.brIf(0), ins.end);
  return f;
}

/**
 * silu_mul(g, u, count): g[i] = silu(g[i]) * u[i] for i < count (a multiple of 4), with
 * e = exp(-|g|) and silu(g) = g * (g >= 0 ? 1 : e) / (1 + e) (exp never sees a positive argument).
 */
function siluMulFunc(): FuncBuilder {
  const f = new FuncBuilder('silu_mul', [I32, I32, I32], []);
  const [g, u, count] = [0, 1, 2];
  const end = f.local(I32);
  const gv = f.local(V128);
  const x = f.local(V128);
  const ev = f.local(V128);
  const locals = expLocals(f);
  f.emit(get(g), get(count), i32Const(2), ins.i32Shl, ins.i32Add, set(end));
  f.emit(ins.loop, get(g), ins.v128Load(), set(gv), get(gv), ins.f32x4Abs, ins.f32x4Neg, set(x), expLanes(x, locals), set(ev));
  f.emit(get(g), get(gv));
  f.emit(ins.f32x4Const(1), get(ev), get(gv), ins.v128Zero, ins.f32x4Ge, ins.v128Bitselect);
  f.emit(ins.f32x4Const(1), get(ev), ins.f32x4Add, ins.f32x4Div, ins.f32x4Mul, get(u), ins.v128Load(), ins.f32x4Mul, ins.v128Store());
  f.emit(bump(g, i32Const(16)), bump(u, i32Const(16)), get(g), get(end), ins.i32LtU, ins.brIf(0), ins.end);
  return f;
}

/** Most query heads one attention call computes together (a larger KV group is split by the driver). */
export const MAX_ATTEND_HEADS = 4;

export function attendExportName(heads: number): string {
  return `attend_h${heads}`;
}

/**
 * The attention tile for `heads` heads at once: positions whose score dot products run side by side,
 * and vectors (4 dims each) of each head whose weighted sums stay in registers across positions.
 * heads x tile accumulators plus one query (or weight) vector per head and one K (or V) vector must
 * fit the 16 vector registers, so the tile is 4 up to 2 heads and 2 from 3 heads on (measured on
 * the `small` shapes, 3 heads over 1..512 positions: tiles of 2 and 2 ~1.1x faster than 4 and 2,
 * ~1.3x faster than 4 and 4).
 */
function attendTile(heads: number): number {
  return heads <= 2 ? 4 : 2;
}

/**
 * attend_h{heads}(q, kv, table, nPos, kOff, pageSize, stride, vOff, headDim, scale, scratch, out):
 * `heads` query heads of one KV group over positions [0, nPos). Head h's query is headDim f32 at
 * q + 4*h*headDim, its result goes to out + 4*h*headDim. Position j's K row is at
 * kv + 4*table[j / pageSize] + kOff + (j % pageSize)*stride, its V row vOff bytes further (kOff,
 * stride, vOff in bytes; table holds f32 element offsets from kv). scratch holds
 * heads*pad4(nPos) + nPos values: each head's scores (padded to a multiple of 4 for exp_shifted),
 * then the K row addresses. Each K and V vector is loaded once for all the heads; every head's
 * values are computed in the single-head order (module header), so `heads` changes only speed.
 */
function attendFunc(expIndex: number, heads: number): FuncBuilder {
  const f = new FuncBuilder(attendExportName(heads), [I32, I32, I32, I32, I32, I32, I32, I32, I32, F32, I32, I32], []);
  const [q, kv, table, nPos, kOff, pageSize, stride, vOff, headDim, scale, scratch, out] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const tile = attendTile(heads);
  const H = Array.from({ length: heads }, (_, h) => h);
  const j = f.local(I32);
  const slot = f.local(I32);
  const tp = f.local(I32);
  const addrs = f.local(I32);
  const addr = f.local(I32);
  const padded = f.local(I32);
  const db = f.local(I32);
  const hb = f.local(I32);
  const qh = H.map(() => f.local(I32));
  const oh = H.map(() => f.local(I32));
  const scores = H.map(() => f.local(I32));
  const m = H.map(() => f.local(F32));
  const sum = H.map(() => f.local(F32));
  const hv = H.map(() => f.local(V128));
  const xv = f.local(V128);
  const rows = Array.from({ length: tile }, () => f.local(I32));
  const acc = H.map(() => Array.from({ length: tile }, () => f.local(V128)));
  const at = (base: number, extra = 0): Code => [get(base), get(j), i32Const(2), ins.i32Shl, ins.i32Add, extra ? [i32Const(extra * 4), ins.i32Add] : []];
  // for db in [0, hb) step 16: body
  const overHead = (body: Code): Code => [i32Const(0), set(db), ins.loop, body, bump(db, i32Const(16)), get(db), get(hb), ins.i32LtU, ins.brIf(0), ins.end];
  // scores_h[j + i] = dot(q_h, K_{j+i}) * scale and m_h = max(m_h, scores_h[j + i]) for i < n, every h; then j += n
  const scoreTile = (n: number): Code => [
    rows.slice(0, n).map((r, i) => [at(addrs, i), ins.i32Load(), set(r)]),
    H.map((h) => acc[h].slice(0, n).map((a) => [ins.v128Zero, set(a)])),
    overHead([
      H.map((h) => [get(qh[h]), get(db), ins.i32Add, ins.v128Load(), set(hv[h])]),
      rows.slice(0, n).map((r, i) => [get(r), get(db), ins.i32Add, ins.v128Load(), set(xv), H.map((h) => [get(acc[h][i]), get(hv[h]), get(xv), ins.f32x4Mul, ins.f32x4Add, set(acc[h][i])])]),
    ]),
    H.map((h) => acc[h].slice(0, n).map((a, i) => [at(scores[h], i), reduceLanes(a), get(scale), ins.f32Mul, ins.f32Store(), get(m[h]), at(scores[h], i), ins.f32Load(), ins.f32Max, set(m[h])])),
    bump(j, i32Const(n)),
  ];
  // out_h[db .. db + 4n) = (sum_j scores_h[j] * V_j[db .. db + 4n)) / sum_h for every h; db += 16n
  const weightedSum = (n: number): Code => [
    H.map((h) => acc[h].slice(0, n).map((a) => [ins.v128Zero, set(a)])),
    i32Const(0), set(j), ins.loop,
    at(addrs), ins.i32Load(), get(vOff), ins.i32Add, get(db), ins.i32Add, set(addr),
    H.map((h) => [at(scores[h]), ins.f32Load(), ins.f32x4Splat, set(hv[h])]),
    Array.from({ length: n }, (_, i) => [get(addr), ins.v128Load(16 * i), set(xv), H.map((h) => [get(acc[h][i]), get(hv[h]), get(xv), ins.f32x4Mul, ins.f32x4Add, set(acc[h][i])])]),
    bump(j, i32Const(1)), get(j), get(nPos), ins.i32LtU, ins.brIf(0), ins.end,
    H.map((h) => [get(sum[h]), ins.f32x4Splat, set(xv), acc[h].slice(0, n).map((a, i) => [get(oh[h]), get(db), ins.i32Add, get(a), get(xv), ins.f32x4Div, ins.v128Store(16 * i)])]),
    bump(db, i32Const(16 * n)),
  ];
  // while (db + 16n <= hb) weightedSum(n)
  const weightedSums = (n: number): Code => [ins.block, ins.loop, get(db), i32Const(16 * n), ins.i32Add, get(hb), ins.i32GtU, ins.brIf(1), weightedSum(n), ins.br(0), ins.end, ins.end];
  // while (j + n <= nPos) scoreTile(n)
  const scoreTiles = (n: number): Code => [ins.block, ins.loop, get(j), i32Const(n), ins.i32Add, get(nPos), ins.i32GtU, ins.brIf(1), scoreTile(n), ins.br(0), ins.end, ins.end];

  f.emit(get(headDim), i32Const(2), ins.i32Shl, set(hb));
  f.emit(get(nPos), i32Const(3), ins.i32Add, i32Const(-4), ins.i32And, set(padded));
  // per head: query and output addresses, scores at scratch + h * padded, max -inf, sum 0
  f.emit(H.map((h) => [
    get(q), get(hb), i32Const(h), ins.i32Mul, ins.i32Add, set(qh[h]),
    get(out), get(hb), i32Const(h), ins.i32Mul, ins.i32Add, set(oh[h]),
    get(scratch), get(padded), i32Const(4 * h), ins.i32Mul, ins.i32Add, set(scores[h]),
    f32Const(-Infinity), set(m[h]), f32Const(0), set(sum[h]),
  ]));
  // K row addresses (after the heads' padded scores): walk the page table, next entry at each page boundary
  f.emit(get(scratch), get(padded), i32Const(4 * heads), ins.i32Mul, ins.i32Add, set(addrs));
  f.emit(i32Const(0), set(j), i32Const(0), set(slot), get(table), set(tp), ins.loop);
  f.emit(at(addrs), get(kv), get(tp), ins.i32Load(), i32Const(2), ins.i32Shl, ins.i32Add, get(kOff), ins.i32Add, get(slot), get(stride), ins.i32Mul, ins.i32Add, ins.i32Store());
  f.emit(bump(j, i32Const(1)), bump(slot, i32Const(1)));
  f.emit(get(slot), get(pageSize), ins.i32Eq, ins.if, i32Const(0), set(slot), bump(tp, i32Const(4)), ins.end);
  f.emit(get(j), get(nPos), ins.i32LtU, ins.brIf(0), ins.end);
  // scores in tiles of `tile` positions, then one by one
  f.emit(i32Const(0), set(j), scoreTiles(tile), tile > 1 ? scoreTiles(1) : []);
  // scores_h[j] = exp(scores_h[j] - m_h) (the padding lanes too, harmlessly); sum_h += scores_h[j] for j < nPos
  f.emit(H.map((h) => [get(scores[h]), get(padded), get(m[h]), ins.call(expIndex)]));
  f.emit(i32Const(0), set(j), ins.loop);
  f.emit(H.map((h) => [get(sum[h]), at(scores[h]), ins.f32Load(), ins.f32Add, set(sum[h])]));
  f.emit(bump(j, i32Const(1)), get(j), get(nPos), ins.i32LtU, ins.brIf(0), ins.end);
  // out_h = (sum_j scores_h[j] * V_j) / sum_h, in blocks of `tile` vectors (then single vectors) of the head
  f.emit(i32Const(0), set(db), weightedSums(tile), tile > 1 ? weightedSums(1) : []);
  return f;
}

/** The module bytes: exp_shifted (function 0), attend for 1..MAX_ATTEND_HEADS heads, silu_mul and the matmul tiles of every weight dtype and group size. */
export function kernelModuleBytes(): Uint8Array {
  const funcs = [expShiftedFunc(), ...Array.from({ length: MAX_ATTEND_HEADS }, (_, h) => attendFunc(0, h + 1)), siluMulFunc()];
  for (const dtype of TILE_DTYPES) {
    for (let g = 1; g <= PACK_ROWS; g++) {
      for (const mo of tileRowCounts(g)) for (let mr = 1; mr <= MAX_TILE_ROWS; mr++) funcs.push(matmulTile(dtype, g, mo, mr));
    }
  }
  return encodeModule({ minPages: 1, maxPages: MAX_MEMORY_PAGES }, funcs);
}
