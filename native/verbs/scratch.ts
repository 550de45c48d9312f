/**
 * Scratch memory for the data-path verbs: bytes that JS writes with a DataView and C reads at a known
 * address (work-request chains, completion arrays).
 *
 * Decisions:
 * - An ArrayBuffer's backing store lives outside the V8 heap and never moves, so its address (taken
 *   with koffi.address) stays valid for the buffer's life; work-request chains link by absolute
 *   addresses computed from it.
 * - Little-endian hosts only (x64, arm64): native integers are written with `littleEndian = true`.
 * - `ensure` grows by doubling; a grown scratch has a new address, so callers re-read `address` after.
 */
import koffi from 'koffi';

export class Scratch {
  bytes!: Uint8Array;
  view!: DataView;
  address!: bigint;

  constructor(size: number) {
    this.allocate(size);
  }

  /** Makes room for at least `size` bytes (the contents are not kept). */
  ensure(size: number): void {
    if (size > this.bytes.byteLength) this.allocate(Math.max(size, this.bytes.byteLength * 2));
  }

  private allocate(size: number): void {
    this.bytes = new Uint8Array(new ArrayBuffer(Math.max(size, 8)));
    this.view = new DataView(this.bytes.buffer);
    this.address = koffi.address(this.bytes);
  }
}
