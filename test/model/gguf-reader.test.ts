/**
 * The GGUF reader (`--load-format gguf`): a model written as GGUF (f32, bf16, f16; with and without
 * an output.weight) loads with the checkpoint's config and exactly its weights (Q/K rows back in Hugging
 * Face's order); broken and unsupported files fail naming what is wrong; model-files.ts picks the
 * files for each --load-format.
 */
import assert from 'node:assert/strict';
import fs, { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { modelFingerprint } from '../../src/model/fingerprint.js';
import { genModel } from '../../src/model/gen-model.js';
import { GgufModelFile } from '../../src/model/gguf-reader.js';
import { writeGguf, type GgufDtype } from '../../src/model/gguf-writer.js';
import { f16ToF32, f32ToF16 } from '../../src/model/half-float.js';
import { loadModel } from '../../src/model/load-model.js';
import { resolveWeightsPath } from '../../src/model/model-files.js';
import type { LlamaConfig, ModelWeights } from '../../src/model/types.js';

const tmp = mkdtempSync(join(tmpdir(), 'pd-gguf-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const tinyDir = genModel({ outDir: join(tmp, 'tiny'), seed: 11 });
const bf16Dir = genModel({ outDir: join(tmp, 'tiny-bf16'), seed: 12, dtype: 'bfloat16' });

/** Writes `weights` as `<name>/model.gguf` with the tokenizer of `tokenizerFrom` beside it. */
function ggufOf(name: string, config: LlamaConfig, weights: ModelWeights, dtype: GgufDtype, tokenizerFrom = tinyDir): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  writeGguf(join(dir, 'model.gguf'), config, weights, dtype);
  copyFileSync(join(tokenizerFrom, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  return join(dir, 'model.gguf');
}

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), `${what}: bit-identical`);
}

function sameWeights(a: ModelWeights, b: ModelWeights, map: (x: Float32Array) => Float32Array = (x) => x): void {
  sameBits(a.embed, map(b.embed), 'embed');
  sameBits(a.finalNorm, b.finalNorm, 'final norm (always f32)');
  sameBits(a.lmHead, map(b.lmHead), 'lm head');
  a.layers.forEach((l, i) => {
    for (const field of ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const) sameBits(l[field], map(b.layers[i][field]), `layer ${i} ${field}`);
    sameBits(l.inputNorm, b.layers[i].inputNorm, `layer ${i} input norm`);
    sameBits(l.postNorm, b.layers[i].postNorm, `layer ${i} post norm`);
  });
}

function sameConfig(fromGguf: LlamaConfig, original: LlamaConfig, dtype: string): void {
  const { eosTokenIds, torchDtype, ...rest } = fromGguf;
  const { eosTokenIds: originalEos, torchDtype: _, ...originalRest } = original;
  assert.deepEqual(rest, originalRest);
  assert.deepEqual(eosTokenIds, [originalEos[0]], 'GGUF holds one eos id (the tokenizer adds generation_config.json\'s)');
  assert.equal(torchDtype, dtype);
}

describe('GGUF reader', () => {
  const original = loadModel(tinyDir);

  it('an f32 GGUF loads with the checkpoint\'s config and exactly its weights, tokenizer beside it', () => {
    const loaded = loadModel(ggufOf('f32', original.config, original.weights, 'f32'));
    sameConfig(loaded.config, original.config, 'float32');
    sameWeights(loaded.weights, original.weights);
    assert.equal(original.config.tieWordEmbeddings, false, 'the tiny preset has an lm head of its own (output.weight)');
    assert.equal(loaded.tokenizer.vocabSize, original.tokenizer.vocabSize);
  });

  it('bf16 loads exactly; f16 loads as the f16 rounding; shared arrays on request', () => {
    const bf16 = loadModel(bf16Dir);
    const loaded = loadModel(ggufOf('bf16', bf16.config, bf16.weights, 'bf16', bf16Dir), { shared: true });
    sameConfig(loaded.config, bf16.config, 'bfloat16');
    sameWeights(loaded.weights, bf16.weights);
    assert.ok(loaded.weights.layers[0].q.buffer instanceof SharedArrayBuffer, 'a reordered Q is shared too');
    assert.ok(loaded.weights.layers[0].v.buffer instanceof SharedArrayBuffer);

    const f16 = loadModel(ggufOf('f16', original.config, original.weights, 'f16'));
    assert.equal(f16.config.torchDtype, 'float16');
    const rounded = (x: Float32Array): Float32Array => {
      const bits = new Uint16Array(x.length);
      f32ToF16(x, bits);
      const back = new Float32Array(x.length);
      f16ToF32(bits, back);
      return back;
    };
    sameWeights(f16.weights, original.weights, rounded);
  });

  it('a header larger than the first read (a 9 MiB general.name) is read in steps and parses whole', () => {
    const dir = join(tmp, 'big-header');
    mkdirSync(dir);
    const name = 'x'.repeat(9 * 1024 * 1024);
    writeGguf(join(dir, 'model.gguf'), original.config, original.weights, 'f32', name);
    copyFileSync(join(tinyDir, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    assert.ok(readFileSync(join(dir, 'model.gguf')).includes('x'.repeat(1024), 8 * 1024 * 1024), 'the name spans past the first two steps (4 and 8 MiB)');
    const loaded = loadModel(join(dir, 'model.gguf'));
    sameConfig(loaded.config, original.config, 'float32');
    sameWeights(loaded.weights, original.weights);
  });

  it('tied embeddings: no output.weight, the lm head is the embedding array', () => {
    const config = { ...original.config, tieWordEmbeddings: true };
    const loaded = loadModel(ggufOf('tied', config, { ...original.weights, lmHead: original.weights.embed }, 'f32'));
    assert.equal(loaded.config.tieWordEmbeddings, true);
    assert.equal(loaded.weights.lmHead, loaded.weights.embed);
    sameBits(loaded.weights.embed, original.weights.embed, 'embed');
  });

  it('the PD fingerprint of a GGUF file is its bytes, not its name (a hub snapshot and a local copy match)', () => {
    const path = ggufOf('fingerprinted', original.config, original.weights, 'f32');
    const renamed = join(tmp, 'fingerprinted', 'tiny-f32.gguf');
    copyFileSync(path, renamed);
    assert.equal(modelFingerprint(renamed, tinyDir), modelFingerprint(path, tinyDir));
    const other = ggufOf('fingerprinted-bf16', original.config, original.weights, 'bf16');
    assert.notEqual(modelFingerprint(other, tinyDir), modelFingerprint(path, tinyDir), 'other bytes, another fingerprint');
  });

  it('a tokenizer with more ids than the GGUF file\'s vocab_size is refused before any weight is read', () => {
    const vocabSize = 500;
    const small = { ...original.config, vocabSize, eosTokenIds: [0] };
    const cut = (a: Float32Array): Float32Array => a.slice(0, vocabSize * small.hiddenSize);
    const path = ggufOf('small-vocab', small, { ...original.weights, embed: cut(original.weights.embed), lmHead: cut(original.weights.lmHead) }, 'f32');
    // Every read of the file goes through fs.readSync; count the bytes the refusal read.
    const realReadSync = fs.readSync;
    let bytesRead = 0;
    fs.readSync = ((...args: Parameters<typeof fs.readSync>) => {
      const n = realReadSync(...args);
      bytesRead += n;
      return n;
    }) as typeof fs.readSync;
    syncBuiltinESMExports();
    try {
      assert.throws(() => loadModel(path), /tokenizer\.json has 512 token ids but the GGUF file's vocab_size is 500/);
    } finally {
      fs.readSync = realReadSync;
      syncBuiltinESMExports();
    }
    const weightBytes = 4 * (cut(original.weights.embed).length * 2 + original.weights.layers.reduce((n, l) => n + l.q.length + l.k.length + l.v.length + l.o.length + l.gate.length + l.up.length + l.down.length, 0));
    // The header's first read (4 MiB) takes in this small file whole; reading the weights would read
    // their bytes a second time.
    assert.ok(bytesRead > 0 && bytesRead <= statSync(path).size, `read ${bytesRead} bytes of a ${statSync(path).size}-byte file with ${weightBytes} bytes of weights: the header only`);
  });

  it('--tokenizer-path instead of a tokenizer beside the file; without either, the error says what to give', () => {
    const dir = join(tmp, 'bare');
    mkdirSync(dir);
    const path = join(dir, 'm.gguf');
    writeGguf(path, original.config, original.weights, 'f32');
    assert.throws(() => loadModel(path), /^Error: --model-path .*m\.gguf: no tokenizer\.json beside the GGUF file; give --tokenizer-path/);
    assert.equal(loadModel(path, { tokenizerDir: tinyDir }).tokenizer.vocabSize, original.tokenizer.vocabSize);
    const empty = mkdtempSync(join(tmp, 'no-tokenizer-'));
    assert.throws(() => loadModel(path, { tokenizerDir: empty }), /^Error: --tokenizer-path .*no-tokenizer-\w+: no tokenizer\.json$/);
  });

  it('broken and unsupported files fail naming what is wrong', () => {
    const good = readFileSync(ggufOf('good', original.config, original.weights, 'f32'));
    const variant = (name: string, bytes: Buffer): string => {
      const path = join(tmp, 'good', name);
      writeFileSync(path, bytes);
      return path;
    };
    const magic = Buffer.from(good);
    magic.write('GGML', 0, 'latin1');
    assert.throws(() => loadModel(variant('magic.gguf', magic)), /not a GGUF file \(it starts with "GGML"/);
    const bigEndian = Buffer.from(good);
    bigEndian.writeUInt32BE(3, 4);
    assert.throws(() => loadModel(variant('be.gguf', bigEndian)), /a big-endian GGUF file/);
    const v1 = Buffer.from(good);
    v1.writeUInt32LE(1, 4);
    assert.throws(() => loadModel(variant('v1.gguf', v1)), /GGUF version 1 is unsupported/);
    assert.throws(() => loadModel(variant('cut.gguf', good.subarray(0, good.length - 1000))), /tensor .* runs past the end of the file .*truncated\?/);
    assert.throws(() => loadModel(variant('head.gguf', good.subarray(0, 200))), /head\.gguf: corrupt GGUF header \(a tensor count 21 needs at least 672 bytes; 184 are left in the file\)/);
    // The tensor info of blk.0.attn_q.weight: name, dimension count, dims, then the GGML type.
    const quantized = Buffer.from(good);
    const at = quantized.indexOf('blk.0.attn_q.weight') + 'blk.0.attn_q.weight'.length;
    quantized.writeUInt32LE(12, at + 4 + 8 * quantized.readUInt32LE(at));
    assert.throws(() => loadModel(variant('q4k.gguf', quantized)), /tensor blk\.0\.attn_q\.weight is Q4_K; pd-node reads f32, f16 and bf16 GGUF files/);
  });

  it('hostile headers (deep nesting, huge counts and lengths, a cut inside an array) fail naming the file and the key', () => {
    const dir = join(tmp, 'hostile');
    mkdirSync(dir);
    const good = readFileSync(ggufOf('hostile-base', original.config, original.weights, 'f32'));
    const u32 = (v: number): Buffer => Buffer.from(Uint32Array.of(v).buffer);
    const u64 = (v: bigint): Buffer => Buffer.from(BigUint64Array.of(v).buffer);
    const str = (s: string): Buffer => Buffer.concat([u64(BigInt(s.length)), Buffer.from(s)]);
    const [ARRAY, STRING] = [9, 8];
    /** A version 3 header with no tensors and these metadata entries, padded so a loader could read past it. */
    const file = (name: string, entries: Buffer[], metaCount = BigInt(entries.length)): string => {
      const path = join(dir, name);
      writeFileSync(path, Buffer.concat([Buffer.from('GGUF'), u32(3), u64(0n), u64(metaCount), ...entries, Buffer.alloc(64)]));
      return path;
    };
    const deep = Buffer.concat([str('evil.nested'), u32(ARRAY), ...Array.from({ length: 100_000 }, () => Buffer.concat([u32(ARRAY), u64(1n)]))]);
    assert.throws(() => GgufModelFile.open(file('deep.gguf', [deep])), /deep\.gguf: corrupt GGUF header at metadata key evil\.nested \(arrays nested deeper than 3 levels\)/);
    const huge = Buffer.concat([str('tokenizer.ggml.tokens'), u32(ARRAY), u32(STRING), u64(1n << 40n)]);
    assert.throws(() => GgufModelFile.open(file('count.gguf', [huge])), /count\.gguf: corrupt GGUF header at metadata key tokenizer\.ggml\.tokens \(an array length 1099511627776 needs at least 8796093022208 bytes; \d+ are left in the file\)/);
    const long = Buffer.concat([str('general.name'), u32(STRING), u64(1n << 50n)]);
    assert.throws(() => GgufModelFile.open(file('string.gguf', [long])), /string\.gguf: corrupt GGUF header at metadata key general\.name \(a string length 1125899906842624 needs/);
    assert.throws(() => GgufModelFile.open(file('keys.gguf', [], 1n << 40n)), /keys\.gguf: corrupt GGUF header \(a metadata count 1099511627776 needs/);
    const keyLength = Buffer.concat([u64(1n << 45n)]);
    assert.throws(() => GgufModelFile.open(file('key.gguf', [keyLength])), /key\.gguf: corrupt GGUF header at metadata entry 0 \(a string length 35184372088832 needs/);
    // a real file cut inside its token list, after room for the list's lengths (8 bytes a token) but before its end
    const cut = join(dir, 'cut.gguf');
    const list = good.indexOf('tokenizer.ggml.tokens') + 'tokenizer.ggml.tokens'.length + 4 + 4 + 8;
    writeFileSync(cut, good.subarray(0, list + 8 * Number(good.readBigUInt64LE(list - 8)) + 16));
    assert.throws(() => GgufModelFile.open(cut), /cut\.gguf: corrupt GGUF header at metadata key tokenizer\.ggml\.tokens \(a string length \d+ needs at least \d+ bytes; \d+ are left in the file\)/);
  });

  it('a real GGUF with a nested array value (within the bound) still loads: arrays are skipped, not built', () => {
    const good = readFileSync(ggufOf('nested-base', original.config, original.weights, 'f32'));
    const u32 = (v: number): Buffer => Buffer.from(Uint32Array.of(v).buffer);
    const u64 = (v: bigint): Buffer => Buffer.from(BigUint64Array.of(v).buffer);
    const bytes = (n: number): Buffer => Buffer.concat([u32(0), u64(BigInt(n)), Buffer.alloc(n, 7)]); // an array of n UINT8
    // 64 bytes (twice the default alignment), so the data section and every tensor offset stay valid
    const entry = Buffer.concat([u64(10n), Buffer.from('pd.nested2'), u32(9), u32(9), u64(2n), bytes(3), bytes(3)]);
    assert.equal(entry.length, 64);
    const metaCount = good.readBigUInt64LE(16);
    const patched = Buffer.concat([good.subarray(0, 16), u64(metaCount + 1n), entry, good.subarray(24)]);
    const dir = join(tmp, 'nested');
    mkdirSync(dir);
    writeFileSync(join(dir, 'model.gguf'), patched);
    copyFileSync(join(tinyDir, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    const loaded = loadModel(join(dir, 'model.gguf'));
    sameConfig(loaded.config, original.config, 'float32');
    sameWeights(loaded.weights, original.weights);
  });
});

describe('--load-format picks the files', () => {
  it('auto: a directory\'s safetensors, else its one .gguf; a file is GGUF; gguf and safetensors insist', () => {
    const dir = join(tmp, 'formats');
    mkdirSync(dir);
    const only = join(dir, 'only.gguf');
    writeFileSync(only, 'x');
    assert.equal(resolveWeightsPath(tinyDir, 'auto'), tinyDir);
    assert.equal(resolveWeightsPath(dir, 'auto'), only);
    assert.equal(resolveWeightsPath(dir, 'gguf'), only);
    assert.equal(resolveWeightsPath(only, 'auto'), only);
    assert.equal(resolveWeightsPath(dir, 'safetensors'), dir, 'loadModel then says what the directory lacks');
    assert.throws(() => resolveWeightsPath(only, 'safetensors'), /--model-path .*only\.gguf: a file; --load-format safetensors reads a model directory/);
    assert.throws(() => resolveWeightsPath(tinyDir, 'gguf'), /--model-path .*tiny: no \.gguf file in the directory \(--load-format gguf\)/);
    writeFileSync(join(dir, 'other.gguf'), 'x');
    assert.throws(() => resolveWeightsPath(dir, 'gguf'), /2 \.gguf files \(only\.gguf, other\.gguf\); give --model-path the one to serve/);
  });
});
