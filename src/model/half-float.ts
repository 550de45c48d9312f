/**
 * Exact conversions between float32 and the two 16-bit float formats of checkpoints.
 *
 * Decisions:
 * - f16 -> f32 goes through a 65,536-entry table built once (256 KiB): every f16 value, subnormals,
 *   infinities and NaN payloads included, is exactly representable in f32, so a lookup is both exact and
 *   the fastest loop for hundreds of millions of values.
 * - bf16 is the top half of an f32, so bf16 -> f32 is a 16-bit shift.
 * - f32 -> f16/bf16 rounds to nearest, ties to even (what PyTorch does); overflow gives infinity and NaN
 *   stays a (quiet) NaN instead of collapsing to infinity.
 * - Bulk functions work on bit patterns (Uint16Array / Uint32Array views), little-endian like the host.
 */

let f16ToF32Table: Uint32Array | undefined;

/** f32 bit pattern of the f16 value with bit pattern `h`. */
function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0;
  // Subnormal: mantissa * 2^-24 is exact in f32; let the FPU normalize it.
  const scratch = new Float32Array([mantissa * 2 ** -24]);
  return (sign | new Uint32Array(scratch.buffer)[0]) >>> 0;
}

function f16Table(): Uint32Array {
  if (f16ToF32Table === undefined) {
    f16ToF32Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16ToF32Table[h] = f16BitsToF32Bits(h);
  }
  return f16ToF32Table;
}

/** Shifts `value` right by `shift` bits, rounding to nearest, ties to even. */
function shiftRightRoundEven(value: number, shift: number): number {
  const kept = value >>> shift;
  const remainder = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return remainder > half || (remainder === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/** f16 bit pattern nearest to the f32 with bit pattern `f`. */
function f32BitsToF16Bits(f: number): number {
  const sign = (f >>> 16) & 0x8000;
  const exponent = (f >>> 23) & 0xff;
  const mantissa = f & 0x7fffff;
  if (exponent === 0xff) return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  const halfExponent = exponent - 112;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Result is an f16 subnormal (or zero): value = (1.mantissa) * 2^(exponent-150), unit 2^-24.
    const shift = 14 - halfExponent;
    if (shift > 24) return sign;
    return sign | shiftRightRoundEven(mantissa | 0x800000, shift);
  }
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | shiftRightRoundEven((halfExponent << 23) | mantissa, 13);
}

/** bf16 bit pattern nearest to the f32 with (unsigned) bit pattern `f`. */
function f32BitsToBf16Bits(f: number): number {
  if ((f & 0x7fffffff) > 0x7f800000) return (f >>> 16) | 0x40; // NaN: keep it a NaN, quiet
  return (f + 0x7fff + ((f >>> 16) & 1)) >>> 16; // round half to even; overflow rounds to infinity
}

export function f16ToF32(src: Uint16Array, dst: Float32Array): void {
  const table = f16Table();
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
}

export function bf16ToF32(src: Uint16Array, dst: Float32Array): void {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] << 16;
}

export function f32ToF16(src: Float32Array, dst: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = f32BitsToF16Bits(bits[i]);
}

export function f32ToBf16(src: Float32Array, dst: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = f32BitsToBf16Bits(bits[i]);
}
