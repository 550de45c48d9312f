/**
 * Transparent huge pages for the kernels' WebAssembly memory (weights, KV pool, scratch): asked for
 * once, when a WasmArena makes its memory, before anything is written to it, and measured afterwards
 * so the engine can say once whether the host granted them.
 *
 * Decisions:
 * - madvise(MADV_HUGEPAGE) through the native library (native/huge-pages.c) over the memory's whole
 *   reservation (up to its 4 GiB maximum: V8 reserves a shared memory's maximum up front, so it never
 *   moves), so the pages the memory grows into later are covered too. Decode streams every weight
 *   once per token; on this project's 2-core VM (THP `madvise`) THP `always` gave bf16 prefill +10 %
 *   and decode b1 +3 % on `small`, which this advice now gets without a host setting.
 * - Where the native library cannot run, or the kernel lacks THP (EINVAL), nothing is advised and the
 *   reason is kept: the engine works the same with 4 KiB pages.
 * - Granted bytes come from /proc/self/smaps (AnonHugePages of the mappings in the range, smaps.ts):
 *   the only place Linux says it, read once per engine, never on a step.
 */
import koffi from 'koffi';
import { MAX_MEMORY_PAGES } from './kernel-module.js';
import { nativeKernelLibrary, nativeKernelProblem } from './native-library.js';
import { smapsField } from './smaps.js';
import type { WasmMemory } from './wasm-api.js';

/** x86-64's transparent huge page (a PMD mapping): the WasmArena grows its memory in these steps. */
export const HUGE_PAGE_BYTES = 2 << 20;
/** A WebAssembly memory's largest size (its reservation). */
const MEMORY_MAX_BYTES = MAX_MEMORY_PAGES * 65536;

/** Whether huge pages were asked for a memory: 'advised', or why not. */
export type HugePageAdvice = 'advised' | `not advised: ${string}`;

/** The address of a memory's first byte. */
function baseAddress(memory: WasmMemory): bigint {
  return koffi.address(new Uint8Array(memory.buffer)) as bigint;
}

/**
 * Bytes from a memory's first byte to the first huge page boundary in it (V8 aligns a memory to its
 * 64 KiB pages only: 1 MiB past a boundary was seen here), so it can grow to whole huge pages.
 */
export function firstHugePageOffset(memory: WasmMemory): number {
  const size = BigInt(HUGE_PAGE_BYTES);
  return Number((size - (baseAddress(memory) % size)) % size);
}

/** Asks for huge pages on the whole reservation of `memory` (call before writing to it). */
export function adviseHugePages(memory: WasmMemory): HugePageAdvice {
  if (nativeKernelProblem() !== null) return `not advised: the native library is unavailable (${nativeKernelProblem()?.reason})`;
  const errno = nativeKernelLibrary().adviseHugePages(new Uint8Array(memory.buffer), MEMORY_MAX_BYTES);
  return errno === 0 ? 'advised' : `not advised: madvise(MADV_HUGEPAGE) failed with errno ${errno}`;
}

/**
 * Bytes of [address, address + bytes) backed by huge pages: AnonHugePages of every mapping of
 * `smaps` (/proc/self/smaps; smaps.ts) that overlaps the range (a WebAssembly memory's accessible part
 * is one or a few mappings of its own, so nothing outside it is counted).
 */
export function hugePageBytesIn(address: bigint, bytes: number, smaps?: string): number {
  return smapsField('AnonHugePages', address, bytes, smaps).reduce((sum, kB) => sum + kB * 1024, 0);
}

/** Bytes of `memory`'s current size backed by huge pages (reads /proc/self/smaps: call once, not per step). */
export function hugePageBytes(memory: WasmMemory): number {
  return hugePageBytesIn(baseAddress(memory), memory.buffer.byteLength);
}
