import { type KvLayout, pageBytes } from './layout.js';

/**
 * The KV pool: one contiguous buffer split into `numPages` pages of `layout.pageSize` tokens. Usually a
 * SharedArrayBuffer (shareable with worker threads); a decode pool for the shm transfer backend is an
 * mmap'ed shared-memory region instead, which arrives as an external ArrayBuffer.
 */
export class KvPool {
  readonly pageBytes: number;
  readonly buffer: ArrayBuffer | SharedArrayBuffer;

  constructor(readonly layout: KvLayout, readonly numPages: number, buffer?: ArrayBuffer | SharedArrayBuffer) {
    this.pageBytes = pageBytes(layout);
    const bytes = this.pageBytes * numPages;
    if (buffer && buffer.byteLength < bytes) throw new Error(`KV pool buffer holds ${buffer.byteLength} B, needs ${bytes} B`);
    this.buffer = buffer ?? new SharedArrayBuffer(bytes);
  }

  /** A byte view of `count` adjacent pages starting at `page` (no copy). */
  pageBytesView(page: number, count = 1): Uint8Array {
    return new Uint8Array(this.buffer, page * this.pageBytes, count * this.pageBytes);
  }
}
