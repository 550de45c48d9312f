/**
 * Seeded pseudo-random numbers: generated model weights and token sampling (a request with a `seed`
 * gives the same tokens on every run and host).
 *
 * Decisions:
 * - xoshiro128** (32-bit state words, so it runs on plain int32 arithmetic without BigInt), seeded
 *   through a splitmix32 sequence so that nearby seeds give unrelated streams.
 * - Streams are keyed by (seed, name): each tensor gets its own generator, so a tensor's values do not
 *   depend on which other tensors were generated before it.
 * - Normals by the polar form of Box-Muller (no sin/cos, about twice as fast as the trigonometric form;
 *   the `small` preset needs 135M samples), both outputs used. Math.log is V8's fdlibm port, so the
 *   same seed gives the same bits on every platform a given Node version runs on.
 */

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** FNV-1a hash of a string's UTF-16 code units (also seeds requests that have no seed, from their id). */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number, streamName = '') {
    let state = (seed ^ hashString(streamName)) >>> 0;
    const splitmix32 = (): number => {
      state = (state + 0x9e3779b9) | 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) | 0;
    };
    this.s0 = splitmix32();
    this.s1 = splitmix32();
    this.s2 = splitmix32();
    this.s3 = splitmix32();
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9);
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** Advances the stream by `n` draws. */
  skip(n: number): void {
    for (let i = 0; i < n; i++) this.nextUint32();
  }

  /** Uniform in [0, 1) with 32 bits of randomness. */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Fills `out` with normal samples of mean 0 and standard deviation `std`. */
  fillNormal(out: Float32Array, std: number): void {
    for (let i = 0; i < out.length; i += 2) {
      // Marsaglia's polar form of Box-Muller: a point uniform in the unit disc gives two normals.
      let x: number;
      let y: number;
      let r2: number;
      do {
        x = this.nextUint32() * 2 ** -31 - 1;
        y = this.nextUint32() * 2 ** -31 - 1;
        r2 = x * x + y * y;
      } while (r2 >= 1 || r2 === 0);
      const scale = std * Math.sqrt((-2 * Math.log(r2)) / r2);
      out[i] = x * scale;
      if (i + 1 < out.length) out[i + 1] = y * scale;
    }
  }
}
