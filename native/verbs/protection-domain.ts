/**
 * A protection domain (`ibv_alloc_pd` / `ibv_dealloc_pd`): the scope that memory regions and queue
 * pairs share, so a peer's rkey only works through this node's own QPs.
 *
 * Decisions:
 * - One PD per device context is what the KV transfer needs; the class does not assume it.
 * - `registerMemory` defaults to `KV_POOL_ACCESS` (local write + remote write): the decode pool is
 *   written by peers' RDMA WRITEs, the prefill pool is read by the local NIC (local write is required
 *   by the verbs spec whenever remote write is set).
 */
import koffi from 'koffi';
import { ACCESS } from './constants.js';
import type { Context, Resource } from './context.js';
import { VerbsError } from './errors.js';
import { verbs } from './library.js';
import { MemoryRegion } from './memory-region.js';
import { QueuePair, type QueuePairOptions } from './queue-pair.js';

export const KV_POOL_ACCESS = ACCESS.IBV_ACCESS_LOCAL_WRITE | ACCESS.IBV_ACCESS_REMOTE_WRITE;

export class ProtectionDomain implements Resource {
  private destroyed = false;

  /** Wraps a PD of `context` (made by `Context.allocProtectionDomain()`). */
  constructor(readonly context: Context, readonly handle: bigint) {
    context.adopt(this);
  }

  static allocate(context: Context): ProtectionDomain {
    const pd = verbs().ibv_alloc_pd(context.handle);
    if (pd === null) throw new VerbsError(`ibv_alloc_pd(${context.deviceName})`, koffi.errno());
    return new ProtectionDomain(context, pd);
  }

  /** `ibv_reg_mr` over the whole buffer (an ArrayBuffer, SharedArrayBuffer or mmap'ed region). */
  registerMemory(buffer: ArrayBuffer | SharedArrayBuffer, access: number = KV_POOL_ACCESS): MemoryRegion {
    return MemoryRegion.register(this, buffer, access);
  }

  /** `ibv_create_qp`: an RC queue pair in the RESET state. */
  createQueuePair(options: QueuePairOptions): QueuePair {
    return QueuePair.create(this, options);
  }

  /** `ibv_dealloc_pd`; idempotent. Fails (EBUSY) while regions or QPs of the PD are alive. */
  destroy(): void {
    if (this.destroyed) return;
    const rc = verbs().ibv_dealloc_pd(this.handle);
    if (rc !== 0) throw new VerbsError(`ibv_dealloc_pd(${this.context.deviceName})`, rc);
    this.destroyed = true;
    this.context.release(this);
  }
}
