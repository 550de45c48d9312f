/**
 * The kernels' dot product in plain JS: four f32 lane accumulators over consecutive values, reduced
 * (l0 + l1) + (l2 + l3), Math.fround after every f32 operation, which is the order of every kernel
 * (kernel-module.ts, native/lanes.h). Its own module, below both of its users: the JS kernels'
 * matmul and attention (js-kernels.ts) and the RMSNorm sum of squares of the JS and WASM kernels
 * (elementwise.ts), so neither imports the other.
 */
const fr = Math.fround;

/** dot(a[ao..ao+n), b[bo..bo+n)) in the kernels' order (see kernel-module.ts); n a multiple of 4. */
export function dotF32(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let l0 = 0;
  let l1 = 0;
  let l2 = 0;
  let l3 = 0;
  for (let k = 0; k < n; k += 4) {
    l0 = fr(l0 + fr(a[ao + k] * b[bo + k]));
    l1 = fr(l1 + fr(a[ao + k + 1] * b[bo + k + 1]));
    l2 = fr(l2 + fr(a[ao + k + 2] * b[bo + k + 2]));
    l3 = fr(l3 + fr(a[ao + k + 3] * b[bo + k + 3]));
  }
  return fr(fr(l0 + l1) + fr(l2 + l3));
}
