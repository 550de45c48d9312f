/**
 * The WebAssembly SIMD kernels, generated as module bytes (see wasm-encoder.ts).
 *
 * The summation order is THE contract of the reference engine; js-kernels.ts emulates it exactly:
 * - dot(a, b, n), n a multiple of 4: four f32 lane accumulators, lane l sums a[k]*b[k] for
 *   k = l, l+4, l+8, ... in increasing k (multiply, then add: no FMA); the result is
 *   (lane0 + lane1) + (lane2 + lane3). Every dot product of the engine (matmul, attention scores,
 *   RMSNorm sum of squares) uses this order whatever the batch, so results are batch-invariant.
 * - attention: scores in position order; max; exp of (score - max) with `exp` below; sum in position
 *   order; weighted sum of V rows in position order per dimension; division by the sum at the end.
 *
 * Matmul is generated for register-blocked tiles of MO weight rows x MR activation rows (MO*MR
 * independent accumulators hide the add latency and each loaded vector is reused MO or MR times); the
 * tile shape changes only speed, never a dot product's order. The driver in wasm-kernels.ts picks the
 * main tile by batch size and covers the edges with smaller tiles.
 */
import { encodeModule, F32, FuncBuilder, I32, ins, V128, type Code } from './wasm-encoder.js';

/** Largest tile dimensions generated (tile functions exist for every 1..MAX x 1..MAX). */
export const MAX_TILE_OUT = 4;
export const MAX_TILE_ROWS = 4;

export function tileExportName(mo: number, mr: number): string {
  return `matmul_${mo}x${mr}`;
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

/**
 * matmul_{mo}x{mr}(w, x, y, nOut, nRows, n, ldy): for o < nOut, r < nRows:
 * y[r*ldy + o] = dot(w[o*n .. o*n+n), x[r*n .. r*n+n), n). Pointers are byte addresses; nOut is a
 * multiple of mo, nRows of mr, n of 4, all > 0.
 */
function matmulTile(mo: number, mr: number): FuncBuilder {
  const f = new FuncBuilder(tileExportName(mo, mr), [I32, I32, I32, I32, I32, I32, I32], []);
  const [w, x, y, nOut, nRows, n, ldy] = [0, 1, 2, 3, 4, 5, 6];
  const o = f.local(I32);
  const r = f.local(I32);
  const kb = f.local(I32);
  const nb = f.local(I32);
  const wp = Array.from({ length: mo }, () => f.local(I32));
  const xp = Array.from({ length: mr }, () => f.local(I32));
  const acc = Array.from({ length: mo }, () => Array.from({ length: mr }, () => f.local(V128)));
  const wv = Array.from({ length: mo }, () => f.local(V128));
  const xv = f.local(V128);
  const yp = f.local(I32);
  // rowPtr(base, index) = base + index * nb
  const rowPtr = (base: number, index: Code): Code => [get(base), index, get(nb), ins.i32Mul, ins.i32Add];
  f.emit(get(n), i32Const(2), ins.i32Shl, set(nb), i32Const(0), set(o));
  f.emit(ins.loop);
  f.emit(i32Const(0), set(r));
  f.emit(ins.loop);
  wp.forEach((p, i) => f.emit(rowPtr(w, [get(o), i32Const(i), ins.i32Add]), set(p)));
  xp.forEach((p, j) => f.emit(rowPtr(x, [get(r), i32Const(j), ins.i32Add]), set(p)));
  acc.flat().forEach((a) => f.emit(ins.v128Zero, set(a)));
  f.emit(i32Const(0), set(kb));
  f.emit(ins.loop);
  wv.forEach((v, i) => f.emit(get(wp[i]), get(kb), ins.i32Add, ins.v128Load(), set(v)));
  for (let j = 0; j < mr; j++) {
    f.emit(get(xp[j]), get(kb), ins.i32Add, ins.v128Load(), set(xv));
    for (let i = 0; i < mo; i++) f.emit(get(acc[i][j]), get(wv[i]), get(xv), ins.f32x4Mul, ins.f32x4Add, set(acc[i][j]));
  }
  f.emit(bump(kb, i32Const(16)), get(kb), get(nb), ins.i32LtU, ins.brIf(0), ins.end);
  for (let j = 0; j < mr; j++) {
    // yp = y + ((r + j) * ldy + o) * 4
    f.emit(get(y), get(r), i32Const(j), ins.i32Add, get(ldy), ins.i32Mul, get(o), ins.i32Add, i32Const(2), ins.i32Shl, ins.i32Add, set(yp));
    for (let i = 0; i < mo; i++) f.emit(get(yp), reduceLanes(acc[i][j]), ins.f32Store(4 * i));
  }
  f.emit(bump(r, i32Const(mr)), get(r), get(nRows), ins.i32LtU, ins.brIf(0), ins.end);
  f.emit(bump(o, i32Const(mo)), get(o), get(nOut), ins.i32LtU, ins.brIf(0), ins.end);
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

/**
 * exp(x) -> f32 for x <= 0 (softmax arguments): t = floor(x*log2e + 0.5); r = x - t*ln2Hi - t*ln2Lo;
 * e^r by Horner; times 2^t built from the exponent bits. Each step is one rounded f32 operation.
 */
function expFunc(): FuncBuilder {
  const f = new FuncBuilder('exp', [F32], [F32]);
  const x = 0;
  const t = f.local(F32);
  const r = f.local(F32);
  const p = f.local(F32);
  f.emit(get(x), f32Const(EXP.minArg), ins.f32Lt, ins.if, f32Const(0), ins.return, ins.end);
  f.emit(get(x), f32Const(EXP.log2e), ins.f32Mul, f32Const(0.5), ins.f32Add, ins.f32Floor, set(t));
  f.emit(get(x), get(t), f32Const(EXP.ln2Hi), ins.f32Mul, ins.f32Sub, get(t), f32Const(EXP.ln2Lo), ins.f32Mul, ins.f32Sub, set(r));
  f.emit(f32Const(EXP.poly[0]), set(p));
  for (const c of EXP.poly.slice(1)) f.emit(get(p), get(r), ins.f32Mul, f32Const(c), ins.f32Add, set(p));
  f.emit(get(p), get(t), ins.i32TruncSatF32S, i32Const(127), ins.i32Add, i32Const(23), ins.i32Shl, ins.f32ReinterpretI32, ins.f32Mul);
  return f;
}

/**
 * attend(q, kv, table, nPos, kOff, pageSize, stride, vOff, headDim, scale, scores, out): one query
 * head over positions [0, nPos). Position j's K row is at kv + 4*table[j / pageSize] + kOff +
 * (j % pageSize)*stride, its V row vOff bytes further (kOff, stride, vOff in bytes; table holds f32
 * element offsets from kv). scores is scratch of nPos f32; out receives headDim f32.
 */
function attendFunc(expIndex: number): FuncBuilder {
  const f = new FuncBuilder('attend', [I32, I32, I32, I32, I32, I32, I32, I32, I32, F32, I32, I32], []);
  const [q, kv, table, nPos, kOff, pageSize, stride, vOff, headDim, scale, scores, out] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const j = f.local(I32);
  const slot = f.local(I32);
  const tp = f.local(I32);
  const addr = f.local(I32);
  const db = f.local(I32);
  const hb = f.local(I32);
  const m = f.local(F32);
  const sum = f.local(F32);
  const acc = f.local(V128);
  const pv = f.local(V128);
  const scoreAddr: Code = [get(scores), get(j), i32Const(2), ins.i32Shl, ins.i32Add];
  // addr = kv + 4*table[page] + kOff + slot*stride (+ extra)
  const rowAddr = (extra: Code): Code => [get(kv), get(tp), ins.i32Load(), i32Const(2), ins.i32Shl, ins.i32Add, get(kOff), ins.i32Add, get(slot), get(stride), ins.i32Mul, ins.i32Add, extra, set(addr)];
  const startPositions: Code = [i32Const(0), set(j), i32Const(0), set(slot), get(table), set(tp)];
  // next position: j++, slot++, and on a page boundary move to the next table entry
  const nextPosition: Code = [
    bump(j, i32Const(1)), bump(slot, i32Const(1)),
    get(slot), get(pageSize), ins.i32Eq, ins.if, i32Const(0), set(slot), bump(tp, i32Const(4)), ins.end,
    get(j), get(nPos), ins.i32LtU, ins.brIf(0),
  ];
  // for db in [0, hb) step 16: body
  const overHead = (body: Code): Code => [i32Const(0), set(db), ins.loop, body, bump(db, i32Const(16)), get(db), get(hb), ins.i32LtU, ins.brIf(0), ins.end];
  const outAt: Code = [get(out), get(db), ins.i32Add];

  f.emit(get(headDim), i32Const(2), ins.i32Shl, set(hb), f32Const(-Infinity), set(m));
  // scores[j] = dot(q, K_j) * scale; m = max(m, scores[j])
  f.emit(startPositions, ins.loop, rowAddr([]), ins.v128Zero, set(acc));
  f.emit(overHead([get(acc), get(q), get(db), ins.i32Add, ins.v128Load(), get(addr), get(db), ins.i32Add, ins.v128Load(), ins.f32x4Mul, ins.f32x4Add, set(acc)]));
  f.emit(scoreAddr, reduceLanes(acc), get(scale), ins.f32Mul, ins.f32Store());
  f.emit(get(m), scoreAddr, ins.f32Load(), ins.f32Max, set(m), nextPosition, ins.end);
  // scores[j] = exp(scores[j] - m); sum += scores[j]
  f.emit(f32Const(0), set(sum), i32Const(0), set(j), ins.loop);
  f.emit(scoreAddr, set(addr), get(addr), get(addr), ins.f32Load(), get(m), ins.f32Sub, ins.call(expIndex), ins.f32Store());
  f.emit(get(sum), get(addr), ins.f32Load(), ins.f32Add, set(sum));
  f.emit(bump(j, i32Const(1)), get(j), get(nPos), ins.i32LtU, ins.brIf(0), ins.end);
  // out = sum_j scores[j] * V_j
  f.emit(overHead([outAt, ins.v128Zero, ins.v128Store()]));
  f.emit(startPositions, ins.loop, rowAddr([get(vOff), ins.i32Add]), scoreAddr, ins.f32Load(), ins.f32x4Splat, set(pv));
  f.emit(overHead([outAt, outAt, ins.v128Load(), get(pv), get(addr), get(db), ins.i32Add, ins.v128Load(), ins.f32x4Mul, ins.f32x4Add, ins.v128Store()]));
  f.emit(nextPosition, ins.end);
  // out /= sum
  f.emit(get(sum), ins.f32x4Splat, set(pv));
  f.emit(overHead([outAt, outAt, ins.v128Load(), get(pv), ins.f32x4Div, ins.v128Store()]));
  return f;
}

/** The module bytes: exp (function 0), attend, and the matmul tiles. */
export function kernelModuleBytes(): Uint8Array {
  const funcs = [expFunc(), attendFunc(0)];
  for (let mo = 1; mo <= MAX_TILE_OUT; mo++) for (let mr = 1; mr <= MAX_TILE_ROWS; mr++) funcs.push(matmulTile(mo, mr));
  return encodeModule({ minPages: 1, maxPages: MAX_MEMORY_PAGES }, funcs);
}
