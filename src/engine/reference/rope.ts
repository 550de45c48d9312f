/**
 * The angles of the rotary position embedding in the Hugging Face `rotate_half` convention:
 * dimension i of a head is paired with i + headDim/2 and rotated by pos * theta^(-2i/headDim); the
 * kernels rotate (Kernels.rope).
 * Decisions: angles and their cos/sin are computed in f64 per position of the step (no table over the
 * whole context, which would be large for long-context models) with V8's Math.cos/sin (the same on
 * every host of a Node version; a C libm may differ in the last bit, so the native kernel gets them
 * from here), into arrays reused across steps. No rope_scaling variants (Llama 3.1 "llama3", YaRN):
 * the config loader rejects them.
 */
export class Rope {
  private readonly invFreq: Float64Array;
  readonly half: number;
  private cos = new Float64Array(0);
  private sin = new Float64Array(0);

  constructor(readonly headDim: number, theta: number) {
    this.half = headDim / 2;
    this.invFreq = Float64Array.from({ length: this.half }, (_, i) => theta ** ((-2 * i) / headDim));
  }

  /** cos and sin of every (position, pair): [positions.length * half] each (valid until the next call). */
  angles(positions: Int32Array): { cos: Float64Array; sin: Float64Array } {
    const n = positions.length * this.half;
    if (this.cos.length < n) [this.cos, this.sin] = [new Float64Array(2 * n), new Float64Array(2 * n)];
    const { cos, sin } = this;
    for (let t = 0; t < positions.length; t++) {
      for (let i = 0; i < this.half; i++) {
        const a = positions[t] * this.invFreq[i];
        cos[t * this.half + i] = Math.cos(a);
        sin[t * this.half + i] = Math.sin(a);
      }
    }
    return { cos, sin };
  }
}
