/**
 * The safetensors format: 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}`, then the raw little-endian data.
 *
 * Decisions:
 * - Every tensor is returned as float32 (the engine's compute type), read by tensor-read.ts. Dtypes
 *   other than F32, F16 and BF16 are rejected: converting them would be lossy or meaningless here.
 * - The header is validated against the file before any data is read (offsets in range, sizes equal to
 *   shape x dtype width, no overlaps), so a truncated or corrupt file fails with a message, not with
 *   garbage weights.
 * - I/O is synchronous: loading happens once at start-up, typically in the engine's worker, and a plain
 *   loop of readSync calls is the simplest way to fill preallocated arrays.
 * - Writing pads the header with spaces to a multiple of 8 bytes (as the reference implementation does),
 *   keeping the data section aligned for memory-mapping readers.
 */
import { closeSync, existsSync, fstatSync, openSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { f32ToBf16, f32ToF16 } from './half-float.js';
import { isJsonObject, readJsonFile } from './json-file.js';
import { BYTES_PER_ELEMENT, isStorageDtype, readAsF32, readFully, SCRATCH_ELEMENTS, STORED_DTYPE_OF, type StorageDtype, type StoredDtype } from './tensor-read.js';

export type SafetensorsDtype = StoredDtype;

export interface Tensor {
  name: string;
  /** dtype on disk; `data` is always float32. */
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface TensorToWrite {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

export interface ReadTensorsOptions {
  /** Allocate tensor data in SharedArrayBuffers (for sharing with worker threads). */
  shared?: boolean;
}

export const SINGLE_FILE_NAME = 'model.safetensors';
export const INDEX_FILE_NAME = 'model.safetensors.index.json';

/** The format's own limit; a larger value means a corrupt file, not a huge header. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function assertLittleEndianHost(): void {
  if (endianness() !== 'LE') throw new Error('safetensors: only little-endian hosts are supported');
}

function isSupportedDtype(dtype: unknown): dtype is SafetensorsDtype {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

function parseHeader(path: string, headerBytes: Uint8Array, dataSize: number): HeaderEntry[] {
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(headerBytes.buffer, headerBytes.byteOffset, headerBytes.length).toString('utf8'));
  } catch (err) {
    throw new Error(`${path}: corrupt safetensors header (invalid JSON: ${(err as Error).message})`);
  }
  if (!isJsonObject(header)) throw new Error(`${path}: corrupt safetensors header (not a JSON object)`);

  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const where = `${path}: tensor ${name}`;
    if (!isJsonObject(info)) throw new Error(`${where}: header entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = info;
    if (!isSupportedDtype(dtype)) {
      throw new Error(`${where}: unsupported dtype ${JSON.stringify(dtype)} (supported: F32, F16, BF16)`);
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
      throw new Error(`${where}: shape must be a list of non-negative integers (got ${JSON.stringify(shape)})`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger)) {
      throw new Error(`${where}: data_offsets must be [begin, end] (got ${JSON.stringify(offsets)})`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataSize) {
      throw new Error(`${where}: data_offsets [${begin}, ${end}] outside the data section (${dataSize} bytes)`);
    }
    const expectedBytes = elementCount(shape) * BYTES_PER_ELEMENT[dtype];
    if (end - begin !== expectedBytes) {
      throw new Error(`${where}: data_offsets cover ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${expectedBytes}`);
    }
    entries.push({ name, dtype, shape, begin, end });
  }

  const byOffset = [...entries].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < byOffset.length; i++) {
    if (byOffset[i].begin < byOffset[i - 1].end) {
      throw new Error(`${path}: tensors ${byOffset[i - 1].name} and ${byOffset[i].name} overlap in the data section`);
    }
  }
  return entries;
}

/** All tensors of one .safetensors file, by name, converted to float32. */
export function readSafetensorsFile(path: string, options: ReadTensorsOptions = {}): Map<string, Tensor> {
  assertLittleEndianHost();
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    if (fileSize < 8) throw new Error(`${path}: corrupt safetensors file (${fileSize} bytes, shorter than the 8-byte header length)`);
    const lengthBytes = new Uint8Array(8);
    readFully(fd, lengthBytes, 0, path);
    const headerLength = Number(Buffer.from(lengthBytes.buffer).readBigUInt64LE(0));
    if (headerLength > MAX_HEADER_BYTES || headerLength > fileSize - 8) {
      throw new Error(`${path}: corrupt safetensors header (length ${headerLength} does not fit in a ${fileSize}-byte file)`);
    }
    const headerBytes = new Uint8Array(headerLength);
    readFully(fd, headerBytes, 8, path);
    const dataStart = 8 + headerLength;
    const entries = parseHeader(path, headerBytes, fileSize - dataStart);

    const tensors = new Map<string, Tensor>();
    for (const entry of entries) {
      const data = readAsF32(fd, path, dataStart + entry.begin, elementCount(entry.shape), entry.dtype, options.shared);
      tensors.set(entry.name, { name: entry.name, dtype: entry.dtype, shape: entry.shape, data });
    }
    return tensors;
  } finally {
    closeSync(fd);
  }
}

/** Tensors of a sharded checkpoint described by `model.safetensors.index.json` in `dir`. */
function readShardedSafetensors(dir: string, options: ReadTensorsOptions): Map<string, Tensor> {
  const indexPath = join(dir, INDEX_FILE_NAME);
  const index = readJsonFile(indexPath);
  if (!isJsonObject(index) || !isJsonObject(index.weight_map)) throw new Error(`${indexPath}: weight_map object is missing`);
  const weightMap = index.weight_map;
  const shardFiles = new Set<string>();
  for (const [name, file] of Object.entries(weightMap)) {
    if (typeof file !== 'string' || file.includes('/') || file.includes('\\')) {
      throw new Error(`${indexPath}: weight_map entry for ${name} must be a file name in the same directory (got ${JSON.stringify(file)})`);
    }
    shardFiles.add(file);
  }

  const tensors = new Map<string, Tensor>();
  for (const file of [...shardFiles].sort()) {
    for (const [name, tensor] of readSafetensorsFile(join(dir, file), options)) {
      if (tensors.has(name)) throw new Error(`${indexPath}: tensor ${name} appears in more than one shard`);
      tensors.set(name, tensor);
    }
  }
  for (const [name, file] of Object.entries(weightMap)) {
    if (!tensors.has(name)) throw new Error(`${indexPath}: tensor ${name} is listed in ${file} but not stored there`);
  }
  return tensors;
}

/** Tensors of a model directory: `model.safetensors`, or the shards listed by its index file. */
export function readSafetensorsDir(dir: string, options: ReadTensorsOptions = {}): Map<string, Tensor> {
  if (existsSync(join(dir, SINGLE_FILE_NAME))) return readSafetensorsFile(join(dir, SINGLE_FILE_NAME), options);
  if (existsSync(join(dir, INDEX_FILE_NAME))) return readShardedSafetensors(dir, options);
  throw new Error(`${dir}: no ${SINGLE_FILE_NAME} or ${INDEX_FILE_NAME}`);
}

function buildHeader(tensors: readonly TensorToWrite[], dtype: SafetensorsDtype): Buffer {
  const entries: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const names = new Set(['__metadata__']);
  let offset = 0;
  for (const tensor of tensors) {
    if (names.has(tensor.name)) {
      throw new Error(`writeSafetensors: duplicate or reserved tensor name ${tensor.name}`);
    }
    const count = elementCount(tensor.shape);
    if (count !== tensor.data.length) {
      throw new Error(`writeSafetensors: tensor ${tensor.name} has ${tensor.data.length} values but shape [${tensor.shape.join(', ')}] needs ${count}`);
    }
    const size = count * BYTES_PER_ELEMENT[dtype];
    names.add(tensor.name);
    entries[tensor.name] = { dtype, shape: [...tensor.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = JSON.stringify(entries);
  return Buffer.from(json + ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8));
}

/** Writes `tensors` (in order) to a .safetensors file, rounding to `dtype` to nearest-even. */
export function writeSafetensors(path: string, tensors: readonly TensorToWrite[], dtype: StorageDtype): void {
  assertLittleEndianHost();
  if (!isStorageDtype(dtype)) throw new Error(`writeSafetensors: dtype must be float32, float16 or bfloat16 (got ${dtype})`);
  const fileDtype = STORED_DTYPE_OF[dtype];
  const header = buildHeader(tensors, fileDtype);
  const fd = openSync(path, 'w');
  try {
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    writeAll(fd, length);
    writeAll(fd, header);
    const scratch = fileDtype === 'F32' ? undefined : new Uint16Array(SCRATCH_ELEMENTS);
    const convert = fileDtype === 'F16' ? f32ToF16 : f32ToBf16;
    for (const { data } of tensors) {
      if (scratch === undefined) {
        writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        continue;
      }
      for (let start = 0; start < data.length; start += scratch.length) {
        const chunk = scratch.subarray(0, Math.min(scratch.length, data.length - start));
        convert(data.subarray(start, start + chunk.length), chunk);
        writeAll(fd, new Uint8Array(chunk.buffer, 0, chunk.byteLength));
      }
    }
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}
