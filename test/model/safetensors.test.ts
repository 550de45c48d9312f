/** safetensors reader/writer: exact dtype conversions, sharded indexes, and rejection of corrupt files. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readSafetensorsDir, readSafetensorsFile, writeSafetensors, type TensorToWrite } from '../../src/model/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'pd-safetensors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A .safetensors file from a header (object or raw text) and raw data bytes. */
function rawFile(name: string, header: object | string, data: Uint8Array = new Uint8Array(0)): string {
  const headerBytes = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([length, headerBytes, data]));
  return path;
}

function f16Bytes(bits: number[]): Uint8Array {
  return new Uint8Array(new Uint16Array(bits).buffer);
}

const tensors: TensorToWrite[] = [
  { name: 'a.weight', shape: [2, 3], data: new Float32Array([1, -2, 0.5, 0.25, -0.125, 3]) },
  { name: 'b', shape: [4], data: new Float32Array([0, -0, 100, -1000]) },
  { name: 'scalar', shape: [], data: new Float32Array([7]) },
];

describe('safetensors round trip', () => {
  for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
    it(`${dtype}: names, shapes and exactly representable values survive`, () => {
      const path = join(dir, `round-${dtype}.safetensors`);
      writeSafetensors(path, tensors, dtype);
      const read = readSafetensorsFile(path);
      assert.deepEqual([...read.keys()], tensors.map((t) => t.name));
      for (const t of tensors) {
        const got = read.get(t.name)!;
        assert.deepEqual(got.shape, t.shape);
        assert.equal(got.dtype, { float32: 'F32', float16: 'F16', bfloat16: 'BF16' }[dtype]);
        assert.deepEqual([...got.data], [...t.data]);
      }
      assert.ok(Object.is(read.get('b')!.data[1], -0), 'negative zero keeps its sign');
    });
  }

  it('writes an 8-byte aligned header with format metadata', () => {
    const path = join(dir, 'header.safetensors');
    writeSafetensors(path, tensors, 'float16');
    const bytes = readFileSync(path);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    assert.equal(headerLength % 8, 0);
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    assert.deepEqual(header.__metadata__, { format: 'pt' });
    assert.deepEqual(header['a.weight'], { dtype: 'F16', shape: [2, 3], data_offsets: [0, 12] });
    assert.equal(bytes.length, 8 + headerLength + (6 + 4 + 1) * 2);
  });

  it('float16 special values: subnormals, infinities, NaN, overflow and ties to even', () => {
    const values = [2 ** -24, 3 * 2 ** -25, 2 ** -25, 3 * 2 ** -26, 1e-9, 2 ** -14, 1 / 3, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65519, 65520, Infinity, -Infinity, NaN, -1e-30];
    const expected = [2 ** -24, 2 ** -23, 0, 2 ** -24, 0, 2 ** -14, 0.333251953125, 1, 1 + 2 ** -9, 65504, 65504, Infinity, Infinity, -Infinity, NaN, -0];
    const path = join(dir, 'f16-special.safetensors');
    writeSafetensors(path, [{ name: 'x', shape: [values.length], data: new Float32Array(values) }], 'float16');
    const got = [...readSafetensorsFile(path).get('x')!.data];
    got.forEach((v, i) => assert.ok(Object.is(v, expected[i]), `value ${values[i]}: got ${v}, expected ${expected[i]}`));
  });

  it('NaNs with only low mantissa bits stay NaN in both 16-bit formats', () => {
    const lowNaNs = new Float32Array(new Uint32Array([0x7f800001, 0xff800fff]).buffer);
    for (const dtype of ['float16', 'bfloat16'] as const) {
      const path = join(dir, `nan-${dtype}.safetensors`);
      writeSafetensors(path, [{ name: 'x', shape: [2], data: lowNaNs }], dtype);
      assert.deepEqual([...readSafetensorsFile(path).get('x')!.data], [NaN, NaN], dtype);
    }
  });

  it('bfloat16 special values: ties to even, overflow to infinity, NaN stays NaN, subnormals keep their top bits', () => {
    const f32Max = new Float32Array(new Uint32Array([0x7f7fffff]).buffer)[0];
    const values = [1 + 2 ** -8, 1 + 3 * 2 ** -8, f32Max, -f32Max, NaN, -0, 2 ** -130, Infinity];
    const expected = [1, 1 + 2 ** -6, Infinity, -Infinity, NaN, -0, 2 ** -130, Infinity];
    const path = join(dir, 'bf16-special.safetensors');
    writeSafetensors(path, [{ name: 'x', shape: [values.length], data: new Float32Array(values) }], 'bfloat16');
    const got = [...readSafetensorsFile(path).get('x')!.data];
    got.forEach((v, i) => assert.ok(Object.is(v, expected[i]), `value ${values[i]}: got ${v}, expected ${expected[i]}`));
  });

  it('reads hand-made F16 bit patterns exactly (subnormal, max, inf, NaN, -0)', () => {
    const bits = [0x0001, 0x03ff, 0x0400, 0x3c00, 0xc000, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x3555];
    const expected = [2 ** -24, 1023 * 2 ** -24, 2 ** -14, 1, -2, 65504, Infinity, -Infinity, NaN, -0, 0.333251953125];
    const path = rawFile('f16-bits.safetensors', { h: { dtype: 'F16', shape: [bits.length], data_offsets: [0, bits.length * 2] } }, f16Bytes(bits));
    const got = [...readSafetensorsFile(path).get('h')!.data];
    got.forEach((v, i) => assert.ok(Object.is(v, expected[i]), `bits 0x${bits[i].toString(16)}: got ${v}`));
  });

  it('every non-NaN float16 survives f16 -> f32 -> f16 bit for bit', () => {
    const all = Array.from({ length: 65536 }, (_, h) => h).filter((h) => (h & 0x7c00) !== 0x7c00 || (h & 0x3ff) === 0);
    const source = rawFile('f16-all.safetensors', { h: { dtype: 'F16', shape: [all.length], data_offsets: [0, all.length * 2] } }, f16Bytes(all));
    const again = join(dir, 'f16-all-again.safetensors');
    writeSafetensors(again, [{ name: 'h', shape: [all.length], data: readSafetensorsFile(source).get('h')!.data }], 'float16');
    const tail = (path: string): Buffer => { const b = readFileSync(path); return b.subarray(b.length - all.length * 2); };
    assert.ok(tail(again).equals(tail(source)));
  });

  it('reads BF16 as the top half of float32', () => {
    const path = rawFile('bf16-bits.safetensors', { b: { dtype: 'BF16', shape: [3], data_offsets: [0, 6] } }, f16Bytes([0x3f80, 0xc0a0, 0x0001]));
    assert.deepEqual([...readSafetensorsFile(path).get('b')!.data], [1, -5, 2 ** -133]);
  });

  it('can allocate tensors in shared memory', () => {
    const path = join(dir, 'shared.safetensors');
    writeSafetensors(path, tensors, 'bfloat16');
    const t = readSafetensorsFile(path, { shared: true }).get('a.weight')!;
    assert.ok(t.data.buffer instanceof SharedArrayBuffer);
    assert.deepEqual([...t.data], [...tensors[0].data]);
  });

  it('refuses a tensor whose data does not match its shape', () => {
    assert.throws(
      () => writeSafetensors(join(dir, 'bad.safetensors'), [{ name: 'x', shape: [2, 2], data: new Float32Array(3) }], 'float32'),
      /tensor x has 3 values but shape \[2, 2\] needs 4/,
    );
  });
});

describe('sharded checkpoints', () => {
  it('reads every shard listed in model.safetensors.index.json', () => {
    const shardDir = mkdtempSync(join(dir, 'sharded-'));
    writeSafetensors(join(shardDir, 'model-00001-of-00002.safetensors'), tensors.slice(0, 2), 'float32');
    writeSafetensors(join(shardDir, 'model-00002-of-00002.safetensors'), tensors.slice(2), 'bfloat16');
    const weightMap = { 'a.weight': 'model-00001-of-00002.safetensors', b: 'model-00001-of-00002.safetensors', scalar: 'model-00002-of-00002.safetensors' };
    writeFileSync(join(shardDir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const read = readSafetensorsDir(shardDir);
    assert.deepEqual([...read.keys()].sort(), ['a.weight', 'b', 'scalar']);
    assert.deepEqual([...read.get('scalar')!.data], [7]);
    assert.equal(read.get('scalar')!.dtype, 'BF16');
  });

  it('fails when the index lists a tensor its shard does not hold', () => {
    const shardDir = mkdtempSync(join(dir, 'sharded-bad-'));
    writeSafetensors(join(shardDir, 'part1.safetensors'), tensors.slice(0, 1), 'float32');
    writeFileSync(join(shardDir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'a.weight': 'part1.safetensors', missing: 'part1.safetensors' } }));
    assert.throws(() => readSafetensorsDir(shardDir), /tensor missing is listed in part1\.safetensors but not stored there/);
  });

  it('says which files are missing in a directory without weights', () => {
    assert.throws(() => readSafetensorsDir(mkdtempSync(join(dir, 'empty-'))), /no model\.safetensors or model\.safetensors\.index\.json/);
  });
});

describe('corrupt files are rejected', () => {
  const entry = (extra: object): object => ({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8], ...extra } });
  const eightBytes = new Uint8Array(8);
  const cases: Array<[string, () => string, RegExp]> = [
    ['a file shorter than the length prefix', () => { const p = join(dir, 'short.safetensors'); writeFileSync(p, Buffer.alloc(5)); return p; }, /shorter than the 8-byte header length/],
    ['a header length beyond the file', () => {
      const p = join(dir, 'long-header.safetensors');
      const b = Buffer.alloc(16);
      b.writeBigUInt64LE(1000n);
      writeFileSync(p, b);
      return p;
    }, /corrupt safetensors header \(length 1000 does not fit in a 16-byte file\)/],
    ['a header that is not JSON', () => rawFile('not-json.safetensors', '{"x": {'), /corrupt safetensors header \(invalid JSON/],
    ['a header that is a JSON array', () => rawFile('array.safetensors', '[1, 2]'), /not a JSON object/],
    ['an unsupported dtype', () => rawFile('i8.safetensors', entry({ dtype: 'I8', data_offsets: [0, 2] }), eightBytes), /tensor x: unsupported dtype "I8" \(supported: F32, F16, BF16\)/],
    ['offsets past the end of the data', () => rawFile('past-end.safetensors', entry({ data_offsets: [4, 12] }), eightBytes), /data_offsets \[4, 12\] outside the data section \(8 bytes\)/],
    ['a size that does not match the shape', () => rawFile('size.safetensors', entry({ shape: [3] }), eightBytes), /cover 8 bytes but shape \[3\] of F32 needs 12/],
    ['a negative dimension', () => rawFile('neg.safetensors', entry({ shape: [-2] }), eightBytes), /shape must be a list of non-negative integers/],
    ['overlapping tensors', () => rawFile('overlap.safetensors', {
      x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      y: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
    }, eightBytes), /tensors x and y overlap/],
  ];
  for (const [what, makeFile, message] of cases) {
    it(what, () => assert.throws(() => readSafetensorsFile(makeFile()), message));
  }
});
