/**
 * KV layout descriptor. The pool is page-major: page p is the byte range
 * [p * pageBytes, (p + 1) * pageBytes) and holds every layer for its `pageSize` tokens, so a run of
 * adjacent pages is one contiguous range (one write for transfer, not one per layer).
 *
 * Inside a page: [layer][token slot][entry], each entry `bytesPerEntry` bytes.
 * MHA/GQA: entriesPerToken = 2 * kvHeads * headDim (K first, then V).
 * MLA (DeepSeek-V3): entriesPerToken = 576 (one latent vector), 61 layers, 2-byte entries.
 */
export type KvDtype = 'float32' | 'float16' | 'bfloat16';

export interface KvLayout {
  readonly numLayers: number;
  readonly entriesPerToken: number;
  readonly dtype: KvDtype;
  readonly pageSize: number;
}

export function bytesPerEntry(dtype: KvDtype): number {
  return dtype === 'float32' ? 4 : 2;
}

/** Bytes of KV one token occupies across all layers. */
export function bytesPerToken(l: KvLayout): number {
  return l.numLayers * l.entriesPerToken * bytesPerEntry(l.dtype);
}

export function pageBytes(l: KvLayout): number {
  return bytesPerToken(l) * l.pageSize;
}

/** Layout of a Llama-style GQA model with K and V per layer. */
export function gqaLayout(numLayers: number, numKvHeads: number, headDim: number, dtype: KvDtype, pageSize: number): KvLayout {
  return { numLayers, entriesPerToken: 2 * numKvHeads * headDim, dtype, pageSize };
}

/** Layout of an MLA model: one latent vector (kv_lora_rank + rope dim) per layer and token. */
export function mlaLayout(numLayers: number, latentDim: number, dtype: KvDtype, pageSize: number): KvLayout {
  return { numLayers, entriesPerToken: latentDim, dtype, pageSize };
}

/** Two layouts are transfer-compatible only if every field matches. */
export function sameLayout(a: KvLayout, b: KvLayout): boolean {
  return a.numLayers === b.numLayers && a.entriesPerToken === b.entriesPerToken && a.dtype === b.dtype && a.pageSize === b.pageSize;
}
