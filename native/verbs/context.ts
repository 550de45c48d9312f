/**
 * An open device context (`struct ibv_context *`): queries, and the owner of every verbs object made
 * on it.
 *
 * Decisions:
 * - The context keeps each object made on it (protection domains, memory regions, completion
 *   channels and queues, queue pairs) in creation order. `close()` destroys what is still alive in
 *   reverse order, which always frees an object before the ones it depends on (a QP before its CQs and
 *   PD, an MR before its PD, a CQ before its channel), then closes the device: one call frees
 *   everything, and a failure to free one object does not stop the others from being freed.
 * - `queryGid` returns null for an empty GID table slot (`_ibv_query_gid_ex` says ENODATA, or the GID
 *   is all zeros): RoCE tables have holes.
 * - Results are camelCase objects with the members the project uses, not the raw C structs.
 */
import koffi from 'koffi';
import { constants } from 'node:os';
import { CompletionChannel } from './completion-channel.js';
import { CompletionQueue, type CompletionQueueOptions } from './completion-queue.js';
import { ContextOps } from './context-ops.js';
import { VerbsError } from './errors.js';
import { type RawDeviceAttr, type RawGidEntry, type RawPortAttr, verbs } from './library.js';
import { ProtectionDomain } from './protection-domain.js';
import { IBV_GID_ENTRY } from './types.js';

export interface DeviceAttributes {
  firmwareVersion: string;
  vendorId: number;
  vendorPartId: number;
  physPortCount: number;
  maxQp: number;
  maxQpWr: number;
  maxSge: number;
  maxCq: number;
  maxCqe: number;
  maxMr: number;
  maxQpRdAtom: number;
  maxQpInitRdAtom: number;
}

export interface PortAttributes {
  /** A PORT_STATE value. */
  state: number;
  /** MTU enums (MTU.IBV_MTU_1024 = 3, ...). */
  maxMtu: number;
  activeMtu: number;
  gidTableLength: number;
  lid: number;
  /** The raw `active_width` / `active_speed` codes (decoded by src/transfer/verbs/link-rate.ts). */
  activeWidth: number;
  activeSpeed: number;
  physState: number;
  /** A LINK_LAYER value. */
  linkLayer: number;
}

export interface GidEntry {
  index: number;
  /** The 16 GID bytes in network order. */
  gid: Uint8Array;
  /** A GID_TYPE value. */
  type: number;
}

/** What `Context.close()` frees. */
export interface Resource {
  destroy(): void;
}

export class Context {
  /** The inline verbs of this context (poll, notify, post, port query). */
  readonly ops: ContextOps;
  private readonly resources = new Set<Resource>();
  private closed = false;

  /** Wraps a context opened by `Device.open()`. */
  constructor(readonly handle: bigint, readonly deviceName: string) {
    this.ops = new ContextOps(handle);
  }

  /** `ibv_query_device`. */
  queryDevice(): DeviceAttributes {
    this.checkOpen();
    const a: Partial<RawDeviceAttr> = {};
    const rc = verbs().ibv_query_device(this.handle, a);
    if (rc !== 0) throw new VerbsError(`ibv_query_device(${this.deviceName})`, rc);
    const attr = a as RawDeviceAttr;
    return {
      firmwareVersion: attr.fw_ver,
      vendorId: attr.vendor_id,
      vendorPartId: attr.vendor_part_id,
      physPortCount: attr.phys_port_cnt,
      maxQp: attr.max_qp,
      maxQpWr: attr.max_qp_wr,
      maxSge: attr.max_sge,
      maxCq: attr.max_cq,
      maxCqe: attr.max_cqe,
      maxMr: attr.max_mr,
      maxQpRdAtom: attr.max_qp_rd_atom,
      maxQpInitRdAtom: attr.max_qp_init_rd_atom,
    };
  }

  /** `ibv_query_port` (ports are numbered from 1). */
  queryPort(port: number): PortAttributes {
    this.checkOpen();
    const a: Partial<RawPortAttr> = {};
    const rc = this.ops.queryPort(port, a);
    if (rc !== 0) throw new VerbsError(`ibv_query_port(${this.deviceName}, port ${port})`, rc);
    const attr = a as RawPortAttr;
    return {
      state: attr.state,
      maxMtu: attr.max_mtu,
      activeMtu: attr.active_mtu,
      gidTableLength: attr.gid_tbl_len,
      lid: attr.lid,
      activeWidth: attr.active_width,
      activeSpeed: attr.active_speed,
      physState: attr.phys_state,
      linkLayer: attr.link_layer,
    };
  }

  /** `ibv_query_gid_ex`: the GID and its type at `index` of `port`'s table, or null for an empty slot. */
  queryGid(port: number, index: number): GidEntry | null {
    this.checkOpen();
    const e: Partial<RawGidEntry> = {};
    const rc = verbs()._ibv_query_gid_ex(this.handle, port, index, e, 0, koffi.sizeof(IBV_GID_ENTRY));
    if (rc === constants.errno.ENODATA) return null;
    if (rc !== 0) throw new VerbsError(`ibv_query_gid_ex(${this.deviceName}, port ${port}, index ${index})`, rc);
    const entry = e as RawGidEntry;
    const gid = Uint8Array.from(entry.gid.raw);
    return gid.every((b) => b === 0) ? null : { index, gid, type: entry.gid_type };
  }

  /** `ibv_alloc_pd`. */
  allocProtectionDomain(): ProtectionDomain {
    this.checkOpen();
    return ProtectionDomain.allocate(this);
  }

  /** `ibv_create_comp_channel`: a file descriptor that wakes when a CQ asked to notify gets a completion. */
  createCompletionChannel(): CompletionChannel {
    this.checkOpen();
    return CompletionChannel.create(this);
  }

  /** `ibv_create_cq`. */
  createCompletionQueue(options: CompletionQueueOptions): CompletionQueue {
    this.checkOpen();
    return CompletionQueue.create(this, options);
  }

  /** Called by each object made on this context once it exists. */
  adopt(resource: Resource): void {
    this.resources.add(resource);
  }

  /** Called by each object when it is destroyed. */
  release(resource: Resource): void {
    this.resources.delete(resource);
  }

  /** Destroys every object still alive on this context (newest first), then `ibv_close_device`. Idempotent. */
  close(): void {
    if (this.closed) return;
    const errors: unknown[] = [];
    for (const resource of [...this.resources].reverse()) {
      try {
        resource.destroy();
      } catch (err) {
        errors.push(err);
      }
    }
    this.closed = true;
    if (verbs().ibv_close_device(this.handle) !== 0) errors.push(new VerbsError(`ibv_close_device(${this.deviceName})`, koffi.errno()));
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `closing ${this.deviceName}: ${errors.length} verbs objects failed to free`);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`the verbs context of ${this.deviceName} is closed`);
  }
}
