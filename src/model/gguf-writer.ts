/**
 * Writes a Llama model as a GGUF file (version 3), the format llama.cpp loads, so a benchmark can run
 * llama.cpp on exactly the weights pd-node runs.
 *
 * Decisions (facts of the format and of llama.cpp's Llama loader, written from its documentation):
 * - Header: "GGUF", version 3, tensor count and metadata count (u64); metadata as key (u64 length +
 *   UTF-8), value type (u32), value; tensor infos as name, dims (innermost first: [in, out] for an
 *   [out, in] matrix), GGML type and offset into the data section; every tensor 32-byte aligned.
 * - Matrices are stored as f32 (GGML type 0), f16 (1) or bf16 (30), norms always f32 (as llama.cpp's
 *   own converter does); f32 -> 16-bit rounds to nearest even, so a bf16/f16 model round-trips exactly.
 * - Q and K rows are permuted within each head from Hugging Face's rotate_half pairing to the adjacent
 *   pairing llama.cpp's Llama RoPE uses, as its converter does (gguf-format.ts).
 * - Tied embeddings: no `output.weight` (llama.cpp then uses token_embd).
 * - Vocabulary: the benchmark's models are random weights without a tokenizer, so the file gets a
 *   placeholder SentencePiece ("llama") vocabulary of `vocabSize` tokens: the 256 byte tokens, then
 *   `<tN>`; callers feed token ids, never text.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { f32ToBf16, f32ToF16 } from './half-float.js';
import { DEFAULT_ALIGNMENT, GGML_TYPE, GGUF_LAYER_TENSORS, GGUF_MAGIC, reorderRopeRows, VALUE } from './gguf-format.js';
import type { LlamaConfig, ModelWeights } from './types.js';
import { layerTensorShape } from './weights.js';

export type GgufDtype = 'f32' | 'f16' | 'bf16';

const GGML_TYPE_OF: Record<GgufDtype, number> = { f32: GGML_TYPE.F32, f16: GGML_TYPE.F16, bf16: GGML_TYPE.BF16 };
/** general.file_type: LLAMA_FTYPE_ALL_F32, MOSTLY_F16, MOSTLY_BF16. */
const FILE_TYPE: Record<GgufDtype, number> = { f32: 0, f16: 1, bf16: 32 };
/** SentencePiece token types: normal, control, byte. */
const TOKEN_TYPE = { NORMAL: 1, CONTROL: 3, BYTE: 6 } as const;

/** Bytes under construction, little-endian. */
class Out {
  private readonly parts: Buffer[] = [];
  length = 0;

  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }

  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }

  i32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }

  f32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }

  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }

  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }

  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    if (pad > 0) this.push(Buffer.alloc(pad));
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

type Meta = { key: string; write: (o: Out) => void };
const u32 = (key: string, v: number): Meta => ({ key, write: (o) => (o.u32(VALUE.UINT32), o.u32(v)) });
const f32 = (key: string, v: number): Meta => ({ key, write: (o) => (o.u32(VALUE.FLOAT32), o.f32(v)) });
const str = (key: string, v: string): Meta => ({ key, write: (o) => (o.u32(VALUE.STRING), o.str(v)) });
const arr = <V>(key: string, type: number, values: readonly V[], item: (o: Out, v: V) => void): Meta => ({
  key,
  write: (o) => {
    o.u32(VALUE.ARRAY);
    o.u32(type);
    o.u64(values.length);
    for (const v of values) item(o, v);
  },
});

interface GgufTensor {
  name: string;
  /** Row-major shape ([out, in] or [n]). */
  shape: readonly number[];
  data: Float32Array;
  dtype: GgufDtype;
}

function tensorBytes(t: GgufTensor): Buffer {
  if (t.dtype === 'f32') return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const bits = new Uint16Array(t.data.length);
  (t.dtype === 'f16' ? f32ToF16 : f32ToBf16)(t.data, bits);
  return Buffer.from(bits.buffer);
}

/** Writes `weights` of model `c` to `path` as GGUF with matrices stored as `dtype`. */
export function writeGguf(path: string, c: LlamaConfig, weights: ModelWeights, dtype: GgufDtype, name = 'pd-node model'): void {
  const { hiddenSize: H, headDim: d } = c;
  const m = (tensorName: string, shape: number[], data: Float32Array): GgufTensor => ({ name: tensorName, shape, data, dtype });
  const norm = (tensorName: string, data: Float32Array): GgufTensor => ({ name: tensorName, shape: [data.length], data, dtype: 'f32' });
  const tensors: GgufTensor[] = [m('token_embd.weight', [c.vocabSize, H], weights.embed), norm('output_norm.weight', weights.finalNorm)];
  if (weights.lmHead !== weights.embed) tensors.push(m('output.weight', [c.vocabSize, H], weights.lmHead));
  weights.layers.forEach((l, i) => {
    for (const t of GGUF_LAYER_TENSORS) {
      const name = `blk.${i}.${t.gguf}.weight`;
      const [data, shape] = [l[t.field], layerTensorShape(c, t.field)];
      if (shape.length === 1) tensors.push(norm(name, data));
      else if (t.rope === undefined) tensors.push(m(name, shape, data));
      else tensors.push(m(name, shape, reorderRopeRows(data, t.rope === 'q' ? c.numHeads : c.numKvHeads, d, H, true)));
    }
  });

  const tokens = Array.from({ length: c.vocabSize }, (_, i) => (i < 256 ? `<0x${i.toString(16).toUpperCase().padStart(2, '0')}>` : `<t${i}>`));
  const [bos, eos] = [c.bosTokenId ?? 256, c.eosTokenIds[0] ?? 257];
  const tokenType = (id: number): number => (id < 256 ? TOKEN_TYPE.BYTE : id === bos || id === eos ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.NORMAL);
  const meta: Meta[] = [
    str('general.architecture', 'llama'),
    str('general.name', name),
    u32('general.alignment', DEFAULT_ALIGNMENT),
    u32('general.file_type', FILE_TYPE[dtype]),
    u32('llama.context_length', c.maxPositionEmbeddings),
    u32('llama.embedding_length', H),
    u32('llama.block_count', c.numLayers),
    u32('llama.feed_forward_length', c.intermediateSize),
    u32('llama.attention.head_count', c.numHeads),
    u32('llama.attention.head_count_kv', c.numKvHeads),
    u32('llama.rope.dimension_count', d),
    u32('llama.vocab_size', c.vocabSize),
    f32('llama.rope.freq_base', c.ropeTheta),
    f32('llama.attention.layer_norm_rms_epsilon', c.rmsNormEps),
    str('tokenizer.ggml.model', 'llama'),
    arr('tokenizer.ggml.tokens', VALUE.STRING, tokens, (o, v) => o.str(v)),
    arr('tokenizer.ggml.scores', VALUE.FLOAT32, tokens, (o) => o.f32(0)),
    arr('tokenizer.ggml.token_type', VALUE.INT32, tokens.map((_, id) => tokenType(id)), (o, v) => o.i32(v)),
    u32('tokenizer.ggml.bos_token_id', bos),
    u32('tokenizer.ggml.eos_token_id', eos),
  ];

  const head = new Out();
  head.push(Buffer.from(GGUF_MAGIC, 'ascii'));
  head.u32(3);
  head.u64(tensors.length);
  head.u64(meta.length);
  for (const kv of meta) {
    head.str(kv.key);
    kv.write(head);
  }
  const datas = tensors.map(tensorBytes);
  let offset = 0;
  tensors.forEach((t, i) => {
    head.str(t.name);
    head.u32(t.shape.length);
    for (const dim of [...t.shape].reverse()) head.u64(dim);
    head.u32(GGML_TYPE_OF[t.dtype]);
    head.u64(offset);
    offset += Math.ceil(datas[i].length / DEFAULT_ALIGNMENT) * DEFAULT_ALIGNMENT;
  });
  head.padTo(DEFAULT_ALIGNMENT);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head.bytes());
    const pad = Buffer.alloc(DEFAULT_ALIGNMENT);
    for (const data of datas) {
      writeSync(fd, data);
      const rest = (DEFAULT_ALIGNMENT - (data.length % DEFAULT_ALIGNMENT)) % DEFAULT_ALIGNMENT;
      if (rest > 0) writeSync(fd, pad, 0, rest);
    }
  } finally {
    closeSync(fd);
  }
}
