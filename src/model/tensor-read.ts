/**
 * Reading a tensor's bytes from a weights file into float32, shared by the safetensors and GGUF
 * readers. Decisions: f32 bytes are read straight into the result (one copy, disk -> result); f16 and
 * bf16 go through a fixed 2 MiB scratch buffer and are widened exactly; `shared` allocates the result
 * in a SharedArrayBuffer so worker threads can use it without copies. Synchronous: loading happens once
 * at start-up, in the engine's worker.
 */
import { readSync } from 'node:fs';
import { bf16ToF32, f16ToF32 } from './half-float.js';

/** The stored element types pd-node reads (both formats' other types are refused by their readers). */
export type StoredDtype = 'F32' | 'F16' | 'BF16';

/** The same types as config.json's torch_dtype spells them. */
export type StorageDtype = 'float32' | 'float16' | 'bfloat16';
export const STORED_DTYPE_OF: Readonly<Record<StorageDtype, StoredDtype>> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };
export const STORAGE_DTYPE_OF = Object.fromEntries(Object.entries(STORED_DTYPE_OF).map(([storage, stored]) => [stored, storage])) as Readonly<Record<StoredDtype, StorageDtype>>;

export function isStorageDtype(dtype: string): dtype is StorageDtype {
  return Object.hasOwn(STORED_DTYPE_OF, dtype);
}

export const BYTES_PER_ELEMENT: Readonly<Record<StoredDtype, number>> = { F32: 4, F16: 2, BF16: 2 };
/** Elements widened per read of a 16-bit tensor (2 MiB of scratch). */
export const SCRATCH_ELEMENTS = 1 << 20;

export function readFully(fd: number, target: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < target.length) {
    const n = readSync(fd, target, done, target.length - done, position + done);
    if (n === 0) throw new Error(`${path}: unexpected end of file`);
    done += n;
  }
}

/** `count` elements of `dtype` at byte `position` of `fd`, as float32. */
export function readAsF32(fd: number, path: string, position: number, count: number, dtype: StoredDtype, shared = false): Float32Array {
  const data = shared ? new Float32Array(new SharedArrayBuffer(count * 4)) : new Float32Array(count);
  if (dtype === 'F32') {
    readFully(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), position, path);
    return data;
  }
  const widen = dtype === 'F16' ? f16ToF32 : bf16ToF32;
  const scratch = new Uint16Array(Math.min(SCRATCH_ELEMENTS, count));
  for (let start = 0; start < count; start += scratch.length) {
    const chunk = scratch.subarray(0, Math.min(scratch.length, count - start));
    readFully(fd, new Uint8Array(chunk.buffer, 0, chunk.byteLength), position + start * 2, path);
    widen(chunk, data.subarray(start, start + chunk.length));
  }
  return data;
}
