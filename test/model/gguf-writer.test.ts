/**
 * The GGUF writer, read back by a small GGUF reader written here from the format's description:
 * header, Llama metadata, tensor infos (dims innermost first, GGML types, 32-byte aligned offsets)
 * and data: f32 as is, bf16/f16 exact for values of that format, Q/K rows in llama.cpp's RoPE
 * pairing, norms always f32, no output.weight when embeddings are tied.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeGguf } from '../../src/model/gguf-writer.js';
import { bf16ToF32, f32ToBf16 } from '../../src/model/half-float.js';
import { randomWeights, tinyConfig } from '../engine/random-model.js';

interface Read {
  meta: Map<string, unknown>;
  tensors: Map<string, { dims: number[]; type: number; bytes: Buffer }>;
}

function readGguf(b: Buffer): Read {
  let at = 0;
  const u32 = (): number => ((at += 4), b.readUInt32LE(at - 4));
  const u64 = (): number => ((at += 8), Number(b.readBigUInt64LE(at - 8)));
  const str = (): string => {
    const n = u64();
    at += n;
    return b.toString('utf8', at - n, at);
  };
  const value = (type: number): unknown => {
    if (type === 4) return u32();
    if (type === 5) return ((at += 4), b.readInt32LE(at - 4));
    if (type === 6) return ((at += 4), b.readFloatLE(at - 4));
    if (type === 8) return str();
    if (type === 9) {
      const t = u32();
      return Array.from({ length: u64() }, () => value(t));
    }
    throw new Error(`type ${type}`);
  };
  assert.equal(b.toString('ascii', 0, 4), 'GGUF');
  at = 4;
  assert.equal(u32(), 3);
  const [nTensors, nMeta] = [u64(), u64()];
  const meta = new Map<string, unknown>();
  for (let i = 0; i < nMeta; i++) {
    const key = str();
    meta.set(key, value(u32()));
  }
  const infos = Array.from({ length: nTensors }, () => {
    const name = str();
    const dims = Array.from({ length: u32() }, () => u64());
    return { name, dims, type: u32(), offset: u64() };
  });
  const data = Math.ceil(at / 32) * 32;
  const tensors = new Map<string, { dims: number[]; type: number; bytes: Buffer }>();
  for (const t of infos) {
    assert.equal(t.offset % 32, 0, `${t.name} is 32-byte aligned`);
    const count = t.dims.reduce((x, y) => x * y, 1);
    tensors.set(t.name, { dims: t.dims, type: t.type, bytes: b.subarray(data + t.offset, data + t.offset + count * (t.type === 0 ? 4 : 2)) });
  }
  return { meta, tensors };
}

const f32Bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('a GGUF written for f32 and bf16 reads back with its metadata, shapes and exact data', () => {
  const c = tinyConfig({ vocabSize: 300 });
  const w = randomWeights(c, 7);
  const dir = mkdtempSync(join(tmpdir(), 'gguf-test-'));
  try {
    for (const dtype of ['f32', 'bf16'] as const) {
      const path = join(dir, `m-${dtype}.gguf`);
      writeGguf(path, c, w, dtype);
      const { meta, tensors } = readGguf(readFileSync(path));
      assert.equal(meta.get('general.architecture'), 'llama');
      assert.equal(meta.get('general.file_type'), dtype === 'f32' ? 0 : 32);
      assert.equal(meta.get('llama.block_count'), c.numLayers);
      assert.equal(meta.get('llama.attention.head_count_kv'), c.numKvHeads);
      assert.equal((meta.get('tokenizer.ggml.tokens') as string[]).length, c.vocabSize);
      assert.equal(tensors.size, 2 + 9 * c.numLayers, 'no output.weight: embeddings are tied');
      const v = tensors.get('blk.1.attn_v.weight')!;
      assert.deepEqual(v.dims, [c.hiddenSize, c.numKvHeads * c.headDim], 'dims innermost first');
      assert.equal(tensors.get('blk.0.attn_norm.weight')!.type, 0, 'norms stay f32');
      if (dtype === 'f32') {
        assert.equal(v.type, 0);
        assert.ok(v.bytes.equals(f32Bytes(w.layers[1].v)));
        // Q row (head 1, dim 2 * 3 + 1) is HF row (head 1, dim half + 3)
        const q = tensors.get('blk.0.attn_q.weight')!.bytes;
        const H = c.hiddenSize;
        const [d, half] = [c.headDim, c.headDim / 2];
        const row = (buf: Buffer, r: number): Buffer => buf.subarray(r * H * 4, (r + 1) * H * 4);
        assert.ok(row(q, d + 7).equals(row(f32Bytes(w.layers[0].q), d + half + 3)));
        assert.ok(row(q, d + 6).equals(row(f32Bytes(w.layers[0].q), d + 3)));
      } else {
        assert.equal(v.type, 30);
        const bits = new Uint16Array(w.layers[1].v.length);
        f32ToBf16(w.layers[1].v, bits);
        assert.ok(v.bytes.equals(Buffer.from(bits.buffer)), 'bf16 rounded to nearest even');
        const back = new Float32Array(bits.length);
        bf16ToF32(bits, back);
        const again = new Uint16Array(bits.length);
        f32ToBf16(back, again);
        assert.deepEqual(again, bits, 'bf16 values round-trip exactly');
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
