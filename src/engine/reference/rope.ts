/**
 * Rotary position embedding in the Hugging Face `rotate_half` convention: dimension i of a head is
 * paired with i + headDim/2 and rotated by pos * theta^(-2i/headDim).
 * Decisions: angles and their cos/sin are computed in f64 per position of the step (no table over the
 * whole context, which would be large for long-context models); the rotation is f64 rounded once to
 * f32. No rope_scaling variants (Llama 3.1 "llama3", YaRN): the config loader rejects them.
 */
export class Rope {
  private readonly invFreq: Float64Array;
  readonly half: number;

  constructor(readonly headDim: number, theta: number) {
    this.half = headDim / 2;
    this.invFreq = Float64Array.from({ length: this.half }, (_, i) => theta ** ((-2 * i) / headDim));
  }

  /** cos and sin of every (position, pair): [positions.length * half] each. */
  angles(positions: Int32Array): { cos: Float64Array; sin: Float64Array } {
    const cos = new Float64Array(positions.length * this.half);
    const sin = new Float64Array(positions.length * this.half);
    positions.forEach((pos, t) => {
      for (let i = 0; i < this.half; i++) {
        const a = pos * this.invFreq[i];
        cos[t * this.half + i] = Math.cos(a);
        sin[t * this.half + i] = Math.sin(a);
      }
    });
    return { cos, sin };
  }

  /** Rotates `heads` consecutive heads starting at x[off] by the angles of step row t. */
  apply(x: Float32Array, off: number, heads: number, cos: Float64Array, sin: Float64Array, t: number): void {
    const { half, headDim } = this;
    for (let h = 0; h < heads; h++) {
      const base = off + h * headDim;
      for (let i = 0; i < half; i++) {
        const c = cos[t * half + i];
        const s = sin[t * half + i];
        const a = x[base + i];
        const b = x[base + i + half];
        x[base + i] = a * c - b * s;
        x[base + i + half] = b * c + a * s;
      }
    }
  }
}
