/**
 * Reads a Llama model from a GGUF file (`--load-format gguf`, as SGLang accepts): its config from the
 * `llama.*` metadata, its weights from f32, f16 or bf16 tensors.
 *
 * Decisions:
 * - Versions 2 and 3, little-endian only (a byte-swapped version number is a big-endian file, refused).
 * - The header is parsed from a buffer that grows until it holds it (a vocabulary of 150,000 tokens is a
 *   few MiB of metadata), bounded by MAX_HEADER_BYTES; every count, length and offset is checked against
 *   the file before it is used, so a truncated or corrupt file fails with a message naming what is wrong.
 * - Architecture `llama` only (the converter writes Mistral-style and SmolLM models as `llama` too).
 *   What the engine cannot run is refused by name, not approximated: quantized tensors (Q4_K, ...),
 *   RoPE scaling (`llama.rope.scaling.type`, a `rope_freqs` tensor), and a RoPE over part of the head.
 * - Hostile or corrupt headers fail with an error naming the file and the metadata key (or tensor) being
 *   read, never a stack overflow or an allocation the file cannot back: array nesting is bounded
 *   (MAX_ARRAY_NESTING), and every count and length is checked against the bytes left in the file
 *   (each item takes at least its type's size) before anything is read or allocated.
 * - Array values are skipped, not built: the reader needs only one array's length (the vocabulary size
 *   from `tokenizer.ggml.tokens` when nothing else gives it), so a 150,000-token vocabulary and its
 *   merges cost a walk over their bytes, no strings.
 * - float32 metadata is read as the shortest decimal that rounds to it (`shortestDecimal`).
 * - Q and K rows are put back in Hugging Face's order (gguf-format.ts), so the engine's RoPE and every
 *   other part read the same ModelWeights as from safetensors: a GGUF written from a checkpoint loads
 *   bit-identical to that checkpoint.
 * - The tokenizer is not read from the file: the engine's tokenizer is tokenizer.json (load-model.ts).
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { DEFAULT_ALIGNMENT, GGML_TYPE, GGUF_LAYER_TENSORS, GGUF_MAGIC, OTHER_GGML_TYPES, reorderRopeRows, VALUE } from './gguf-format.js';
import { BYTES_PER_ELEMENT, readAsF32, readFully, STORAGE_DTYPE_OF, type StoredDtype } from './tensor-read.js';
import type { LayerWeights, LlamaConfig, ModelWeights } from './types.js';
import { layerTensorShape } from './weights.js';

/** Headers are read in steps of this size until they fit. */
const HEADER_STEP_BYTES = 4 * 1024 * 1024;
/** No real model's metadata and tensor table come close (the largest vocabularies are ~10 MiB). */
const MAX_HEADER_BYTES = 256 * 1024 * 1024;
/** A tensor has at most this many dimensions in GGML. */
const MAX_DIMS = 4;
/**
 * Levels of arrays inside arrays a metadata value may have. The format allows nesting; the files
 * llama.cpp's converter writes nest none (token lists, scores, merges are flat), so 3 is generous, and
 * the bound keeps a crafted file (12 bytes per level) from driving the reader into a stack overflow.
 */
const MAX_ARRAY_NESTING = 3;

/** An array value: only its item type and length are kept (see the header). */
interface GgufArray {
  readonly itemType: number;
  readonly length: number;
}

type GgufValue = number | bigint | boolean | string | GgufArray;

/** The fewest bytes an item of each value type takes (a string: its 8-byte length; an array: its type and count). */
const MIN_VALUE_BYTES: Readonly<Record<number, number>> = {
  [VALUE.UINT8]: 1, [VALUE.INT8]: 1, [VALUE.BOOL]: 1, [VALUE.UINT16]: 2, [VALUE.INT16]: 2, [VALUE.UINT32]: 4, [VALUE.INT32]: 4,
  [VALUE.FLOAT32]: 4, [VALUE.UINT64]: 8, [VALUE.INT64]: 8, [VALUE.FLOAT64]: 8, [VALUE.STRING]: 8, [VALUE.ARRAY]: 12,
};
/** The fewest bytes of one metadata entry (an empty key's length, the value type, a 1-byte value) and of one tensor info (name length, dims count, one dim, type, offset). */
const MIN_METADATA_BYTES = 8 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;

interface TensorInfo {
  name: string;
  /** Row-major ([out, in] for a matrix; GGUF stores dims innermost first). */
  shape: number[];
  dtype: StoredDtype;
  /** Bytes from the start of the data section. */
  offset: number;
}

interface GgufHeader {
  metadata: Map<string, GgufValue>;
  tensors: Map<string, TensorInfo>;
  /** Byte offset of the data section in the file. */
  dataStart: number;
}

const DTYPE_OF_GGML: Readonly<Record<number, StoredDtype>> = { [GGML_TYPE.F32]: 'F32', [GGML_TYPE.F16]: 'F16', [GGML_TYPE.BF16]: 'BF16' };

/**
 * The shortest decimal that rounds to the float32 `x` (1e-5 for float32(1e-5) = 9.99999974e-6): the
 * value a converter was given (config.json's decimals are stored as float32), so a GGUF model computes
 * with the same epsilon and RoPE base as its checkpoint (the engine uses them in float64).
 */
function shortestDecimal(x: number): number {
  for (let digits = 1; digits < 9; digits++) {
    const v = Number(x.toPrecision(digits));
    if (Math.fround(v) === x) return v;
  }
  return x;
}

/** Thrown by the cursor when the header runs past the bytes read so far (more are read, then it retries). */
class NeedMore extends Error {}

class Cursor {
  at = 0;
  /** What is being read (a metadata key or a tensor), for errors; empty before the first one. */
  what = '';
  constructor(private readonly b: Buffer, private readonly complete: boolean, private readonly path: string, private readonly fileSize: number) {}

  corrupt(why: string): Error {
    return new Error(`${this.path}: corrupt GGUF header${this.what ? ` at ${this.what}` : ''} (${why})`);
  }

  private take(n: number): number {
    if (this.at + n > this.b.length) {
      if (this.complete) throw this.corrupt('it runs past the end of the file');
      throw new NeedMore();
    }
    const start = this.at;
    this.at += n;
    return start;
  }

  u32(): number {
    return this.b.readUInt32LE(this.take(4));
  }

  u64(): number {
    const v = this.b.readBigUInt64LE(this.take(8));
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.corrupt(`a count of ${v}`);
    return Number(v);
  }

  /** A count of items of at least `itemBytes` each, refused unless the rest of the file can hold them. */
  count(itemBytes: number, what: string): number {
    const n = this.u64();
    const left = this.fileSize - this.at;
    if (n * itemBytes > left) throw this.corrupt(`${what} ${n} needs at least ${n * itemBytes} bytes; ${left} are left in the file`);
    return n;
  }

  str(): string {
    const n = this.count(1, 'a string length');
    const start = this.take(n);
    return this.b.toString('utf8', start, start + n);
  }

  /** A metadata value of `type`; arrays are skipped to their length (see the header). */
  value(type: number): GgufValue {
    const b = this.b;
    switch (type) {
      case VALUE.UINT8: return b.readUInt8(this.take(1));
      case VALUE.INT8: return b.readInt8(this.take(1));
      case VALUE.UINT16: return b.readUInt16LE(this.take(2));
      case VALUE.INT16: return b.readInt16LE(this.take(2));
      case VALUE.UINT32: return b.readUInt32LE(this.take(4));
      case VALUE.INT32: return b.readInt32LE(this.take(4));
      case VALUE.FLOAT32: return shortestDecimal(b.readFloatLE(this.take(4)));
      case VALUE.BOOL: return b.readUInt8(this.take(1)) !== 0;
      case VALUE.STRING: return this.str();
      case VALUE.UINT64: return b.readBigUInt64LE(this.take(8));
      case VALUE.INT64: return b.readBigInt64LE(this.take(8));
      case VALUE.FLOAT64: return b.readDoubleLE(this.take(8));
      case VALUE.ARRAY: return this.skipArray(1);
      default:
        throw this.corrupt(`metadata value type ${type}`);
    }
  }

  /** Skips an array at nesting level `level` (1: a value's own array); returns its item type and length. */
  private skipArray(level: number): GgufArray {
    if (level > MAX_ARRAY_NESTING) throw this.corrupt(`arrays nested deeper than ${MAX_ARRAY_NESTING} levels`);
    const itemType = this.u32();
    const size = MIN_VALUE_BYTES[itemType];
    if (size === undefined) throw this.corrupt(`array item type ${itemType}`);
    const length = this.count(size, 'an array length');
    if (itemType === VALUE.STRING) {
      for (let i = 0; i < length; i++) this.take(this.count(1, 'a string length'));
    } else if (itemType === VALUE.ARRAY) {
      for (let i = 0; i < length; i++) this.skipArray(level + 1);
    } else {
      this.take(length * size);
    }
    return { itemType, length };
  }
}

function parseHeader(b: Buffer, complete: boolean, path: string, fileSize: number): GgufHeader {
  const c = new Cursor(b, complete, path, fileSize);
  const magic = b.toString('latin1', c.at, c.at + 4);
  c.u32();
  if (magic !== GGUF_MAGIC) throw new Error(`${path}: not a GGUF file (it starts with ${JSON.stringify(magic)}, not "GGUF")`);
  const version = c.u32();
  if (version === 0x03000000 || version === 0x02000000) throw new Error(`${path}: a big-endian GGUF file; pd-node reads little-endian ones`);
  if (version !== 2 && version !== 3) throw new Error(`${path}: GGUF version ${version} is unsupported (2 and 3 are)`);
  const tensorCount = c.count(MIN_TENSOR_INFO_BYTES, 'a tensor count');
  const metaCount = c.count(MIN_METADATA_BYTES, 'a metadata count');
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < metaCount; i++) {
    c.what = `metadata entry ${i}`;
    const key = c.str();
    c.what = `metadata key ${key}`;
    metadata.set(key, c.value(c.u32()));
  }
  c.what = 'the tensor infos';
  const alignment = metadata.get('general.alignment') ?? DEFAULT_ALIGNMENT;
  if (typeof alignment !== 'number' || !Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) {
    throw new Error(`${path}: general.alignment ${String(alignment)} is not a positive multiple of 8`);
  }
  const infos: Array<TensorInfo & { type: number }> = [];
  for (let i = 0; i < tensorCount; i++) {
    c.what = `tensor info ${i}`;
    const name = c.str();
    c.what = `tensor ${name}`;
    const nDims = c.u32();
    if (nDims < 1 || nDims > MAX_DIMS) throw new Error(`${path}: tensor ${name} has ${nDims} dimensions`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.u64());
    const type = c.u32();
    const offset = c.u64();
    infos.push({ name, shape: dims.reverse(), type, offset, dtype: DTYPE_OF_GGML[type] });
  }
  const dataStart = Math.ceil(c.at / alignment) * alignment;
  const tensors = new Map<string, TensorInfo>();
  for (const t of infos) {
    if (tensors.has(t.name)) throw new Error(`${path}: tensor ${t.name} appears twice`);
    if (t.offset % alignment !== 0) throw new Error(`${path}: tensor ${t.name} is not ${alignment}-byte aligned (offset ${t.offset})`);
    if (t.dtype !== undefined) {
      const end = dataStart + t.offset + t.shape.reduce((x, y) => x * y, 1) * BYTES_PER_ELEMENT[t.dtype];
      if (end > fileSize) throw new Error(`${path}: tensor ${t.name} runs past the end of the file (${end} > ${fileSize} bytes): truncated?`);
    }
    tensors.set(t.name, t.dtype === undefined ? { ...t, dtype: unsupportedType(path, t.name, t.type) } : t);
  }
  return { metadata, tensors, dataStart };
}

function unsupportedType(path: string, tensor: string, type: number): never {
  const name = OTHER_GGML_TYPES[type] ?? `type ${type}`;
  throw new Error(`${path}: tensor ${tensor} is ${name}; pd-node reads f32, f16 and bf16 GGUF files (no quantized weights): convert with --outtype f32, f16 or bf16`);
}

/**
 * The header of the GGUF file at `path` (fd open on it). Its size is known only once parsed, so the
 * bytes are read in growing steps; each step reads only the bytes after those already read (kept in
 * the larger buffer) and parses again from the start.
 */
function readHeader(fd: number, path: string): GgufHeader {
  const fileSize = fstatSync(fd).size;
  let b = Buffer.alloc(0);
  for (let size = Math.min(HEADER_STEP_BYTES, fileSize); ; size = Math.min(size * 2, fileSize, MAX_HEADER_BYTES)) {
    const grown = Buffer.alloc(size);
    b.copy(grown);
    readFully(fd, grown.subarray(b.length), b.length, path);
    b = grown;
    try {
      return parseHeader(b, size === fileSize, path, fileSize);
    } catch (err) {
      if (!(err instanceof NeedMore)) throw err;
      if (size >= MAX_HEADER_BYTES) throw new Error(`${path}: GGUF header larger than ${MAX_HEADER_BYTES} bytes (corrupt?)`);
    }
  }
}

function metaNumber(h: GgufHeader, path: string, key: string, fallback?: number): number {
  const v = h.metadata.get(key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new Error(`${path}: GGUF metadata ${key} is missing`);
  }
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) throw new Error(`${path}: GGUF metadata ${key} must be a positive number (got ${String(v)})`);
  return n;
}

function metaInteger(h: GgufHeader, path: string, key: string, fallback?: number): number {
  const n = metaNumber(h, path, key, fallback);
  if (!Number.isSafeInteger(n)) throw new Error(`${path}: GGUF metadata ${key} must be an integer (got ${n})`);
  return n;
}

function storageDtype(h: GgufHeader): string {
  const embed = h.tensors.get('token_embd.weight');
  return embed === undefined ? 'float32' : STORAGE_DTYPE_OF[embed.dtype];
}

/** The Llama config the metadata of `h` describes. */
function llamaConfig(h: GgufHeader, path: string): LlamaConfig {
  const arch = h.metadata.get('general.architecture');
  if (arch !== 'llama') throw new Error(`${path}: general.architecture ${JSON.stringify(arch)} is unsupported (pd-node runs "llama")`);
  const scaling = h.metadata.get('llama.rope.scaling.type');
  if (scaling !== undefined && scaling !== 'none') throw new Error(`${path}: llama.rope.scaling.type ${JSON.stringify(scaling)} is unsupported (only plain RoPE)`);
  if (h.tensors.has('rope_freqs.weight')) throw new Error(`${path}: a rope_freqs tensor (Llama 3.1 RoPE scaling) is unsupported (only plain RoPE)`);
  const hiddenSize = metaInteger(h, path, 'llama.embedding_length');
  const numHeads = metaInteger(h, path, 'llama.attention.head_count');
  const numKvHeads = metaInteger(h, path, 'llama.attention.head_count_kv', numHeads);
  if (numHeads % numKvHeads !== 0) throw new Error(`${path}: llama.attention.head_count_kv (${numKvHeads}) must divide llama.attention.head_count (${numHeads})`);
  const headDim = metaInteger(h, path, 'llama.attention.key_length', hiddenSize / numHeads);
  const ropeDims = metaInteger(h, path, 'llama.rope.dimension_count', headDim);
  if (ropeDims !== headDim) throw new Error(`${path}: llama.rope.dimension_count ${ropeDims} != head dimension ${headDim} (partial RoPE) is unsupported`);
  const embed = h.tensors.get('token_embd.weight');
  const tokens = h.metadata.get('tokenizer.ggml.tokens');
  const vocabSize = metaInteger(h, path, 'llama.vocab_size', embed?.shape[0] ?? (typeof tokens === 'object' ? tokens.length : undefined));
  const tokenId = (key: string): number | null => {
    const v = h.metadata.get(key);
    return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < vocabSize ? v : null;
  };
  const eos = tokenId('tokenizer.ggml.eos_token_id');
  return {
    vocabSize,
    hiddenSize,
    intermediateSize: metaInteger(h, path, 'llama.feed_forward_length'),
    numLayers: metaInteger(h, path, 'llama.block_count'),
    numHeads,
    numKvHeads,
    headDim,
    maxPositionEmbeddings: metaInteger(h, path, 'llama.context_length'),
    rmsNormEps: metaNumber(h, path, 'llama.attention.layer_norm_rms_epsilon'),
    ropeTheta: metaNumber(h, path, 'llama.rope.freq_base', 10000),
    tieWordEmbeddings: !h.tensors.has('output.weight'),
    bosTokenId: tokenId('tokenizer.ggml.bos_token_id'),
    eosTokenIds: eos === null ? [] : [eos],
    torchDtype: storageDtype(h),
  };
}

/**
 * A GGUF model file, open, with its header read: the config at once (cheap), the weights when asked,
 * so a caller can refuse a model (a tokenizer that does not fit) before reading hundreds of megabytes.
 */
export class GgufModelFile {
  private constructor(
    private readonly fd: number,
    private readonly path: string,
    private readonly header: GgufHeader,
    readonly config: LlamaConfig,
  ) {}

  static open(path: string): GgufModelFile {
    const fd = openSync(path, 'r');
    try {
      const header = readHeader(fd, path);
      return new GgufModelFile(fd, path, header, llamaConfig(header, path));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  readWeights(options: { shared?: boolean } = {}): ModelWeights {
    // Q and K are read into plain memory and reordered into the shared kind: one copy each.
    const { fd, path, header: h, config } = this;
    const read = (name: string, shape: readonly number[], shared = options.shared): Float32Array => {
      const t = h.tensors.get(name);
      if (t === undefined) throw new Error(`${path}: tensor ${name} is missing (expected shape [${shape.join(', ')}])`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`${path}: tensor ${name} has shape [${t.shape.join(', ')}], the metadata implies [${shape.join(', ')}]`);
      }
      return readAsF32(fd, path, h.dataStart + t.offset, shape.reduce((x, y) => x * y, 1), t.dtype, shared);
    };
    const { hiddenSize: H, headDim: d, vocabSize } = config;
    const layers: LayerWeights[] = [];
    for (let i = 0; i < config.numLayers; i++) {
      const layer = {} as LayerWeights;
      for (const t of GGUF_LAYER_TENSORS) {
        const data = read(`blk.${i}.${t.gguf}.weight`, layerTensorShape(config, t.field), t.rope === undefined ? options.shared : false);
        if (t.rope === undefined) {
          layer[t.field] = data;
          continue;
        }
        const into = options.shared ? new Float32Array(new SharedArrayBuffer(data.byteLength)) : new Float32Array(data.length);
        layer[t.field] = reorderRopeRows(data, t.rope === 'q' ? config.numHeads : config.numKvHeads, d, H, false, into);
      }
      layers.push(layer);
    }
    const embed = read('token_embd.weight', [vocabSize, H]);
    return {
      embed,
      layers,
      finalNorm: read('output_norm.weight', [H]),
      lmHead: config.tieWordEmbeddings ? embed : read('output.weight', [vocabSize, H]),
    };
  }

  close(): void {
    closeSync(this.fd);
  }
}
