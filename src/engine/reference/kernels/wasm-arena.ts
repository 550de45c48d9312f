/**
 * A bump allocator over one shared WebAssembly memory: the KV pool (optionally), the weights and the
 * engine's scratch live here so the WASM kernels address them directly.
 *
 * Decisions: the memory is shared (`shared: true`) so it never detaches when it grows (views made
 * before a growth stay valid) and its buffer is a SharedArrayBuffer like any KvPool buffer; it may
 * grow to the wasm32 limit of 4 GiB. Nothing is freed: weights live as long as the engine and the
 * scratch grows geometrically. Every SharedArrayBuffer handed out is remembered, so a view can be
 * traced back to its arena (`owns`), e.g. to tell whether a KvPool lives in the kernels' memory.
 * A new memory is given transparent huge pages before anything is written to it (huge-pages.ts) and
 * grows to whole huge pages (its end on a 2 MiB boundary of the address space, as V8 places a memory
 * on a 64 KiB boundary only): grown 64 KiB at a time, each allocation's last partial 2 MiB would be
 * faulted in as 4 KiB pages before the memory covered it, and the weight matrices of a small model
 * (0.2-2 MiB each) mostly landed in such blocks (on `small`, 96-195 of 317 MB were granted).
 */
import { KvPool } from '../../../kv/pool.js';
import { type KvLayout, pageBytes } from '../../../kv/layout.js';
import { adviseHugePages, firstHugePageOffset, HUGE_PAGE_BYTES, type HugePageAdvice } from './huge-pages.js';
import { MAX_MEMORY_PAGES } from './kernel-module.js';
import { webAssembly, type WasmMemory } from './wasm-api.js';

const WASM_PAGE = 65536;
const ALIGN = 16;

const owners = new WeakMap<ArrayBufferLike, WasmArena>();

export class WasmArena {
  private top = 0;
  readonly memory: WasmMemory;
  /** Whether huge pages were asked for this arena's memory; null when another arena made it. */
  readonly hugePageAdvice: HugePageAdvice | null;
  /** Bytes from the memory's start to its first huge page boundary: the memory grows to such boundaries. */
  private readonly hugeStart: number;

  /**
   * A new memory, or (a `--tp` rank's thread) the memory of an arena made in another thread, to
   * address what that arena allocated; such an arena must not allocate itself.
   */
  constructor(memory?: WasmMemory) {
    this.memory = memory ?? new (webAssembly().Memory)({ initial: 1, maximum: MAX_MEMORY_PAGES, shared: true });
    this.hugePageAdvice = memory ? null : adviseHugePages(this.memory);
    this.hugeStart = memory ? 0 : firstHugePageOffset(this.memory);
  }

  /** The arena that handed out `buffer`, if any. */
  static of(buffer: ArrayBufferLike): WasmArena | undefined {
    return owners.get(buffer);
  }

  owns(buffer: ArrayBufferLike): boolean {
    return owners.get(buffer) === this;
  }

  /** Reserves `bytes` of zeroed memory (16-byte aligned), growing the memory; returns its address. */
  alloc(bytes: number): number {
    const address = this.top;
    const end = address + Math.ceil(bytes / ALIGN) * ALIGN;
    const pages = Math.ceil(end / WASM_PAGE);
    const have = this.memory.buffer.byteLength / WASM_PAGE;
    if (pages > MAX_MEMORY_PAGES) {
      throw new Error(`WASM memory limit (4 GiB) exceeded: ${end} B needed, ${address} B already in use (the JS kernel has no such limit)`);
    }
    if (pages > have) this.memory.grow(this.grownPages(pages) - have);
    this.top = end;
    return address;
  }

  /** Pages to grow to for at least `pages`: to the next huge page boundary (see the header), within the limit. */
  private grownPages(pages: number): number {
    const bytes = pages * WASM_PAGE;
    const aligned = bytes <= this.hugeStart ? this.hugeStart : this.hugeStart + Math.ceil((bytes - this.hugeStart) / HUGE_PAGE_BYTES) * HUGE_PAGE_BYTES;
    return Math.min(MAX_MEMORY_PAGES, aligned / WASM_PAGE);
  }

  /** The memory's current buffer (covers every allocation made so far). */
  buffer(): SharedArrayBuffer {
    const buffer = this.memory.buffer as SharedArrayBuffer;
    owners.set(buffer, this);
    return buffer;
  }

  /** A new zeroed f32 array in this memory. */
  allocF32(length: number): Float32Array {
    const address = this.alloc(length * 4);
    return new Float32Array(this.buffer(), address, length);
  }
}

/**
 * A KV pool placed at address 0 of a fresh WasmArena. A ReferenceEngine built on it with the WASM
 * kernel puts its weights in the same memory and its attention reads K/V in place; with any other
 * pool the engine copies each layer's pages into its own memory before attention (same results).
 */
export function createWasmKvPool(layout: KvLayout, numPages: number): KvPool {
  const arena = new WasmArena();
  const end = arena.alloc(pageBytes(layout) * numPages) + pageBytes(layout) * numPages;
  // The memory grew to a huge page boundary: reserve the rest, so the pool's buffer (the memory as it
  // is now) holds the pool alone and the weights allocated next land past it.
  const buffer = arena.buffer();
  if (buffer.byteLength > end) arena.alloc(buffer.byteLength - end);
  return new KvPool(layout, numPages, buffer);
}
