/**
 * A registered memory region (`ibv_reg_mr` / `ibv_dereg_mr`): the KV pool made reachable by the NIC.
 *
 * Decisions:
 * - The buffer is passed to `ibv_reg_mr` as a `void *` through a one-byte view of its start (koffi
 *   hands C the view's data pointer, no copy; a one-byte view also works for pools larger than a
 *   typed array may be), and its address is read back from the registered `struct ibv_mr` (`addr`):
 *   the address peers write to and local scatter/gather entries point into.
 * - The region keeps a reference to its buffer until deregistered: the NIC may write into those pages
 *   at any time, so the garbage collector must not free them first. Do not transfer (detach) a
 *   registered ArrayBuffer; SharedArrayBuffers and mmap'ed regions cannot be detached.
 */
import koffi from 'koffi';
import type { Resource } from './context.js';
import { VerbsError } from './errors.js';
import { verbs } from './library.js';
import type { ProtectionDomain } from './protection-domain.js';
import { IBV_MR } from './types.js';

export class MemoryRegion implements Resource {
  readonly addr: bigint;
  readonly length: number;
  readonly lkey: number;
  readonly rkey: number;
  private destroyed = false;

  /** Wraps a registered `struct ibv_mr *` over `buffer`. */
  constructor(readonly pd: ProtectionDomain, readonly handle: bigint, readonly buffer: ArrayBuffer | SharedArrayBuffer) {
    const mr = koffi.decode(handle, IBV_MR) as { addr: bigint; length: number | bigint; lkey: number; rkey: number };
    this.addr = mr.addr;
    this.length = Number(mr.length);
    this.lkey = mr.lkey;
    this.rkey = mr.rkey;
    pd.context.adopt(this);
  }

  static register(pd: ProtectionDomain, buffer: ArrayBuffer | SharedArrayBuffer, access: number): MemoryRegion {
    if (buffer.byteLength === 0) throw new RangeError('cannot register an empty buffer');
    const mr = verbs().ibv_reg_mr(pd.handle, new Uint8Array(buffer, 0, 1), buffer.byteLength, access);
    if (mr === null) throw new VerbsError(`ibv_reg_mr(${pd.context.deviceName}, ${buffer.byteLength} B)`, koffi.errno());
    return new MemoryRegion(pd, mr, buffer);
  }

  /** `ibv_dereg_mr`; idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    const rc = verbs().ibv_dereg_mr(this.handle);
    if (rc !== 0) throw new VerbsError(`ibv_dereg_mr(${this.pd.context.deviceName})`, rc);
    this.destroyed = true;
    this.pd.context.release(this);
  }
}
