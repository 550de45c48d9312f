/**
 * Facts of the GGUF format (llama.cpp's model file) shared by the writer and the reader, written from
 * its documentation: value type ids, GGML tensor type ids, the default alignment, the Llama tensor
 * names, and the Q/K row order llama.cpp's converter uses.
 */
import type { LayerWeights } from './types.js';

export const GGUF_MAGIC = 'GGUF';
/** Alignment of the data section and of each tensor in it, unless `general.alignment` says otherwise. */
export const DEFAULT_ALIGNMENT = 32;

/** Metadata value types. */
export const VALUE = { UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12 } as const;

/** GGML tensor types pd-node reads and writes. */
export const GGML_TYPE = { F32: 0, F16: 1, BF16: 30 } as const;

/** Names of the other GGML types, for a refusal a user can act on. */
export const OTHER_GGML_TYPES: Readonly<Record<number, string>> = {
  2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K',
  16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M',
};

/** A decoder layer's tensors: GGUF name `blk.N.<gguf>.weight`, its LayerWeights field; `rope`: Q/K rows reordered. */
export const GGUF_LAYER_TENSORS: ReadonlyArray<{ gguf: string; field: keyof LayerWeights; rope?: 'q' | 'k' }> = [
  { gguf: 'attn_norm', field: 'inputNorm' },
  { gguf: 'attn_q', field: 'q', rope: 'q' },
  { gguf: 'attn_k', field: 'k', rope: 'k' },
  { gguf: 'attn_v', field: 'v' },
  { gguf: 'attn_output', field: 'o' },
  { gguf: 'ffn_norm', field: 'postNorm' },
  { gguf: 'ffn_gate', field: 'gate' },
  { gguf: 'ffn_up', field: 'up' },
  { gguf: 'ffn_down', field: 'down' },
];

/**
 * Rows of a [heads * d, n] Q or K matrix reordered per head between Hugging Face's rotate_half pairing
 * (i, i + d/2) and the adjacent pairing (2i, 2i + 1) that llama.cpp's Llama RoPE uses (its converter
 * permutes them so): `toGguf` true maps HF -> GGUF, false GGUF -> HF. The attention scores are the
 * same sums either way.
 */
export function reorderRopeRows(a: Float32Array, heads: number, d: number, n: number, toGguf: boolean, out: Float32Array = new Float32Array(a.length)): Float32Array {
  const half = d / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const hf = (h * d + j * half + i) * n;
        const gguf = (h * d + 2 * i + j) * n;
        const [from, to] = toGguf ? [hf, gguf] : [gguf, hf];
        out.set(a.subarray(from, from + n), to);
      }
    }
  }
  return out;
}
